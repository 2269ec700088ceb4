//! `cargo xtask init [DIR]`: a learner's own workbook, in the spirit of
//! `rustlings init`. It is written by the handout's routine
//! ([`tooling::copy::write_copy`], so the stubs are the very ones a class
//! gets), without the instructor's material, then built once so that the
//! learner's first `run-lesson` and `watch` start at once.
//!
//! The copy is not a git repository (nor is rustlings'): it is the
//! learner's to keep however they like, `git init` there costs nothing, and
//! a first commit would need a git identity that a fresh machine may lack.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use support::say;
use test_support::layout::{self as lessons, Lesson, solutions};

use tooling::copy::{self, Recipient};
use tooling::{COLUMNS, Result, wrap};

/// Where `init` writes without a DIR: beside the workbook.
pub const DEFAULT_DIR_NAME: &str = "mmap-workbook-exercises";

/// The instructor's material a learner's copy leaves out (files, or
/// directories with all they hold): grading a class, the platform
/// exporters, the honesty proof and the handout (the grader's `instructor`
/// feature's modules), the grader's own tests (its attacks, class grading
/// and new-lesson, which need the solutions), the instructor's CI, this
/// command's own test, and the book's chapter for instructors. The rest of
/// the grader stays: `cargo xtask grade` runs it.
pub const INSTRUCTOR_ONLY: &[&str] = &[
    ".ci",
    "tooling/grader/src/class",
    "tooling/grader/src/handout.rs",
    "tooling/grader/src/platforms.rs",
    "tooling/grader/src/verify.rs",
    "tooling/grader/src/zip.rs",
    "tooling/grader/tests",
    "xtask/tests/learner.rs",
    "book/src/teaching.md",
];

/// A learner's own copy: no instructor's material or commands, its own
/// README, and the book's chapters of the lessons it holds only.
fn learner() -> Recipient<'static> {
    Recipient {
        noun: "copy",
        suggested: DEFAULT_DIR_NAME,
        left_out: INSTRUCTOR_ONLY,
        always_trim: true,
        add: &without_instructor_feature,
        readme: &learner_readme,
    }
}

/// The line of xtask's manifest that turns the instructor's commands on.
const INSTRUCTOR_DEFAULT: &str = "default = [\"instructor\"]";

/// True when the exercise files of `lessons` hold the reference solutions:
/// this is the author's checkout, not a learner's copy.
pub fn holds_solutions(lessons: &[Lesson]) -> bool {
    lessons.iter().any(|lesson| {
        fs::read_to_string(lesson.dir.join(lessons::EXERCISES))
            .is_ok_and(|text| solutions::has_solutions(&text))
    })
}

/// What `progress`, `hint` and `watch` say in the reference checkout.
pub fn reference_note() -> String {
    wrap(
        &format!(
            "This checkout holds the reference solutions, so every exercise \
             passes here. To solve them yourself, make your own copy, with \
             every exercise stubbed, and work there:\n\n  cargo xtask init      \
             (writes ../{DEFAULT_DIR_NAME})\n  cd ../{DEFAULT_DIR_NAME}\n  \
             cargo xtask watch"
        ),
        COLUMNS,
        "",
    )
}

