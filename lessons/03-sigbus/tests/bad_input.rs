//! Bad input: a clear message naming the thing, the reason and the fix;
//! exit code 2; no panic; nothing left behind.

const LESSON: &str = env!("CARGO_BIN_EXE_sigbus");

#[test]
fn the_command_line_refuses_what_it_does_not_know() {
    test_support::testing::assert_command_line_basics(
        "sigbus", LESSON, "--hlep", "--help",
    );
}
