//! The graded tests' side of the grader's proof of a verdict.
//!
//! A graded test wraps its body in [`graded`]. Under plain `cargo test` that
//! only runs the body. Under `cargo xtask grade` the grader starts each test
//! in its own process and hands it two descriptors, named in the environment
//! variable [`GRADER_FDS`]:
//!
//! - a pipe holding a one-time secret, which [`graded`] reads and closes
//!   *before* the body (and so the learner's code) runs;
//! - a pipe for the verdict, on which [`graded`] writes the secret back only
//!   *after* the body returned without a panic.
//!
//! Both are Unix sockets, which no other process can open through
//! `/proc/PID/fd`, and the test makes itself non-dumpable before it reads
//! the secret, so processes of the same user cannot read its memory or take
//! its descriptors either. The learner's code never sees the secret, so
//! printing `test x ... ok`, exiting early or writing to the verdict socket
//! cannot earn points: only a body that returned can. Code that reads the
//! test process's *own* memory could find the secret: that limit is named in
//! ARCHITECTURE.md ("Grading").

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

#[cfg(test)]
mod tests {
    use super::*;

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
