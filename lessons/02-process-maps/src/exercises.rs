//! Exercises for lesson 2. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade process-maps` to see your score.
//!
//! The first three take mappings parsed by [`crate::maps::parse_maps`]; the
//! graded tests (`tests/graded.rs`) feed them real maps captured on Linux.
//! The last one, [`locate`], works on this very process.

use crate::MapsError;
use crate::maps::{Mapping, Perms};

/// Exercise 2.1: how many bytes of address space map the file at `path`?
/// Add up the sizes of every mapping whose pathname is exactly `path`.
///
/// Hint: `Mapping::size` gives one mapping's size. A library usually has
/// several mappings, and not one per segment: ld.so's `mprotect` of the
/// RELRO part splits a writable segment in two.
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

/// Exercise 2.2: do `a` and `b` map the same file from the same offset?
/// That is the case when both are backed by a file (inode not 0) on the same
/// device, with the same inode and the same offset; their addresses do not
/// matter (two processes put a library at different addresses). For pages
/// nobody wrote (code, a shared mapping) that means the same page-cache
/// pages; a private page once written (`rw-p` data) is a copy of its own.
///
/// Hint: compare `device`, `inode` and `offset`. Inode 0 means no file
/// backs the mapping (private anonymous memory, `[heap]`, `[stack]`), so
/// there is nothing to compare. Shared anonymous memory does have an inode.
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

/// Where an address comes from: the mapping that holds it and, when a file
/// backs that mapping, the byte of the file it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The mapping's first address.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    pub perms: Perms,
    /// As the maps line names it: a file's path, `[heap]`, `[stack]`, or
    /// empty for anonymous memory.
    pub pathname: String,
    /// Where in the file the byte at the address lives; `None` when no file
    /// backs the mapping (inode 0).
    pub file_offset: Option<u64>,
}

/// Exercise 2.4: name the mapping, file and file offset an address of this
/// process comes from: the first thing a debugger does to turn an address
/// into a function name. Read this process's map, find the mapping whose
/// range holds `address` (a mapping holds `start` but not `end`), and
/// return its `Location`: the file offset is the mapping's offset plus how
/// far into the mapping the address lies. `Ok(None)` when nothing maps it.
///
/// Hint: `crate::read_maps(crate::Target::This)` gives the mappings, in
/// address order.
/// Check your arithmetic on a mapping whose offset is not 0.
pub fn locate(address: usize) -> Result<Option<Location>, MapsError> {
    // STUB: todo!("find the mapping that holds {address:#x}; read_maps(Target::This) lists them")
    // SOLUTION BEGIN
    let address = address as u64;
    let mappings = crate::read_maps(crate::Target::This)?;
    let found = mappings
        .into_iter()
        .find(|m| m.start <= address && address < m.end);
    Ok(found.map(|m| Location {
        start: m.start,
        end: m.end,
        perms: m.perms,
        file_offset: (m.inode != 0).then(|| m.offset + (address - m.start)),
        pathname: m.pathname,
    }))
    // SOLUTION END
}
