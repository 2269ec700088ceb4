//! The hostile situations every lesson meets, one call a test
//! ([`hostile_tests!`](crate::hostile_tests) makes the tests).

use super::*;

/// The lesson's refusal without `/proc` (stderr), or `None`, saying so,
/// where `/proc` cannot be hidden.
fn refusal_without_proc(lesson: &str, bin: &str) -> Option<String> {
    match run_without_proc(bin) {
        Ok(run) => Some(assert_refused_after_story(lesson, &run)),
        Err(why) => {
            eprintln!("skipped: cannot hide /proc here ({why})");
            None
        }
    }
}

/// TMPDIR names a directory that does not exist: the lesson refuses,
/// naming it and the fix, and creates nothing.
pub fn assert_an_unusable_tmpdir_is_named(lesson: &str, bin: &str) {
    let cwd = tempfile::tempdir().unwrap();
    let missing = cwd.path().join("no-such-dir");
    let run = run_command(
        Command::new(bin)
            .env("TMPDIR", &missing)
            .current_dir(cwd.path()),
    );
    let err = assert_refused(lesson, &run);
    assert!(
        err.contains(&format!(
            "cannot create a temporary directory in {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("Set TMPDIR to a directory you can write to"),
        "{err}"
    );
    assert!(entries(cwd.path()).is_empty());
}

/// Without `/proc`, a lesson that reads its own maps says so, and how
/// to mount it. Skipped, with the reason, where `/proc` cannot be hidden.
pub fn assert_without_proc_the_lesson_says_to_mount_it(lesson: &str, bin: &str) {
    let Some(err) = refusal_without_proc(lesson, bin) else {
        return;
    };
    assert!(err.contains("cannot read /proc/self/maps"), "{err}");
    assert!(err.contains("mount -t proc proc /proc"), "{err}");
}

/// A reader that leaves after 0, 1, ... 2500 bytes: each time the lesson
/// ends quietly ([`assert_quiet_on_a_closed_pipe`]).
pub fn assert_quiet_when_the_reader_leaves(bin: &str) {
    for bytes in [0, 1, 40, 200, 1000, 2500] {
        assert_quiet_on_a_closed_pipe(bin, bytes);
    }
}

/// TMPDIR on a nearly full tmpfs, from 0 to 64 KiB free: a story or a
/// clear refusal, never a signal ([`on_a_nearly_full_tmpfs`]). A lesson
/// that `stores_files` there must be stopped by some of these sizes; one
/// that does not, by none. Skipped, with the reason, where no tmpfs can
/// be mounted.
pub fn assert_clear_on_a_nearly_full_tmpfs(
    lesson: &str,
    bin: &str,
    stores_files: bool,
) {
    let mut refused = 0;
    for free in [0, 4096, 8192, 12288, 16384, 24576, 32768, 65536] {
        match on_a_nearly_full_tmpfs(lesson, bin, free) {
            Ok(true) => refused += 1,
            Ok(false) => {}
            Err(why) => {
                eprintln!("skipped: cannot mount a small tmpfs here ({why})");
                return;
            }
        }
    }
    if stores_files {
        assert!(
            refused > 0,
            "a full TMPDIR must stop a lesson that stores into files"
        );
    } else {
        assert_eq!(refused, 0, "this lesson stores nothing in TMPDIR");
    }
}

/// `ulimit -n` from 4 to 12: the story or a refusal naming `ulimit -n`,
/// and at least one limit tight enough to refuse ([`sweep_ulimit`]).
pub fn assert_a_tight_ulimit_n_is_named(lesson: &str, bin: &str) {
    let refused = sweep_ulimit(lesson, bin, "-n", 4..=12, None, "ulimit -n");
    assert!(
        refused > 0,
        "no limit from 4 to 12 open files was tight enough"
    );
}

/// Without `/proc`, a lesson that forks refuses, saying it cannot count
/// its threads, and how to mount `/proc`. Skipped, with the reason,
/// where `/proc` cannot be hidden.
pub fn assert_the_fork_refusal_without_proc(lesson: &str, bin: &str) {
    let Some(err) = refusal_without_proc(lesson, bin) else {
        return;
    };
    assert!(!err.contains("0 threads"), "{err}");
    assert!(
        err.contains("cannot count this process's threads")
            && err.contains("/proc/self/task"),
        "{err}"
    );
    assert!(err.contains("mount -t proc proc /proc"), "{err}");
}

/// Ctrl-C (or SIGTERM) at random moments, [`interrupt_runs`] times (a
/// few by default, 40 in CI): nothing left in the current directory, TMPDIR, /dev/shm
/// or among processes ([`interrupt_at_random`]).
pub fn assert_interruptions_leave_nothing(lesson: &str, bin: &str) {
    let found = interrupt_at_random(
        bin,
        &[],
        interrupt_runs(),
        |_| {},
        |cwd| {
            entries(cwd)
                .into_iter()
                .map(|name| format!("left {name} in its current directory"))
                .collect()
        },
    );
    eprintln!(
        "{lesson}: {} runs, {} ended by the signal, {} leftovers",
        found.runs,
        found.signalled,
        found.leftovers.len()
    );
    assert!(found.leftovers.is_empty(), "{:#?}", found.leftovers);
}
