//! What every lesson's tests do the same way: run the lesson's binary as a
//! learner would (a separate process, a bounded wait), check how it refuses
//! bad input, and snapshot its story with the shared redactions.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::child::{Captured, output_bounded};
use crate::{ChildOutcome, snapshot};

/// How long a lesson may run in a test before it is killed.
pub const LESSON_LIMIT: Duration = Duration::from_secs(30);

/// Runs the lesson binary `bin` with `args` in `cwd`, bounded by [`LESSON_LIMIT`].
pub fn run(bin: &str, args: &[&str], cwd: &Path) -> Captured {
    run_command(Command::new(bin).args(args).current_dir(cwd))
}

/// Runs a prepared command (for an unusual environment or user), bounded.
pub fn run_command(command: &mut Command) -> Captured {
    output_bounded(command, LESSON_LIMIT).unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs the lesson's walkthrough with no arguments in a fresh directory and
/// returns its story (stdout), after checking that it ran cleanly: exit code
/// 0, nothing on stderr, and nothing written into its current directory.
pub fn story(bin: &str) -> String {
    let cwd = tempfile::tempdir().expect("a temporary directory for the lesson to run in");
    let run = run(bin, &[], cwd.path());
    assert_eq!(
        run.outcome,
        ChildOutcome::Exited(0),
        "the lesson failed:\n{}",
        run.stderr
    );
    assert_eq!(run.stderr, "", "the lesson wrote to stderr");
    assert!(
        entries(cwd.path()).is_empty(),
        "the lesson wrote into its current directory"
    );
    run.stdout
}

/// Checks that `run` is a clean refusal by `lesson`: exit code 2, a
/// `LESSON: error:` message and no panic on stderr, no story on stdout.
/// Returns stderr for the caller's own checks.
pub fn assert_refused(lesson: &str, run: &Captured) -> String {
    assert_eq!(
        run.outcome,
        ChildOutcome::Exited(2),
        "stderr:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!("{lesson}: error: ")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "a refused run prints no story");
    run.stderr.clone()
}

/// The names in `dir`, sorted: to check that nothing was left behind.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// insta settings for a lesson's snapshot: the shared [`snapshot::filters`]
/// plus the lesson's own `extra` ones, and a header the book can skip
/// (three lines: no expression, no module prefix in the file name).
pub fn settings(extra: &[(&str, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in snapshot::filters() {
        settings.add_filter(&pattern, replacement);
    }
    for (pattern, replacement) in extra {
        settings.add_filter(pattern, *replacement);
    }
    settings.set_omit_expression(true);
    settings.set_prepend_module_to_snapshot(false);
    settings
}
