//! Exercises for lesson 2. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade process-maps` to see your score.
//!
//! Each takes mappings parsed by [`crate::maps::parse_maps`]. The graded
//! tests (`tests/graded.rs`) feed them real maps captured on Linux.

use crate::maps::Mapping;

/// Exercise 2.1: how many bytes of address space map the file at `path`?
/// Add up the sizes of every mapping whose pathname is exactly `path`.
///
/// Hint: `Mapping::size` gives one mapping's size. A library is usually
/// mapped four or five times, once per segment.
pub fn bytes_mapped_from(mappings: &[Mapping], path: &str) -> u64 {
    // STUB: todo!("sum the sizes of the {} mappings' entries named {path}", mappings.len())
    // SOLUTION BEGIN
    mappings
        .iter()
        .filter(|m| m.pathname == path)
        .map(Mapping::size)
        .sum()
    // SOLUTION END
}

/// Exercise 2.2: do `a` and `b` map the very same pages of the same file?
/// That is the case when both are backed by a file (inode not 0) on the same
/// device, with the same inode and the same offset; their addresses do not
/// matter (two processes put a library at different addresses).
///
/// Hint: compare `device`, `inode` and `offset`; anonymous memory (inode 0)
/// never shares pages this way.
pub fn same_file_pages(a: &Mapping, b: &Mapping) -> bool {
    // STUB: todo!("compare {:?} with {:?}", a.device, b.device)
    // SOLUTION BEGIN
    a.inode != 0 && a.device == b.device && a.inode == b.inode && a.offset == b.offset
    // SOLUTION END
}

/// Exercise 2.3: list the mappings that are writable *and* executable, the
/// pages an attacker would most like to find (W^X says there should be none).
/// Return them in the order given.
///
/// Hint: look at `perms.write` and `perms.exec`.
pub fn writable_and_executable(mappings: &[Mapping]) -> Vec<&Mapping> {
    // STUB: todo!("find the writable and executable ones among {} mappings", mappings.len())
    // SOLUTION BEGIN
    mappings
        .iter()
        .filter(|m| m.perms.write && m.perms.exec)
        .collect()
    // SOLUTION END
}
