//! A small ELF shared object written byte by byte for exercise 2.5's graded
//! tests. The runner maps it the way ld.so maps a library, each `PT_LOAD`
//! segment from its file offset to its address (read-only; nothing in it
//! runs), at an address the test chose. The tests know every symbol in it
//! because they wrote them, so no expected name comes from the code under
//! test.
//!
//! Its three segments each have their own distance between file offset and
//! address, as lld lays files out, and the first one does not start at
//! address 0. Its symbol tables hold the traps a symbolizer must step over:
//! a section symbol, an undefined symbol, an absolute one, a thread-local
//! one, one of no type, aliases, and names in string tables laid out
//! differently.

use std::io;
use std::path::Path;
use std::sync::OnceLock;

const R: u32 = 4;
const W: u32 = 2;
const X: u32 = 1;

/// One `PT_LOAD` segment. Its offset and address are equal modulo 64 KiB,
/// as the loader needs for any page size up to that; the last one starts
/// in the middle of a page, as lld's segments do.
struct Segment {
    offset: u64,
    vaddr: u64,
    size: u64,
    flags: u32,
}

const SEGMENTS: [Segment; 3] = [
    // ELF header, program headers, .dynsym, .dynstr and .rodata.
    Segment {
        offset: 0,
        vaddr: 0x40_0000,
        size: 0x1000,
        flags: R,
    },
    // .text
    Segment {
        offset: 0x1_0000,
        vaddr: 0x43_0000,
        size: 0x2000,
        flags: R | X,
    },
    // .data, from the middle of a page: its mapping starts before it.
    Segment {
        offset: 0x2_0010,
        vaddr: DATA_START,
        size: 0xff0,
        flags: R | W,
    },
];

/// Where the .data segment starts, in the middle of a page.
pub const DATA_START: u64 = 0x46_0010;

/// The page the first segment starts in (page-aligned for any page size up
/// to 64 KiB), and how many bytes the segments span from it, whole pages.
pub const FIRST_PAGE: u64 = 0x40_0000;
pub const SPAN: u64 = 0x47_0000 - FIRST_PAGE;

/// Where the sections that no segment loads begin.
const UNLOADED: usize = 0x2_1000;

/// Section indexes, the same with and without `.symtab`.
const RODATA: u16 = 1;
const TEXT: u16 = 2;
const DATA: u16 = 3;
const DYNSYM: u16 = 4;
const UNDEF: u16 = 0;
const ABS: u16 = 0xfff1;

// Symbol kinds and bindings, as the ELF specification numbers them.
const NOTYPE: u8 = 0;
const OBJECT: u8 = 1;
const FUNC: u8 = 2;
const SECTION: u8 = 3;
const FILE: u8 = 4;
const TLS: u8 = 6;
const IFUNC: u8 = 10;
const LOCAL: u8 = 0;
const GLOBAL: u8 = 1;
const WEAK: u8 = 2;

/// One symbol: local ones go only to `.symtab`, the others to `.dynsym` too.
pub struct Sym {
    pub name: &'static str,
    kind: u8,
    binding: u8,
    section: u16,
    pub value: u64,
    pub size: u64,
}

/// A Rust function's name, mangled as rustc's legacy scheme does.
pub const MANGLED: &str = "_ZN4demo5parse17h0123456789abcdefE";

/// Every symbol, in the order of `symbols.txt`, which lists them.
pub fn symbols() -> &'static [Sym] {
    static SYMBOLS: OnceLock<Vec<Sym>> = OnceLock::new();
    SYMBOLS.get_or_init(|| {
        let table = include_str!("symbols.txt");
        let symbols: Vec<Sym> = table
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(parse_symbol)
            .collect();
        assert!(
            symbols.iter().any(|s| s.name == MANGLED),
            "symbols.txt lists the mangled name"
        );
        let locals = symbols.iter().take_while(|s| s.binding == LOCAL).count();
        assert!(
            symbols[locals..].iter().all(|s| s.binding != LOCAL),
            "symbols.txt lists the local symbols first, as .symtab wants"
        );
        symbols
    })
}

