//! Lesson 4: how do I share memory between a parent and child process?
//!
//! After `fork`, parent and child have the same memory contents, but whether
//! they have the same *memory* depends on how each page was mapped: a
//! `MAP_SHARED` page is one page in both, everything else becomes a private
//! copy the moment either process writes to it (copy-on-write).

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use process_maps::maps::Mapping;
use support::region::Region;

pub mod exercises;

/// Whether the pages of a mapping are shared with a child after fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// `MAP_SHARED`: one set of pages, whoever writes.
    Shared,
    /// `MAP_PRIVATE`: copy-on-write after fork.
    Private,
}

// ANCHOR: map_anonymous
/// Maps `len` bytes of zeroed memory backed by no file.
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
/// A one-byte token passed through a pipe: whoever holds it may go on. The
/// read end blocks until the other process writes, and that write happens
/// after every store the writer made before it: a real handshake, unlike a
/// `sleep`, which only makes the bad ordering less likely.
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
                    "the other process never passed the baton within {} ms: it may have died, \
                     or the machine is very busy. Run the lesson again.",
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
