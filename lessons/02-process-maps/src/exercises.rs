//! Exercises for lesson 2. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade process-maps` to see your score.
//!
//! The first three take mappings parsed by [`process_maps::maps::parse_maps`];
//! the graded tests (`tests/graded.rs`) feed them real maps captured on Linux
//! and made-up ones. The last two, [`locate`] and [`symbolize`], work on this
//! very process: the tests read its maps from outside, then ask about
//! addresses in it.

use process_maps::MapsError;
use process_maps::elf::SymbolizeError;
use process_maps::maps::Mapping;

/// What [`locate`] returns (its fields are in `src/lib.rs`).
pub use process_maps::Location;
/// What [`symbolize`] returns (its fields are in `src/elf.rs`).
pub use process_maps::elf::Symbol;

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

/// Exercise 2.4: name the mapping, file and file offset an address of this
/// process comes from: the first thing a debugger does to turn an address
/// into a function name. Read this process's map, find the mapping whose
/// range holds `address` (a mapping holds `start` but not `end`), and
/// return its `Location`: the file offset is the mapping's offset plus how
/// far into the mapping the address lies. `Ok(None)` when nothing maps it.
///
/// Hint: `process_maps::read_maps(process_maps::Target::This)` gives the
/// mappings, in address order.
/// Check your arithmetic on a mapping whose offset is not 0.
pub fn locate(address: usize) -> Result<Option<Location>, MapsError> {
    // STUB: todo!("find the mapping that holds {address:#x}; read_maps(Target::This) lists them")
    // SOLUTION BEGIN
    let address = address as u64;
    let mappings = process_maps::read_maps(process_maps::Target::This)?;
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

/// Exercise 2.5: name the function or variable at `address` in this
/// process, as a debugger or a profiler does: the symbol whose bytes hold
/// it, and how far into it the address lies.
///
/// 1. Find the file and the file offset behind the address (exercise 2.4):
///    `NotMapped` when nothing maps it, `NoFile` when no file backs it.
/// 2. Map that file with [`process_maps::elf::ElfFile::map`]; `Unreadable` if
///    that fails. A file deleted since it was mapped (the maps add
///    ` (deleted)` to its path) is unreadable too: its old name may now
///    lead to another file.
/// 3. Turn the file offset into the address the symbol table uses. The
///    `PT_LOAD` segment whose file part, `[offset, offset + file_size)`,
///    holds the offset puts the same bytes at `[vaddr, vaddr + file_size)`.
///    `NoSymbol` with no `vaddr` when no segment holds it.
/// 4. Search the file's `.symtab` if it has one, else its `.dynsym`, for a
///    symbol whose range `[value, value + size)` holds that address: a
///    function, an object, or an indirect function (`STT_GNU_IFUNC`),
///    defined in this file (not `SHN_UNDEF`, not `SHN_ABS`). When several
///    do (aliases, such as glibc's `getpid` and `__getpid`), any of them is
///    right. `NoSymbol` when none does.
///
/// Hint: the file offset is not the address in the symbol table: compare
/// the Offset and VirtAddr columns of `readelf -lW target/debug/process-maps`.
/// Step 2's `process_maps::program_headers` lists the segments, and
/// `process_maps::elf` reads the sections and symbols; a symbol table's
/// names are in the section its `link` names. Try your range check on a
/// symbol's last byte and on the byte after it.
pub fn symbolize(address: usize) -> Result<Symbol, SymbolizeError> {
    // STUB: todo!("name the symbol at {address:#x}: locate it, then read the ELF file's symbols")
    // SOLUTION BEGIN
    use process_maps::elf::{self, ElfFile};
    let location = locate(address)
        .map_err(SymbolizeError::Maps)?
        .ok_or(SymbolizeError::NotMapped { address })?;
    let path = location.pathname;
    let Some(file_offset) = location.file_offset else {
        return Err(SymbolizeError::NoFile {
            address,
            pathname: path,
        });
    };
    let unreadable = |error| SymbolizeError::Unreadable {
        path: path.clone(),
        error,
    };
    if path.ends_with(" (deleted)") {
        return Err(unreadable(std::io::ErrorKind::NotFound.into()));
    }
    let file = ElfFile::map(&path).map_err(unreadable)?;
    let segments = process_maps::program_headers(&path)
        .map_err(unreadable)?
        .loads;
    let Some(segment) = segments
        .iter()
        .find(|s| s.offset <= file_offset && file_offset - s.offset < s.file_size)
    else {
        return Err(SymbolizeError::NoSymbol { path, vaddr: None });
    };
    let vaddr = segment.vaddr + (file_offset - segment.offset);

    let sections = file.sections().map_err(unreadable)?;
    let table = sections
        .iter()
        .find(|s| s.kind == elf::SHT_SYMTAB)
        .or_else(|| sections.iter().find(|s| s.kind == elf::SHT_DYNSYM));
    let no_symbol = || SymbolizeError::NoSymbol {
        path: path.clone(),
        vaddr: Some(vaddr),
    };
    let Some(table) = table else {
        return Err(no_symbol());
    };
    let names = sections.get(table.link as usize).ok_or_else(no_symbol)?;
    let symbols = file.symbols(table).map_err(unreadable)?;
    let found = symbols
        .iter()
        .filter(|s| {
            matches!(s.kind, elf::STT_FUNC | elf::STT_OBJECT | elf::STT_GNU_IFUNC)
        })
        .filter(|s| s.section != elf::SHN_UNDEF && s.section != elf::SHN_ABS)
        .find(|s| s.value <= vaddr && vaddr - s.value < s.size)
        .ok_or_else(no_symbol)?;
    Ok(Symbol {
        name: file
            .string(names, found.name)
            .unwrap_or_default()
            .to_owned(),
        offset: vaddr - found.value,
        file: path,
    })
    // SOLUTION END
}
