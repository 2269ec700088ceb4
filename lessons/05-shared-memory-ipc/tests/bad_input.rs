//! Bad input and a hostile /dev/shm: a clear message, a non-zero exit, no
//! panic, and nothing left behind.
//!
//! The /dev/shm cases run the real lesson (its real `shm_open`) in a private
//! mount namespace (`unshare --mount`), where a read-only, full or missing
//! /dev/shm hides the machine's own. That needs root; elsewhere those tests
//! say so and check nothing.

use std::process::Command;

use support::ChildOutcome;
use test_support::testing::run_command;

const LESSON: &str = env!("CARGO_BIN_EXE_shared-memory-ipc");
const NAME: &str = "shared-memory-ipc";

fn refused(args: &[&str]) -> String {
    test_support::testing::refused(NAME, LESSON, args)
}

#[test]
fn the_command_line_refuses_what_it_does_not_know() {
    test_support::testing::assert_command_line_basics(
        NAME, LESSON, "--bnech", "--bench",
    );
}

#[test]
fn mib_that_is_not_a_size() {
    for bad in ["abc", "0", "-1", "1.5", "65537", "99999999999999999999"] {
        let err = refused(&["--bench", "--mib", bad]);
        assert!(
            err.contains(&format!(
                "--mib {bad}: not a whole number of MiB from 1 to 65536"
            )),
            "{err}"
        );
    }
    assert!(refused(&["--bench", "--mib"]).contains("--mib needs a value"));
    assert!(refused(&["--bench", "--mib", ""]).contains("--mib needs a value"));
}

#[test]
fn bench_flags_without_bench() {
    for args in [&["--mib", "4"][..], &["--json"], &["--place", "same"]] {
        let err = refused(args);
        assert!(err.contains("only apply to --bench"), "{err}");
    }
}

#[test]
fn a_place_that_is_not_one() {
    for bad in ["", "Same", "both", "0"] {
        let err = refused(&["--bench", "--place", bad]);
        let expected = if bad.is_empty() {
            "--place needs a value".to_owned()
        } else {
            format!("--place {bad}: not a placement. Say free, same or apart.")
        };
        assert!(err.contains(&expected), "{err}");
    }
    assert!(refused(&["--bench", "--place"]).contains("--place needs a value"));
}

