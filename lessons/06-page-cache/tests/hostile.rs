//! Hostile situations: a reader that leaves early and a full output device
//! each end the lesson cleanly (no panic), leaving nothing behind.

const LESSON: &str = env!("CARGO_BIN_EXE_page-cache");

#[test]
fn a_reader_that_leaves_early_ends_the_lesson_quietly() {
    for bytes in [0, 1, 40, 200, 1000, 2500] {
        support::testing::assert_quiet_on_a_closed_pipe(LESSON, bytes);
    }
}

#[test]
fn a_full_output_device_gets_a_one_line_error() {
    support::testing::assert_one_line_on_a_full_device("page-cache", LESSON);
}
