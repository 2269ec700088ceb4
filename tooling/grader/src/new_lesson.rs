//! `cargo xtask new-lesson NAME "QUESTION"`: the next lesson, scaffolded in
//! the one lesson shape, ready to fill.
//!
//! The lesson (crate, walkthrough with one step, tests, two exercises with
//! their graded tests) and its chapter are written in a directory beside
//! `lessons/`, then renamed into place, and the chapter is listed in
//! SUMMARY.md and README.md's table of lessons. The story's snapshot is then made the way a reviewed one is:
//! the new walkthrough test runs once with `INSTA_UPDATE=always`. Finally
//! the new crate's tests run as CI runs them (`CI=true`). If any of that
//! fails, everything is put back as it was: the lesson and its chapter are
//! removed, SUMMARY.md, README.md and Cargo.lock restored. A kept lesson's
//! new files are staged (`git add --intent-to-add`), so that the handout,
//! which copies what git tracks, and `verify` see them at once.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use test_support::layout::{self as lessons, Lesson};

use tooling::Result;

/// Crate names the workspace already uses for something that is not a lesson.
const TAKEN: &[&str] = &[
    "support",
    "test-support",
    "xtask",
    "workbook-tests",
    "workbook-tooling",
    "workbook-grader",
    "workbook-book",
];

/// A story line holds the lesson's name and its question; it fits in this.
const STORY_COLUMNS: usize = 85; // test_support::testing::STORY_COLUMNS