/// One row of `symbols.txt`: name, type, binding, section, value, size.
fn parse_symbol(row: &'static str) -> Sym {
    let fields: Vec<&'static str> = row.split_whitespace().collect();
    let [name, kind, binding, section, value, size] = fields[..] else {
        panic!("symbols.txt: not six fields: {row:?}");
    };
    let number = |text: &str| {
        match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse(),
        }
        .unwrap_or_else(|e| {
            panic!("symbols.txt: {text:?} is not a number ({e}): {row:?}")
        })
    };
    let named = |table: &[(&str, u16)], text: &str| {
        table
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("symbols.txt: unknown {text:?}: {row:?}"))
    };
    let kinds = [
        ("NOTYPE", NOTYPE.into()),
        ("OBJECT", OBJECT.into()),
        ("FUNC", FUNC.into()),
        ("SECTION", SECTION.into()),
        ("FILE", FILE.into()),
        ("TLS", TLS.into()),
        ("IFUNC", IFUNC.into()),
    ];
    let bindings = [
        ("LOCAL", LOCAL.into()),
        ("GLOBAL", GLOBAL.into()),
        ("WEAK", WEAK.into()),
    ];
    let sections = [
        ("RODATA", RODATA),
        ("TEXT", TEXT),
        ("DATA", DATA),
        ("UNDEF", UNDEF),
        ("ABS", ABS),
    ];
    Sym {
        name: if name == "-" { "" } else { name },
        kind: named(&kinds, kind) as u8,
        binding: named(&bindings, binding) as u8,
        section: named(&sections, section),
        value: number(value),
        size: number(size),
    }
}

/// The names (with the offset into each) a symbolizer may give for `vaddr`:
/// the functions, objects and indirect functions defined in the file whose
/// bytes hold it; only the exported ones when `stripped`.
pub fn covering(vaddr: u64, stripped: bool) -> Vec<(String, u64)> {
    symbols()
        .iter()
        .filter(|s| matches!(s.kind, OBJECT | FUNC | IFUNC))
        .filter(|s| s.section != UNDEF && s.section != ABS)
        .filter(|s| !stripped || s.binding != LOCAL)
        .filter(|s| s.value <= vaddr && vaddr < s.value + s.size)
        .map(|s| (s.name.to_owned(), vaddr - s.value))
        .collect()
}

/// The symbol named `name`.
pub fn symbol(name: &str) -> &'static Sym {
    symbols()
        .iter()
        .find(|s| s.name == name)
        .expect("a symbol of the crafted file")
}

/// A string table under construction: a leading NUL, then each name once.
struct Strings(Vec<u8>);

impl Strings {
    fn new(first: &[&str]) -> Strings {
        let mut table = Strings(vec![0]);
        for name in first {
            table.add(name);
        }
        table
    }

    fn add(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let needle = [name.as_bytes(), &[0]].concat();
        if let Some(at) = self.0.windows(needle.len()).position(|w| w == needle) {
            return at as u32;
        }
        let at = self.0.len() as u32;
        self.0.extend_from_slice(&needle);
        at
    }
}

