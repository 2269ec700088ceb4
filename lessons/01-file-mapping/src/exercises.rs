//! Exercises for lesson 1. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade` to see your score.
//!
//! The graded tests live in `tests/graded.rs`; read them if you are stuck,
//! but do not change them.

use std::io;
use std::path::Path;

// SOLUTION BEGIN
use std::fs::{File, OpenOptions};

use memmap2::{Mmap, MmapMut};
// SOLUTION END

/// Exercise 1.1: write `values` into the file at `path` through a shared
/// mapping, each as 4 bytes in this CPU's byte order, with nothing after them.
///
/// Create the file if it is missing and truncate it if it is longer: when you
/// return, the file is exactly `4 * values.len()` bytes.
///
/// Hint: open it with read *and* write access (a mapping always needs read),
/// size it with `File::set_len`, then map it with `memmap2::MmapMut::map_mut`.
/// An empty file needs no mapping at all.
pub fn write_u32s_through_mapping(path: &Path, values: &[u32]) -> io::Result<()> {
    // STUB: todo!("write {} values into {} through a mapping", values.len(), path.display())
    // SOLUTION BEGIN
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let len = size_of_val(values);
    file.set_len(len as u64)?;
    if len == 0 {
        return Ok(());
    }
    // SAFETY: the file was just created or truncated by us, and only this
    // function touches it while the mapping lives.
    let mut map = unsafe { MmapMut::map_mut(&file)? };
    for (slot, value) in map.chunks_exact_mut(4).zip(values) {
        slot.copy_from_slice(&value.to_ne_bytes());
    }
    map.flush()
    // SOLUTION END
}

/// Exercise 1.2: return the canonical hexdump (`hexdump -C` layout) of the
/// file at `path`, reading its bytes through a read-only mapping.
///
/// An empty file gives an empty string; a missing file gives the `io::Error`
/// from opening it.
///
/// Hint: `File::open` opens read-only, which is all `memmap2::Mmap::map`
/// needs; `support::hexdump::canonical` formats the bytes.
pub fn hexdump_through_mapping(path: &Path) -> io::Result<String> {
    // STUB: todo!("map {} read-only and hexdump it", path.display())
    // SOLUTION BEGIN
    let file = File::open(path)?;
    // SAFETY: the caller hands us a file nobody truncates while we read it;
    // if someone did, this process would get SIGBUS (see the sigbus lesson).
    let map = unsafe { Mmap::map(&file)? };
    Ok(support::hexdump::canonical(&map))
    // SOLUTION END
}

/// Exercise 1.3: how many bytes of address space does `mmap` really cover
/// when you ask for `len` bytes, on a machine with `page_size`-byte pages?
///
/// Hint: the kernel rounds the length up to a whole number of pages.
/// Asking for 0 bytes covers nothing (mmap refuses it).
pub fn bytes_really_mapped(len: usize, page_size: usize) -> usize {
    // STUB: todo!("round {len} up to a multiple of {page_size}")
    // SOLUTION BEGIN
    len.div_ceil(page_size) * page_size
    // SOLUTION END
}

/// Exercise 1.4: find every place where `pattern` occurs in the file at
/// `path`, reading the file through a read-only mapping. Return the offsets
/// of all matches in increasing order, overlapping ones included: `aa` occurs
/// in `aaaa` at 0, 1 and 2.
///
/// A match may straddle a page boundary, and may end on the file's last
/// byte. An empty file has no matches. An empty pattern is a mistake: return
/// an `io::Error` of kind `InvalidInput` whose message says the pattern is
/// empty. A missing file gives the `io::Error` from opening it.
///
/// Hint: `memmap2::Mmap` derefs to one contiguous `&[u8]`, however many
/// pages it spans, so a page boundary needs no special care. Try every start
/// offset where the whole pattern still fits, not just those after the last
/// match.
pub fn find_all_through_mapping(
    path: &Path,
    pattern: &[u8],
) -> io::Result<Vec<usize>> {
    // STUB: todo!("map {} read-only and find every {pattern:?}", path.display())
    // SOLUTION BEGIN
    if pattern.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the pattern is empty: there is nothing to search for",
        ));
    }
    let file = File::open(path)?;
    // SAFETY: the caller hands us a file nobody truncates while we search;
    // if someone did, this process would get SIGBUS (see the sigbus lesson).
    let map = unsafe { Mmap::map(&file)? };
    Ok(map
        .windows(pattern.len())
        .enumerate()
        .filter(|(_, window)| *window == pattern)
        .map(|(offset, _)| offset)
        .collect())
    // SOLUTION END
}
