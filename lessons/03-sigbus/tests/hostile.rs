//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_sigbus");

#[test]
fn a_reader_that_leaves_early_ends_the_lesson_quietly() {
    for bytes in [0, 1, 40, 200, 1000, 2500] {
        support::testing::assert_quiet_on_a_closed_pipe(LESSON, bytes);
    }
}

#[test]
fn a_full_output_device_gets_a_one_line_error() {
    support::testing::assert_one_line_on_a_full_device("sigbus", LESSON);
}

#[test]
fn a_nearly_full_tmpfs_gets_a_clear_refusal_never_a_signal() {
    let mut refused = 0;
    for free in [0, 4096, 8192, 12288, 16384, 24576, 32768, 65536] {
        match support::testing::on_a_nearly_full_tmpfs("sigbus", LESSON, free) {
            Ok(true) => refused += 1,
            Ok(false) => {}
            Err(why) => {
                eprintln!("skipped: cannot mount a small tmpfs here ({why})");
                return;
            }
        }
    }
    assert!(
        refused > 0,
        "a full TMPDIR must stop a lesson that stores into files"
    );
}

#[test]
fn a_tight_limit_on_open_files_names_ulimit_n() {
    let refused =
        support::testing::sweep_ulimit("sigbus", LESSON, "-n", 4..=12, false, "ulimit -n");
    assert!(
        refused > 0,
        "no limit from 4 to 12 open files was tight enough"
    );
}

#[test]
fn without_proc_the_fork_refusal_says_why_and_how_to_fix_it() {
    let run = match support::testing::run_without_proc(LESSON) {
        Ok(run) => run,
        Err(why) => {
            eprintln!("skipped: cannot hide /proc here ({why})");
            return;
        }
    };
    let err = support::testing::assert_refused_after_story("sigbus", &run);
    assert!(!err.contains("0 threads"), "{err}");
    assert!(
        err.contains("cannot count this process's threads") && err.contains("/proc/self/task"),
        "{err}"
    );
    assert!(err.contains("mount -t proc proc /proc"), "{err}");
}
