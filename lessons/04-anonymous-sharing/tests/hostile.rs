//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_anonymous-sharing");

test_support::hostile_tests!("anonymous-sharing", LESSON, stores_files: false, ulimit_n, forks);
