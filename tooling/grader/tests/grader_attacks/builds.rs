//! Part J (issue 18): builds confined, bounded and killed whole.
//! A submission's build reads only the toolchain, the registry and its tree,
//! gets a minimal environment, writes files of at most 128 MiB, and no
//! compiler of it outlives its grading (grade-all's per-submission limit).

use super::*;

/// A fresh random word, so that what a test looks for exists nowhere else.
fn random_word() -> String {
    let mut bytes = [0u8; 8];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Grades lesson 1 of the student copy whose exercise file is `exercises`
/// against the shared handout, with `env` added to the grader's
/// environment; returns everything the grader said (stdout, stderr, JSON).
pub(super) fn grade_submission(scratch: &Scratch, exercises: &str, env: &[(&str, &str)]) -> String {
    let student_dir = tempfile::tempdir().unwrap();
    let file = student_dir.path().join(EXERCISES);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, exercises).unwrap();
    let json = student_dir.path().join("report.json");
    let template = scratch.handout.to_str().unwrap().to_owned();
    let mut command = grader(&scratch.handout);
    command
        .args(["grade", "file-mapping", "--timeout", "5"])
        .args(["--template", &template, "--submission"])
        .arg(student_dir.path())
        .arg("--json")
        .arg(&json);
    for (name, value) in env {
        command.env(name, value);
    }
    let run = output_bounded(&mut command, GRADE_LIMIT).unwrap();
    assert!(
        !matches!(run.outcome, ChildOutcome::TimedOut(_)),
        "the grader hung"
    );
    let report = fs::read_to_string(&json).unwrap_or_default();
    // A one-file submission is whole: nothing it lacks is named.
    assert!(
        !run.stderr.contains("missing: ") && !report.contains("missing: "),
        "{}\n{report}",
        run.stderr
    );
    format!("{}\n{}\n{report}", run.stdout, run.stderr)
}

#[test]
fn a_build_reads_no_file_outside_its_tree_and_no_variable_of_the_grader() {
    let scratch = handout();
    // A root-only file outside every tree, valid as text and as Rust.
    let outside = tempfile::tempdir().unwrap();
    let secret_word = random_word();
    let secret = outside.path().join("secret.rs");
    fs::write(
        &secret,
        format!("pub const LEAKED: &str = \"J-SECRET-{secret_word}\";\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let path = secret.to_str().unwrap();
    let with = |head: &str, body: &str| {
        format!(
            "{head}\n{}",
            scratch.stub_source.replace(HEXDUMP_STUB, body)
        )
    };
    // The control: a word the exercise holds reaches the failure message,
    // so what an attack could read would be seen. (A test may not read
    // the build's output: where a throwaway user cannot reach the tree it
    // sees only a view of the sources and programs.)
    let own_word = random_word();
    let control = with(
        "",
        &format!("panic!(\"probe: {{}}\", std::hint::black_box(\"J-SECRET-{own_word}\"))"),
    );
    let said = grade_submission(&scratch, &control, &[]);
    assert!(
        said.contains(&own_word),
        "the control's word did not reach the report:\n{said}"
    );
    // Every way a build reads a file or a variable at compile time.
    let attacks = [
        with("", &format!("panic!(\"{{}}\", include_str!({path:?}))")),
        with(
            "",
            &format!("panic!(\"{{}}\", String::from_utf8_lossy(include_bytes!({path:?})))"),
        ),
        with(
            &format!("#[path = {path:?}]\nmod leak;"),
            "panic!(\"{}\", leak::LEAKED)",
        ),
        with(
            &format!("#![debugger_visualizer(gdb_script_file = {path:?})]"),
            "panic!(\"probe\")",
        ),
        with(
            "",
            "panic!(\"{} {:?}\", env!(\"WORKBOOK_J_SECRET\"), option_env!(\"WORKBOOK_J_SECRET\"))",
        ),
    ];
    let variable = format!("J-SECRET-{secret_word}");
    for (index, attack) in attacks.iter().enumerate() {
        let said = grade_submission(&scratch, attack, &[("WORKBOOK_J_SECRET", &variable)]);
        assert!(
            !said.contains(&secret_word),
            "attack {index} read the secret:\n{said}"
        );
        assert!(said.contains("Score: 0/"), "attack {index}:\n{said}");
    }
}

#[test]
fn a_huge_static_stops_the_build_and_does_not_fill_the_disk() {
    let scratch = handout();
    let size_of = |dir: &Path| -> u64 {
        let mut total = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                match entry.metadata() {
                    Ok(m) if m.is_dir() => stack.push(entry.path()),
                    Ok(m) => total += std::os::unix::fs::MetadataExt::blocks(&m) * 512,
                    Err(_) => {}
                }
            }
        }
        total
    };
    let cache = scratch.handout.join("target/workbook-grade");
    for (size, body) in [
        ("1 << 28", "pub static BIG: [u8; 1 << 28] = [1; 1 << 28];"),
        ("3 << 27", "pub static BIG: [u64; 3 << 24] = [7; 3 << 24];"),
    ] {
        let before = size_of(&cache);
        let exercises = format!(
            "{}\n{body}\npub fn big() -> usize {{ BIG.len() }}\n",
            scratch.stub_source
        );
        let said = grade_submission(&scratch, &exercises, &[]);
        let words = said.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("larger than 128 MiB"),
            "{size} bytes: not stopped by the file-size limit:\n{said}"
        );
        let grown = size_of(&cache).saturating_sub(before);
        assert!(
            grown < 512 << 20,
            "{size} bytes: the build cache grew by {grown} bytes"
        );
    }
}

