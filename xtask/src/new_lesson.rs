//! `cargo xtask new-lesson NAME "QUESTION"`: the next lesson, scaffolded in
//! the one lesson shape, ready to fill.
//!
//! The lesson (crate, walkthrough with one step, tests, two exercises with
//! their graded tests) and its chapter are written in a directory beside
//! `lessons/`, then renamed into place, and the chapter is listed in
//! SUMMARY.md. The story's snapshot is then made the way a reviewed one is:
//! the new walkthrough test runs once with `INSTA_UPDATE=always`. Finally
//! the new crate's tests run as CI runs them (`CI=true`). If any of that
//! fails, everything is put back as it was: the lesson and its chapter are
//! removed, SUMMARY.md and Cargo.lock restored.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use support::layout::{self as lessons, Lesson};

use crate::Result;

/// Crate names the workspace already uses for something that is not a lesson.
const TAKEN: &[&str] = &["support", "xtask", "workbook-tests"];

/// A story line holds the lesson's name and its question; it fits in this.
const STORY_COLUMNS: usize = 85; // support::testing::STORY_COLUMNS

pub fn cmd_new_lesson(args: Vec<OsString>) -> Result<ExitCode> {
    /// `new-lesson NAME "QUESTION"`.
    #[derive(Debug, clap::Parser)]
    struct NewLesson {
        /// The lesson's crate name, in kebab-case (page-cache).
        name: Option<String>,
        /// The question the lesson answers (its crate's description).
        question: Option<String>,
    }
    let Some(NewLesson { name, question }) = crate::args::parse("new-lesson", args)? else {
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
    let root = crate::workspace_root()?;
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
        "Made lessons/{dir}/ and book/src/{dir}.md, listed in SUMMARY.md; its tests pass.\n\
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
    // The chapter and the new SUMMARY.md: written whole beside their
    // places, then put there by rename (tempfile's persist).
    let book_src = root.join("book/src");
    let staged_chapter = staged_file(&book_src, chapter_text(lesson).as_bytes())?;
    let staged_summary = staged_file(&book_src, new_summary.as_bytes())?;

    let mut undo = Undo {
        lock: root.join("Cargo.lock"),
        lock_text: fs::read(root.join("Cargo.lock")).ok(),
        summary: summary_path.clone(),
        summary_text: None,
        placed: Vec::new(),
    };
    rename(&staged_lesson, &lesson.dir)?;
    undo.placed.push(lesson.dir.clone());
    // Never over a chapter that appeared meanwhile.
    staged_chapter
        .persist_noclobber(&chapter)
        .map_err(|e| format!("cannot write {}: {}", chapter.display(), e.error))?;
    undo.placed.push(chapter.clone());
    undo.summary_text = Some(summary);
    staged_summary
        .persist(&summary_path)
        .map_err(|e| format!("cannot write {}: {}", summary_path.display(), e.error))?;

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
    undo.summary_text = None;
    undo.lock_text = None;
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
    let mut command = crate::cargo();
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
    summary: PathBuf,
    summary_text: Option<String>,
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
        if let Some(text) = self.summary_text.take() {
            restore(&self.summary, text.as_bytes());
        }
        if let Some(text) = self.lock_text.take() {
            restore(&self.lock, &text);
        }
    }
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

const CARGO_TOML: &str = r#"[package]
name = "@NAME@"
description = "@QUESTION@"
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
support.workspace = true

[dev-dependencies]
insta.workspace = true
support = { workspace = true, features = ["testing"] }

[lints]
workspace = true
"#;

const LIB_RS: &str = r#"//! Lesson @N@: @QUESTION@
//!
//! The teachable functions, small and named for what they show (each
//! `unsafe` block with a `// SAFETY:` comment). The walkthrough calls them
//! one step at a time; the chapter includes them by their anchors.

pub mod exercises;

// ANCHOR: pages_spanned
/// How many pages of `page_size` bytes the bytes `start..start + len`
/// touch: the kernel maps, faults in and writes back whole pages.
pub fn pages_spanned(start: usize, len: usize, page_size: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let first = start / page_size;
    let last = (start + len - 1) / page_size;
    last - first + 1
}
// ANCHOR_END: pages_spanned
"#;

const MAIN_RS: &str = r#"//! The walkthrough for lesson @N@: run it with `cargo xtask run-lesson @NAME@`.

use @CRATE@::pages_spanned;
use support::cli::Cli;
use support::{Result, say};

const CLI: Cli = Cli {
    lesson: "@NAME@",
    usage: "\
@NAME@: @question@

Usage: cargo xtask run-lesson @NAME@ [-- --help]
",
    flags: &["--help"],
};

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough,
}

fn main() {
    CLI.begin();
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => walkthrough(),
    });
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    Ok(if CLI.help_asked()? {
        Mode::Help
    } else {
        Mode::Walkthrough
    })
}

fn walkthrough() -> Result {
    say!("@NAME@: @question@");
    whole_pages()?;
    Ok(())
}

fn whole_pages() -> Result {
    say!("\nStep 1. The kernel works in whole pages");
    let page = support::page_size();
    say!(
        "  one byte at the start of a page touches {} page",
        pages_spanned(0, 1, page)
    );
    say!(
        "  two bytes across a page boundary touch {} pages",
        pages_spanned(page - 1, 2, page)
    );
    Ok(())
}
"#;

