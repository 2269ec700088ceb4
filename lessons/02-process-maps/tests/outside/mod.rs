//! What the checkers of exercises 2.4 and 2.5 learn about the runner from
//! outside, and how they judge its replies.
//!
//! The runner (`process-maps --exercises`) waits for its requests before it
//! runs any of your code. Meanwhile the checker reads the runner's
//! `/proc/PID/maps` and `/proc/PID/auxv`, and the ELF files its maps name,
//! with the lesson's own reader; it chooses the addresses to ask about from
//! them (a random byte of a random mapping, a random symbol), and computes
//! the answer it expects for each.

use std::path::PathBuf;

use process_maps::elf::{self, ElfFile, SymbolizeError};
use process_maps::maps::Mapping;
use process_maps::{Location, Target, executable_path, program_headers, read_maps};
use test_support::judge::{Reply, Request, Runner, Running};

/// The lesson binary, as a runner.
pub fn runner() -> Runner {
    Runner::new(env!("CARGO_BIN_EXE_process-maps"))
}

/// An address as the requests write it.
pub fn hex(address: u64) -> String {
    format!("{address:#x}")
}

/// The auxiliary-vector entries the tests use (see getauxval(3)).
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_RANDOM: u64 = 25;

/// The runner as the checker saw it, waiting for its requests.
pub struct Seen {
    pub maps: Vec<Mapping>,
    /// Its executable's path, as its maps name it.
    pub exe: String,
    auxv: Vec<(u64, u64)>,
}

/// Starts a runner and reads its maps once it waits for its requests.
pub fn open() -> (Running, Seen) {
    let running = runner().open();
    let pid = running.pid().as_raw() as u32;
    let maps = read_maps(Target::Pid(pid)).unwrap_or_else(|e| {
        panic!(
            "the test reads the maps of the process that runs your code, and cannot: \
             {e}. Its program must be readable by the user running the tests (the \
             kernel hides the maps of a program that may only be executed)."
        )
    });
    let exe = executable_path(Target::Pid(pid)).expect("the runner's executable");
    let auxv = std::fs::read(format!("/proc/{pid}/auxv")).expect("the runner's auxv");
    let auxv = auxv
        .chunks_exact(16)
        .map(|pair| {
            let word =
                |at: usize| u64::from_ne_bytes(pair[at..at + 8].try_into().unwrap());
            (word(0), word(8))
        })
        .collect();
    (running, Seen { maps, exe, auxv })
}

