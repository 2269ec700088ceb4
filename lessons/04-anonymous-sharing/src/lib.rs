//! Lesson 4: how do I share memory between a parent and child process?
//!
//! After `fork`, parent and child have the same memory contents, but whether
//! they have the same *memory* depends on how each page was mapped: a
//! `MAP_SHARED` page is one page in both, everything else becomes a private
//! copy the moment either process writes to it (copy-on-write).

use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::unistd::Pid;
use process_maps::maps::Mapping;
use support::ChildOutcome;
use support::fork::ChildError;
use support::region::Region;

pub mod picture;

/// How long any child of this lesson, or any wait for a byte in a pipe, may
/// take before the lesson gives up on it.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Whether the pages of a mapping are shared with a child after fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// `MAP_SHARED`: one set of pages, whoever writes.
    Shared,
    /// `MAP_PRIVATE`: copy-on-write after fork.
    Private,
}

// ANCHOR: map_anonymous
/// Maps `len` bytes of zeroed anonymous memory: no file you opened backs it
/// (a `MAP_SHARED` one gets a hidden tmpfs file, which the kernel makes).
pub fn map_anonymous(len: usize, sharing: Sharing) -> nix::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(nix::errno::Errno::EINVAL)?;
    let flags = match sharing {
        Sharing::Shared => MapFlags::MAP_SHARED,
        Sharing::Private => MapFlags::MAP_PRIVATE,
    };
    let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh mapping at an address the kernel picks (MAP_ANONYMOUS
    // is added by nix); nothing in Rust refers to it yet.
    let base = unsafe { mmap_anonymous(None, length, rw, flags) }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    Ok(unsafe { Region::from_raw(base, len) })
}
// ANCHOR_END: map_anonymous

/// This process's `/proc/self/maps` entry for the area holding `address`.
/// (The kernel merges neighbouring areas of the same kind, so a mapping may
/// not start a line of its own.)
pub fn maps_entry(address: usize) -> io::Result<Option<Mapping>> {
    let mappings = process_maps::read_maps(process_maps::Target::This)
        .map_err(io::Error::other)?;
    let address = address as u64;
    Ok(mappings
        .into_iter()
        .find(|m| m.start <= address && address < m.end))
}

// ANCHOR: baton
/// A one-byte token passed through a pipe: whoever takes it may go on.
/// `read` blocks until the other process has written, so the two calls are
/// ordered, and stores made before the `write` are seen after the `read`.
/// A `sleep` orders nothing: it only makes the wrong order less likely.
#[derive(Debug)]
pub struct Baton {
    reader: OwnedFd,
    writer: OwnedFd,
}

impl Baton {
    /// A new pipe; both processes inherit both ends across fork.
    pub fn new() -> nix::Result<Baton> {
        let (reader, writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        Ok(Baton { reader, writer })
    }

    /// Hands the baton over.
    pub fn pass(&self) -> io::Result<()> {
        nix::unistd::write(&self.writer, b"!")?;
        Ok(())
    }

    /// Waits for the baton, at most `limit`.
    pub fn take(&self, limit: Duration) -> io::Result<()> {
        let timeout = PollTimeout::try_from(limit).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(self.reader.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, timeout)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the other process wrote nothing into the pipe within {} ms: \
                     it may have died, or the machine is very busy. Run the \
                     lesson again.",
                    limit.as_millis()
                ),
            ));
        }
        let mut token = [0u8; 1];
        match nix::unistd::read(&self.reader, &mut token)? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(()),
        }
    }
}
// ANCHOR_END: baton

// ANCHOR: slots
/// `count` numbers in one anonymous mapping: with [`Sharing::Shared`], a
/// store by a forked child is seen by its parent; with `Private`, it is not.
#[derive(Debug)]
pub struct Slots {
    region: Region,
    count: usize,
}

impl Slots {
    /// Maps room for `count` zeroed `u64`s (at least one page).
    pub fn new(count: usize, sharing: Sharing) -> nix::Result<Slots> {
        let len = count.max(1) * size_of::<AtomicU64>();
        let region = map_anonymous(len, sharing)?;
        Ok(Slots { region, count })
    }

    /// Slot `index`, as an atomic: both processes may touch it.
    pub fn slot(&self, index: usize) -> &AtomicU64 {
        assert!(index < self.count, "slot {index} of {}", self.count);
        // SAFETY: the mapping is page-aligned, so every 8-byte slot is
        // aligned for AtomicU64, and slot `index` lies inside it (checked).
        // The reference borrows `self`, which unmaps only when dropped.
        unsafe { &*self.region.as_ptr().cast::<AtomicU64>().add(index) }
    }
}
// ANCHOR_END: slots

/// The part of `0..len` that worker `index` of `workers` sums: the parts
/// are in order, cover everything once, and differ in length by at most 1
/// (some are empty when there are more workers than items).
pub fn slice_bounds(len: usize, workers: usize, index: usize) -> Range<usize> {
    assert!(index < workers, "worker {index} of {workers}");
    let at = |i: usize| (i as u128 * len as u128 / workers as u128) as usize;
    at(index)..at(index + 1)
}

/// Why a parallel sum has no answer.
#[derive(Debug)]
pub enum SumError {
    /// Zero workers were asked for: nobody would sum anything.
    NoWorkers,
    /// The shared mapping could not be made.
    Map(nix::Error),
    /// A child could not be started or waited for.
    Child(ChildError),
    /// A worker did not exit with code 0, so its partial sum is missing.
    Worker {
        /// Which worker (0-based).
        index: usize,
        /// Its process id.
        pid: Pid,
        /// How it ended: an exit code, or the signal that killed it.
        outcome: ChildOutcome,
    },
}

impl fmt::Display for SumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SumError::NoWorkers => write!(f, "a sum needs at least one worker"),
            SumError::Map(errno) => write!(f, "cannot map the partial sums: {errno}"),
            SumError::Child(error) => write!(f, "{error}"),
            SumError::Worker {
                index,
                pid,
                outcome,
            } => write!(
                f,
                "worker {index} (pid {pid}) {outcome}, so its partial sum is missing"
            ),
        }
    }
}

impl std::error::Error for SumError {}
