//! Hostile situations: a reader that leaves early, a full output device, a
//! nearly full filesystem under TMPDIR, a tight limit on open files. Each
//! ends the lesson cleanly (no panic, no death by its own signal) and leaves
//! nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_sigbus");

test_support::hostile_tests!("sigbus", LESSON, stores_files: true, ulimit_n, forks);