impl Seen {
    /// The value of an auxiliary-vector entry (0 when absent).
    pub fn aux(&self, kind: u64) -> u64 {
        self.auxv
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, v)| *v)
    }

    /// The mappings that `keep` accepts.
    pub fn mappings(&self, keep: impl Fn(&Mapping) -> bool) -> Vec<&Mapping> {
        self.maps.iter().filter(|m| keep(m)).collect()
    }

    /// One of the mappings that `keep` accepts, at random.
    pub fn any(&self, what: &str, keep: impl Fn(&Mapping) -> bool) -> &Mapping {
        let all = self.mappings(keep);
        assert!(!all.is_empty(), "the runner has no {what} mapping");
        all[fastrand::usize(..all.len())]
    }

    /// The path of the C library the runner mapped.
    pub fn libc(&self) -> String {
        process_maps::libc_code(&self.maps)
            .expect("the runner maps a C library")
            .pathname
            .clone()
    }

    /// `locate`'s answer for `address`, from the maps seen.
    pub fn location(&self, address: u64) -> Option<Location> {
        let m = self
            .maps
            .iter()
            .find(|m| m.start <= address && address < m.end)?;
        Some(Location {
            start: m.start,
            end: m.end,
            perms: m.perms,
            pathname: m.pathname.clone(),
            file_offset: (m.inode != 0).then(|| m.offset + (address - m.start)),
        })
    }

    /// Asks `locate` (the test's request, which names the exercise) for
    /// every address at once, then checks each answer as
    /// [`Seen::expect_location`] does.
    #[track_caller]
    pub fn expect_locations(
        &self,
        running: Running,
        locate: Request,
        addresses: &[u64],
    ) {
        let requests = addresses
            .iter()
            .map(|&a| locate.clone().arg(hex(a)))
            .collect();
        for (reply, &a) in running.ask_all(requests).iter().zip(addresses) {
            self.expect_location(reply, a);
        }
    }

    /// Checks `locate`'s reply for `address`. Memory no file backs may have
    /// grown since the maps were read (the heap up, the stack down, an
    /// anonymous mapping by a neighbour): a mapping that holds the one seen
    /// and shares one of its ends is right too.
    #[track_caller]
    pub fn expect_location(&self, reply: &Reply, address: u64) {
        let mut expected = self.location(address);
        let yours = reply.returned();
        if let Some(seen) = expected.as_mut().filter(|l| l.file_offset.is_none())
            && let (Some(start), Some(end)) =
                (field(yours, "start: "), field(yours, "end: "))
            && start <= seen.start
            && end >= seen.end
            && (start == seen.start || end == seen.end)
        {
            (seen.start, seen.end) = (start, end);
        }
        same(reply, &format!("{:x?}", Ok::<_, ()>(expected)));
    }

    /// Where the byte at `vaddr` of the ELF file `path` (in the file's own
    /// numbering) is in the runner, through its program headers and maps.
    pub fn address_of(&self, path: &str, vaddr: u64) -> Option<u64> {
        let loads = program_headers(path).ok()?.loads;
        let s = loads
            .iter()
            .find(|s| s.vaddr <= vaddr && vaddr - s.vaddr < s.file_size)?;
        let file_offset = s.offset + (vaddr - s.vaddr);
        let m = self.maps.iter().find(|m| {
            m.pathname == path
                && m.inode != 0
                && m.offset <= file_offset
                && file_offset - m.offset < m.size()
        })?;
        Some(m.start + (file_offset - m.offset))
    }

    /// A random byte of a random function of `path` (mapped by the runner),
    /// among those `keep` accepts: its address, and every `(name, offset)`
    /// `symbolize` may answer for it.
    pub fn random_function(
        &self,
        path: &str,
        keep: impl Fn(&str) -> bool,
    ) -> (u64, Vec<(String, u64)>) {
        let symbols = named_symbols(path);
        let functions: Vec<&(String, elf::ElfSymbol)> = symbols
            .iter()
            .filter(|(name, s)| {
                s.kind == elf::STT_FUNC && s.size > 0 && defined(s) && keep(name)
            })
            .filter(|(_, s)| self.address_of(path, s.value).is_some())
            .collect();
        assert!(!functions.is_empty(), "{path} has no such function");
        let (_, chosen) = functions[fastrand::usize(..functions.len())];
        let vaddr = chosen.value + fastrand::u64(..chosen.size);
        let address = self.address_of(path, vaddr).expect("a mapped function");
        (address, names_at(&symbols, vaddr))
    }

    /// The address of the symbol `name` of `path` and the names `symbolize`
    /// may give for the byte `offset` bytes into it.
    pub fn symbol(
        &self,
        path: &str,
        name: &str,
        offset: u64,
    ) -> (u64, Vec<(String, u64)>) {
        let symbols = named_symbols(path);
        let (_, found) = symbols
            .iter()
            .find(|(n, s)| n == name && defined(s))
            .unwrap_or_else(|| panic!("{path} defines no {name}"));
        let vaddr = found.value + offset;
        let address = self.address_of(path, vaddr).expect("a mapped symbol");
        (address, names_at(&symbols, vaddr))
    }

    /// A page-aligned address where `len` bytes are free in the runner, at
    /// random in its largest gap and far from both ends of it.
    pub fn free_spot(&self, len: u64) -> u64 {
        // User space ends at 2^47 (with 4-level page tables); [vsyscall]
        // lies far above it.
        let user: Vec<&Mapping> =
            self.maps.iter().filter(|m| m.end <= 1 << 47).collect();
        let (low, high) = user
            .windows(2)
            .map(|w| (w[0].end, w[1].start))
            .max_by_key(|(low, high)| high - low)
            .expect("the runner has mappings");
        let margin = (high - low) / 4;
        let room = ((high - low) - 2 * margin).saturating_sub(len).max(1);
        (low + margin + fastrand::u64(..room)) & !0xffff
    }
}

/// A number after `label` in `text`, in hex (a `{:x?}` field).
fn field(text: &str, label: &str) -> Option<u64> {
    let at = text.find(label)? + label.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&digits, 16).ok()
}

fn defined(s: &elf::ElfSymbol) -> bool {
    s.section != elf::SHN_UNDEF && s.section != elf::SHN_ABS
}

