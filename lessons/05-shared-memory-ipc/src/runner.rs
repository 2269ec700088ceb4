//! `shared-memory-ipc --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`).
//!
//! The memory a test shares with your code is descriptor 3, which the test
//! made and handed over: a ring for 5.1, a robust lock for 5.2. After each
//! call of 5.2 and 5.3 this process stops itself (`SIGSTOP`), holding what
//! your function returned (the lock, the descriptor), so the test can look
//! from outside at what your code did; the test then lets it go on.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::{Duration, Instant};

use shared_memory_ipc::{ByteRing, Guarded, letters, map_shared, view};
use support::exercise::{Args, Handler, io_result, returned};
use support::region::Region;

use crate::exercises;

/// How long a stream of the ring tests may wait for the other side.
const STREAM_LIMIT: Duration = Duration::from_secs(10);

/// Each exercise by name, with how its inputs are read.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("push", |args| {
        let bytes = args.bytes()?;
        let shared = shared()?;
        returned(exercises::push(&ByteRing::new(&shared), &bytes))
    }),
    ("pop", |args| {
        let mut out = vec![0; args.num()?];
        let shared = shared()?;
        let n = exercises::pop(&ByteRing::new(&shared), &mut out);
        returned((n, String::from_utf8_lossy(&out[..n.min(out.len())])))
    }),
    ("push:threads", |args| {
        let (len, seed, piece) = (args.num()?, args.num()?, args.num()?);
        let shared = shared()?;
        returned(String::from_utf8_lossy(&two_threads(
            &ByteRing::new(&shared),
            &letters(seed, len),
            piece,
        )))
    }),
    ("lock_or_recover", |args| {
        let limit = millis(args)?;
        let shared = shared()?;
        let guarded: &Guarded = view(&shared);
        let mut repairs = 0;
        let found = then_pause(|| {
            exercises::lock_or_recover(&guarded.mutex, limit, || {
                repairs += 1;
                // The repair: the pair the lock guards is equal again.
                guarded.second.store(guarded.first.load(Acquire), Release);
            })
        });
        // The caller's part: done with the data, release the lock.
        if found.is_ok() {
            let _ = guarded.mutex.unlock();
        }
        returned((found, repairs))
    }),
    ("create_private", |args| {
        let len = args.num()?;
        let created = then_pause(|| exercises::create_private(len));
        // The caller unlinks the name: here, the test, once it has looked.
        io_result(created.map(|(_fd, name)| name))
    }),
    ("attach", |args| {
        let name = args.text()?;
        let attached = then_pause(|| exercises::attach(&name));
        io_result(attached.map(|fd| fd.as_raw_fd()))
    }),
];

/// The memory the test shares with this process, on descriptor 3, mapped
/// whole. It is opened again through `/proc`, so no code here has to assume
/// that descriptor 3 is still what the test made it.
fn shared() -> Result<Region, String> {
    let fail = |e: std::io::Error| {
        format!("descriptor 3, the memory the test shares with this process: {e}")
    };
    let file = File::options()
        .read(true)
        .write(true)
        .open("/proc/self/fd/3")
        .map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len() as usize;
    map_shared(&file, len).map_err(fail)
}

/// A limit given as `N ms`.
fn millis(args: &mut Args) -> Result<Duration, String> {
    let text = args.text()?;
    let ms = text
        .strip_suffix(" ms")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{text:?} is not a limit in milliseconds (N ms)"))?;
    Ok(Duration::from_millis(ms))
}

/// Calls `call`, then stops this process until the test resumes it, even
/// when `call` panicked (the panic goes on after), so that every call
/// stops exactly once.
fn then_pause<T>(call: impl FnOnce() -> T) -> T {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(call));
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Pushes `data` into `ring` from a second thread, in pieces of 1 to
/// `piece` bytes, while this thread pops it in pieces too; both wait
/// (yielding) while the ring is full or empty, at most [`STREAM_LIMIT`].
/// Returns what this thread popped.
fn two_threads(ring: &ByteRing, data: &[u8], piece: usize) -> Vec<u8> {
    let piece = piece.max(1);
    let deadline = Instant::now() + STREAM_LIMIT;
    let mut popped = Vec::with_capacity(data.len());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut sent = 0;
            while sent < data.len() && Instant::now() < deadline {
                let end = data.len().min(sent + fastrand::usize(1..=piece));
                let pushed = exercises::push(ring, &data[sent..end]);
                // More than it was given: said as it is, never clamped.
                if pushed > end - sent {
                    panic!("push took {pushed} bytes of {} it was given", end - sent);
                }
                sent += pushed;
                if pushed == 0 {
                    std::thread::yield_now();
                }
            }
        });
        let mut buffer = vec![0u8; piece];
        while popped.len() < data.len() && Instant::now() < deadline {
            let want = fastrand::usize(1..=piece);
            let got = exercises::pop(ring, &mut buffer[..want]);
            if got > want {
                panic!("pop said {got} bytes into a buffer of {want}");
            }
            popped.extend_from_slice(&buffer[..got]);
            if got == 0 {
                std::thread::yield_now();
            }
        }
    });
    popped
}
