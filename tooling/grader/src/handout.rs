//! `cargo xtask handout DIR`: the student copy, with every solution region
//! replaced by its stub ([`tooling::copy`], which `init` uses too), a
//! workflow that grades each push, and a README for students.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use support::say;
use test_support::layout as lessons;
use tooling::copy::{Recipient, Written, choose_lessons, dir_and_lessons, write_copy};
use tooling::grade::GradedTest;
use tooling::{Result, files, workspace_root};

/// Top-level entries the student copy leaves out: the instructor's CI
/// (which runs `verify`, meaningless without solutions).
const LEFT_OUT: &[&str] = &[".ci"];

/// The toolchain the handout's workflow and the Gradescope package install:
/// the one this workbook is built and tested with.
pub const PINNED_TOOLCHAIN: &str = "1.95.0";

/// Where the handout's grading workflow lives. Never
/// `.github/workflows/autograde.yaml`: Classroom 50 writes that one itself.
pub const WORKFLOW: &str = ".github/workflows/grade.yml";

/// The student copy's grading workflow: it needs no service. Each push is
/// graded with the handout's own grader, the score table goes to the job
/// summary and the JSON to an artifact. Actions are pinned by commit (both
/// run on Node 24), and the checkout keeps no credentials, since the
/// student's code runs in this job.
fn workflow() -> String {
    format!(
        "\
# Written by `cargo xtask handout`. Grades every push with this repository's
# own grader: the score table goes to the job summary, the JSON report to the
# artifact `grade`. This is feedback for you; your instructor grades with the
# original tests (cargo xtask grade-all, Gradescope or Classroom 50).
name: Grade
on: [push, workflow_dispatch]
permissions:
  contents: read
jobs:
  grade:
    runs-on: ubuntu-24.04
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0
        with:
          persist-credentials: false
      - name: Install Rust {PINNED_TOOLCHAIN}
        run: |
          rustup toolchain install {PINNED_TOOLCHAIN} --profile minimal
          rustup default {PINNED_TOOLCHAIN}
      - name: Grade
        run: cargo xtask grade --json grade.json --summary \"$GITHUB_STEP_SUMMARY\" || true
      - name: Report an error if grading could not even start
        if: always()
        run: |
          if [ ! -s grade.json ]; then
            max=$(awk '$1 == \"test\" {{ s += $4 }} END {{ print s + 0 }}' .workbook/manifest)
            printf '{{\"schema\":\"mmap-workbook/grade/v1\",\"status\":\"error\",\"score\":0,\"max_score\":%s,\"tests\":[],\"changed_graded_files\":[]}}\\n' \"$max\" > grade.json
            echo \"Grading could not start: score 0/$max. See the log of the Grade step.\" >> \"$GITHUB_STEP_SUMMARY\"
            exit 1
          fi
      - uses: actions/upload-artifact@b7c566a772e6b6bfb58ed0dc250532a479d7789f # v6.0.0
        if: always()
        with:
          name: grade
          path: grade.json
"
    )
}

pub fn cmd_handout(args: Vec<OsString>) -> Result<ExitCode> {
    let Some((dir, only)) = dir_and_lessons(args, "handout")? else {
        return Ok(ExitCode::SUCCESS);
    };
    let root = workspace_root()?;
    let chosen = match &only {
        Some(list) => Some(choose_lessons(&root, list)?),
        None => None,
    };
    let written = write_handout_of(&root, &dir, chosen.as_deref())?;
    say!(
        "Wrote the student copy to {} ({} files, {} exercise files stubbed).",
        written.dest.display(),
        written.files,
        written.stripped
    );
    let left_out: Vec<PathBuf> = files::untracked(&root);
    if !left_out.is_empty() {
        say!("Left out, because git does not track them:");
        for path in left_out.iter().take(20) {
            say!("  {}", path.display());
        }
    }
    let next = format!(
        "Push it as the assignment's template repository. Students run `cargo xtask grade` \
         there; each push is graded by {WORKFLOW}. To grade the class: cargo xtask grade-all."
    );
    say!("{}", tooling::wrap(&next, tooling::COLUMNS, ""));
    Ok(ExitCode::SUCCESS)
}

/// Writes the student copy of the workspace at `root` into `dest`, which
/// must be new or an empty directory, and outside the workspace. Only the
/// files git tracks are copied. The copy is made beside `dest` and renamed
/// into place, so `dest` ends up complete or untouched.
pub fn write_handout(root: &Path, dest: &Path) -> Result<Written> {
    write_handout_of(root, dest, None)
}

