//! Bad input: a clear message on stderr naming the thing, the reason and what
//! to do; exit code 2; no panic; and nothing left behind.

use test_support::testing::{assert_refused, entries};

const LESSON: &str = env!("CARGO_BIN_EXE_exec-memory");

/// Runs the lesson in a fresh directory, checks the common shape of a
/// refusal and that nothing was left there; returns stderr.
fn refused(args: &[&str]) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let err = assert_refused(
        "exec-memory",
        &test_support::testing::run(LESSON, args, cwd.path()),
    );
    assert!(entries(cwd.path()).is_empty());
    assert!(
        err.contains("cargo xtask run-lesson exec-memory -- --help"),
        "{err}"
    );
    err
}

#[test]
fn an_unknown_flag_suggests_the_closest_one() {
    let err = refused(&["--falt", "guard-page"]);
    assert!(
        err.contains("unknown argument '--falt'; did you mean '--fault'?"),
        "{err}"
    );
    let err = refused(&["--frobnicate"]);
    assert!(err.contains("this lesson accepts --fault, --help"), "{err}");
}

#[test]
fn fault_without_a_kind() {
    for args in [&["--fault"][..], &["--fault", ""], &["--fault", "--help"]] {
        let err = refused(args);
        assert!(
            err.contains("--fault needs a KIND after it, one of run-writable, write-code, guard-page, after-munmap, past-eof"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn fault_with_an_unknown_kind() {
    let err = refused(&["--fault", "guard"]);
    assert!(
        err.contains("--fault guard: no such fault; did you mean 'guard-page'?"),
        "{err}"
    );
    let err = refused(&["--fault", "stack-overflow"]);
    assert!(
        err.contains(
            "--fault stack-overflow: no such fault; choose one of run-writable"
        ),
        "{err}"
    );
}

#[test]
fn fault_given_twice() {
    let err = refused(&["--fault", "guard-page", "--fault", "past-eof"]);
    assert!(err.contains("--fault given twice"), "{err}");
}

#[test]
fn help_is_not_an_error() {
    let cwd = tempfile::tempdir().unwrap();
    let run = test_support::testing::run(LESSON, &["--help"], cwd.path());
    assert_eq!(run.outcome, support::ChildOutcome::Exited(0));
    assert!(run.stdout.contains("--fault KIND"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
}

#[test]
fn an_unusable_temporary_directory() {
    test_support::testing::hostile::assert_an_unusable_tmpdir_is_named(
        "exec-memory",
        LESSON,
    );
}

/// Runs the walkthrough with `stdout` as its standard output and a fresh
/// TMPDIR; returns how it ended and its stderr, after checking that it left
/// nothing behind and did not panic.
fn with_stdout(stdout: std::process::Stdio) -> (support::ChildOutcome, String) {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(LESSON)
        .env("TMPDIR", tmp.path())
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().unwrap();
    let reader =
        std::thread::spawn(move || pipe.read_to_string(&mut stderr).map(|_| stderr));
    let outcome =
        support::spawn::wait_bounded(&mut child, test_support::testing::LESSON_LIMIT)
            .unwrap();
    let stderr = reader.join().unwrap().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(entries(tmp.path()).is_empty(), "left behind in TMPDIR");
    (outcome, stderr)
}

#[test]
fn a_reader_that_went_away_ends_it_quietly_as_it_ends_cat() {
    // The read end is closed before the lesson starts: every print fails.
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end);
    let (outcome, stderr) =
        with_stdout(std::process::Stdio::from(std::fs::File::from(write_end)));
    assert_eq!(
        outcome,
        support::ChildOutcome::Signaled(nix::sys::signal::Signal::SIGPIPE),
        "{stderr}"
    );
    assert_eq!(stderr, "");
}

#[test]
fn a_full_disk_is_one_line_of_error() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (outcome, stderr) = with_stdout(std::process::Stdio::from(full));
    assert_eq!(outcome, support::ChildOutcome::Exited(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "exec-memory: error: cannot write to standard output: No space left on device"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("a file on a disk with room"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_reader_that_leaves_midway_ends_it_quietly_too() {
    // Wherever the reader leaves (in a child's step or the parent's), the
    // lesson ends by SIGPIPE or finishes, says nothing, leaves nothing.
    for keep in [100, 700, 1500, 2500] {
        test_support::testing::assert_quiet_on_a_closed_pipe(LESSON, keep);
    }
}