pub fn cmd_new_lesson(args: Vec<OsString>) -> Result<ExitCode> {
    /// `new-lesson NAME "QUESTION"`.
    #[derive(Debug, clap::Parser)]
    struct NewLesson {
        /// The lesson's crate name, in kebab-case (page-cache).
        name: Option<String>,
        /// The question the lesson answers (its crate's description).
        question: Option<String>,
    }
    let Some(NewLesson { name, question }) = tooling::args::parse("new-lesson", args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let (Some(name), Some(question)) = (name, question) else {
        return Err("new-lesson takes a name and a question, for example: \
             cargo xtask new-lesson page-cache \"What does the page cache keep?\""
            .into());
    };
    let question = question.trim().to_owned();
    check_name(&name)?;
    check_question(&name, &question)?;
    let root = tooling::workspace_root()?;
    let existing = lessons::discover(&root)?;
    if let Some(lesson) = existing.iter().find(|l| l.name == name) {
        return Err(format!(
            "there is already a lesson '{name}' (lessons/{}). Choose another name.",
            lesson.dir_name()
        ));
    }
    let number = existing.iter().map(|l| l.number).max().unwrap_or(0) + 1;
    if number > 99 {
        return Err("there are 99 lessons already; a lesson number has two digits".into());
    }
    let lesson = Lesson {
        number,
        name,
        question,
        dir: PathBuf::new(),
    };
    let lesson = Lesson {
        dir: root.join("lessons").join(lesson.dir_name()),
        ..lesson
    };
    let made = scaffold(&root, &lesson)?;
    println!(
        "Made lessons/{dir}/ and book/src/{dir}.md, listed in SUMMARY.md and\n\
         README.md and staged in git; its tests pass.\n\
         Next: write the lesson's functions in src/lib.rs, one walkthrough step per\n\
         function in src/main.rs, then review the story's snapshot:\n  \
         cargo test -p {name}   (a changed story shows as a .snap.new to review)\n  \
         cargo xtask run-lesson {name}",
        dir = made,
        name = lesson.name
    );
    Ok(ExitCode::SUCCESS)
}

/// A lesson's name is a crate name in kebab-case: `page-cache`.
fn check_name(name: &str) -> Result {
    let words_ok = !name.is_empty()
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !words_ok {
        return Err(format!(
            "'{name}' is not a lesson name: use lowercase words joined by hyphens \
             (kebab-case), starting with a letter, for example page-cache"
        ));
    }
    if name.len() > 40 {
        return Err(format!(
            "'{name}' is {} characters long; keep a lesson name under 40",
            name.len()
        ));
    }
    if TAKEN.contains(&name) {
        return Err(format!(
            "'{name}' is the name of the workspace's {name} crate; choose another name"
        ));
    }
    Ok(())
}

/// The question is the crate's description, the chapter's epigraph and the
/// story's first line: one line, no characters that need escaping there.
fn check_question(name: &str, question: &str) -> Result {
    if question.is_empty() {
        return Err(format!(
            "the question is empty: say what the lesson answers, for example: \
             cargo xtask new-lesson {name} \"What does the page cache keep?\""
        ));
    }
    if let Some(c) = question
        .chars()
        .find(|c| c.is_control() || "\"\\{}[]`".contains(*c))
    {
        return Err(format!(
            "the question contains {c:?}; write it without quotes, backslashes, braces, \
             brackets, backticks or control characters"
        ));
    }
    let story_line = name.len() + 2 + question.chars().count();
    if story_line > STORY_COLUMNS {
        return Err(format!(
            "the question is too long: the story's first line, '{name}: {question}', would \
             be {story_line} columns; shorten it to fit {STORY_COLUMNS}"
        ));
    }
    Ok(())
}

/// Writes the lesson and its chapter, lists the chapter, makes the story's
/// snapshot and runs the tests; returns the lesson's directory name. On
/// any failure, nothing is left changed.
fn scaffold(root: &Path, lesson: &Lesson) -> Result<String> {
    let dir_name = lesson.dir_name();
    let chapter = root.join("book/src").join(format!("{dir_name}.md"));
    let summary_path = root.join("book/src/SUMMARY.md");
    for path in [&lesson.dir, &chapter] {
        if fs::symlink_metadata(path).is_ok() {
            return Err(format!(
                "{} already exists; move it away or choose another name",
                path.display()
            ));
        }
    }
    let summary = fs::read_to_string(&summary_path)
        .map_err(|e| format!("cannot read {}: {e}", summary_path.display()))?;
    let new_summary = with_chapter(&summary, &chapter_title(&lesson.name), &dir_name)?;
    let readme_path = root.join("README.md");
    let readme = fs::read_to_string(&readme_path)
        .map_err(|e| format!("cannot read {}: {e}", readme_path.display()))?;
    let new_readme = with_table_row(&readme, lesson)?;

    // Everything is written beside lessons/ first, then renamed into place:
    // a half-written lesson is never part of the workspace.
    let staging = tempfile::Builder::new()
        .prefix(".new-lesson-")
        .tempdir_in(root)
        .map_err(|e| format!("cannot create a directory in {}: {e}", root.display()))?;
    let staged_lesson = staging.path().join(&dir_name);
    for (relative, text) in lesson_files(lesson) {
        let path = staged_lesson.join(relative);
        let parent = path.parent().unwrap_or(&staged_lesson);
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    // The chapter, the new SUMMARY.md and README.md: written whole beside their
    // places, then put there by rename (tempfile's persist).
    let book_src = root.join("book/src");
    let staged_chapter = staged_file(&book_src, chapter_text(lesson).as_bytes())?;
    let staged_summary = staged_file(&book_src, new_summary.as_bytes())?;
    let staged_readme = staged_file(root, new_readme.as_bytes())?;

    let mut undo = Undo {
        lock: root.join("Cargo.lock"),
        lock_text: fs::read(root.join("Cargo.lock")).ok(),
        restore: Vec::new(),
        placed: Vec::new(),
    };
    rename(&staged_lesson, &lesson.dir)?;
    undo.placed.push(lesson.dir.clone());
    // Never over a chapter that appeared meanwhile.
    staged_chapter
        .persist_noclobber(&chapter)
        .map_err(|e| format!("cannot write {}: {}", chapter.display(), e.error))?;
    undo.placed.push(chapter.clone());
    undo.restore
        .push((summary_path.clone(), summary.into_bytes()));
    staged_summary
        .persist(&summary_path)
        .map_err(|e| format!("cannot write {}: {}", summary_path.display(), e.error))?;
    undo.restore
        .push((readme_path.clone(), readme.into_bytes()));
    staged_readme
        .persist(&readme_path)
        .map_err(|e| format!("cannot write {}: {}", readme_path.display(), e.error))?;

    // The story's snapshot, made by the walkthrough test itself, so that it
    // has insta's format and the shared redactions; then every test of the
    // new crate, as CI runs them, where a missing snapshot fails.
    cargo_test(root, &lesson.name, &["--test", "walkthrough"], false)?;
    let snapshot = lesson.dir.join("tests/snapshots/story.snap");
    if !snapshot.is_file() {
        return Err(format!(
            "the walkthrough test passed but wrote no {}",
            snapshot.display()
        ));
    }
    cargo_test(root, &lesson.name, &[], true)?;
    undo.placed.clear();
    undo.restore.clear();
    undo.lock_text = None;
    stage_in_git(root, &[&lesson.dir, &chapter]);
    Ok(dir_name)
}

/// `text` in a new temporary file in `dir` (mode 0644 less the umask, as
/// the workbook's files), synced, to be persisted.
fn staged_file(dir: &Path, text: &[u8]) -> Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix(".new-lesson-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
    file.write_all(text)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| format!("cannot write {}: {e}", file.path().display()))?;
    Ok(file)
}

fn rename(from: &Path, to: &Path) -> Result {
    fs::rename(from, to)
        .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))
}

