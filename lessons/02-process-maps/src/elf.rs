//! Reading an ELF file's sections and symbol tables through a read-only
//! mapping: the pieces exercise 2.5 (`symbolize`) builds on.
//!
//! A symbol table is an array of fixed-size records in one section; the
//! names are NUL-terminated strings in another, the string table that the
//! symbol table's `link` names. [`ElfFile`] reads both, in bounds, and never
//! panics on a malformed file: it returns an `InvalidData` error instead.

use std::fmt;
use std::io;

use crate::MapsError;

/// Section type of the full symbol table, `.symtab`: every function and
/// variable the linker saw, local ones too. `strip` removes it.
pub const SHT_SYMTAB: u32 = 2;
/// Section type of the dynamic symbol table, `.dynsym`: what the file
/// exports and imports. The loader needs it, so `strip` keeps it.
pub const SHT_DYNSYM: u32 = 11;
/// Section type of a string table (`.strtab`, `.dynstr`, `.shstrtab`).
pub const SHT_STRTAB: u32 = 3;

/// The section index of a symbol this file uses but does not define: it
/// lives in another file, and its value is not an address of this one.
pub const SHN_UNDEF: u16 = 0;
/// The section index of an absolute symbol: its value is a number, not an
/// address in any section.
pub const SHN_ABS: u16 = 0xfff1;

/// Symbol kinds (`st_info & 0xf`).
pub const STT_NOTYPE: u8 = 0;
/// A variable, a table, any data.
pub const STT_OBJECT: u8 = 1;
/// A function: machine code.
pub const STT_FUNC: u8 = 2;
/// A section's own symbol: no name, size 0.
pub const STT_SECTION: u8 = 3;
/// The source file's name: no address at all.
pub const STT_FILE: u8 = 4;
/// A thread-local variable: its value is an offset in each thread's copy of
/// the TLS block, not an address in the file.
pub const STT_TLS: u8 = 6;
/// An indirect function (`memcpy` in glibc): code that runs at load time to
/// pick an implementation. The symbol covers that chooser's code.
pub const STT_GNU_IFUNC: u8 = 10;

/// Symbol bindings (`st_info >> 4`).
pub const STB_LOCAL: u8 = 0;
pub const STB_GLOBAL: u8 = 1;
/// Global, but another file's global of the same name wins.
pub const STB_WEAK: u8 = 2;

/// One section header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Its name, from the section-name string table (`.shstrtab`).
    pub name: String,
    /// `sh_type`: [`SHT_SYMTAB`], [`SHT_DYNSYM`], [`SHT_STRTAB`], ...
    pub kind: u32,
    /// Where its bytes are in the file.
    pub offset: u64,
    pub size: u64,
    /// `sh_link`: for a symbol table, the index of its string table.
    pub link: u32,
    /// The size of one record, for a section that is a table.
    pub entry_size: u64,
}

/// One record of a symbol table, as the file stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfSymbol {
    /// `st_name`: where its name starts in the table's string table.
    pub name: u32,
    /// [`STT_FUNC`], [`STT_OBJECT`], ...
    pub kind: u8,
    /// [`STB_LOCAL`], [`STB_GLOBAL`] or [`STB_WEAK`].
    pub binding: u8,
    /// `st_shndx`: the section it is defined in, or [`SHN_UNDEF`], [`SHN_ABS`].
    pub section: u16,
    /// `st_value`: for a defined function or object, its virtual address in
    /// the file's own numbering (the `p_vaddr` of the program headers).
    pub value: u64,
    /// `st_size`: how many bytes it spans (0 when unknown).
    pub size: u64,
}

/// A 64-bit little-endian ELF file, mapped read-only.
#[derive(Debug)]
pub struct ElfFile {
    path: String,
    map: memmap2::Mmap,
}

