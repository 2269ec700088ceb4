//! Bad input: a clear message on stderr naming the thing, the reason and what
//! to do; exit code 2; no panic; and nothing left behind.

use std::process::Command;

use test_support::testing::{assert_refused, entries, run_command};

const LESSON: &str = env!("CARGO_BIN_EXE_page-cache");

/// Runs the lesson in `cwd` with TMPDIR at `tmp`, checks the common shape of
/// a refusal and that neither directory gained anything; returns stderr.
fn refused(args: &[&str]) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = run_command(
        Command::new(LESSON)
            .args(args)
            .env("TMPDIR", tmp.path())
            .current_dir(cwd.path()),
    );
    let err = assert_refused("page-cache", &run);
    assert!(
        entries(cwd.path()).is_empty(),
        "{args:?} wrote into its cwd"
    );
    assert!(
        entries(tmp.path()).is_empty(),
        "{args:?} left files in TMPDIR"
    );
    err
}

#[test]
fn an_unknown_flag_suggests_the_closest_one() {
    let err = refused(&["--bnech"]);
    assert!(
        err.contains("unknown argument '--bnech'; did you mean '--bench'?"),
        "{err}"
    );
    assert!(
        err.contains("cargo xtask run-lesson page-cache -- --help"),
        "{err}"
    );
    let err = refused(&["--frobnicate"]);
    assert!(
        err.contains(
            "this lesson accepts --bench, --mib, --json, --svg, --force, --help"
        ),
        "{err}"
    );
}

#[test]
fn mib_must_be_a_sensible_whole_number() {
    for (value, says) in [
        ("0", "--mib 0: the file must have at least 1 MiB"),
        ("-5", "--mib -5: not a whole number of MiB"),
        ("abc", "--mib abc: not a whole number of MiB"),
        ("2.5", "--mib 2.5: not a whole number of MiB"),
        ("99999999999999999999", "more than 65536 MiB"),
        ("1000000", "--mib 1000000: more than 65536 MiB"),
    ] {
        let err = refused(&["--bench", "--mib", value]);
        assert!(err.contains(says), "--mib {value}: {err}");
        assert!(err.contains("try --mib 256"), "{err}");
    }
}

#[test]
fn mib_needs_a_value_and_only_one() {
    let err = refused(&["--bench", "--mib"]);
    assert!(err.contains("--mib needs a value after it"), "{err}");
    let err = refused(&["--bench", "--mib", "--json"]);
    assert!(err.contains("--mib needs a value after it"), "{err}");
    let err = refused(&["--bench", "--mib", "8", "--mib", "16"]);
    assert!(err.contains("--mib is given twice"), "{err}");
}

#[test]
fn bench_flags_without_bench() {
    for args in [&["--json"][..], &["--mib", "8"][..]] {
        let err = refused(args);
        assert!(
            err.contains(
                "--mib and --json only make sense with --bench; add --bench"
            ),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn more_than_the_machine_has() {
    // Accepted by the parser, refused before anything is written, as long as
    // this machine has less than twice 64 GiB of memory available.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let available_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap();
    if available_kb >= 2 * (64 << 20) {
        eprintln!("skipped: this machine could hold a 64 GiB benchmark");
        return;
    }
    let err = refused(&["--bench", "--mib", "65536"]);
    assert!(err.contains("--mib 65536 needs about"), "{err}");
    assert!(err.contains("choose a smaller --mib"), "{err}");
}

#[test]
fn an_unusable_temporary_directory() {
    test_support::testing::hostile::assert_an_unusable_tmpdir_is_named(
        "page-cache",
        LESSON,
    );
}

#[test]
fn help_is_not_an_error() {
    let cwd = tempfile::tempdir().unwrap();
    let run = test_support::testing::run(LESSON, &["--help"], cwd.path());
    assert!(run.outcome.is_success(), "{}", run.stderr);
    assert!(run.stdout.contains("--bench"), "{}", run.stdout);
    assert!(run.stdout.contains("--mib N"), "{}", run.stdout);
}

#[test]
fn a_tight_file_size_limit() {
    // `ulimit -f 1000` (KiB): step 2's 1 MiB file cannot be written.
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = run_command(
        Command::new("/bin/sh")
            .args(["-c", "ulimit -f 1000 && exec \"$0\"", LESSON])
            .env("TMPDIR", tmp.path())
            .current_dir(cwd.path()),
    );
    let err = assert_refused_after_story(&run);
    assert!(err.contains("cannot write 1048576 bytes to "), "{err}");
    assert!(err.contains("raise `ulimit -f`"), "{err}");
    assert!(entries(cwd.path()).is_empty());
    assert!(entries(tmp.path()).is_empty(), "files left in TMPDIR");
}

/// A refusal that comes after part of the story was printed: exit code 2, a
/// `page-cache: error:` line, no panic.
fn assert_refused_after_story(run: &support::spawn::Captured) -> String {
    assert_eq!(
        run.outcome,
        support::ChildOutcome::Exited(2),
        "stderr:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stderr.starts_with("page-cache: error: "),
        "{}",
        run.stderr
    );
    run.stderr.clone()
}
