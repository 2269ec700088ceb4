//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_exec-memory");

test_support::hostile_tests!("exec-memory", LESSON, stores_files: true, ulimit_n);

#[test]
fn without_proc_the_lesson_says_to_mount_it() {
    test_support::testing::hostile::assert_without_proc_the_lesson_says_to_mount_it(
        "exec-memory",
        LESSON,
    );
}
