//! `sigbus --exercises`: the grader's runner for this lesson's exercises.
//! It reads each request's inputs, calls your function, and says what it
//! returned; the graded tests (`tests/graded.rs`) judge that in a process
//! of their own (see `support::exercise`).
//!
//! Files your code works on are the test's: it creates them, hands them
//! over as descriptors (3, 4, … in this process) or, for `store_at`, by
//! path, and after this process has ended reads them, truncates them, or
//! tries to shrink them itself. `store_at` runs under the seccomp filter
//! of `support::seccomp::install_mapping_only`: writing the bytes other
//! than through a mapping fails with "Operation not supported".
//!
//! Exercise 3.4 has two modes. `once` reads a file the test leaves alone,
//! and replies with the bytes in hex. `race` is one round of a race: this
//! process waits for the test's go (a byte on descriptor 4), opens the file,
//! tells the test it starts reading (`r` on descriptor 3), calls your
//! reader, and tells the test the read is over (`d`, or `p` if it
//! panicked); meanwhile the test truncates the file at a moment of its
//! choosing. Then it writes the bytes your reader returned into descriptor
//! 5 (a memfd the test reads), and says so (`w`), or says `t` for a
//! `Truncated` report.
//! A reader that dies of SIGBUS takes this process with it: the test sees no
//! reply, and names the signal.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::FileExt;

use support::exercise::{Args, Handler, io_result, returned};

use crate::exercises::{self, Truncated};

/// Each exercise by name, with how its inputs are read.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("bytes_safe_to_touch", |args| {
        let (file_len, map_len, page_size) = (args.num()?, args.num()?, args.num()?);
        returned(exercises::bytes_safe_to_touch(file_len, map_len, page_size))
    }),
    ("store_at", |args| {
        let (path, offset, bytes) = (args.path()?, args.num()?, args.bytes()?);
        // Opened after the filter, so only a mapping can change its bytes.
        support::seccomp::install_mapping_only()?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("the runner cannot open {}: {e}", path.display()))?;
        io_result(exercises::store_at(&file, offset, &bytes))
    }),
    ("seal_against_shrinking", |args| {
        io_result(exercises::seal_against_shrinking(&kept_file(args.num()?)?))
    }),
    (
        "read_all_surviving_truncation",
        read_all_surviving_truncation,
    ),
];

/// In `race` mode: where this process tells the test a read starts and ends,
/// where the test says to start the next one, and where the bytes your
/// reader returned go (a memfd the test reads).
const TO_CHECKER: RawFd = 3;
const FROM_CHECKER: RawFd = 4;
const RETURNED: RawFd = 5;

/// A descriptor the test kept open for this process, as a `File` of its own
/// (a duplicate: the same request may name it again).
fn kept_file(fd: RawFd) -> Result<File, String> {
    if fd < 3 {
        return Err(format!("descriptor {fd}: the test hands over 3 and above"));
    }
    // SAFETY: F_DUPFD_CLOEXEC reads and writes no memory of ours; on a
    // descriptor this process does not have it fails with EBADF.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(format!(
            "descriptor {fd}, which the test should have handed over: {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: `copy` is a descriptor fcntl just made; nothing else owns it.
    Ok(unsafe { File::from_raw_fd(copy) })
}

/// `read_all_surviving_truncation(PATH, EXPECTED, once|race)`: the file at
/// PATH, opened read-only, read by your function.
fn read_all_surviving_truncation(args: &mut Args) -> Result<String, String> {
    let (path, expected, mode) = (args.path()?, args.num()?, args.text()?);
    let open = || {
        File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))
    };
    match mode.as_str() {
        "once" => {
            let result = exercises::read_all_surviving_truncation(&open()?, expected);
            Ok(match result {
                Ok(bytes) => {
                    format!(
                        "Ok({} bytes: {})",
                        bytes.len(),
                        support::exercise::hex(&bytes)
                    )
                }
                Err(report) => reported(report),
            })
        }
        "race" => race_round(open, expected),
        other => Err(format!("mode {other:?}: the modes are once and race")),
    }
}

/// One round of a race: waits for the test's go, reads, and leaves the bytes
/// your reader returned in descriptor [`RETURNED`] for the test to compare
/// (16 MiB would make a long reply).
fn race_round(
    open: impl Fn() -> Result<File, String>,
    expected: u64,
) -> Result<String, String> {
    let (mut to_checker, mut from_checker, returned) = (
        kept_file(TO_CHECKER)?,
        kept_file(FROM_CHECKER)?,
        kept_file(RETURNED)?,
    );
    let mut go = [0u8];
    if from_checker.read(&mut go).map_err(|e| e.to_string())? != 1 {
        return Err("the test ended the race before this round".to_owned());
    }
    let file = open()?;
    let signal = |to: &mut File, byte: &[u8]| {
        to.write_all(byte)
            .map_err(|e| format!("cannot signal the test: {e}"))
    };
    signal(&mut to_checker, b"r")?;
    let result = std::panic::catch_unwind(|| {
        exercises::read_all_surviving_truncation(&file, expected)
    });
    // A reader that panicked ends the race (`p`): the test stops sending
    // rounds, and hears about the panic in this reply.
    signal(&mut to_checker, if result.is_ok() { b"d" } else { b"p" })?;
    match &result {
        Ok(Ok(bytes)) => {
            returned
                .write_all_at(bytes, 0)
                .map_err(|e| format!("cannot hand the bytes to the test: {e}"))?;
            signal(&mut to_checker, b"w")?;
        }
        Ok(Err(_)) => signal(&mut to_checker, b"t")?,
        Err(_) => {}
    }
    match result {
        Ok(Ok(bytes)) => Ok(format!("Ok({} bytes)", bytes.len())),
        Ok(Err(report)) => Ok(reported(report)),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A reader's `Truncated` report, by its two numbers.
fn reported(Truncated { expected, found }: Truncated) -> String {
    format!("Err(Truncated {{ expected: {expected}, found: {found} }})")
}
