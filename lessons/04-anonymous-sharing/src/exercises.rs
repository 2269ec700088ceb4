//! Exercises for lesson 4. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade anonymous-sharing` to see your score.

use std::io;
use std::time::Duration;

use memmap2::MmapMut;
use nix::sys::eventfd::EventFd;

use anonymous_sharing::SumError;

// SOLUTION BEGIN
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::memfd::{MFdFlags, memfd_create};
use std::sync::atomic::Ordering::{Acquire, Release};
use support::fork::fork_child;

use anonymous_sharing::{LIMIT, Sharing, Slots, slice_bounds};
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

/// Exercise 4.4: a parallel sum. Start `workers` child processes; worker
/// `i` sums its part of `data`,
/// `anonymous_sharing::slice_bounds(data.len(), workers, i)`, by calling
/// `sum_slice` on it, and stores the result in slot `i` of an
/// `anonymous_sharing::Slots` array the parent can read. The workers run at
/// the same time: start them all before waiting for any. The parent waits
/// for every worker, checks that each exited with code 0, and only then adds
/// the partial sums (with `wrapping_add`: the sum is modulo 2^64).
///
/// Errors: `SumError::NoWorkers` for 0 workers; `SumError::Worker` naming
/// the first worker that did not exit with code 0 (its exit code, or the
/// signal that killed it); `SumError::Map` or `SumError::Child` when a
/// system call fails. Every child is waited for, even on an error: none
/// may be left running or as a zombie.
///
/// Hint: which `Sharing` lets a child's store reach its parent? A child
/// made with `support::fork::fork_child` leaves with `_exit`, never
/// returning into your code, and its
/// `Forked::wait(anonymous_sharing::LIMIT)` is a bounded `waitpid`. Read a
/// slot only after its worker has ended.
pub fn parallel_sum<F: Fn(&[u64]) -> u64>(
    data: &[u64],
    workers: usize,
    sum_slice: F,
) -> Result<u64, SumError> {
    // STUB: todo!("sum {} numbers in {workers} children with {}", data.len(), std::any::type_name_of_val(&sum_slice))
    // SOLUTION BEGIN
    if workers == 0 {
        return Err(SumError::NoWorkers);
    }
    let partials = Slots::new(workers, Sharing::Shared).map_err(SumError::Map)?;
    let mut children = Vec::with_capacity(workers);
    for index in 0..workers {
        let part = &data[slice_bounds(data.len(), workers, index)];
        let slot = partials.slot(index);
        let work = || {
            slot.store(sum_slice(part), Release);
            0
        };
        // On an early return, the `Forked`s already in `children` are
        // dropped, which kills and reaps them: no zombie either way.
        children.push(fork_child(work).map_err(SumError::Child)?);
    }
    let mut total = 0u64;
    let mut failed = None;
    for (index, child) in children.into_iter().enumerate() {
        let pid = child.pid();
        let outcome = child.wait(LIMIT).map_err(SumError::Child)?;
        if outcome.is_success() {
            total = total.wrapping_add(partials.slot(index).load(Acquire));
        } else if failed.is_none() {
            failed = Some(SumError::Worker {
                index,
                pid,
                outcome,
            });
        }
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(total),
    }
    // SOLUTION END
}
