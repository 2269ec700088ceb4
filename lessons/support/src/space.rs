//! Space for a mapping's stores, reserved before the first store.
//!
//! A store into a shared file mapping needs a page of the file behind it.
//! A file sized with `ftruncate` is sparse: its pages get blocks only when
//! first touched, and on a full filesystem that touch raises SIGBUS. A
//! lesson reserves the blocks first, so a full disk is an error that names
//! the file, not a dead lesson.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// Gives the first `len` bytes of `file` real blocks (`posix_fallocate`),
/// growing the file to `len` if it is shorter. The error names `path` and,
/// for ENOSPC, says what to do.
pub fn reserve(file: &impl AsFd, len: u64, path: &Path) -> io::Result<()> {
    allocate(file, len).map_err(|e| crate::errors::about(path, e))
}

/// [`reserve`] without a path, for a lesson function that has only the file;
/// its caller names the path (`support::errors::AtPath`).
pub fn allocate(file: &impl AsFd, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "length too large")
    })?;
    if len == 0 {
        return Ok(());
    }
    nix::fcntl::posix_fallocate(file.as_fd(), 0, len).map_err(io::Error::from)
}
