//! Part H (issues 18 + 20): the scanner reads exercise files with a Rust
//! parser (syn), over every lesson a lesson compiles; in-tree grading names
//! every added file.

use super::*;

/// Code appended to a lesson's exercise file, and what the grader must say
/// about it. Each would run before `main` (a `.init_array` constructor, a
/// replaced symbol) or read a file while building, and each is spelled to
/// slip past a scanner of words: raw byte and C strings and character
/// literals that end where a word scanner thinks a string begins, code
/// inside a macro's arguments, a renamed import, an attribute's value.
const HIDDEN_CONSTRUCTS: &[(&str, &str, &str)] = &[
    (
        "01-file-mapping",
        "pub const RAW: &[u8] = br\"\\\";\n\
         #[used]\n#[unsafe(link_section = \".init_array\")]\n\
         static EARLY: extern \"C\" fn() = early;\nextern \"C\" fn early() {}\n",
        "the attribute `used`",
    ),
    (
        "02-process-maps",
        "pub fn planted() -> Vec<u8> {\n    vec![{\n        #[used]\n        \
         #[unsafe(link_section = \".init_array\")]\n        \
         static EARLY: extern \"C\" fn() = early;\n        extern \"C\" fn early() {}\n        \
         0\n    }]\n}\n",
        "the attribute `used`",
    ),
    (
        "03-sigbus",
        "pub const C: &std::ffi::CStr = cr\"\\\";\n\
         #[unsafe(no_mangle)]\npub extern \"C\" fn rust_begin_unwind() {}\n",
        "the attribute `no_mangle`",
    ),
    (
        "05-shared-memory-ipc",
        "pub fn quote() -> Vec<char> { vec!['\"'] }\n\
         #[unsafe(export_name = \"main\")]\npub extern \"C\" fn not_main() {}\n",
        "the attribute `export_name`",
    ),
    (
        "06-page-cache",
        "use core::include_str as format;\npub const SECRET: &str = format!(\"/etc/shadow\");\n",
        "include_str as format",
    ),
    (
        "07-exec-memory",
        "#[doc = include_str!(\"/etc/shadow\")]\npub fn documented() {}\n",
        "the macro `include_str!`",
    ),
];

/// The messages of `lesson`'s tests in a grade JSON report, JSON-escaped.
fn messages_of(json: &str, lesson: &str) -> Vec<String> {
    json.split("{\"lesson\":")
        .filter(|test| test.starts_with(&format!("\"{lesson}\"")))
        .map(|test| {
            let from = test.find("\"message\":").map_or(0, |at| at + 10);
            test[from..].to_owned()
        })
        .collect()
}

#[test]
fn constructs_hidden_from_a_word_scanner_are_refused_in_every_lesson_they_reach() {
    let scratch = handout();
    let class = tempfile::tempdir().unwrap();
    let student = class.path().join("eve");
    copy_sources(&scratch.handout, &student);
    // Every lesson but 4 hides one construct; lesson 4 is the handout's, but
    // it compiles lesson 2's exercise file, so it cannot be graded either.
    for (lesson, code, _) in HIDDEN_CONSTRUCTS {
        let path = student
            .join("lessons")
            .join(lesson)
            .join("src/exercises.rs");
        let mut source = fs::read_to_string(&path).unwrap();
        source.push_str(code);
        fs::write(&path, source).unwrap();
    }
    let report = class.path().join("eve.json");
    let run = xtask(
        &scratch.handout,
        &[
            "grade",
            "--template",
            scratch.handout.to_str().unwrap(),
            "--submission",
            student.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ],
        None,
    );
    let json = fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report ({e}):\n{}\n{}", run.stdout, run.stderr));
    assert!(json.contains("\"score\":0,"), "{json}");
    assert!(!json.contains("\"verdict\":\"passed\""), "{json}");
    for (lesson, _, said) in HIDDEN_CONSTRUCTS {
        let name = &lesson[3..];
        let messages = messages_of(&json, name);
        assert!(!messages.is_empty(), "no test of {name} in {json}");
        for message in messages {
            assert!(
                message.contains(&format!(
                    "{lesson}/src/exercises.rs breaks the grading rules"
                )) && message.contains(said),
                "{name}: {message}"
            );
        }
    }
    for message in messages_of(&json, "anonymous-sharing") {
        assert!(
            message.contains("02-process-maps/src/exercises.rs breaks the grading rules"),
            "{message}"
        );
        assert!(
            !message.contains("04-anonymous-sharing/src/exercises.rs"),
            "{message}"
        );
    }
    // Nothing was built: each lesson was refused before cargo ran.
    assert!(!run.stdout.contains("does not compile"), "{}", run.stdout);
}

#[test]
fn grading_your_own_tree_names_every_added_file_whatever_its_name() {
    let scratch = handout();
    // A toolchain file without an extension (harmless here: the toolchain
    // that runs anyway), a file with no extension beside the sources, one
    // in a hidden directory, and a link.
    let added = [
        ("rust-toolchain", "stable\n"),
        ("lessons/01-file-mapping/src/NOTES", "mine\n"),
        (".config/tool/settings", "x = 1\n"),
    ];
    /// Removes what it holds, however the test ends: the handout is shared.
    struct Remove(Vec<PathBuf>);
    impl Drop for Remove {
        fn drop(&mut self) {
            for path in &self.0 {
                let _ = fs::remove_file(path).or_else(|_| fs::remove_dir_all(path));
            }
        }
    }
    let mut planted = Remove(vec![scratch.handout.join(".config")]);
    for (path, text) in added {
        let path = scratch.handout.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        planted.0.push(path);
    }
    let link = scratch
        .handout
        .join("lessons/01-file-mapping/tests/extra.rs");
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
    planted.0.push(link);
    let (run, _) = grade(&scratch.handout, &[]);
    drop(planted);
    for name in [
        "rust-toolchain",
        "lessons/01-file-mapping/src/NOTES",
        ".config/tool/settings",
        "lessons/01-file-mapping/tests/extra.rs",
    ] {
        assert!(
            run.stderr.contains(&format!("added: {name}\n")),
            "{name} not named:\n{}",
            run.stderr
        );
    }
    // The learner's own exercise file and the manifest are not "added".
    assert!(!run.stderr.contains("exercises.rs"), "{}", run.stderr);
    assert!(!run.stderr.contains(".workbook"), "{}", run.stderr);
}
