//! `cargo xtask handout DIR`: the student copy, with every solution region
//! replaced by its stub (see `test_support::layout::solutions`).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::manifest::{MANIFEST, Manifest};
use crate::{Result, files, workspace_root};
use support::cleanup;
use support::say;
use test_support::layout::solutions::strip_solutions;
use test_support::layout::{self as lessons, is_exercise_file};

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

/// `DIR [--lessons a,b]`, the arguments of `handout`, `gradescope` and
/// `classroom50`.
/// `None` when they asked for `--help` (printed), or without a directory
/// (`init`'s default).
pub fn parse_dir_and_lessons(
    args: Vec<OsString>,
    command: &'static str,
) -> Result<Option<(Option<PathBuf>, Option<String>)>> {
    /// `DIR [--lessons a,b]`.
    #[derive(Debug, clap::Parser)]
    struct DirAndLessons {
        /// The directory to write: new or empty.
        dir: Option<PathBuf>,
        /// Only these lessons, by name or number.
        #[arg(long, value_name = "a,b")]
        lessons: Option<String>,
    }
    Ok(crate::args::parse::<DirAndLessons>(command, args)?.map(|a| (a.dir, a.lessons)))
}

/// [`parse_dir_and_lessons`] for a command whose directory is required.
pub fn dir_and_lessons(
    args: Vec<OsString>,
    command: &'static str,
) -> Result<Option<(PathBuf, Option<String>)>> {
    let Some((dir, only)) = parse_dir_and_lessons(args, command)? else {
        return Ok(None);
    };
    let dir = dir.ok_or_else(|| {
        format!("{command} needs the directory to write: cargo xtask {command} DIR")
    })?;
    Ok(Some((dir, only)))
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
    say!("{}", crate::wrap(&next, crate::COLUMNS, ""));
    Ok(ExitCode::SUCCESS)
}

/// The lessons named in `list` (names or numbers, comma-separated), after
/// checking that every lesson one of them builds on is named too.
pub fn choose_lessons(root: &Path, list: &str) -> Result<Vec<lessons::Lesson>> {
    let all = lessons::discover(root)?;
    let mut chosen = Vec::new();
    for wanted in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let lesson = lessons::find(root, wanted)?;
        if !chosen
            .iter()
            .any(|l: &lessons::Lesson| l.name == lesson.name)
        {
            chosen.push(lesson);
        }
    }
    if chosen.is_empty() {
        return Err("--lessons names no lesson; for example: --lessons file-mapping,sigbus".into());
    }
    for lesson in &chosen {
        let manifest = fs::read_to_string(lesson.dir.join("Cargo.toml")).unwrap_or_default();
        for other in &all {
            let depends = manifest
                .lines()
                .any(|l| l.trim().starts_with(&format!("{}.workspace", other.name)));
            if depends && !chosen.iter().any(|c| c.name == other.name) {
                return Err(format!(
                    "{} builds on {} (its Cargo.toml depends on it): add {} to --lessons",
                    lesson.name, other.name, other.name
                ));
            }
        }
    }
    chosen.sort_by_key(|l| l.number);
    Ok(chosen)
}

/// What a handout holds.
#[derive(Debug)]
pub struct Written {
    /// Where it is, as a real path.
    pub dest: PathBuf,
    pub files: usize,
    pub stripped: usize,
}

/// Writes the student copy of the workspace at `root` into `dest`, which
/// must be new or an empty directory, and outside the workspace. Only the
/// files git tracks are copied. The copy is made beside `dest` and renamed
/// into place, so `dest` ends up complete or untouched.
#[cfg_attr(not(feature = "instructor"), allow(dead_code))] // verify's
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
    write_copy(root, dest, only, Recipient::Class)
}

/// Who a copy of the workbook is for. Both get every exercise stubbed and a
/// manifest, through the one routine [`write_copy`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recipient {
    /// `handout`: the template of a class's assignment, with a workflow
    /// that grades each push.
    Class,
    /// `init`: one learner's own workbook, without the instructor's
    /// material (see [`crate::init::INSTRUCTOR_ONLY`]).
    Learner,
}

impl Recipient {
    fn noun(self) -> &'static str {
        match self {
            Recipient::Class => "handout",
            Recipient::Learner => "copy",
        }
    }
}