impl ElfFile {
    /// Opens the file at `path` read-only and maps it whole, read-only. An
    /// error if it cannot be opened or is not a 64-bit little-endian ELF file.
    pub fn map(path: &str) -> io::Result<ElfFile> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the slice memmap2 hands out stays valid only while nobody
        // truncates the file (a read past the new end raises SIGBUS, lesson
        // 3) or rewrites it. Libraries and programs are replaced by renaming a
        // new file over the old one, which leaves this mapping's file intact;
        // a file rewritten in place would give wrong names, or SIGBUS.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        let elf = ElfFile {
            path: path.to_owned(),
            map,
        };
        if elf.map.get(..6) != Some(&b"\x7fELF\x02\x01"[..]) {
            return Err(elf.invalid("it is not a 64-bit little-endian ELF file"));
        }
        Ok(elf)
    }

    /// The section headers, in file order (index 0 is the null section).
    pub fn sections(&self) -> io::Result<Vec<Section>> {
        let table = self.u64_at(0x28)?;
        let entry_size = u64::from(self.u16_at(0x3a)?);
        let mut count = u64::from(self.u16_at(0x3c)?);
        let mut names = u64::from(self.u16_at(0x3e)?);
        if table == 0 {
            return Ok(Vec::new());
        }
        if entry_size < 64 {
            return Err(self.invalid("its section headers are too small"));
        }
        // Past 0xff00 sections, the real count and name-table index are in
        // section 0 (`sh_size` and `sh_link`).
        if count == 0 {
            count = self.u64_at(table + 0x20)?;
        }
        if names == 0xffff {
            names = u64::from(self.u32_at(table + 0x28)?);
        }
        let header =
            |index: u64| table.saturating_add(index.saturating_mul(entry_size));
        let mut sections = Vec::new();
        for index in 0..count {
            let at = header(index);
            sections.push(Section {
                name: String::new(),
                kind: self.u32_at(at + 4)?,
                offset: self.u64_at(at + 0x18)?,
                size: self.u64_at(at + 0x20)?,
                link: self.u32_at(at + 0x28)?,
                entry_size: self.u64_at(at + 0x38)?,
            });
        }
        if let Some(strings) = sections.get(names as usize).cloned() {
            for index in 0..count {
                let name = self.u32_at(header(index))?;
                if let Some(text) = self.string(&strings, name) {
                    sections[index as usize].name = text.to_owned();
                }
            }
        }
        Ok(sections)
    }

    /// The records of the symbol table `table` (a [`SHT_SYMTAB`] or
    /// [`SHT_DYNSYM`] section), in order; record 0 is the null symbol.
    pub fn symbols(&self, table: &Section) -> io::Result<Vec<ElfSymbol>> {
        if table.kind != SHT_SYMTAB && table.kind != SHT_DYNSYM {
            let why = format!("section {:?} is not a symbol table", table.name);
            return Err(self.invalid(&why));
        }
        if table.entry_size < 24 {
            return Err(self.invalid("its symbol records are too small"));
        }
        let count = table.size / table.entry_size;
        let mut symbols = Vec::new();
        for index in 0..count {
            let at = table.offset.saturating_add(index * table.entry_size);
            let info = self.bytes(at + 4, 1)?[0];
            symbols.push(ElfSymbol {
                name: self.u32_at(at)?,
                kind: info & 0xf,
                binding: info >> 4,
                section: self.u16_at(at + 6)?,
                value: self.u64_at(at + 8)?,
                size: self.u64_at(at + 0x10)?,
            });
        }
        Ok(symbols)
    }

    /// The NUL-terminated string at `offset` in the string table `strings`;
    /// `None` when it lies outside the table or is not UTF-8.
    pub fn string(&self, strings: &Section, offset: u32) -> Option<&str> {
        let start = usize::try_from(strings.offset).ok()?;
        let size = usize::try_from(strings.size).ok()?;
        let table = self.map.get(start..)?.get(..size)?;
        let rest = table.get(usize::try_from(offset).ok()?..)?;
        let length = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..length]).ok()
    }

    fn bytes(&self, at: u64, len: usize) -> io::Result<&[u8]> {
        usize::try_from(at)
            .ok()
            .and_then(|at| self.map.get(at..at.checked_add(len)?))
            .ok_or_else(|| self.invalid(&format!("it ends before byte {at:#x}")))
    }

    fn u16_at(&self, at: u64) -> io::Result<u16> {
        Ok(u16::from_le_bytes(
            self.bytes(at, 2)?.try_into().unwrap_or_default(),
        ))
    }

    fn u32_at(&self, at: u64) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.bytes(at, 4)?.try_into().unwrap_or_default(),
        ))
    }

    fn u64_at(&self, at: u64) -> io::Result<u64> {
        Ok(u64::from_le_bytes(
            self.bytes(at, 8)?.try_into().unwrap_or_default(),
        ))
    }

    fn invalid(&self, why: &str) -> io::Error {
        let message = format!("{}: {why}", self.path);
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

/// A name for an address: the symbol whose bytes hold it. Exercise 2.5
/// (`symbolize`) returns it; it lives here so the graded tests can build
/// the answer they expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The name as the file spells it. Rust and C++ names stay mangled
    /// (`_ZN4core3fmt5write17h0123456789abcdefE`): demangling is not asked.
    pub name: String,
    /// How far into the symbol the address lies, in bytes.
    pub offset: u64,
    /// The ELF file the symbol was read from, as the maps name it.
    pub file: String,
}

/// Why an address could not be named (exercise 2.5).
#[derive(Debug)]
pub enum SymbolizeError {
    /// This process's map could not be read.
    Maps(MapsError),
    /// Nothing is mapped at the address.
    NotMapped { address: usize },
    /// The address is in memory no file backs (`[heap]`, `[stack]`,
    /// `[vdso]`, anonymous memory), so there is no symbol table to read.
    NoFile { address: usize, pathname: String },
    /// The file behind the mapping cannot be opened or is not an ELF file
    /// this workbook reads: deleted since it was mapped, not readable by
    /// this user, or not 64-bit little-endian ELF.
    Unreadable { path: String, error: io::Error },
    /// The file has no function or object symbol whose range holds the
    /// address: it lies between symbols, or in a part of the file no
    /// `PT_LOAD` segment loads (`vaddr` is `None` then), or the file has no
    /// symbol for it (a stripped file keeps only the exported ones).
    NoSymbol { path: String, vaddr: Option<u64> },
}

