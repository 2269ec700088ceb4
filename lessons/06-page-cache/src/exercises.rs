//! Exercises for lesson 6. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade page-cache` to see your score.
//!
//! The graded tests live in `tests/graded.rs`; read them if you are stuck,
//! but do not change them.

use std::fs::File;
use std::io;
use std::path::Path;

// SOLUTION BEGIN
use std::fs::OpenOptions;

use memmap2::{Mmap, MmapMut};
// SOLUTION END

/// Exercise 6.1: copy the file at `src` to `dst` through two mappings, the
/// classic textbook exercise: map the source for reading, the destination for
/// writing, and copy from one to the other. Return the number of bytes copied.
///
/// `dst` is created if missing and replaced if it exists: when you return it
/// holds exactly the bytes of `src`, no more. An empty source gives an empty
/// destination. A missing source is an `io::Error`.
///
/// Hint: a mapping never makes a file longer, so give the destination its
/// length (`File::set_len`) before you map it, and open it read *and* write.
/// `mmap` refuses a length of 0 (EINVAL): an empty file needs no mapping.
pub fn mmap_copy(src: &Path, dst: &Path) -> io::Result<u64> {
    // STUB: todo!("copy {} to {} through mappings", src.display(), dst.display())
    // SOLUTION BEGIN
    let source = File::open(src)?;
    let len = source.metadata()?.len();
    let target = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dst)?;
    target.set_len(len)?;
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: the caller hands us files nobody else writes or truncates
    // while we copy; if someone did, this process could get SIGBUS.
    let from = unsafe { Mmap::map(&source)? };
    // SAFETY: as above, and `target` was just sized to `len` by us.
    let mut to = unsafe { MmapMut::map_mut(&target)? };
    to.copy_from_slice(&from);
    // The copy is already visible to every reader; msync makes it durable.
    to.flush()?;
    Ok(len)
    // SOLUTION END
}

/// Exercise 6.2: how many pages of `file` are in the page cache right now?
/// Map the file and ask `mincore(2)`, which fills one byte per page of the
/// mapping; a page is resident when bit 0 of its byte is set.
///
/// An empty file has no pages. Mapping the file must not change the answer:
/// do not touch the mapped bytes.
///
/// Hint: `libc::mincore(address, length, vec)` wants a page-aligned address
/// (a mapping's start is) and a `Vec<u8>` with one byte per page:
/// `len.div_ceil(support::page_size())`.
pub fn count_resident_pages(file: &File) -> io::Result<usize> {
    // STUB: todo!("count the resident pages of {file:?}")
    // SOLUTION BEGIN
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: the mapping is only passed to mincore, never read, so what
    // other processes do to the file cannot break a Rust reference.
    let map = unsafe { Mmap::map(file)? };
    let mut residency = vec![0u8; len.div_ceil(support::page_size())];
    // SAFETY: `map` is a live mapping of `len` bytes starting on a page
    // boundary, and `residency` has one byte for each of its pages.
    let rc =
        unsafe { libc::mincore(map.as_ptr() as *mut _, len, residency.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(residency.iter().filter(|&&byte| byte & 1 == 1).count())
    // SOLUTION END
}
