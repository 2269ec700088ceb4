//! Exercises for lesson 4. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade anonymous-sharing` to see your score.

use std::io;
use std::time::Duration;

use memmap2::MmapMut;
use nix::sys::eventfd::EventFd;

// SOLUTION BEGIN
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::memfd::{MFdFlags, memfd_create};
// SOLUTION END

/// Exercise 4.1: memmap2's `MmapMut::map_anon` is private, so a child's
/// stores never reach the parent. Return a `len`-byte buffer that *is*
/// shared with children: back it with a memfd and map that.
///
/// Hint: `nix::sys::memfd::memfd_create`, `File::set_len` (a memfd starts
/// empty), then `MmapMut::map_mut`, which maps a file `MAP_SHARED`.
pub fn shared_buffer(len: usize) -> io::Result<MmapMut> {
    // STUB: todo!("a shared buffer of {len} bytes")
    // SOLUTION BEGIN
    let memfd =
        std::fs::File::from(memfd_create("shared-buffer", MFdFlags::MFD_CLOEXEC)?);
    memfd.set_len(len as u64)?;
    // SAFETY: the memfd is ours alone; only processes we fork can reach it,
    // and none of them truncates it.
    unsafe { MmapMut::map_mut(&memfd) }
    // SOLUTION END
}

/// Exercise 4.2: the baton of step 3, with an eventfd instead of a pipe.
/// Add one to the eventfd's counter, so a waiter wakes up.
///
/// Hint: `EventFd::write`.
pub fn ring(bell: &EventFd) -> io::Result<()> {
    // STUB: todo!("ring {bell:?}")
    // SOLUTION BEGIN
    bell.write(1)?;
    Ok(())
    // SOLUTION END
}

/// Exercise 4.3: wait until the eventfd has been rung, at most `limit`, and
/// return how many rings were counted (reading resets the counter to zero).
/// If nobody rings in time, return an error of kind `TimedOut`.
///
/// Hint: `nix::poll::poll` on the eventfd for `POLLIN` with a
/// `PollTimeout`, then `EventFd::read`.
pub fn wait_for_ring(bell: &EventFd, limit: Duration) -> io::Result<u64> {
    // STUB: todo!("wait up to {limit:?} for {bell:?}")
    // SOLUTION BEGIN
    let timeout = PollTimeout::try_from(limit).map_err(io::Error::other)?;
    let mut fds = [PollFd::new(bell.as_fd(), PollFlags::POLLIN)];
    if poll(&mut fds, timeout)? == 0 {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "nobody rang"));
    }
    Ok(bell.read()?)
    // SOLUTION END
}
