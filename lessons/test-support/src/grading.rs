//! The graded tests' side of the grader's proof of a verdict.
//!
//! A graded test is a *checker*: it sends inputs to the lesson binary that
//! runs the learner's code (the *runner*, `LESSON --exercises`, see
//! `support::exercise`) and judges the replies in its own process (see
//! `test_support::judge`). The checker links the lesson's library and `support`,
//! never the exercises, so no learner code runs in the process that holds
//! the expected values and the verdict.
//!
//! A checker wraps its body in [`graded`]. Under plain `cargo test` that
//! only runs the body. Under `cargo xtask grade` the grader starts each test
//! in its own process and hands it two descriptors, named in the environment
//! variable [`GRADER_FDS`]:
//!
//! - a pipe holding a one-time secret, which [`graded`] reads and closes
//!   *before* the body runs;
//! - a pipe for the verdict, on which [`graded`] writes the secret back only
//!   *after* the body returned without a panic.
//!
//! Both are Unix sockets, which no other process can open through
//! `/proc/PID/fd`, and the checker makes itself non-dumpable before it
//! reads the secret, so processes of the same user (the runner among them)
//! cannot read its memory, trace it or take its descriptors. The secret
//! guards only the checker's own process, which runs no learner code: a
//! runner that prints `test x ... ok`, forges replies, exits early or writes
//! to every descriptor it has cannot earn points, since only a checker body
//! that returned can. (When the exercises ran in the test's own process,
//! code that read that process's memory could find the secret; with the
//! learner's code in another process, that limit is gone by design.) What
//! the grader still cannot stop is named in ARCHITECTURE.md ("Grading").

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};

/// The environment variable naming the secret and verdict descriptors, as
/// `SECRET,VERDICT` (for example `3,4`).
pub const GRADER_FDS: &str = "WORKBOOK_GRADER_FDS";

/// What the test writes on the verdict pipe, before the secret in hex.
pub const PASS_PREFIX: &str = "pass ";

/// The secret's length in bytes.
pub const SECRET_LEN: usize = 32;

