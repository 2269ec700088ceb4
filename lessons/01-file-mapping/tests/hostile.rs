//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

#[test]
fn a_reader_that_leaves_early_ends_the_lesson_quietly() {
    for bytes in [0, 1, 40, 200, 1000, 2500] {
        support::testing::assert_quiet_on_a_closed_pipe(LESSON, bytes);
    }
}

#[test]
fn a_full_output_device_gets_a_one_line_error() {
    support::testing::assert_one_line_on_a_full_device("file-mapping", LESSON);
}

#[test]
fn a_nearly_full_tmpfs_gets_a_clear_refusal_never_a_signal() {
    let mut refused = 0;
    for free in [0, 4096, 8192, 12288, 16384, 24576, 32768, 65536] {
        match support::testing::on_a_nearly_full_tmpfs("file-mapping", LESSON, free) {
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
        support::testing::sweep_ulimit("file-mapping", LESSON, "-n", 4..=12, false, "ulimit -n");
    assert!(
        refused > 0,
        "no limit from 4 to 12 open files was tight enough"
    );
}
