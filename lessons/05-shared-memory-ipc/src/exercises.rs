//! Exercises for lesson 5. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade shared-memory-ipc` to see your score.
//!
//! The graded tests run your code in this lesson's binary, a process of its
//! own, and stand on the other side themselves: they pop what your `push`
//! stored and push what your `pop` must find, kill a process of yours while
//! it holds a lock, and look at your shm objects in `/dev/shm`. Every wait
//! in them is bounded, so a wrong answer fails; it never hangs.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::errno::Errno;

use shared_memory_ipc::{ByteRing, Locked, SharedMutex};

// SOLUTION BEGIN
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
// SOLUTION END

// Exercise 5.1: the two halves of a single-producer single-consumer ring.
// `ByteRing` itself (its layout, `head`, `tail`, `data`, `capacity`) is in
// the lesson's library (`src/byte_ring.rs`).

/// Exercise 5.1a (producer side): copy as much of `bytes` as there is room
/// for into `ring` and return how many bytes that was (0 when the ring is
/// full). Never waits.
///
/// Hint: read `ring.tail()` with `Acquire` (the consumer is done with the
/// bytes it popped), store the bytes with `Relaxed`, then publish the new
/// `ring.head()` with `Release`, so a consumer that sees it sees the bytes.
pub fn push(ring: &ByteRing, bytes: &[u8]) -> usize {
    // STUB: todo!("push {} bytes into {ring:?}", bytes.len())
    // SOLUTION BEGIN
    let head = ring.head().load(Relaxed);
    let tail = ring.tail().load(Acquire);
    let free = ring.capacity() - (head - tail) as usize;
    let n = bytes.len().min(free);
    for (i, byte) in bytes[..n].iter().enumerate() {
        let at = (head + i as u64) % ring.capacity() as u64;
        ring.data()[at as usize].store(*byte, Relaxed);
    }
    ring.head().store(head + n as u64, Release);
    n
    // SOLUTION END
}

/// Exercise 5.1b (consumer side): copy up to `out.len()` waiting bytes out
/// of `ring`, oldest first, and return how many (0 when empty). Never waits.
///
/// Hint: the mirror image of `push`: `Acquire` on `ring.head()`, `Release`
/// on the new `ring.tail()` once the bytes are copied out.
pub fn pop(ring: &ByteRing, out: &mut [u8]) -> usize {
    // STUB: todo!("pop up to {} bytes from {ring:?}", out.len())
    // SOLUTION BEGIN
    let tail = ring.tail().load(Relaxed);
    let head = ring.head().load(Acquire);
    let n = out.len().min((head - tail) as usize);
    for (i, byte) in out[..n].iter_mut().enumerate() {
        let at = (tail + i as u64) % ring.capacity() as u64;
        *byte = ring.data()[at as usize].load(Relaxed);
    }
    ring.tail().store(tail + n as u64, Release);
    n
    // SOLUTION END
}

/// Exercise 5.2: take `mutex` (robust, process-shared), waiting at most
/// `limit`. If its last holder died holding it, the data it guards may be
/// half-updated: run `repair` once, then mark the mutex consistent, so it
/// stays usable. Return how you found it; either way you hold the lock on
/// return. Errors (a timeout, `ENOTRECOVERABLE`) are returned as they are.
///
/// Hint: [`SharedMutex::lock_within`] and [`SharedMutex::mark_consistent`].
pub fn lock_or_recover(
    mutex: &SharedMutex,
    limit: Duration,
    repair: impl FnOnce(),
) -> Result<Locked, Errno> {
    // STUB: todo!("lock {mutex:?} within {limit:?}, repairing with {}", std::any::type_name_of_val(&repair))
    // SOLUTION BEGIN
    let found = mutex.lock_within(limit)?;
    if found == Locked::OwnerDied {
        repair();
        mutex.mark_consistent()?;
    }
    Ok(found)
    // SOLUTION END
}

/// Exercise 5.3a: create a new POSIX shm object of `len` bytes that only
/// this user can open, under a name nobody can guess: `/shared-memory-ipc-`
/// followed by random hex digits. Fail (never open it) if the name exists.
/// Return the descriptor and the name; the caller unlinks it.
///
/// Hint: `support::unguessable_suffix`, `nix::sys::mman::shm_open` with
/// `O_CREAT | O_EXCL | O_RDWR` and mode 0600, then `nix::unistd::ftruncate`.
pub fn create_private(len: usize) -> io::Result<(OwnedFd, String)> {
    // STUB: todo!("create a private shm object of {len} bytes")
    // SOLUTION BEGIN
    let name = format!("/shared-memory-ipc-{}", support::unguessable_suffix()?);
    let fd = nix::sys::mman::shm_open(
        name.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )?;
    if let Err(errno) = nix::unistd::ftruncate(&fd, len as i64) {
        let _ = nix::sys::mman::shm_unlink(name.as_str());
        return Err(errno.into());
    }
    Ok((fd, name))
    // SOLUTION END
}

/// Exercise 5.3b: open the existing shm object `name` for reading and
/// writing, but refuse it, with an error of kind `PermissionDenied`, if
/// another user owns it or if its mode lets anyone but the owner read or
/// write it. A missing name gives the `NotFound` error from opening it.
///
/// Hint: `nix::sys::stat::fstat` gives `st_uid` and `st_mode`;
/// `nix::unistd::geteuid` is who you are; `st_mode & 0o077` are the bits
/// for the group and for others.
pub fn attach(name: &str) -> io::Result<OwnedFd> {
    // STUB: todo!("open {name} if it is really ours")
    // SOLUTION BEGIN
    let fd = nix::sys::mman::shm_open(
        name,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let stat = nix::sys::stat::fstat(&fd)?;
    if stat.st_uid != nix::unistd::geteuid().as_raw() || stat.st_mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{name} is owned by uid {} with mode {:04o}: not ours alone",
                stat.st_uid,
                stat.st_mode & 0o777
            ),
        ));
    }
    Ok(fd)
    // SOLUTION END
}