/// Writes a copy of the workbook at `root` for `recipient` into `dest`
/// (new or an empty directory, outside the workbook): the files git
/// tracks, every solution replaced by its stub. The copy is made beside
/// `dest` and renamed into place, so `dest` ends up complete or untouched.
pub fn write_copy(
    root: &Path,
    dest: &Path,
    only: Option<&[lessons::Lesson]>,
    recipient: Recipient,
) -> Result<Written> {
    let dest = files::destination(root, dest, recipient.noun())?;
    let mut tracked = files::tracked(root)?;
    if let Some(chosen) = only {
        let dropped: Vec<String> = lessons::discover(root)?
            .into_iter()
            .filter(|l| !chosen.iter().any(|c| c.name == l.name))
            .map(|l| l.dir_name())
            .collect();
        tracked.retain(|path| {
            !dropped.iter().any(|name| {
                path.starts_with(Path::new("lessons").join(name))
                    || path == &Path::new("book/src").join(format!("{name}.md"))
            })
        });
    }
    let parent = dest.parent().ok_or("the directory has no parent")?;
    // Ctrl-C while the copy is written must not leave the staging directory
    // behind: it is registered for removal by the cleanup signal handler
    // together with its creation (signals held back in between).
    let (staging, registration) = cleanup::protected(|| -> Result<_> {
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}-", recipient.noun()))
            .tempdir_in(parent)
            .map_err(|e| format!("cannot write into {}: {e}", parent.display()))?;
        let registration = cleanup::register(staging.path(), cleanup::Removal::Tree)
            .map_err(|e| format!("cannot prepare the copy's removal on Ctrl-C: {e}"))?;
        Ok((staging, registration))
    })?;
    let filled = fill(root, &tracked, staging.path(), only, recipient).and_then(|written| {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot set the copy's permissions: {e}"))?;
        Ok(written)
    });
    // rename(2) replaces an empty directory, and fails on a non-empty one
    // (another writer got there first): either way nothing half-written stays.
    // Removed or renamed, then unregistered, with Ctrl-C held back: it finds
    // either the staging directory to remove, or nothing left to do.
    let written = cleanup::protected(move || {
        let moved = filled.and_then(|written| match fs::rename(staging.path(), &dest) {
            Ok(()) => Ok(Written { dest, ..written }),
            Err(e) => Err(format!("cannot move the copy into {}: {e}", dest.display())),
        });
        match moved {
            Ok(_) => drop(staging.keep()),
            Err(_) => drop(staging),
        }
        drop(registration);
        moved
    })?;
    Ok(written)
}

/// Copies `tracked` from `root` into `to`, stripping the solutions from the
/// exercise files, then adds what `recipient` needs (the workflow, or the
/// learner's settings), a README and the manifest.
fn fill(
    root: &Path,
    tracked: &[PathBuf],
    to: &Path,
    only: Option<&[lessons::Lesson]>,
    recipient: Recipient,
) -> Result<Written> {
    let left_out = |p: &PathBuf| {
        LEFT_OUT.iter().any(|l| p.starts_with(l))
            || (recipient == Recipient::Learner
                && crate::init::INSTRUCTOR_ONLY
                    .iter()
                    .any(|l| p.starts_with(l)))
    };
    let chosen: Vec<PathBuf> = tracked.iter().filter(|p| !left_out(p)).cloned().collect();
    files::copy(root, &chosen, to)?;
    let mut stripped = 0;
    for relative in chosen.iter().filter(|p| is_exercise_file(p)) {
        let path = to.join(relative);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let stub = strip_solutions(&text).map_err(|e| format!("{}: {e}", relative.display()))?;
        fs::write(&path, stub).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        stripped += 1;
    }
    if recipient == Recipient::Class {
        let workflow_path = to.join(WORKFLOW);
        fs::create_dir_all(workflow_path.parent().unwrap_or(to))
            .and_then(|()| fs::write(&workflow_path, workflow()))
            .map_err(|e| format!("cannot write {WORKFLOW}: {e}"))?;
    } else {
        crate::init::without_instructor_feature(to)?;
    }
    if only.is_some() || recipient == Recipient::Learner {
        trim_summary(to)?;
        unlink_left_out_chapters(to)?;
        // Fewer crates: let cargo drop the others from Cargo.lock now, so
        // the first build does not change a file the manifest watches.
        let metadata = crate::cargo()
            .args([
                "update",
                "--workspace",
                "--offline",
                "--quiet",
                "--manifest-path",
            ])
            .arg(to.join("Cargo.toml"))
            .output()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        if !metadata.status.success() {
            return Err(format!(
                "cargo cannot read the handout's workspace: {}",
                String::from_utf8_lossy(&metadata.stderr).trim()
            ));
        }
    }
    let handed_out = lessons::discover(to)?;
    let mut tests = Vec::new();
    for lesson in &handed_out {
        tests.extend(lesson.graded_tests()?);
    }
    let readme = match recipient {
        Recipient::Class => student_readme(&handed_out, &tests),
        Recipient::Learner => crate::init::learner_readme(&handed_out, &tests),
    };
    fs::write(to.join("README.md"), readme)
        .map_err(|e| format!("cannot write the student's README.md: {e}"))?;
    let watched: Vec<PathBuf> = files::walk(to)?
        .into_iter()
        .filter(|p| !is_exercise_file(p) && p != Path::new(MANIFEST))
        .collect();
    let manifest = Manifest::describe(to, tests, &watched)?;
    let manifest_path = to.join(MANIFEST);
    fs::create_dir_all(manifest_path.parent().unwrap_or(to))
        .and_then(|()| fs::write(&manifest_path, manifest.to_text()))
        .map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
    Ok(Written {
        dest: to.to_owned(),
        files: chosen.len(),
        stripped,
    })
}