const EXERCISES_RS: &str = r#"//! Exercises for lesson @N@. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade @NAME@` to see your score.

/// Exercise @N@.1: the length the kernel really maps for a mapping of `len`
/// bytes: `len` rounded up to a whole number of `page_size`-byte pages.
///
/// Hint: `usize::div_ceil`, then multiply back.
pub fn mapped_len(len: usize, page_size: usize) -> usize {
    // STUB: todo!("round {len} up to a multiple of {page_size}")
    // SOLUTION BEGIN
    len.div_ceil(page_size) * page_size
    // SOLUTION END
}

/// Exercise @N@.2: the file offset of the page that holds byte `offset`, as
/// `mmap` wants it: a multiple of the page size.
///
/// Hint: round down; the remainder of a division says by how much.
pub fn page_offset(offset: u64, page_size: u64) -> u64 {
    // STUB: todo!("the start of the page that holds byte {offset} ({page_size}-byte pages)")
    // SOLUTION BEGIN
    offset - offset % page_size
    // SOLUTION END
}
"#;

const WALKTHROUGH_RS: &str = r#"//! The walkthrough, run as a learner runs it: one run of the binary, its
//! story compared with the reviewed snapshots (whole and step by step, for
//! the chapter) and the facts behind it asserted.

use support::testing::{line, story};

const LESSON: &str = env!("CARGO_BIN_EXE_@NAME@");

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = story(LESSON);
    // Whatever the page size: one byte touches one page, two bytes across
    // a boundary touch two.
    assert!(line(&out, "one byte at the start").ends_with(" 1 page"), "{out}");
    assert!(line(&out, "two bytes across").ends_with(" 2 pages"), "{out}");
    support::story_snapshots!(out);
}
"#;

const BAD_INPUT_RS: &str = r#"//! Bad input: a clear message naming the thing, the reason and the fix;
//! exit code 2; no panic; nothing left behind.

const LESSON: &str = env!("CARGO_BIN_EXE_@NAME@");

#[test]
fn the_command_line_refuses_what_it_does_not_know() {
    support::testing::assert_command_line_basics("@NAME@", LESSON, "--hlep", "--help");
}
"#;

const HOSTILE_RS: &str = r#"//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR. Each ends the lesson cleanly (no
//! panic, no death by its own signal) and leaves nothing behind. Once the
//! lesson stores files in TMPDIR, opens files or forks, say so here
//! (`stores_files: true`, `ulimit_n`, `forks`).

const LESSON: &str = env!("CARGO_BIN_EXE_@NAME@");

support::hostile_tests!("@NAME@", LESSON, stores_files: false);
"#;

const INTERRUPT_RS: &str = r#"//! Ctrl-C at any moment leaves nothing behind: the lesson is started many
//! times and interrupted (SIGINT or SIGTERM) after a random delay.

const LESSON: &str = env!("CARGO_BIN_EXE_@NAME@");

#[test]
fn interrupted_at_random_moments_it_leaves_nothing_behind() {
    support::testing::hostile::assert_interruptions_leave_nothing("@NAME@", LESSON);
}
"#;

const GRADED_RS: &str = r#"//! Graded tests for the lesson @N@ exercises (`src/exercises.rs`).
//!
//! `cargo xtask grade` runs these and reads each test's points from the
//! `// points: N` line above it. Do not edit this file to pass.

use support::grading::graded;

use @CRATE@::exercises::{mapped_len, page_offset};

// points: 1
#[test]
fn mapped_lengths_are_whole_pages() {
    graded(|| {
        assert_eq!(mapped_len(1, 4096), 4096);
        assert_eq!(mapped_len(4096, 4096), 4096);
        assert_eq!(mapped_len(4097, 4096), 8192);
        assert_eq!(mapped_len(0, 16384), 0);
    });
}

// points: 1
#[test]
fn page_offsets_round_down() {
    graded(|| {
        assert_eq!(page_offset(0, 4096), 0);
        assert_eq!(page_offset(4095, 4096), 0);
        assert_eq!(page_offset(4096, 4096), 4096);
        assert_eq!(page_offset(20000, 16384), 16384);
    });
}
"#;

const CHAPTER_MD: &str = r#"# @TITLE@

> @QUESTION@
>
> Run it: `cargo xtask run-lesson @NAME@`

What the lesson shows and why it matters, in a paragraph or two: the
scaffold wrote this chapter, and its author replaces this paragraph.

## Step 1: whole pages

The kernel maps, faults in and writes back memory in pages, never in parts
of one. This function counts the pages a range of bytes touches:

<div class="listing-file">lessons/@DIR@/src/lib.rs</div>

```rust,ignore
{{#include ../../lessons/@DIR@/src/lib.rs:pages_spanned}}
```

**Predict:** how many pages do two bytes touch when they straddle a page
boundary?

<details>
<summary>Run it and see</summary>

```text
{{#include ../../lessons/@DIR@/tests/snapshots/step-1.snap:4:}}
```

Two: the first byte is the last of one page, the second the first of the
next, and the kernel deals in whole pages.

</details>

## Exercises

In `lessons/@DIR@/src/exercises.rs`:

1. `mapped_len` (1 point): how long a mapping really is.
2. `page_offset` (1 point): the offset `mmap` accepts for a given byte.

Check your work with `cargo xtask grade @NAME@`; `cargo xtask hint @NAME@`
gives a nudge.
"#;

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
