//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

test_support::hostile_tests!("file-mapping", LESSON, stores_files: true, ulimit_n);

/// Without `/proc` (a bare container) the lesson still runs to its end: only
/// the `/proc` row of step 6 is left out, and the story says why.
#[test]
fn without_proc_only_the_proc_row_is_left_out() {
    let run = match test_support::testing::run_without_proc(LESSON) {
        Ok(run) => run,
        Err(reason) => {
            eprintln!("skipped: /proc cannot be hidden here ({reason})");
            return;
        }
    };
    assert!(
        run.outcome.is_success(),
        "{:?}: {}",
        run.outcome,
        run.stderr
    );
    assert!(
        run.stdout.contains("/proc is not mounted here"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the read end of a pipe"),
        "{}",
        run.stdout
    );
}