/// [`write_handout`] for some of the lessons only (all of them for `None`):
/// the others' directories and chapters are left out.
pub fn write_handout_of(
    root: &Path,
    dest: &Path,
    only: Option<&[lessons::Lesson]>,
) -> Result<Written> {
    let add_workflow = |to: &Path| -> Result {
        let workflow_path = to.join(WORKFLOW);
        fs::create_dir_all(workflow_path.parent().unwrap_or(to))
            .and_then(|()| fs::write(&workflow_path, workflow()))
            .map_err(|e| format!("cannot write {WORKFLOW}: {e}"))
    };
    let class = Recipient {
        noun: "handout",
        suggested: "handout",
        left_out: LEFT_OUT,
        always_trim: false,
        add: &add_workflow,
        readme: &student_readme,
    };
    write_copy(root, dest, only, &class)
}

/// The README a student finds in the handout: what to do, how to check,
/// how to get a hint. The instructor's README stays with the instructor.
fn student_readme(lessons: &[lessons::Lesson], tests: &[GradedTest]) -> String {
    let mut rows = String::new();
    for lesson in lessons {
        let points = tooling::copy::points_of(lesson, tests);
        rows.push_str(&format!(
            "| {:02} | {} | `cargo xtask run-lesson {}` | `lessons/{}/src/exercises.rs` | {points} |\n",
            lesson.number,
            lesson.question,
            lesson.name,
            lesson.dir_name()
        ));
    }
    let total: u32 = tests.iter().map(|t| t.points).sum();
    let forbidden = scan::rules_for_people();
    format!(
        "\
# Your exercises: how Linux maps files and shares memory

Each lesson is a small Rust program that makes one idea happen on your
machine, with real addresses, page faults and signals. Run it, read its
chapter in the book, then write the exercises.

| # | question | run the lesson | your file | points |
| --- | --- | --- | --- | --- |
{rows}
{total} points in all. You need Linux and Rust (`rustup`); nothing else.

## What to do

In each lesson's `src/exercises.rs`, replace every `todo!()` with your own
code. Each function's doc comment says what it must do. Change nothing else:
your instructor grades these files with the original tests, so changes
anywhere else are ignored.

## How to check your work

```console
$ cargo xtask watch            # grades the exercise you are on at each save
$ cargo xtask grade            # every lesson
$ cargo xtask grade sigbus     # one lesson
```

The table shows each graded test, its points, and why it failed. Each test
runs on its own for at most 10 seconds, so a loop or a crash costs only that
test. Each push to your repository is graded the same way (see the Actions
tab, and its job summary).

## When you are stuck

```console
$ cargo xtask hint sigbus      # the hint for your next unsolved exercise
$ cargo xtask run-lesson sigbus
$ cargo xtask book              # the book, served on 127.0.0.1:3000
```

The graded tests are in each lesson's `tests/graded.rs`: read them to see
exactly what is checked.

## Rules the grader keeps

- A test earns its points only when its checks ran and passed. Printing
  \"ok\", exiting early or editing the tests earns nothing.
- An exercise file may not contain {forbidden}: code that runs before the
  tests, reads other files while building, or that the grader never sees,
  would make every score meaningless.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::layout::is_exercise_file;
    use tooling::manifest::Manifest;

    #[test]
    fn a_handout_is_written_and_refuses_a_non_empty_directory() {
        let dest = tempfile::tempdir().unwrap();
        let root = tooling::workspace_root().unwrap();
        let written = write_handout(&root, dest.path()).unwrap();
        let lessons = test_support::layout::discover(&root).unwrap();
        assert_eq!(
            written.stripped,
            lessons.len(),
            "exactly the lessons' exercise files are stripped"
        );
        let own = fs::read_to_string(dest.path().join("tooling/grader/src/handout.rs")).unwrap();
        assert_eq!(
            own,
            fs::read_to_string(root.join("tooling/grader/src/handout.rs")).unwrap()
        );
        let exercises =
            fs::read_to_string(dest.path().join("lessons/01-file-mapping/src/exercises.rs"))
                .unwrap();
        assert!(
            !test_support::layout::solutions::has_solutions(&exercises)
                && exercises.contains("todo!(")
        );
        let workflow = fs::read_to_string(dest.path().join(WORKFLOW)).unwrap();
        assert!(
            workflow.contains("persist-credentials: false"),
            "{workflow}"
        );
        for line in workflow.lines().filter(|l| l.contains("uses:")) {
            let pin = line.split('@').nth(1).unwrap_or_default();
            let sha: String = pin.chars().take_while(char::is_ascii_hexdigit).collect();
            assert_eq!(sha.len(), 40, "not pinned by commit: {line}");
        }
        assert!(
            !dest
                .path()
                .join(".github/workflows/autograde.yaml")
                .exists()
        );
        let readme = fs::read_to_string(dest.path().join("README.md")).unwrap();
        assert!(readme.contains("cargo xtask hint"), "{readme}");
        assert!(
            readme.contains("| 01 | How do I map a file into memory?"),
            "{readme}"
        );
        assert!(!dest.path().join(".ci").exists() && !dest.path().join("target").exists());
        let manifest = Manifest::read(dest.path()).unwrap().unwrap();
        assert!(manifest.changes(dest.path()).is_empty());
        assert!(
            manifest
                .files
                .iter()
                .any(|(_, p)| p == Path::new("lessons/01-file-mapping/tests/graded.rs"))
        );
        assert!(!manifest.files.iter().any(|(_, p)| is_exercise_file(p)));
        let error = write_handout(&root, dest.path()).unwrap_err();
        assert!(error.contains("is not empty"), "{error}");
    }

    #[test]
    fn a_handout_inside_the_workbook_is_refused_however_it_is_named() {
        let root = tooling::workspace_root().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let link = outside.path().join("link");
        std::os::unix::fs::symlink(root.join("target"), &link).unwrap();
        for inside in [
            root.join("handout-inside"),
            root.join("xtask/../handout-inside"),
            link.join("handout-inside"),
            root.clone(),
            root.parent().unwrap().to_owned(),
        ] {
            let error = write_handout(&root, &inside).unwrap_err();
            assert!(
                error.contains("inside the workbook") || error.contains("is not empty"),
                "{}: {error}",
                inside.display()
            );
            assert!(!root.join("handout-inside").exists());
        }
    }

    /// A tiny workbook in its own git repository, with one lesson.
    fn tiny_workbook() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("Cargo.toml", "[workspace]\nmembers = [\"lessons/*\"]\n");
        write(
            "lessons/01-tiny/Cargo.toml",
            "[package]\nname = \"tiny\"\ndescription = \"Is it tiny?\"\n",
        );
        write(
            "lessons/01-tiny/src/exercises.rs",
            "pub fn one() -> u32 {\n    // STUB: todo!()\n    // SOLUTION BEGIN\n    1\n    // SOLUTION END\n}\n",
        );
        write(
            "lessons/01-tiny/tests/graded.rs",
            "// points: 3\n#[test]\nfn one_is_one() {}\n",
        );
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(root)
                .output()
                .unwrap();
            assert!(status.status.success(), "git {args:?}: {status:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "."]);
        git(&["commit", "-qm", "tiny"]);
        dir
    }

    #[test]
    fn only_tracked_files_are_handed_out() {
        let tiny = tiny_workbook();
        // An editor's backup of the solved exercise, and a notes file.
        fs::write(
            tiny.path().join("lessons/01-tiny/src/exercises.rs~"),
            "// SOLUTION BEGIN\n",
        )
        .unwrap();
        fs::write(tiny.path().join("notes.txt"), "answers").unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("handout");
        let written = write_handout(tiny.path(), &dest).unwrap();
        assert_eq!((written.files, written.stripped), (4, 1));
        assert!(!dest.join("lessons/01-tiny/src/exercises.rs~").exists());
        assert!(!dest.join("notes.txt").exists());
        let stub = fs::read_to_string(dest.join("lessons/01-tiny/src/exercises.rs")).unwrap();
        assert_eq!(stub, "pub fn one() -> u32 {\n    todo!()\n}\n");
        let manifest = Manifest::read(&dest).unwrap().unwrap();
        assert_eq!(manifest.tests.len(), 1);
        assert_eq!(manifest.tests[0].points, 3);
        // Nothing but the handout itself was created beside it.
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_broken_exercise_file_leaves_no_partial_handout() {
        let tiny = tiny_workbook();
        fs::write(
            tiny.path().join("lessons/01-tiny/src/exercises.rs"),
            "// SOLUTION BEGIN\nnever closed\n",
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let error = write_handout(tiny.path(), &out.path().join("handout")).unwrap_err();
        assert!(error.contains("never closed"), "{error}");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_handout_leaves_nothing_behind() {
        let parent = tempfile::tempdir().unwrap();
        let root = tooling::workspace_root().unwrap();
        // A destination whose parent does not exist fails before writing.
        let error = write_handout(&root, &parent.path().join("no/such/dir")).unwrap_err();
        assert!(error.contains("create it first"), "{error}");
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
