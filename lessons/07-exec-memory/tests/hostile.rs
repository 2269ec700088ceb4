//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_exec-memory");

support::hostile_tests!("exec-memory", LESSON, stores_files: true, ulimit_n);

#[test]
fn without_proc_the_lesson_says_to_mount_it() {
    let run = match support::testing::run_without_proc(LESSON) {
        Ok(run) => run,
        Err(why) => {
            eprintln!("skipped: cannot hide /proc here ({why})");
            return;
        }
    };
    let err = support::testing::assert_refused_after_story("exec-memory", &run);
    assert!(err.contains("mount -t proc proc /proc"), "{err}");
}
