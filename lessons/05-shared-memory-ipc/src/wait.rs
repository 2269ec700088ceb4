//! Waiting for the other process: spinning on a shared word, or sleeping
//! on it with a futex (steps 4 and 5), and the word itself.

use std::cell::Cell;
use std::io;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Acquire;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::SharedLayout;

/// Spins (yielding the CPU now and then) until `done` or `limit` passes.
pub fn spin_until(limit: Duration, done: impl FnMut() -> bool) -> io::Result<()> {
    spin_counting(limit, &Cell::new(0), done)
}

/// [`spin_until`], adding 1 to `yields` for every `sched_yield` it makes:
/// one every 64 looks. A condition that holds at once costs no system
/// call at all, not even a look at the clock.
pub fn spin_counting(
    limit: Duration,
    yields: &Cell<u64>,
    mut done: impl FnMut() -> bool,
) -> io::Result<()> {
    let mut deadline = None;
    let mut looks = 0u32;
    while !done() {
        looks = looks.wrapping_add(1);
        if looks.is_multiple_of(64) {
            // With one CPU, the process we wait for needs this one to run.
            std::thread::yield_now();
            yields.set(yields.get() + 1);
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + limit);
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the other process did not arrive within {} ms",
                        limit.as_millis()
                    ),
                ));
            }
        } else {
            std::hint::spin_loop();
        }
    }
    Ok(())
}

/// Waits, at most `limit`, until `word` holds `value`: spinning, or
/// sleeping on the futex between looks.
pub fn wait_for_value(
    word: &AtomicU32,
    value: u32,
    spin: bool,
    limit: Duration,
) -> io::Result<()> {
    if spin {
        return spin_until(limit, || word.load(Acquire) == value);
    }
    let deadline = Instant::now() + limit;
    loop {
        let seen = word.load(Acquire);
        if seen == value {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the other process did not answer in time",
            ));
        }
        match futex_wait(word, seen, left, false) {
            Ok(()) | Err(Errno::EAGAIN | Errno::EINTR | Errno::ETIMEDOUT) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
}
// ANCHOR: futex
/// Sleeps while `word` holds `expected`, at most `limit`: `FUTEX_WAIT`,
/// or `FUTEX_WAIT_PRIVATE` (a private wait, as `std::sync::Mutex` does),
/// which only a wake from the same process can end. `Ok`: woken; `Err(ETIMEDOUT)`:
/// nobody woke us; `Err(EAGAIN)`: `word` had already changed.
pub fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    limit: Duration,
    private: bool,
) -> Result<(), Errno> {
    let op = libc::FUTEX_WAIT | if private { libc::FUTEX_PRIVATE_FLAG } else { 0 };
    let timeout = libc::timespec {
        tv_sec: limit.as_secs() as libc::time_t,
        tv_nsec: limit.subsec_nanos().into(),
    };
    // SAFETY: `word` is a valid, aligned u32 that lives as long as the call;
    // the kernel only reads it and the timeout.
    let result = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            expected,
            &timeout as *const libc::timespec,
        )
    };
    Errno::result(result).map(drop)
}

/// Wakes up to `count` waiters on `word`; returns how many it woke.
/// A private wake only finds waiters of this process.
pub fn futex_wake(
    word: &AtomicU32,
    count: i32,
    private: bool,
) -> Result<usize, Errno> {
    let op = libc::FUTEX_WAKE | if private { libc::FUTEX_PRIVATE_FLAG } else { 0 };
    // SAFETY: as in futex_wait; FUTEX_WAKE does not even read the word.
    let woken = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, count) };
    Errno::result(woken).map(|n| n as usize)
}
// ANCHOR_END: futex

/// A word two processes sleep and wake on, and a message counter.
#[repr(C)]
#[derive(Debug)]
pub struct Doorbell {
    /// The futex word: the number of the last message posted.
    pub word: AtomicU32,
}

// SAFETY: one atomic, valid when zeroed.
unsafe impl SharedLayout for Doorbell {}