impl fmt::Display for SymbolizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymbolizeError::Maps(e) => write!(f, "{e}"),
            SymbolizeError::NotMapped { address } => write!(
                f,
                "nothing is mapped at {address:#x} in this process, so there is \
                 nothing to name. Pass the address of a function or a variable \
                 (/proc/self/maps lists what is mapped)."
            ),
            SymbolizeError::NoFile { address, pathname } => {
                let what = match pathname.as_str() {
                    "" => "anonymous memory",
                    name => name,
                };
                write!(
                    f,
                    "{address:#x} is in {what}, which no file backs: there is no \
                     symbol table to look in. Only the mappings of a program or a \
                     library have names."
                )
            }
            SymbolizeError::Unreadable { path, error } => {
                match path.strip_suffix(" (deleted)") {
                    Some(gone) => write!(
                        f,
                        "cannot read the symbols of {gone}: the file was deleted \
                         or replaced after it was mapped, so its name no longer \
                         leads to these bytes. Run the program from a file that \
                         stays in place."
                    ),
                    None => write!(
                        f,
                        "cannot read the symbols of {path}: {}",
                        support::errors::explain(error)
                    ),
                }
            }
            SymbolizeError::NoSymbol { path, vaddr } => match vaddr {
                Some(vaddr) => write!(
                    f,
                    "no function or object symbol of {path} covers address \
                     {vaddr:#x}: it lies between symbols, or the file is stripped \
                     of the one that would. `readelf -sW {path}` lists its symbols."
                ),
                None => write!(
                    f,
                    "no PT_LOAD segment of {path} loads the byte at that file \
                     offset: it is padding. `readelf -lW {path}` lists the segments."
                ),
            },
        }
    }
}

impl std::error::Error for SymbolizeError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file holding `bytes`, mapped as an ELF file.
    fn map_bytes(bytes: &[u8]) -> io::Result<ElfFile> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("file");
        std::fs::write(&path, bytes)?;
        ElfFile::map(&path.to_string_lossy())
    }

    #[test]
    fn a_file_that_is_not_elf_is_refused_by_name() {
        for bytes in [
            &b""[..],
            b"\x7fEL",
            b"#!/bin/sh\n",
            b"\x7fELF\x01\x01\x01\0",
        ] {
            let error = map_bytes(bytes).expect_err("not a 64-bit ELF file");
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{bytes:?}");
            assert!(error.to_string().contains("file:"), "{error}");
        }
    }

    #[test]
    fn headers_that_point_past_the_end_are_errors_not_panics() {
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(64, 0);
        // No section table at all.
        assert_eq!(map_bytes(&bytes).unwrap().sections().unwrap(), []);
        // A section table far past the end of the file.
        bytes[0x28..0x30].copy_from_slice(&0x10_0000u64.to_le_bytes());
        bytes[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        bytes[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        let error = map_bytes(&bytes).unwrap().sections().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        // A symbol table whose records run past the end of the file.
        let elf = map_bytes(&bytes).unwrap();
        let table = Section {
            name: ".symtab".into(),
            kind: SHT_SYMTAB,
            offset: 40,
            size: 48,
            link: 0,
            entry_size: 24,
        };
        assert!(elf.symbols(&table).is_err());
        let strings = Section {
            kind: SHT_STRTAB,
            ..table
        };
        assert_eq!(elf.string(&strings, 1000), None);
    }

    #[test]
    fn the_c_library_has_a_dynamic_symbol_table_with_names() {
        let maps = crate::read_maps(crate::Target::This).unwrap();
        let Some(libc) = crate::libc_code(&maps) else {
            return; // a static program carries no libc.so
        };
        let elf = ElfFile::map(&libc.pathname).unwrap();
        let sections = elf.sections().unwrap();
        let dynsym = sections.iter().find(|s| s.kind == SHT_DYNSYM).unwrap();
        assert_eq!(dynsym.name, ".dynsym");
        let names = &sections[dynsym.link as usize];
        assert_eq!(names.name, ".dynstr");
        let symbols = elf.symbols(dynsym).unwrap();
        assert_eq!(symbols[0].value, 0, "record 0 is the null symbol");
        let getpid = symbols
            .iter()
            .find(|s| elf.string(names, s.name) == Some("getpid"))
            .expect("libc defines getpid");
        assert_eq!(getpid.kind, STT_FUNC);
        assert_ne!(getpid.section, SHN_UNDEF);
    }
}