/// The symbols of the file at `path` with their names: its `.symtab`, or its
/// `.dynsym` when it has none.
fn named_symbols(path: &str) -> Vec<(String, elf::ElfSymbol)> {
    let file = ElfFile::map(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let sections = file.sections().expect("the sections");
    let table = sections
        .iter()
        .find(|s| s.kind == elf::SHT_SYMTAB)
        .or_else(|| sections.iter().find(|s| s.kind == elf::SHT_DYNSYM))
        .unwrap_or_else(|| panic!("{path} has no symbol table"));
    let names = &sections[table.link as usize];
    let symbols = file.symbols(table).expect("the symbols");
    symbols
        .into_iter()
        .map(|s| (file.string(names, s.name).unwrap_or_default().to_owned(), s))
        .collect()
}

/// Every `(name, offset)` of a function, object or indirect function
/// defined in the file whose bytes hold `vaddr`: any of them is right.
fn names_at(symbols: &[(String, elf::ElfSymbol)], vaddr: u64) -> Vec<(String, u64)> {
    symbols
        .iter()
        .filter(|(_, s)| {
            matches!(s.kind, elf::STT_FUNC | elf::STT_OBJECT | elf::STT_GNU_IFUNC)
                && defined(s)
                && s.value <= vaddr
                && vaddr - s.value < s.size
        })
        .map(|(name, s)| (name.clone(), vaddr - s.value))
        .collect()
}

/// Passes when the reply is `expected` (as the runner writes it: `Debug`
/// with numbers in hex); else fails with "yours" and "expected".
#[track_caller]
pub fn same(reply: &Reply, expected: &str) {
    reply.expect_text(expected);
}

/// Passes when `symbolize` answered one of `names` (`(name, offset)`)
/// read from `file`.
#[track_caller]
pub fn named(reply: &Reply, names: &[(String, u64)], file: &str) {
    assert!(!names.is_empty(), "{}: the test expects a name", reply.call);
    let expected: Vec<String> = names
        .iter()
        .map(|(name, offset)| {
            let symbol = elf::Symbol {
                name: name.clone(),
                offset: *offset,
                file: file.to_owned(),
            };
            format!("{:x?}", Ok::<_, ()>(symbol))
        })
        .collect();
    reply.expect_one_of(&expected.iter().map(String::as_str).collect::<Vec<_>>());
}

/// Passes when `symbolize` failed with exactly `error`.
#[track_caller]
pub fn failed(reply: &Reply, error: SymbolizeError) {
    same(reply, &format!("{:x?}", Err::<(), _>(error)));
}

/// Passes when `symbolize` failed with `SymbolizeError::Unreadable`, or
/// gave one of `also` (names read from the right file all the same).
#[track_caller]
pub fn unreadable(reply: &Reply, path: &str, also: &[(String, u64)]) {
    let yours = reply.returned();
    let names_right = also.iter().any(|(name, offset)| {
        yours.starts_with(&format!(
            "Ok(Symbol {{ name: {name:?}, offset: {offset:x}, "
        ))
    });
    if !yours.starts_with("Err(Unreadable { ") && !names_right {
        reply.differs(yours, &format!("Err(Unreadable {{ path: {path:?}, .. }})"));
    }
}

/// A library the checker writes (`crafted_elf`) for the runner to map at an
/// address the checker chose.
pub struct Crafted {
    pub path: PathBuf,
    /// Where its lowest page goes in the runner.
    pub base: u64,
    _dir: tempfile::TempDir,
}

impl Crafted {
    /// Writes the library (without `.symtab` when `stripped`), and chooses
    /// a free place for it in the runner seen.
    pub fn new(seen: &Seen, stripped: bool) -> Crafted {
        let dir = tempfile::tempdir().expect("a temporary directory (TMPDIR)");
        let path = dir.path().join(if stripped {
            "libstripped.so"
        } else {
            "libcrafted.so"
        });
        crate::crafted_elf::write(&path, stripped)
            .expect("writing the crafted library");
        Crafted {
            path,
            base: seen.free_spot(crate::crafted_elf::SPAN),
            _dir: dir,
        }
    }

    /// The request that has the runner map it: `how` is `symbolize:load`,
    /// or `symbolize:load_and_stop` to stop it once mapped.
    pub fn load(&self, how: &str) -> test_support::judge::Request {
        test_support::judge::Request::new(how)
            .arg(self.name())
            .arg(hex(self.base))
    }

    /// Checks that the runner mapped it where asked.
    #[track_caller]
    pub fn loaded(&self, reply: &Reply) {
        let bias = self.base - crate::crafted_elf::FIRST_PAGE;
        assert_eq!(
            reply.returned(),
            format!("{bias:x}"),
            "the runner mapped the test's library elsewhere"
        );
    }

    /// Where the byte at `vaddr` of the file's numbering is in the runner.
    pub fn at(&self, vaddr: u64) -> u64 {
        self.base + (vaddr - crate::crafted_elf::FIRST_PAGE)
    }

    /// The path, as the runner's maps name it.
    pub fn name(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}