/// `cargo test -p NAME ARGS`, quietly unless it fails; `ci` sets CI=true
/// (insta then fails on a missing or changed snapshot), otherwise insta
/// writes the snapshot (`INSTA_UPDATE=always`).
fn cargo_test(root: &Path, name: &str, args: &[&str], ci: bool) -> Result {
    let mut command = tooling::cargo();
    command
        .args(["test", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .args(["--package", name])
        .args(args)
        .current_dir(root);
    if ci {
        command.env("CI", "true").env_remove("INSTA_UPDATE");
    } else {
        command.env_remove("CI").env("INSTA_UPDATE", "always");
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "the new lesson's tests failed (cargo test -p {name} {}), so nothing was kept:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// What to put back if the scaffold does not pass its tests.
struct Undo {
    lock: PathBuf,
    lock_text: Option<Vec<u8>>,
    /// Files changed in place (SUMMARY.md, README.md), with their old text.
    restore: Vec<(PathBuf, Vec<u8>)>,
    placed: Vec<PathBuf>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        for path in self.placed.drain(..).rev() {
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
        // Restored by rename, so a reader sees the old file or the new one.
        let restore = |path: &Path, text: &[u8]| {
            let dir = path.parent().unwrap_or(Path::new("."));
            if let Ok(staged) = staged_file(dir, text) {
                let _ = staged.persist(path);
            }
        };
        for (path, text) in self.restore.drain(..) {
            restore(&path, &text);
        }
        if let Some(text) = self.lock_text.take() {
            restore(&self.lock, &text);
        }
    }
}

/// Stages the new lesson's files in git (`git add --intent-to-add`), where
/// the workbook is a git checkout: the handout copies only what git tracks.
/// Elsewhere, or if git is missing, nothing happens.
fn stage_in_git(root: &Path, paths: &[&Path]) {
    let _ = std::process::Command::new("git")
        .args(["add", "--intent-to-add", "--"])
        .args(paths)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// README.md with the lesson's row added after the last row of its table
/// of lessons (`| 07 | \`exec-memory\` | Can a program … |`).
fn with_table_row(readme: &str, lesson: &Lesson) -> Result<String> {
    let lines: Vec<&str> = readme.lines().collect();
    let is_row = |line: &&str| {
        line.strip_prefix("| ")
            .and_then(|rest| rest.split_once(" |"))
            .is_some_and(|(n, _)| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let Some(last) = lines.iter().rposition(is_row) else {
        return Err("README.md has no table of lessons (a row like              '| 01 | `file-mapping` | How do I map a file into memory? |'), so there is              no place for the new one"
            .into());
    };
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.insert(
        last + 1,
        format!(
            "| {:02} | `{}` | {} |",
            lesson.number, lesson.name, lesson.question
        ),
    );
    Ok(out.join("\n") + "\n")
}

/// `page-cache` -> `Page cache`, the chapter's title until its author
/// chooses a better one.
fn chapter_title(name: &str) -> String {
    let words = name.replace('-', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// SUMMARY.md with the chapter listed after the last lesson, before the
/// next part (`# For instructors`).
fn with_chapter(summary: &str, title: &str, dir_name: &str) -> Result<String> {
    let lines: Vec<&str> = summary.lines().collect();
    let is_lesson = |line: &&str| {
        line.trim_start().starts_with("- [")
            && line
                .split_once("](")
                .and_then(|(_, rest)| rest.split_once(".md)"))
                .is_some_and(|(file, _)| lessons::split_number(file).is_some())
    };
    let Some(last) = lines.iter().rposition(is_lesson) else {
        return Err("book/src/SUMMARY.md lists no lesson chapter (a line like \
             '- [Mapping a file](01-file-mapping.md)'), so there is no place for the new one"
            .into());
    };
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.insert(last + 1, format!("- [{title}]({dir_name}.md)"));
    Ok(out.join("\n") + "\n")
}

/// The text of a template with the lesson's values filled in.
fn fill(template: &str, lesson: &Lesson) -> String {
    let mut question_lower = lesson.question.clone();
    if let Some(first) = question_lower.get(..1) {
        question_lower.replace_range(..1, &first.to_ascii_lowercase());
    }
    template
        .replace("@DIR@", &lesson.dir_name())
        .replace("@NAME@", &lesson.name)
        .replace("@CRATE@", &lesson.name.replace('-', "_"))
        .replace("@N@", &lesson.number.to_string())
        .replace("@QUESTION@", &lesson.question)
        .replace("@question@", &question_lower)
        .replace("@TITLE@", &chapter_title(&lesson.name))
}

/// The lesson's files, relative to its directory.
fn lesson_files(lesson: &Lesson) -> Vec<(&'static str, String)> {
    [
        ("Cargo.toml", CARGO_TOML),
        ("src/lib.rs", LIB_RS),
        ("src/main.rs", MAIN_RS),
        (lessons::EXERCISES, EXERCISES_RS),
        ("src/runner.rs", RUNNER_RS),
        ("tests/walkthrough.rs", WALKTHROUGH_RS),
        ("tests/bad_input.rs", BAD_INPUT_RS),
        ("tests/hostile.rs", HOSTILE_RS),
        ("tests/interrupt.rs", INTERRUPT_RS),
        (lessons::GRADED_TESTS, GRADED_RS),
    ]
    .into_iter()
    .map(|(path, template)| (path, fill(template, lesson)))
    .collect()
}

fn chapter_text(lesson: &Lesson) -> String {
    fill(CHAPTER_MD, lesson)
}

// The templates, in `tooling/grader/templates/new-lesson/`: `@NAME@`, `@CRATE@`,
// `@N@`, `@DIR@`, `@QUESTION@`, `@question@` and `@TITLE@` are filled in.
const CARGO_TOML: &str = include_str!("../templates/new-lesson/Cargo.toml.in");
const LIB_RS: &str = include_str!("../templates/new-lesson/lib.rs.in");
const MAIN_RS: &str = include_str!("../templates/new-lesson/main.rs.in");
const EXERCISES_RS: &str = include_str!("../templates/new-lesson/exercises.rs.in");
const RUNNER_RS: &str = include_str!("../templates/new-lesson/runner.rs.in");
const WALKTHROUGH_RS: &str = include_str!("../templates/new-lesson/walkthrough.rs.in");
const BAD_INPUT_RS: &str = include_str!("../templates/new-lesson/bad_input.rs.in");
const HOSTILE_RS: &str = include_str!("../templates/new-lesson/hostile.rs.in");
const INTERRUPT_RS: &str = include_str!("../templates/new-lesson/interrupt.rs.in");
const GRADED_RS: &str = include_str!("../templates/new-lesson/graded.rs.in");
const CHAPTER_MD: &str = include_str!("../templates/new-lesson/chapter.md.in");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_and_not_taken() {
        assert!(check_name("page-cache").is_ok());
        assert!(check_name("demo2").is_ok());
        for bad in [
            "",
            "Demo",
            "page_cache",
            "-demo",
            "demo-",
            "a--b",
            "2demo",
            "dé",
        ] {
            let error = check_name(bad).unwrap_err();
            assert!(error.contains("kebab-case"), "{bad}: {error}");
        }
        assert!(check_name("support").unwrap_err().contains("support crate"));
    }

    #[test]
    fn questions_are_one_plain_line_that_fits_the_story() {
        assert!(check_question("demo", "Does it work?").is_ok());
        assert!(check_question("demo", "").unwrap_err().contains("empty"));
        assert!(check_question("demo", "Say \"hi\"?").is_err());
        assert!(check_question("demo", "Two\nlines?").is_err());
        let long = "Why? ".repeat(20);
        assert!(
            check_question("demo", &long)
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn the_chapter_goes_after_the_last_lesson() {
        let summary = "# Summary\n\n[Introduction](introduction.md)\n\n# Lessons\n\n\
                       - [One](01-one.md)\n- [Two](02-two.md)\n\n# For instructors\n\n\
                       - [Teaching](teaching.md)\n";
        let out = with_chapter(summary, "Demo", "03-demo").unwrap();
        assert!(
            out.contains("- [Two](02-two.md)\n- [Demo](03-demo.md)\n\n# For instructors"),
            "{out}"
        );
        assert!(with_chapter("# Summary\n", "Demo", "01-demo").is_err());
    }

    #[test]
    fn templates_leave_no_placeholder() {
        let lesson = Lesson {
            number: 6,
            name: "page-cache".into(),
            question: "What does the page cache keep?".into(),
            dir: PathBuf::new(),
        };
        for (path, text) in lesson_files(&lesson) {
            assert!(!text.contains('@'), "{path}: {text}");
        }
        let chapter = chapter_text(&lesson);
        assert!(chapter.contains("# Page cache"));
        assert!(chapter.contains("lessons/06-page-cache/tests/snapshots/step-1.snap:4:"));
        assert!(
            fill(MAIN_RS, &lesson).contains("say!(\"page-cache: what does the page cache keep?\")")
        );
    }
}