/// A constant that takes hours to compute, and never trips rustc's lint on
/// long evaluations: few steps, each copying 16 MiB.
const SLOW_CONSTANT: &str = "
const SLOW: u64 = {
    let mut i = 0u64;
    let mut sum = 0u64;
    while i < 1_000_000 {
        let a = [i as u8; 1 << 24];
        sum += a[(i as usize) & 0xffff] as u64;
        i += 1;
    }
    sum
};
pub fn slow() -> u64 {
    SLOW
}
";

#[test]
fn grade_all_kills_a_build_it_gives_up_on_and_grades_the_next() {
    let scratch = tempfile::tempdir().unwrap();
    let template = scratch.path().join("template");
    let run = output_bounded(
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(["handout"])
            .arg(&template)
            .args(["--lessons", "file-mapping"]),
        GRADE_LIMIT,
    )
    .unwrap();
    assert!(run.outcome.is_success(), "{}", run.stderr);
    super::warm::target_of(&template);
    super::warm::submissions_of(&template);
    let stubs = fs::read_to_string(template.join(EXERCISES)).unwrap();
    let submit = |class: &Path, name: &str, exercises: &str| {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir_all(class).unwrap();
        // Private, as grade-all requires of a class as root.
        fs::set_permissions(class, fs::Permissions::from_mode(0o700)).unwrap();
        let file = class.join(name).join(EXERCISES);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, exercises).unwrap();
    };
    let grade_all = |class: &Path, limit: &str| {
        let csv = class.with_extension("csv");
        let run = xtask(
            &template,
            &[
                "grade-all",
                class.to_str().unwrap(),
                "--template",
                ".",
                "--csv",
                csv.to_str().unwrap(),
                "--timeout",
                "5",
                "--submission-timeout",
                limit,
            ],
            None,
        );
        assert!(run.outcome.is_success(), "{}\n{}", run.stdout, run.stderr);
        fs::read_to_string(csv).unwrap()
    };
    // Warm the build cache, so that a normal submission grades well within
    // the short limit below.
    let warm = scratch.path().join("warm");
    submit(&warm, "bob", &stubs);
    let csv = grade_all(&warm, "1800");
    assert!(csv.lines().any(|l| l.starts_with("bob,")), "{csv}");
    // Then time a warm grading, as the stubs below will be graded: another
    // exercise file, so that lesson 1 is built again. The limit the hung
    // builds are given comes from it, so that it stays safe on a loaded
    // machine: a hung build costs the limit, not a fixed minute. (At most
    // the minute it was before, so that the class below stays well within
    // GRADE_LIMIT.)
    let again = scratch.path().join("again");
    submit(&again, "carol", &format!("{stubs}\n// carol's copy\n"));
    let timed = std::time::Instant::now();
    let csv = grade_all(&again, "1800");
    let warm_grading = timed.elapsed();
    assert!(csv.lines().any(|l| l.starts_with("carol,")), "{csv}");
    let limit = (warm_grading.as_secs_f64() * 3.0).ceil().clamp(8.0, 60.0) as u64;
    eprintln!("a warm grading took {warm_grading:?}: each hung build gets {limit} s");
    // The first two submissions' builds compute for hours, each its own way
    // of keeping rustc busy; the third is the handout's stubs. One class, so
    // that each hung build is followed by another submission to grade.
    let template_path = template.to_str().unwrap().to_owned();
    let hangs = [
        format!("{stubs}\n{SLOW_CONSTANT}"),
        // The same, generic: evaluated when the test binary instantiates it.
        format!(
            "{stubs}\n{}",
            SLOW_CONSTANT
                .replace(
                    "const SLOW: u64 =",
                    "struct Slow<T>(T);\nimpl<T> Slow<T> { const SLOW: u64 ="
                )
                .replace("};\npub fn slow", "};}\npub fn slow")
                .replace("    SLOW\n", "    Slow::<u8>::SLOW\n")
        ),
    ];
    let class = scratch.path().join("class");
    for (index, hang) in hangs.iter().enumerate() {
        submit(&class, &format!("a-hang-{index}"), hang);
    }
    submit(&class, "b-stubs", &stubs);
    let started = std::time::Instant::now();
    // Each hung build costs this limit; the stubs, whose build is warm
    // (only lesson 1 is built again), grade in a fraction of it.
    let csv = grade_all(&class, &limit.to_string());
    let row = |name: &str| {
        csv.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{csv}"))
            .to_owned()
    };
    for index in 0..hangs.len() {
        let hung = row(&format!("a-hang-{index},"));
        // Stopped by the submission's limit, not by anything before it.
        assert!(
            hung.contains(",error,")
                && hung.contains(&format!("still running after {} ms", limit * 1000)),
            "variant {index}:\n{csv}"
        );
    }
    assert!(row("b-stubs,").contains(",graded,"), "{csv}");
    // Nothing of any grading is left: no cargo, no rustc, no test.
    let left = running_with(&template_path);
    assert!(left.is_empty(), "still running: {left:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(2 * limit + 120),
        "took {:?}",
        started.elapsed()
    );
}