fn put(file: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    if file.len() < at + bytes.len() {
        file.resize(at + bytes.len(), 0);
    }
    file[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A symbol table's bytes, its names added to `strings`.
fn symbol_table<'a>(
    symbols: impl Iterator<Item = &'a Sym>,
    strings: &mut Strings,
) -> Vec<u8> {
    let mut table = vec![0u8; 24];
    for s in symbols {
        table.extend_from_slice(&strings.add(s.name).to_le_bytes());
        table.push(s.binding << 4 | s.kind);
        table.push(0);
        table.extend_from_slice(&s.section.to_le_bytes());
        table.extend_from_slice(&s.value.to_le_bytes());
        table.extend_from_slice(&s.size.to_le_bytes());
    }
    table
}

/// One section header's fields.
struct Header {
    name: &'static str,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: usize,
    size: usize,
    link: u32,
    info: u32,
    entry_size: u64,
}

/// Writes the crafted library to `path`; without `.symtab` (and its
/// `.strtab`) when `stripped`, as `strip` leaves a library.
pub fn write(path: &Path, stripped: bool) -> io::Result<()> {
    let mut file = vec![0u8; UNLOADED];
    let header = |name, kind, flags, addr, offset, size| Header {
        name,
        kind,
        flags,
        addr,
        offset,
        size,
        link: 0,
        info: 0,
        entry_size: 0,
    };
    let mut headers = vec![
        header("", 0, 0, 0, 0, 0),
        header(".rodata", 1, 2, 0x40_0800, 0x800, 0x800),
        header(".text", 1, 6, 0x43_0000, 0x1_0000, 0x2000),
        header(".data", 1, 3, 0x46_0010, 0x2_0010, 0xff0),
    ];
    file[0x1_0000..0x1_2000].fill(0xcc);
    file[0x2_0010..0x2_1000].fill(0x5a);

    // .dynsym and .dynstr inside the first segment, as a linker puts them.
    let exported = || symbols().iter().filter(|s| s.binding != LOCAL);
    let mut dynstr = Strings::new(&["libcrafted.so.1"]);
    let dynsym = symbol_table(exported(), &mut dynstr);
    let (dynsym_at, dynstr_at) = (0x100, 0x100 + dynsym.len());
    assert!(
        dynstr_at + dynstr.0.len() <= 0x800,
        "the dynamic symbols fit"
    );
    put(&mut file, dynsym_at, &dynsym);
    put(&mut file, dynstr_at, &dynstr.0);
    let mut dynsym_header = header(
        ".dynsym",
        11,
        2,
        0x40_0000 + dynsym_at as u64,
        dynsym_at,
        dynsym.len(),
    );
    (
        dynsym_header.link,
        dynsym_header.info,
        dynsym_header.entry_size,
    ) = (u32::from(DYNSYM) + 1, 1, 24);
    headers.push(dynsym_header);
    let dynstr_addr = 0x40_0000 + dynstr_at as u64;
    headers.push(header(
        ".dynstr",
        3,
        2,
        dynstr_addr,
        dynstr_at,
        dynstr.0.len(),
    ));

    if !stripped {
        // The same names, laid out in another order than in .dynstr.
        let mut names: Vec<&str> = symbols().iter().map(|s| s.name).collect();
        names.reverse();
        let mut strtab = Strings::new(&names);
        let locals = symbols().iter().filter(|s| s.binding == LOCAL).count();
        let symtab = symbol_table(symbols().iter(), &mut strtab);
        let symtab_at = file.len();
        put(&mut file, symtab_at, &symtab);
        let strtab_at = file.len();
        put(&mut file, strtab_at, &strtab.0);
        let mut symtab_header = header(".symtab", 2, 0, 0, symtab_at, symtab.len());
        symtab_header.link = headers.len() as u32 + 1;
        symtab_header.info = locals as u32 + 1;
        symtab_header.entry_size = 24;
        headers.push(symtab_header);
        headers.push(header(".strtab", 3, 0, 0, strtab_at, strtab.0.len()));
    }

    let mut shstrtab = Strings::new(&[]);
    let shstrtab_index = headers.len();
    headers.push(header(".shstrtab", 3, 0, 0, 0, 0));
    let names: Vec<u32> = headers.iter().map(|h| shstrtab.add(h.name)).collect();
    let shstrtab_at = file.len();
    put(&mut file, shstrtab_at, &shstrtab.0);
    headers[shstrtab_index].offset = shstrtab_at;
    headers[shstrtab_index].size = shstrtab.0.len();

    let table_at = file.len().next_multiple_of(8);
    for (index, (h, name)) in headers.iter().zip(names).enumerate() {
        let mut entry = Vec::with_capacity(64);
        entry.extend_from_slice(&name.to_le_bytes());
        entry.extend_from_slice(&h.kind.to_le_bytes());
        entry.extend_from_slice(&h.flags.to_le_bytes());
        entry.extend_from_slice(&h.addr.to_le_bytes());
        entry.extend_from_slice(&(h.offset as u64).to_le_bytes());
        entry.extend_from_slice(&(h.size as u64).to_le_bytes());
        entry.extend_from_slice(&h.link.to_le_bytes());
        entry.extend_from_slice(&h.info.to_le_bytes());
        entry.extend_from_slice(&8u64.to_le_bytes());
        entry.extend_from_slice(&h.entry_size.to_le_bytes());
        put(&mut file, table_at + index * 64, &entry);
    }

    // The ELF header: 64-bit, little-endian, a shared object for x86-64.
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    elf.extend_from_slice(&3u16.to_le_bytes());
    elf.extend_from_slice(&62u16.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&64u64.to_le_bytes());
    elf.extend_from_slice(&(table_at as u64).to_le_bytes());
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, SEGMENTS.len() as u16, 64, headers.len() as u16] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&(shstrtab_index as u16).to_le_bytes());
    for s in &SEGMENTS {
        elf.extend_from_slice(&1u32.to_le_bytes());
        elf.extend_from_slice(&s.flags.to_le_bytes());
        for field in [s.offset, s.vaddr, s.vaddr, s.size, s.size, 0x1_0000] {
            elf.extend_from_slice(&field.to_le_bytes());
        }
    }
    put(&mut file, 0, &elf);
    std::fs::write(path, file)
}
