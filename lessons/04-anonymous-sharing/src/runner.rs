//! `anonymous-sharing --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`), and look at what they
//! can from outside:
//!
//! - `shared_buffer`: the runner stores a byte in your buffer, has a forked
//!   child store another, and stops, so the checker reads its maps and its
//!   memory;
//! - `ring`, `wait_for_ring`: the eventfd is the checker's (descriptor 3);
//! - `parallel_sum`: each call of the `sum_slice` the runner hands you
//!   connects to the checker's Unix socket, which names the calling process
//!   (`SO_PEERCRED`), says which part it summed, and waits for the checker's
//!   answer, a number it adds to the part's sum before it returns; after
//!   your function returns, the runner itself connects and waits, so the
//!   checker can look for children left behind.

use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::Ordering::AcqRel;
use std::time::Duration;

use anonymous_sharing::{LIMIT, Sharing, Slots};
use nix::sys::eventfd::EventFd;
use nix::sys::signal::{Signal, kill};
use nix::unistd::getpid;
use support::exercise::{
    Args, Handler, io_result, panic_text, returned, stop_for_checker,
};

use crate::exercises;

/// The descriptor the checker hands this runner: its eventfd.
const BELL_FD: i32 = 3;

/// Each exercise by name, with how its inputs are read.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("shared_buffer", shared_buffer),
    ("ring", |_| io_result(exercises::ring(&bell()?))),
    ("wait_for_ring", |args| {
        let limit = Duration::from_millis(args.num()?);
        io_result(exercises::wait_for_ring(&bell()?, limit))
    }),
    ("parallel_sum", parallel_sum),
];

/// `shared_buffer LEN AT VALUE CHILD_AT CHILD_VALUE`: makes your buffer,
/// stores VALUE at AT, has a forked child store CHILD_VALUE at CHILD_AT
/// (no child when CHILD_AT is past the end), then stops for the checker
/// with `ok ADDRESS LENGTH CHILD` (hex address, decimal length, how the
/// child ended in words), or `err ERROR` or `panicked MESSAGE` when your
/// function did not return a buffer. Replies what your function returned,
/// the buffer as its length.
fn shared_buffer(args: &mut Args) -> Result<String, String> {
    let len: usize = args.num()?;
    let (at, value): (usize, u8) = (args.num()?, args.num()?);
    let (child_at, child_value): (usize, u8) = (args.num()?, args.num()?);
    let made = std::panic::catch_unwind(|| exercises::shared_buffer(len));
    let mut buffer = match made {
        Ok(Ok(buffer)) => buffer,
        Err(panic) => {
            stop(&format!("panicked {}", panic_text(panic.as_ref())))?;
            std::panic::resume_unwind(panic)
        }
        Ok(Err(e)) => {
            let said = io_result::<usize>(Err(e));
            stop(&format!("err {}", said.clone().unwrap_or_default()))?;
            return said;
        }
    };
    if let Some(byte) = buffer.get_mut(at) {
        *byte = value;
    }
    let child = if child_at < buffer.len() {
        let outcome = support::fork::run_in_child(LIMIT, || {
            buffer[child_at] = child_value;
            0
        });
        match outcome {
            Ok(outcome) => outcome.to_string(),
            Err(e) => format!("could not be started: {e}"),
        }
    } else {
        "none".to_owned()
    };
    let address = buffer.as_ptr() as usize;
    stop(&format!("ok {address:x} {} {child}", buffer.len()))?;
    io_result(Ok(buffer.len()))
}

/// Stops this process until the checker has looked at it.
fn stop(note: &str) -> Result<(), String> {
    stop_for_checker(note).map_err(|e| format!("cannot stop for the checker: {e}"))
}

/// The checker's eventfd, descriptor 3 (a duplicate this call owns).
fn bell() -> Result<EventFd, String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{BELL_FD}"));
    if !link.is_ok_and(|l| l.as_os_str() == "anon_inode:[eventfd]") {
        return Err(format!(
            "descriptor {BELL_FD} is not an eventfd: the checker hands one to the runner"
        ));
    }
    // SAFETY: descriptor 3 is open (its /proc entry was just read) and is
    // the checker's eventfd; it is only borrowed here, to be duplicated.
    let borrowed = unsafe { BorrowedFd::borrow_raw(BELL_FD) };
    let owned = borrowed
        .try_clone_to_owned()
        .map_err(|e| format!("cannot duplicate descriptor {BELL_FD}: {e}"))?;
    // SAFETY: the duplicate refers to the eventfd checked above, and this
    // EventFd is its only owner.
    Ok(unsafe { EventFd::from_owned_fd(owned) })
}

/// `parallel_sum DATA WORKERS SOCKET TAG plain|crash`: calls your
/// `parallel_sum` on the numbers in the file DATA (native-endian `u64`s)
/// with a `sum_slice` that reports every call to the checker's socket (see
/// the module's comment) and returns its part's sum plus the number the
/// checker answers, so only a total of what the workers returned is right;
/// with `crash`, the second call kills its own process with SIGKILL after
/// reporting. Replies what your function returned, as `Debug` text.
fn parallel_sum(args: &mut Args) -> Result<String, String> {
    let (data, workers) = (args.path()?, args.num::<usize>()?);
    let (socket, tag, how) = (args.path()?, args.num::<u64>()?, args.text()?);
    let crash = match how.as_str() {
        "plain" => false,
        "crash" => true,
        _ => return Err(format!("parallel_sum: {how:?} is neither plain nor crash")),
    };
    let bytes =
        std::fs::read(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let numbers: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or_default()))
        .collect();
    let calls = Slots::new(1, Sharing::Shared).map_err(|e| e.to_string())?;
    let base = numbers.as_ptr() as usize;
    let sum_slice = |part: &[u64]| {
        let sum = part.iter().fold(0u64, |sum, &n| sum.wrapping_add(n));
        let dying = crash && calls.slot(0).fetch_add(1, AcqRel) == 1;
        // Where the part starts in the data (meaningless for a copy).
        let offset = (part.as_ptr() as usize).wrapping_sub(base) / size_of::<u64>();
        let line = format!("W {tag} {offset} {} {}\n", part.len(), u8::from(dying));
        let extra = report(&socket, &line);
        if dying {
            let _ = kill(getpid(), Signal::SIGKILL);
        }
        sum.wrapping_add(extra)
    };
    let me = getpid();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        exercises::parallel_sum(&numbers, workers, sum_slice)
    }));
    if getpid() != me {
        eprintln!("a worker returned from parallel_sum instead of exiting");
        // SAFETY: _exit ends this child at once: it must not go on to serve
        // the runner's other requests as if it were the runner.
        unsafe { libc::_exit(70) }
    }
    report(&socket, &format!("R {tag}\n"));
    match result {
        Ok(result) => returned(result),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Tells the checker `line` over a new connection to `socket`, then waits
/// (at most [`LIMIT`]) for its answer: a number to add to a part's sum. A
/// checker that cannot be reached, or hangs up, answers 0: it will see
/// what went wrong itself.
fn report(socket: &Path, line: &str) -> u64 {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return 0;
    };
    let _ = stream.set_write_timeout(Some(LIMIT));
    let _ = stream.set_read_timeout(Some(LIMIT));
    let mut answer = [0u8; 8];
    match stream.write_all(line.as_bytes()) {
        Ok(()) if stream.read_exact(&mut answer).is_ok() => {
            u64::from_ne_bytes(answer)
        }
        _ => 0,
    }
}