/// Turns the `instructor` feature off in the copy at `to`, in xtask and in
/// the grader: they then build without the instructor's commands, whose
/// files the copy does not have.
pub fn without_instructor_feature(to: &Path) -> Result {
    for manifest in ["xtask/Cargo.toml", "tooling/grader/Cargo.toml"] {
        let path = to.join(manifest);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !text.lines().any(|l| l.trim() == INSTRUCTOR_DEFAULT) {
            return Err(format!(
                "{manifest} has no line `{INSTRUCTOR_DEFAULT}` to turn off for a learner's copy"
            ));
        }
        let learner: String = text
            .lines()
            .map(|l| {
                if l.trim() == INSTRUCTOR_DEFAULT {
                    "default = []"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        fs::write(&path, learner + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

pub fn cmd_init(args: Vec<OsString>) -> Result<ExitCode> {
    if !cfg!(feature = "instructor") {
        return Err(
            "this is already a learner's copy: work here (cargo xtask watch), \
                    or run init in the original workbook for a fresh one"
                .into(),
        );
    }
    let Some((dir, only)) = copy::parse_dir_and_lessons(args, "init")? else {
        return Ok(ExitCode::SUCCESS);
    };
    let root = tooling::workspace_root()?;
    let dir = match dir {
        Some(dir) => dir,
        None => {
            let default = root.parent().unwrap_or(&root).join(DEFAULT_DIR_NAME);
            if fs::read_dir(&default).is_ok_and(|mut entries| entries.next().is_some()) {
                return Err(format!(
                    "you already have a copy at {}: work there (cd {0}; cargo xtask watch), \
                     or name another directory: cargo xtask init DIR",
                    default.display()
                ));
            }
            default
        }
    };
    let chosen = match &only {
        Some(list) => Some(copy::choose_lessons(&root, list)?),
        None => None,
    };
    let all = lessons::discover(&root)?;
    if !holds_solutions(&all) {
        return Err(format!(
            "{} holds no reference solutions, so a copy would hold your own work, not \
             stubs. Run init in the original workbook.",
            root.display()
        ));
    }
    let written = copy::write_copy(&root, &dir, chosen.as_deref(), &learner())?;
    let copied = lessons::discover(&written.dest)?;
    let exercises: usize = copied
        .iter()
        .map(|l| test_support::layout::exercises::of_lesson(l).map_or(0, |e| e.len()))
        .sum();
    say!(
        "{}",
        wrap(
            &format!(
                "Wrote your workbook to {}: {} lessons, {exercises} exercises to solve.",
                written.dest.display(),
                copied.len()
            ),
            COLUMNS,
            "  "
        )
    );
    build(&root, &written.dest, &copied).map_err(|e| {
        format!(
            "{e}\nYour copy is complete at {}; run `cargo build` there to see why it \
             did not build.",
            written.dest.display()
        )
    })?;
    let shown = shown_path(&written.dest);
    say!(
        "\nReady. Next:\n\n  cd {shown}\n  cargo xtask run-lesson {}\n  cargo xtask watch\n",
        copied.first().map_or("1", |l| l.name.as_str())
    );
    say!(
        "{}",
        wrap(
            "Read each lesson's chapter (cargo xtask book), run the lesson, then \
             replace the todo!() in its src/exercises.rs. watch grades the exercise \
             you are on each time you save.",
            COLUMNS,
            ""
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// `dest` as the learner can type it from here: relative when it is near.
fn shown_path(dest: &Path) -> String {
    let here = std::env::current_dir()
        .ok()
        .and_then(|d| fs::canonicalize(d).ok());
    if let Some(here) = here {
        if let Ok(below) = dest.strip_prefix(&here) {
            return below.display().to_string();
        }
        if let Some(parent) = here.parent()
            && let Ok(beside) = dest.strip_prefix(parent)
        {
            return Path::new("..").join(beside).display().to_string();
        }
    }
    dest.display().to_string()
}

/// Builds the copy once, showing cargo's progress, exactly as the learner's
/// commands will build it later (so that they find it built): xtask, each
/// lesson's program, and each lesson's graded tests as the grader builds
/// them (into the copy's own `target/`, with the grader's compiler). It
/// starts from the registry's crates as the workbook at `root` compiled
/// them (running xtask there built some at least), and keeps of those the
/// units the copy's builds used, and the crates they did not use.
fn build(root: &Path, dest: &Path, lessons: &[Lesson]) -> Result {
    let target = dest.join("target");
    tooling::announce_first_build(
        &target,
        "your copy: the learner's commands, every lesson and its graded tests",
        "a few minutes (about 2 on a busy 2-CPU machine)",
    );
    // A warm start only: without it, the build compiles every crate.
    let seeded = tooling::seed::registry_builds(dest, &tooling::target_dir(root), &target)
        .unwrap_or_default();
    let manifest = dest.join("Cargo.toml");
    let mut used = tooling::seed::Units::default();
    let mut run = |command: &mut std::process::Command, what: &str| -> Result {
        // Cargo's progress and errors on stderr, as always; on stdout its
        // JSON, which names every unit the build used.
        let output = command
            .arg("--message-format=json-render-diagnostics")
            .current_dir(dest)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        used.read(&String::from_utf8_lossy(&output.stdout));
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{what} did not build (cargo's errors are above)."))
        }
    };
    run(
        tooling::cargo()
            .args(["build", "--package", "xtask", "--manifest-path"])
            .arg(&manifest),
        "xtask",
    )?;
    for lesson in lessons {
        run(
            tooling::cargo()
                .args(["build", "--package", &lesson.name, "--bin", &lesson.name])
                .arg("--manifest-path")
                .arg(&manifest),
            &lesson.name,
        )?;
    }
    let mut graded = tooling::cargo();
    if let Some(rustc) = tooling::rustc_beside_cargo() {
        graded.env("RUSTC", rustc);
    }
    graded
        .args(["test", "--no-run", "--locked", "--test", "graded"])
        .env("CARGO_TARGET_DIR", &target);
    for lesson in lessons {
        graded.args(["--package", &lesson.name]);
    }
    run(
        graded.arg("--manifest-path").arg(&manifest),
        "the graded tests",
    )?;
    // Only space is at stake: what cannot go stays. The crates the builds
    // did not use stay for the learner's next ones (the book, the grader).
    let _ = seeded.prune(&used, tooling::seed::Unused::Keep);
    Ok(())
}

/// The README of a learner's copy: the path through the workbook, and the
/// commands for it.
pub fn learner_readme(lessons: &[Lesson], tests: &[tooling::grade::GradedTest]) -> String {
    let mut rows = String::new();
    for lesson in lessons {
        let points = copy::points_of(lesson, tests);
        rows.push_str(&format!(
            "| {:02} | {} | `cargo xtask run-lesson {}` | {points} |\n",
            lesson.number, lesson.question, lesson.name,
        ));
    }
    let total: u32 = tests.iter().map(|t| t.points).sum();
    format!(
        "\
# Your mmap workbook

Your own copy of the workbook, written by `cargo xtask init`: every
exercise is yours to write. Each lesson is a small Rust program that makes
one idea happen on your machine, with real addresses, page faults and
signals.

| # | question | run the lesson | points |
| --- | --- | --- | --- |
{rows}
{total} points in all.

## The loop

1. Read the lesson's chapter: `cargo xtask book`, then open the address it
   prints.
2. Run the lesson: `cargo xtask run-lesson 1`.
3. Start `cargo xtask watch` and replace each `todo!()` in the lesson's
   `src/exercises.rs`. Each time you save, watch grades the exercise you
   are on and shows its verdict. Type `h` and Enter for a hint, `n` for the
   next exercise, `q` to quit.

`cargo xtask progress` shows where you stand in every lesson,
`cargo xtask hint LESSON` gives the hint for your next exercise, and
`cargo xtask grade` prints the full table of graded tests.

Change only the exercise files: `grade` names any other file that changed,
since the graded tests must stay as they were to mean anything. The graded
tests are in each lesson's `tests/graded.rs`: read them to see exactly what
is checked.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learner_copy_has_stubs_and_no_instructor_material() {
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("mine");
        let root = tooling::workspace_root().unwrap();
        let written = copy::write_copy(&root, &dest, None, &learner()).unwrap();
        for gone in INSTRUCTOR_ONLY {
            assert!(
                root.join(gone).exists(),
                "{gone} is listed but not in the workbook"
            );
            assert!(!dest.join(gone).exists(), "{gone} was copied");
        }
        assert!(!dest.join(".github/workflows/grade.yml").exists());
        let manifest = fs::read_to_string(dest.join("xtask/Cargo.toml")).unwrap();
        assert!(manifest.contains("default = []") && !manifest.contains(INSTRUCTOR_DEFAULT));
        let summary = fs::read_to_string(dest.join("book/src/SUMMARY.md")).unwrap();
        assert!(!summary.contains("teaching.md") && !summary.contains("# For instructors"));
        assert!(summary.contains("[Glossary](glossary.md)"), "{summary}");
        for entry in fs::read_dir(dest.join("book/src")).unwrap().flatten() {
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(!text.contains("(teaching.md"), "{}", entry.path().display());
        }
        let lessons = lessons::discover(&dest).unwrap();
        assert_eq!(written.stripped, lessons.len());
        assert!(!holds_solutions(&lessons));
        assert!(holds_solutions(&lessons::discover(&root).unwrap()));
        let readme = fs::read_to_string(dest.join("README.md")).unwrap();
        assert!(readme.contains("cargo xtask watch"), "{readme}");
        let error = copy::write_copy(&root, &dest, None, &learner()).unwrap_err();
        assert!(error.contains("is not empty"), "{error}");
    }

    #[test]
    fn the_reference_note_fits_80_columns_and_names_init() {
        let note = reference_note();
        assert!(note.contains("cargo xtask init"));
        assert!(note.lines().all(|l| l.chars().count() <= COLUMNS), "{note}");
    }
}