/// Runs a graded test's `body`; under the grader, proves that it returned.
///
/// # Panics
/// When the body panics (the test fails), or when the grader's descriptors
/// are named but unusable (the grader then reports the test as failed).
pub fn graded(body: impl FnOnce()) {
    let channel = std::env::var(GRADER_FDS).ok().map(|fds| {
        let (secret, verdict) = parse_fds(&fds)
            .unwrap_or_else(|| panic!("{GRADER_FDS}={fds:?} is not two descriptors"));
        // Other processes of this user may no longer read our memory or
        // take our descriptors (ptrace access checks fail).
        nix::sys::prctl::set_dumpable(false)
            .expect("cannot make the test non-dumpable");
        // SAFETY: the grader opened this descriptor for this one write and
        // named it in GRADER_FDS; nothing else in the test process owns it.
        let verdict = unsafe { File::from_raw_fd(verdict) };
        // Programs the test spawns have no business with the verdict pipe.
        let _ = fcntl(&verdict, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        (read_secret(secret), verdict)
    });
    body();
    if let Some((secret, mut verdict)) = channel {
        let line = format!("{PASS_PREFIX}{}\n", to_hex(&secret));
        verdict
            .write_all(line.as_bytes())
            .expect("the grader's verdict pipe is closed");
    }
}

fn parse_fds(text: &str) -> Option<(RawFd, RawFd)> {
    let (secret, verdict) = text.split_once(',')?;
    let secret: RawFd = secret.trim().parse().ok()?;
    let verdict: RawFd = verdict.trim().parse().ok()?;
    (secret > 2 && verdict > 2 && secret != verdict).then_some((secret, verdict))
}

/// Reads the secret and closes its pipe; keeps the verdict pipe out of any
/// program the test spawns.
fn read_secret(fd: RawFd) -> Vec<u8> {
    // SAFETY: the grader opened this descriptor for the test to read once and
    // named it in GRADER_FDS; taking ownership closes it when `pipe` drops,
    // before the body runs.
    let mut pipe = unsafe { File::from_raw_fd(fd) };
    let mut secret = Vec::with_capacity(SECRET_LEN);
    (&mut pipe)
        .take(SECRET_LEN as u64 + 1)
        .read_to_end(&mut secret)
        .expect("cannot read the grader's secret");
    assert_eq!(
        secret.len(),
        SECRET_LEN,
        "the grader's secret has the wrong length"
    );
    secret
}

/// Lower-case hex, two digits a byte.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails a graded test when `yours` (what the learner's code returned) is
/// not `expected`, saying which is which:
///
/// ```text
/// bytes_really_mapped(4097, 4096)
/// yours:    4096
/// expected: 8192
/// ```
///
/// Long values are shown around their first difference. For bytes, use
/// [`assert_bytes!`](crate::assert_bytes), which shows them in hex.
#[macro_export]
macro_rules! assert_yours {
    ($yours:expr, $expected:expr $(,)?) => {
        match (&$yours, &$expected) {
            (yours, expected) => {
                if !(*yours == *expected) {
                    $crate::grading::values_differ(yours, expected, None)
                }
            }
        }
    };
    ($yours:expr, $expected:expr, $($context:tt)+) => {
        match (&$yours, &$expected) {
            (yours, expected) => {
                if !(*yours == *expected) {
                    $crate::grading::values_differ(
                        yours,
                        expected,
                        Some(format!($($context)+)),
                    )
                }
            }
        }
    };
}

/// Fails a graded test when the bytes `yours` differ from `expected`,
/// showing both in hex from a little before the first differing offset:
///
/// ```text
/// the file's bytes
/// first difference at offset 0x0 (yours: 12 bytes, expected: 12)
/// yours:    0x0000: 12 34 56 78 de c0 ad de 07 00 00 00
/// expected: 0x0000: 78 56 34 12 de c0 ad de 07 00 00 00
/// ```
#[macro_export]
macro_rules! assert_bytes {
    ($yours:expr, $expected:expr $(,)?) => {
        $crate::grading::check_bytes(
            ::core::convert::AsRef::<[u8]>::as_ref(&$yours),
            ::core::convert::AsRef::<[u8]>::as_ref(&$expected),
            None,
        )
    };
    ($yours:expr, $expected:expr, $($context:tt)+) => {
        $crate::grading::check_bytes(
            ::core::convert::AsRef::<[u8]>::as_ref(&$yours),
            ::core::convert::AsRef::<[u8]>::as_ref(&$expected),
            Some(format!($($context)+)),
        )
    };
}

/// The widest a value is shown in a failure message (the grader's table is
/// 80 columns, with the message indented).
const SHOWN: usize = 52;

/// How many bytes a failure message shows, and how many of them come before
/// the first difference.
const BYTES_SHOWN: usize = 12;
const BYTES_BEFORE: usize = 4;

/// Panics with "yours" and "expected", as [`assert_yours!`] does.
#[track_caller]
pub fn values_differ<T, U>(yours: &T, expected: &U, context: Option<String>) -> !
where
    T: std::fmt::Debug + ?Sized,
    U: std::fmt::Debug + ?Sized,
{
    let (yours, expected) =
        around_difference(&format!("{yours:?}"), &format!("{expected:?}"));
    panic!(
        "{}yours:    {yours}\nexpected: {expected}",
        context.map(|c| format!("{c}\n")).unwrap_or_default()
    )
}

/// Passes when the bytes are equal; else panics, as [`assert_bytes!`] does.
#[track_caller]
pub fn check_bytes(yours: &[u8], expected: &[u8], context: Option<String>) {
    if let Some(message) = bytes_difference(yours, expected) {
        panic!(
            "{}{message}",
            context.map(|c| format!("{c}\n")).unwrap_or_default()
        );
    }
}

/// The message for two byte strings that differ, or `None` when they do not.
pub fn bytes_difference(yours: &[u8], expected: &[u8]) -> Option<String> {
    let first = yours
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .or_else(|| {
            (yours.len() != expected.len()).then(|| yours.len().min(expected.len()))
        })?;
    let start = first.saturating_sub(BYTES_BEFORE);
    let lengths_differ = yours.len() != expected.len();
    let row = |bytes: &[u8]| {
        let shown = bytes.get(start..).unwrap_or_default();
        let hex: Vec<String> = shown
            .iter()
            .take(BYTES_SHOWN)
            .map(|b| format!("{b:02x}"))
            .collect();
        let more = if shown.len() > BYTES_SHOWN {
            " …"
        } else if lengths_differ {
            " (end)"
        } else {
            ""
        };
        match (hex.is_empty(), bytes.len()) {
            (true, 0) => "(no bytes)".to_owned(),
            (true, len) => format!("(ends at offset {len:#x})"),
            _ => format!("{start:#06x}: {}{more}", hex.join(" ")),
        }
    };
    Some(format!(
        "first difference at offset {first:#x} (yours: {} bytes, expected: {})\n\
         yours:    {}\nexpected: {}",
        yours.len(),
        expected.len(),
        row(yours),
        row(expected)
    ))
}

/// Two values as text, each at most [`SHOWN`] characters: whole when they
/// fit, else the same window of both around their first difference.
fn around_difference(yours: &str, expected: &str) -> (String, String) {
    let (a, b): (Vec<char>, Vec<char>) =
        (yours.chars().collect(), expected.chars().collect());
    if a.len() <= SHOWN && b.len() <= SHOWN {
        return (yours.to_owned(), expected.to_owned());
    }
    let first = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let start = first.saturating_sub(SHOWN / 3);
    let window = |text: &[char]| {
        let end = (start + SHOWN).min(text.len());
        let middle: String =
            text.get(start..end).unwrap_or_default().iter().collect();
        format!(
            "{}{middle}{}",
            if start > 0 { "…" } else { "" },
            if end < text.len() { "…" } else { "" }
        )
    };
    (window(&a), window(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panic_message(body: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(body).unwrap_err();
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap()
    }

    #[test]
    fn equal_values_pass_and_different_ones_say_yours_and_expected() {
        crate::assert_yours!(4096, 4096);
        crate::assert_yours!(vec![1, 2], [1, 2], "never shown");
        let message =
            panic_message(|| crate::assert_yours!(4096, 8192, "rounding {}", 4097));
        assert_eq!(message, "rounding 4097\nyours:    4096\nexpected: 8192");
        let message = panic_message(|| crate::assert_yours!("a", "b"));
        assert_eq!(message, "yours:    \"a\"\nexpected: \"b\"");
    }

    #[test]
    fn long_values_are_shown_around_their_first_difference() {
        let yours: Vec<u32> = (0..100).collect();
        let mut expected = yours.clone();
        expected[70] = 7;
        let message = panic_message(move || crate::assert_yours!(yours, expected));
        let lines: Vec<&str> = message.lines().collect();
        assert!(
            lines[0].starts_with("yours:    …") && lines[0].contains("70"),
            "{message}"
        );
        assert!(
            lines[1].starts_with("expected: …") && lines[1].contains(" 7,"),
            "{message}"
        );
        assert!(
            lines.iter().all(|l| l.chars().count() <= 10 + SHOWN + 2),
            "{message}"
        );
    }

    #[test]
    fn bytes_are_shown_in_hex_from_before_the_first_difference() {
        crate::assert_bytes!(vec![1u8, 2], b"\x01\x02");
        let message = panic_message(|| {
            crate::assert_bytes!(
                vec![0x12u8, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0, 9],
                b"\x12\x34\x56\x78\0\0\0\0\0\x0a",
                "the file"
            )
        });
        assert_eq!(
            message,
            "the file\nfirst difference at offset 0x9 (yours: 10 bytes, expected: 10)\n\
             yours:    0x0005: 00 00 00 00 09\nexpected: 0x0005: 00 00 00 00 0a"
        );
        // One is a prefix of the other: the difference is where it ends.
        let message = bytes_difference(b"abc", b"abcdef").unwrap();
        assert!(message.starts_with(
            "first difference at offset 0x3 (yours: 3 bytes, expected: 6)"
        ));
        assert!(
            message.contains("yours:    0x0000: 61 62 63 (end)\n"),
            "{message}"
        );
        assert!(
            message.contains("expected: 0x0000: 61 62 63 64 65 66"),
            "{message}"
        );
        let message = bytes_difference(b"", b"x").unwrap();
        assert!(message.contains("yours:    (no bytes)"), "{message}");
        assert_eq!(bytes_difference(b"same", b"same"), None);
    }

    #[test]
    fn descriptors_are_two_distinct_numbers_above_stdio() {
        assert_eq!(parse_fds("3,4"), Some((3, 4)));
        assert_eq!(parse_fds(" 7 , 9 "), Some((7, 9)));
        assert_eq!(parse_fds("1,4"), None);
        assert_eq!(parse_fds("3,3"), None);
        assert_eq!(parse_fds("3"), None);
        assert_eq!(parse_fds("a,b"), None);
    }

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(to_hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
