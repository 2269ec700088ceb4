//! Ctrl-C at any moment leaves nothing behind: the lesson is started many
//! times and interrupted (SIGINT or SIGTERM) after a random delay; each run
//! has its own TMPDIR, so what it left there can be counted, and so can
//! /dev/shm names of its pid and processes that outlived it.

const LESSON: &str = env!("CARGO_BIN_EXE_anonymous-sharing");

#[test]
fn interrupted_at_random_moments_it_leaves_nothing_behind() {
    test_support::testing::hostile::assert_interruptions_leave_nothing(
        "anonymous-sharing",
        LESSON,
    );
}
