//! `cargo xtask new-lesson` makes a lesson that passes as generated: in a
//! scratch copy of this workbook, `new-lesson demo "Does it work?"`, then
//! the demo's tests as CI runs them, the cross-cutting tests (the book, the
//! authoring checks), clippy, and the grader: full marks on the solutions,
//! none on the stubs. The scratch copy, demo included, is removed after.
//!
//! The copy's `target` is a link to a directory kept under this workspace's
//! `target/tmp`, seeded with the registry's crates as this workspace built
//! them, so that only the first run builds what differs (the grader always
//! builds in `<tree>/target`).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::ChildOutcome;
use support::spawn::{Captured, output_bounded};
use test_support::layout::solutions::strip_solutions;

const LIMIT: Duration = Duration::from_secs(1200);

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

/// The files git tracks (or would: untracked but not ignored), copied into
/// `to`; `to/target` links to the kept build cache.
fn copy_of_the_workbook(to: &Path) {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(listed.status.success(), "git ls-files: {listed:?}");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let relative = Path::new(std::str::from_utf8(file).unwrap());
        let from = workspace().join(relative);
        if !from.is_file() {
            continue; // deleted in the working tree, not yet in the index
        }
        let dest = to.join(relative);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(&from, &dest).unwrap();
    }
    // A git checkout of its own, as the workbook is: new-lesson stages there.
    for args in [&["init", "-q"][..], &["add", "-A"]] {
        let git = Command::new("git")
            .args(args)
            .current_dir(to)
            .output()
            .unwrap();
        assert!(git.status.success(), "git {args:?}: {git:?}");
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("new-lesson-target");
    if !cache.exists() {
        // A first run starts from the registry crates this workspace's own
        // builds compiled: its tests', clippy's and the book's.
        fs::create_dir_all(&cache).unwrap();
        if let Err(why) =
            tooling::seed::registry_builds(workspace(), &workspace().join("target"), &cache)
        {
            eprintln!("note: the scratch copy builds the registry's crates itself: {why}");
        }
    }
    std::os::unix::fs::symlink(&cache, to.join("target")).unwrap();
}

/// Runs `program args` in `tree` as a person there would: the tree's own
/// workspace and target directory, CI's settings.
fn run(tree: &Path, program: &str, args: &[&str]) -> Captured {
    let run = output_bounded(
        Command::new(program)
            .args(args)
            .current_dir(tree)
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("INSTA_UPDATE")
            .env("CARGO_TARGET_DIR", tree.join("target"))
            .env("CI", "true"),
        LIMIT,
    )
    .unwrap();
    assert!(
        !matches!(run.outcome, ChildOutcome::TimedOut(_)),
        "{program} {args:?} hung"
    );
    run
}

/// What new-lesson staged in `tree` and did not clean up.
fn staged_leftovers(tree: &Path) -> Vec<String> {
    fs::read_dir(tree)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".new-lesson"))
        .collect()
}