/// Drops the book's table-of-contents lines whose chapter was left out,
/// and a part's heading (`# For instructors`) left with no chapter.
fn trim_summary(to: &Path) -> Result {
    let path = to.join("book/src/SUMMARY.md");
    let Ok(summary) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut kept: Vec<&str> = summary
        .lines()
        .filter(|line| {
            let Some(start) = line.find("](") else {
                return true;
            };
            let target = line[start + 2..].split(')').next().unwrap_or_default();
            to.join("book/src").join(target).exists()
        })
        .collect();
    // A part heading followed (blank lines aside) by another heading or
    // the end has lost its chapters.
    let mut index = kept.len();
    while index > 0 {
        index -= 1;
        if !kept[index].starts_with("# ") || index == 0 {
            continue;
        }
        let empty = kept[index + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_none_or(|l| l.starts_with("# "));
        if empty {
            kept.remove(index);
        }
    }
    while kept.len() > 1 && kept[kept.len() - 1].trim().is_empty() {
        kept.pop();
    }
    fs::write(&path, kept.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// In every remaining page of the book, turns a link to a chapter that was
/// left out into its plain text, so the handout's book has no broken link.
fn unlink_left_out_chapters(to: &Path) -> Result {
    let src = to.join("book/src");
    let Ok(entries) = fs::read_dir(&src) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let kept = without_links_to_missing(&text, |target| src.join(target).exists());
        if kept != text {
            fs::write(&path, kept).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// `markdown` with each link `[text](page.md...)` to a local page for which
/// `exists` says no replaced by `text`. Images, web links and links to
/// pages that exist are kept.
fn without_links_to_missing(markdown: &str, exists: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(at) = rest.find("](") {
        let (before, after) = (&rest[..at], &rest[at + 2..]);
        let open = before.rfind('[');
        let close = after.find(')');
        let (Some(open), Some(close)) = (open, close) else {
            out.push_str(&rest[..at + 2]);
            rest = after;
            continue;
        };
        let target = &after[..close];
        let page = target.split('#').next().unwrap_or_default();
        let is_image = before[..open].ends_with('!');
        let local_page = page.ends_with(".md") && !page.contains("://");
        if is_image || !local_page || exists(page) {
            out.push_str(&rest[..at + 2]);
            rest = after;
            continue;
        }
        out.push_str(&before[..open]);
        out.push_str(&before[open + 1..]);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The points of `lesson`'s graded tests among `tests`.
pub fn points_of(lesson: &lessons::Lesson, tests: &[crate::grade::GradedTest]) -> u32 {
    tests
        .iter()
        .filter(|t| t.lesson == lesson.name)
        .map(|t| t.points)
        .sum()
}

/// The README a student finds in the handout: what to do, how to check,
/// how to get a hint. The instructor's README stays with the instructor.
fn student_readme(lessons: &[lessons::Lesson], tests: &[crate::grade::GradedTest]) -> String {
    let mut rows = String::new();
    for lesson in lessons {
        let points = crate::handout::points_of(lesson, tests);
        rows.push_str(&format!(
            "| {:02} | {} | `cargo xtask run-lesson {}` | `lessons/{}/src/exercises.rs` | {points} |\n",
            lesson.number,
            lesson.question,
            lesson.name,
            lesson.dir_name()
        ));
    }
    let total: u32 = tests.iter().map(|t| t.points).sum();
    let forbidden = crate::grade::scan::rules_for_people();
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

    #[test]
    fn links_to_left_out_chapters_become_plain_text() {
        let page = "See [SIGBUS](03-sigbus.md#step-2) and [maps](02-process-maps.md), \
                    ![fig](img/a.svg), [web](https://x.org/a.md), [x] (y).";
        let kept = super::without_links_to_missing(page, |p| p == "02-process-maps.md");
        assert_eq!(
            kept,
            "See SIGBUS and [maps](02-process-maps.md), ![fig](img/a.svg), \
             [web](https://x.org/a.md), [x] (y)."
        );
    }

    use super::*;

    #[test]
    fn a_handout_is_written_and_refuses_a_non_empty_directory() {
        let dest = tempfile::tempdir().unwrap();
        let root = crate::workspace_root().unwrap();
        let written = write_handout(&root, dest.path()).unwrap();
        let lessons = test_support::layout::discover(&root).unwrap();
        assert_eq!(
            written.stripped,
            lessons.len(),
            "exactly the lessons' exercise files are stripped"
        );
        let own = fs::read_to_string(dest.path().join("xtask/src/handout.rs")).unwrap();
        assert_eq!(
            own,
            fs::read_to_string(root.join("xtask/src/handout.rs")).unwrap()
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
        let root = crate::workspace_root().unwrap();
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
        let root = crate::workspace_root().unwrap();
        // A destination whose parent does not exist fails before writing.
        let error = write_handout(&root, &parent.path().join("no/such/dir")).unwrap_err();
        assert!(error.contains("create it first"), "{error}");
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