/// `--place apart` where only one CPU is usable (through `taskset`, where
/// it is installed) is refused before anything runs.
#[test]
fn apart_needs_two_cpus() {
    let Ok(cpu) = nix::sched::sched_getcpu() else {
        eprintln!("skipped: sched_getcpu failed");
        return;
    };
    if Command::new("taskset").arg("--version").output().is_err() {
        eprintln!("skipped: no taskset to run the lesson on one CPU");
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let run = run_command(
        Command::new("taskset")
            .args([
                "-c",
                &cpu.to_string(),
                LESSON,
                "--bench",
                "--place",
                "apart",
            ])
            .current_dir(cwd.path()),
    );
    assert_eq!(run.outcome, ChildOutcome::Exited(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "--place apart: this process may use 1 CPU, and apart needs two"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn a_helper_needs_its_parents_pid() {
    assert!(refused(&["--helper"]).contains("--helper needs a value"));
    for bad in ["abc", "0", "-3"] {
        let err = refused(&["--helper", bad]);
        assert!(
            err.contains(&format!("--helper {bad}: not a process id")),
            "{err}"
        );
    }
}

/// A helper told a pid that is alive but not its parent's refuses it.
#[test]
fn a_helper_told_another_pid_refuses() {
    let err = refused(&["--helper", "1"]);
    assert!(err.contains("pid 1 is not this helper's parent"), "{err}");
    assert!(err.contains("run the lesson without --helper"), "{err}");
}

/// A helper whose parent is gone before it starts (its pid no longer
/// names a process; `getppid` gives another one) ends at once, quietly:
/// there is nobody left to serve or to tell. (A parent that is a zombie,
/// not yet reaped, is gone too: the hostile tests' reader that leaves early
/// makes one, and the helper then says nothing.)
#[test]
fn a_helper_whose_parent_is_gone_ends_quietly() {
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let run = test_support::testing::run(
        LESSON,
        &["--helper", &pid.to_string()],
        cwd.path(),
    );
    assert_eq!(run.outcome, ChildOutcome::Exited(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout, "");
}

/// Runs the lesson with `args` in a private mount namespace after `setup`
/// (shell commands), then lists /dev/shm there. `None` when this machine
/// cannot make a namespace (not root, or no unshare).
fn in_namespace(setup: &str) -> Option<(support::spawn::Captured, String)> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: making a private /dev/shm needs root");
        return None;
    }
    if std::env::temp_dir().starts_with("/dev/shm") {
        eprintln!("skipped: TMPDIR is under /dev/shm, which this test replaces");
        return None;
    }
    let probe = Command::new("unshare")
        .args(["--mount", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !probe {
        eprintln!("skipped: `unshare --mount` is not available here");
        return None;
    }
    let script = format!(
        "{setup} || exit 99; \"$0\"; rc=$?; echo \"LEFT: $(ls -A /dev/shm 2>&1 | tr '\\n' ' ')\"; exit $rc"
    );
    let cwd = tempfile::tempdir().unwrap();
    let run = run_command(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .arg(LESSON)
            .current_dir(cwd.path()),
    );
    assert_ne!(
        run.outcome,
        ChildOutcome::Exited(99),
        "setup failed: {}",
        run.stderr
    );
    let left = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("LEFT: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(test_support::testing::entries(cwd.path()).is_empty());
    Some((run, left))
}

/// The lesson failed cleanly: exit 2, one error naming /dev/shm and `what`.
fn failed_naming_dev_shm(run: &support::spawn::Captured, what: &str) {
    assert_eq!(run.outcome, ChildOutcome::Exited(2), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!("{NAME}: error: ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(what), "{}", run.stderr);
}

#[test]
fn a_read_only_dev_shm() {
    let Some((run, left)) =
        in_namespace("mount -t tmpfs -o ro,size=1m tmpfs /dev/shm")
    else {
        return;
    };
    failed_naming_dev_shm(&run, "/dev/shm is read-only");
    assert!(run.stderr.contains("EROFS"), "{}", run.stderr);
    assert_eq!(left, "");
}

#[test]
fn a_full_dev_shm() {
    // 64 KiB, filled to the last page: the lesson's 4 KiB object fits no more.
    let setup = "mount -t tmpfs -o size=64k tmpfs /dev/shm && \
                 (dd if=/dev/zero of=/dev/shm/filler bs=4k count=64 2>/dev/null; true)";
    let Some((run, left)) = in_namespace(setup) else {
        return;
    };
    failed_naming_dev_shm(&run, "/dev/shm is full");
    assert!(run.stderr.contains("ENOSPC"), "{}", run.stderr);
    assert_eq!(left, "filler", "the lesson left its object behind");
}

#[test]
fn a_missing_dev_shm() {
    // A fresh /dev without shm/, keeping the devices the lesson opens.
    let keep = tempfile::tempdir().unwrap();
    let keep = keep.path().display();
    let setup = format!(
        "mount --rbind /dev {keep} && mount -t tmpfs tmpfs /dev && \
         for d in null zero urandom random; do touch /dev/$d && mount --bind {keep}/$d /dev/$d; done && \
         umount -l {keep}"
    );
    let Some((run, left)) = in_namespace(&setup) else {
        return;
    };
    failed_naming_dev_shm(&run, "/dev/shm does not exist");
    assert!(left.contains("No such file"), "{left}");
}

#[test]
fn ctrl_c_at_any_moment_leaves_no_name_behind() {
    // Interrupt the lesson at many moments of its first steps, in a private
    // /dev/shm so that no other test's objects are counted.
    // A shell runs background jobs with SIGINT ignored; `env
    // --default-signal` gives the lesson the default action back, as a
    // terminal's Ctrl-C would find it.
    let setup = "mount -t tmpfs -o size=1m tmpfs /dev/shm && for d in \
                 0 0.001 0.002 0.003 0.004 0.005 0.006 0.008 0.01 0.012 0.015 0.02 0.03; do \
                 for s in INT TERM; do \
                 env --default-signal=INT \"$0\" >/dev/null 2>&1 & p=$!; \
                 sleep $d; kill -$s $p; wait $p; done; done; true";
    let Some((run, left)) = in_namespace(setup) else {
        return;
    };
    assert!(
        run.stderr.is_empty() || !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    assert_eq!(left, "", "names left in /dev/shm after Ctrl-C");
}
