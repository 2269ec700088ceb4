//! Exercises for lesson 3. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade sigbus` to see your score.
//!
//! A mistake here can raise SIGBUS and kill the test process: the grader
//! runs each test in its own process and reports the signal.

use std::fs::File;
use std::io;

// SOLUTION BEGIN
use memmap2::MmapMut;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
// SOLUTION END

/// Exercise 3.1: a mapping of `map_len` bytes covers a file of `file_len`
/// bytes, on a machine with `page_size`-byte pages. How many bytes from the
/// start of the mapping can be read without SIGBUS?
///
/// Hint: every page that holds at least one byte of the file can be read to
/// its end; no page past that can. And nothing past `map_len` is mapped.
pub fn bytes_safe_to_touch(file_len: u64, map_len: usize, page_size: usize) -> usize {
    // STUB: todo!("file of {file_len} bytes, mapping of {map_len}, pages of {page_size}")
    // SOLUTION BEGIN
    let backed =
        usize::try_from(file_len.div_ceil(page_size as u64)).unwrap_or(usize::MAX);
    backed.saturating_mul(page_size).min(map_len)
    // SOLUTION END
}

/// Exercise 3.2: store `bytes` at `offset` in `file` through a shared
/// mapping, first making the file long enough. Never make it shorter, and
/// leave every other byte as it was.
///
/// Hint: `File::set_len` grows the file (only call it if the file is too
/// short), then `memmap2::MmapMut::map_mut` and `copy_from_slice`.
/// Storing past the end of the file raises SIGBUS.
pub fn store_at(file: &File, offset: usize, bytes: &[u8]) -> io::Result<()> {
    // STUB: todo!("store {} bytes at offset {offset} of {file:?}", bytes.len())
    // SOLUTION BEGIN
    let end = offset + bytes.len();
    if file.metadata()?.len() < end as u64 {
        file.set_len(end as u64)?;
    }
    if bytes.is_empty() {
        return Ok(());
    }
    // SAFETY: the caller hands us a file nobody else resizes meanwhile.
    let mut map = unsafe { MmapMut::map_mut(file)? };
    map[offset..end].copy_from_slice(bytes);
    map.flush()
    // SOLUTION END
}

/// Exercise 3.3: seal `memfd` (created with `MFD_ALLOW_SEALING`) so that it
/// can never shrink, whoever holds it: a truncate below its size must then
/// fail with EPERM. Growing it may still work.
///
/// Hint: `fcntl` with `F_ADD_SEALS` and the `F_SEAL_SHRINK` seal.
pub fn seal_against_shrinking(memfd: &File) -> io::Result<()> {
    // STUB: todo!("add F_SEAL_SHRINK to {memfd:?}")
    // SOLUTION BEGIN
    fcntl(memfd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK))?;
    Ok(())
    // SOLUTION END
}