fn assert_ran(run: &Captured, what: &str) {
    assert!(
        run.outcome.is_success(),
        "{what} {}:\n{}\n{}",
        run.outcome,
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_new_lesson_passes_as_generated_and_is_refused_twice() {
    let scratch = tempfile::tempdir().unwrap();
    let tree = scratch.path();
    copy_of_the_workbook(tree);
    let xtask = env!("CARGO_BIN_EXE_grader");
    let cargo = env!("CARGO");
    // The demo comes after the last lesson, whichever that is now.
    let lessons = test_support::layout::discover(tree).unwrap();
    let last = lessons.last().unwrap().dir_name();
    let dir_name = format!("{:02}-demo", lessons.last().unwrap().number + 1);

    // Bad names and questions change nothing.
    for (args, says) in [
        (&["Demo", "Does it work?"][..], "kebab-case"),
        (
            &["file-mapping", "Again?"],
            "already a lesson 'file-mapping'",
        ),
        (&["demo", " "], "the question is empty"),
        (&["demo"], "takes a name and a question"),
    ] {
        let refused = run(tree, xtask, &[&["new-lesson"][..], args].concat());
        assert_eq!(refused.outcome, ChildOutcome::Exited(2), "{args:?}");
        assert!(
            refused.stderr.contains(says),
            "{args:?}: {}",
            refused.stderr
        );
    }
    assert!(!tree.join("lessons").join(&dir_name).exists());

    // A scaffold whose tests fail is not kept (here cargo itself fails):
    // everything is as it was, and nothing staged is left.
    let lists = ["book/src/SUMMARY.md", "README.md", "Cargo.lock"];
    let before = lists.map(|f| fs::read(tree.join(f)).unwrap());
    let failed = output_bounded(
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(["new-lesson", "demo", "Does it work?"])
            .current_dir(tree)
            .env("CARGO_MANIFEST_DIR", tree.join("xtask"))
            .env("CARGO", "false"),
        LIMIT,
    )
    .unwrap();
    assert_eq!(failed.outcome, ChildOutcome::Exited(2), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("nothing was kept"),
        "{}",
        failed.stderr
    );
    let after = lists.map(|f| fs::read(tree.join(f)).unwrap());
    assert!(
        before == after,
        "SUMMARY.md, README.md or Cargo.lock changed"
    );
    assert!(!tree.join("lessons").join(&dir_name).exists());
    assert!(
        !tree
            .join("book/src")
            .join(format!("{dir_name}.md"))
            .exists()
    );
    assert_eq!(staged_leftovers(tree), Vec::<String>::new());

    let made = run(tree, xtask, &["new-lesson", "demo", "Does it work?"]);
    assert_ran(&made, "new-lesson");
    let demo = tree.join("lessons").join(&dir_name);
    let story = fs::read_to_string(demo.join("tests/snapshots/story.snap")).unwrap();
    assert!(story.contains("\n---\ndemo: does it work?\n"), "{story}");
    let summary = fs::read_to_string(tree.join("book/src/SUMMARY.md")).unwrap();
    assert!(
        summary.contains(&format!("({last}.md)\n- [Demo]({dir_name}.md)\n")),
        "{summary}"
    );
    let readme = fs::read_to_string(tree.join("README.md")).unwrap();
    let number = &dir_name[..2];
    assert!(
        readme.contains(&format!("\n| {number} | `demo` | Does it work? |\n")),
        "{readme}"
    );
    // Staged, so that the handout (which copies what git tracks) has it.
    let tracked = Command::new("git")
        .args([
            "ls-files",
            "--",
            &format!("lessons/{dir_name}/src/runner.rs"),
        ])
        .current_dir(tree)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&tracked.stdout).contains("runner.rs"),
        "new-lesson did not stage its files: {tracked:?}"
    );
    assert_eq!(staged_leftovers(tree), Vec::<String>::new());

    // Twice is refused, and changes nothing.
    let again = run(tree, xtask, &["new-lesson", "demo", "Does it work?"]);
    assert_eq!(again.outcome, ChildOutcome::Exited(2));
    assert!(
        again.stderr.contains("already a lesson 'demo'"),
        "{}",
        again.stderr
    );

    assert_ran(
        &run(tree, cargo, &["test", "-p", "demo"]),
        "cargo test -p demo",
    );
    assert_ran(
        &run(tree, cargo, &["test", "-p", "workbook-tests"]),
        "the book and authoring tests",
    );
    assert_ran(
        &run(
            tree,
            cargo,
            &[
                "clippy",
                "-p",
                "demo",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
        "clippy",
    );

    let graded = run(tree, xtask, &["grade", "demo"]);
    assert_ran(&graded, "grading the solutions");
    assert!(graded.stdout.contains("Score: 2/2"), "{}", graded.stdout);
    let exercises = demo.join("src/exercises.rs");
    let stubs = strip_solutions(&fs::read_to_string(&exercises).unwrap()).unwrap();
    fs::write(&exercises, stubs).unwrap();
    let graded = run(tree, xtask, &["grade", "demo"]);
    assert_eq!(graded.outcome, ChildOutcome::Exited(1), "{}", graded.stderr);
    assert!(graded.stdout.contains("Score: 0/2"), "{}", graded.stdout);
    // `scratch` goes, and the demo with it.
}
