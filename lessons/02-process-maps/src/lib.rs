//! Lesson 2: how does the OS load my process and libraries into memory?
//!
//! The kernel lists every mapping of a process in `/proc/PID/maps`. The
//! [`maps`] module parses that file; the functions here read it, sort its
//! lines into kinds, read an ELF file's program headers to tell which
//! mappings each of its segments became, and find what the walkthrough
//! talks about. The [`elf`] module reads an ELF file's symbol tables.

use std::fmt;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{
    MapFlags, ProtFlags, mmap, mmap_anonymous, shm_open, shm_unlink,
};
use nix::sys::stat::Mode;

pub mod elf;
pub mod maps;
pub mod picture;

use maps::{Kind, Mapping, ParseError, Perms};
use support::region::Region;

/// Which process to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// This process: `/proc/self`.
    This,
    /// Another process by pid.
    Pid(u32),
}

impl Target {
    /// The path of `file` in the target's `/proc` directory.
    pub fn proc_path(self, file: &str) -> String {
        match self {
            Target::This => format!("/proc/self/{file}"),
            Target::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }
}

/// Why a process's map could not be read.
#[derive(Debug)]
pub enum MapsError {
    /// No such process: it has exited, or never existed.
    NoSuchProcess(u32),
    /// The process exists, but we may not read its memory layout.
    PermissionDenied(u32),
    /// A kernel thread, or a zombie: no user memory at all.
    NoUserMemory(u32),
    /// `/proc` itself is missing (not mounted, as in some containers).
    NoProc(io::Error),
    Io(io::Error),
    Parse(ParseError),
}

impl fmt::Display for MapsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapsError::NoSuchProcess(pid) => write!(
                f,
                "there is no process {pid}: it has exited or never existed. \
                 `ps -e` lists the running processes."
            ),
            MapsError::PermissionDenied(pid) => write!(
                f,
                "not allowed to read /proc/{pid}/maps: {}",
                why_not_allowed(*pid)
            ),
            MapsError::NoUserMemory(pid) => write!(
                f,
                "process {pid} has no user memory mapped: {}",
                why_no_memory(*pid)
            ),
            MapsError::NoProc(e) => write!(
                f,
                "cannot read /proc/self/maps: {}. The lesson reads the kernel's view of \
                 memory from /proc; mount it (`mount -t proc proc /proc`) and run again.",
                support::errors::reason(e)
            ),
            MapsError::Io(e) => {
                write!(f, "cannot read the maps: {}", support::errors::explain(e))
            }
            MapsError::Parse(e) => {
                write!(f, "the maps file has a line this parser rejects: {e}")
            }
        }
    }
}

impl std::error::Error for MapsError {}

/// Where an address comes from: the mapping that holds it and, when a file
/// backs that mapping, the byte of the file it shows. Exercise 2.4
/// (`locate`) returns it; it lives here so the graded tests can build the
/// answer they expect.
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

/// Why reading a process's maps was denied, in the words that fit: another
/// user's process, or one of our own user's that the kernel still protects.
fn why_not_allowed(pid: u32) -> String {
    use std::os::unix::fs::MetadataExt;
    let ours = nix::unistd::geteuid().as_raw();
    let fix =
        "Choose a process you started yourself, such as your shell (`echo $$`).";
    match std::fs::metadata(format!("/proc/{pid}")).map(|m| m.uid()) {
        Ok(owner) if owner != ours && ours != 0 => format!(
            "process {pid} belongs to another user (uid {owner}), and reading another user's \
             memory layout needs the right to trace that process. {fix}"
        ),
        Ok(owner) => format!(
            "process {pid} runs as uid {owner}{}, yet the kernel refuses to let this process \
             trace it, which reading its memory layout needs (ptrace read access). That happens \
             when the target made itself non-dumpable, lives in a different user namespace (as a \
             container's pid 1 may), or this process lacks CAP_SYS_PTRACE. {fix}",
            if owner == ours { " (you)" } else { "" }
        ),
        Err(_) => {
            format!("reading its memory layout needs the right to trace it. {fix}")
        }
    }
}

/// Why a process has no user memory: a zombie, or a kernel thread.
fn why_no_memory(pid: u32) -> String {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let (comm, rest) = match (stat.find('('), stat.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            (&stat[open + 1..close], &stat[close + 1..])
        }
        _ => ("?", ""),
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 9 of stat is `flags`; PF_KTHREAD marks a kernel thread.
    const PF_KTHREAD: u64 = 0x0020_0000;
    let flags: u64 = fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    if fields.first() == Some(&"Z") {
        format!(
            "it is a zombie ({comm}): it has exited, and its parent has not yet collected its \
             status. Choose a running program's pid (`ps -e` lists them)."
        )
    } else if flags & PF_KTHREAD != 0 {
        format!(
            "it is a kernel thread ({comm}), which runs only in the kernel's memory. Choose an \
             ordinary program's pid (`ps -e` lists them)."
        )
    } else {
        "it is a kernel thread or a zombie. Choose an ordinary program's pid."
            .to_owned()
    }
}

// ANCHOR: read_maps
/// Reads and parses the target's `/proc/PID/maps`.
pub fn read_maps(target: Target) -> Result<Vec<Mapping>, MapsError> {
    let text =
        std::fs::read_to_string(target.proc_path("maps")).map_err(|e| {
            match (target, e.kind()) {
                (Target::Pid(pid), io::ErrorKind::NotFound) => {
                    MapsError::NoSuchProcess(pid)
                }
                (Target::Pid(pid), io::ErrorKind::PermissionDenied) => {
                    MapsError::PermissionDenied(pid)
                }
                _ if !std::path::Path::new("/proc/self").exists() => {
                    MapsError::NoProc(e)
                }
                _ => MapsError::Io(e),
            }
        })?;
    let mappings = maps::parse_maps(&text).map_err(MapsError::Parse)?;
    match target {
        Target::Pid(pid) if mappings.is_empty() => Err(MapsError::NoUserMemory(pid)),
        _ => Ok(mappings),
    }
}
// ANCHOR_END: read_maps

/// The path of the target's executable, as its maps name it.
pub fn executable_path(target: Target) -> Option<String> {
    std::fs::read_link(target.proc_path("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Reads the smaps file of the target.
pub fn read_smaps(target: Target) -> io::Result<String> {
    std::fs::read_to_string(target.proc_path("smaps"))
}

/// One line of the grouped map: a kind, how many mappings, how many bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub kind: Kind,
    pub count: usize,
    pub bytes: u64,
    /// The distinct names seen, for kinds where they teach something.
    pub names: Vec<String>,
}

// ANCHOR: group_by_kind
/// Sorts the mappings into kinds, in [`Kind::ALL`] order; absent kinds are left out.
pub fn group_by_kind(mappings: &[Mapping], executable: Option<&str>) -> Vec<Group> {
    Kind::ALL
        .iter()
        .filter_map(|&kind| {
            let members: Vec<&Mapping> = mappings
                .iter()
                .filter(|m| m.kind(executable) == kind)
                .collect();
            let by_file_name =
                matches!(kind, Kind::SharedLibrary | Kind::File | Kind::DeletedFile);
            let mut names: Vec<String> = members
                .iter()
                .map(|m| match m.file_name() {
                    Some(name) if by_file_name => name.to_owned(),
                    _ => m.pathname.clone(),
                })
                .filter(|name| !name.is_empty())
                .collect();
            names.sort();
            names.dedup();
            (!members.is_empty()).then(|| Group {
                kind,
                count: members.len(),
                bytes: members.iter().map(|m| m.size()).sum(),
                names,
            })
        })
        .collect()
}
// ANCHOR_END: group_by_kind

/// One loadable segment (`PT_LOAD`) of an ELF file's program headers: a
/// part of the file to map at `vaddr` (plus the load address), with these
/// permissions. Past `file_size`, up to `memory_size`, it is zero-filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub offset: u64,
    pub vaddr: u64,
    pub file_size: u64,
    pub memory_size: u64,
}

/// What the program headers tell the loader: the `PT_LOAD` segments, and
/// the `PT_GNU_RELRO` range (made read-only once relocation is done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramHeaders {
    pub loads: Vec<Segment>,
    /// `(vaddr, memory size)` of `PT_GNU_RELRO`, if the file has one.
    pub relro: Option<(u64, u64)>,
}

// ANCHOR: program_headers
/// Reads the program headers of the 64-bit little-endian ELF file at `path`.
pub fn program_headers(path: &str) -> io::Result<ProgramHeaders> {
    use std::os::unix::fs::FileExt;
    const PT_LOAD: u32 = 1;
    const PT_GNU_RELRO: u32 = 0x6474_e552;
    let file = std::fs::File::open(path)?;
    let mut header = [0u8; 64];
    file.read_exact_at(&mut header, 0)?;
    // "\x7fELF", class 2 (64-bit), data 1 (little-endian).
    if header[..6] != *b"\x7fELF\x02\x01" {
        let why = format!("{path} is not a 64-bit little-endian ELF file");
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u32_at =
        |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at =
        |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let (table, entry, count) = (
        u64_at(&header, 0x20),
        u16_at(&header, 0x36),
        u16_at(&header, 0x38),
    );
    let mut headers = ProgramHeaders::default();
    let mut entry_bytes = vec![0u8; usize::from(entry.max(56))];
    for index in 0..u64::from(count) {
        let at = table.saturating_add(index * u64::from(entry));
        file.read_exact_at(&mut entry_bytes, at)?;
        let (kind, flags) = (u32_at(&entry_bytes, 0), u32_at(&entry_bytes, 4));
        let vaddr = u64_at(&entry_bytes, 0x10);
        let memory_size = u64_at(&entry_bytes, 0x28);
        match kind {
            PT_LOAD => headers.loads.push(Segment {
                read: flags & 4 != 0,
                write: flags & 2 != 0,
                exec: flags & 1 != 0,
                offset: u64_at(&entry_bytes, 0x08),
                vaddr,
                file_size: u64_at(&entry_bytes, 0x20),
                memory_size,
            }),
            PT_GNU_RELRO => headers.relro = Some((vaddr, memory_size)),
            _ => {}
        }
    }
    Ok(headers)
}
// ANCHOR_END: program_headers

/// What became of one segment: the mappings that now cover its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed<'a> {
    pub segment: Segment,
    pub mappings: Vec<&'a Mapping>,
}

// ANCHOR: place_segments
/// Finds, for each segment of the file at `path`, the mappings that cover
/// its pages now. The load address is where the file's lowest mapping starts,
/// minus the first segment's page-aligned `vaddr`.
pub fn place_segments<'a>(
    headers: &ProgramHeaders,
    mappings: &'a [Mapping],
    path: &str,
) -> Vec<Placed<'a>> {
    let page = support::page_size() as u64;
    let lowest = mappings.iter().find(|m| m.pathname == path);
    let (Some(lowest), Some(first)) = (lowest, headers.loads.first()) else {
        return Vec::new();
    };
    let load_address = lowest.start.wrapping_sub(first.vaddr / page * page);
    let range = |vaddr: u64, size: u64| {
        let start = load_address.wrapping_add(vaddr / page * page);
        let end = vaddr.saturating_add(size).div_ceil(page) * page;
        let end = load_address.wrapping_add(end);
        start..end
    };
    headers
        .loads
        .iter()
        .map(|&segment| {
            let pages = range(segment.vaddr, segment.memory_size);
            Placed {
                segment,
                mappings: mappings
                    .iter()
                    .filter(|m| pages.contains(&m.start))
                    .collect(),
            }
        })
        .collect()
}
// ANCHOR_END: place_segments

/// What the linker put in `mapping`, a part of `segment`; `relro` is the
/// `PT_GNU_RELRO` range at its load address.
pub fn segment_role(
    segment: &Segment,
    mapping: &Mapping,
    relro: Option<std::ops::Range<u64>>,
) -> &'static str {
    let in_relro =
        relro.is_some_and(|r| r.start <= mapping.start && mapping.start < r.end);
    match (segment.write, segment.exec) {
        _ if mapping.inode == 0 => "no file: the rest of .bss, zero-filled",
        (true, _) if in_relro => "RELRO: relocated, then made read-only",
        (true, _) => "writable data (.data, .bss)",
        (false, true) => "machine code (.text)",
        (false, false) if segment.offset == 0 => {
            "ELF headers, symbol tables, other read-only data"
        }
        (false, false) => "read-only data (.rodata, .eh_frame)",
    }
}

/// The `PT_GNU_RELRO` range of `headers` at the load address of `placed`.
pub fn relro_range(
    headers: &ProgramHeaders,
    placed: &[Placed],
) -> Option<std::ops::Range<u64>> {
    let (vaddr, size) = headers.relro?;
    let first = placed.first()?;
    let page = support::page_size() as u64;
    let load_address = first
        .mappings
        .first()?
        .start
        .wrapping_sub(first.segment.vaddr / page * page);
    let start = load_address.wrapping_add(vaddr / page * page);
    // ld.so rounds the end down: a page that is partly RELRO stays writable.
    let end = vaddr.saturating_add(size) / page * page;
    Some(start..load_address.wrapping_add(end))
}

// ANCHOR: find_libc
/// The C library's code segment (`r-xp`), if this process has one. A
/// statically linked program carries its libc inside the executable.
pub fn libc_code(mappings: &[Mapping]) -> Option<&Mapping> {
    mappings.iter().find(|m| {
        let is_libc = m.file_name().is_some_and(|n| {
            n.starts_with("libc.so")
                || n.starts_with("libc-")
                || n.starts_with("ld-musl")
        });
        is_libc && m.perms.exec && !m.perms.write
    })
}
// ANCHOR_END: find_libc

/// Mappings of every kind a program can make for itself, alive until dropped:
/// shared anonymous memory, a memfd, a POSIX shm object and a deleted file.
#[derive(Debug)]
pub struct Specimens {
    /// Unmapped when dropped, before the shm object is unlinked.
    regions: Vec<Region>,
    /// Set once the shm object exists: only then is it ours to unlink. The
    /// registration removes it too if the lesson is interrupted.
    shm_name: Option<(String, support::cleanup::Registration)>,
    _fds: Vec<OwnedFd>,
}

impl Specimens {
    /// Maps one of each. The shm object gets an unguessable name, `O_EXCL`
    /// and mode 0600, and is unlinked when `Specimens` is dropped.
    pub fn create(scratch: &std::path::Path) -> io::Result<Specimens> {
        let page = NonZeroUsize::new(support::page_size())
            .ok_or(io::ErrorKind::InvalidInput)?;
        let mut specimens = Specimens {
            regions: Vec::new(),
            shm_name: None,
            _fds: Vec::new(),
        };
        // ANCHOR: shared_anonymous
        let shared = MapFlags::MAP_SHARED;
        let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address.
        let anonymous = unsafe { mmap_anonymous(None, page, rw, shared) }?;
        // SAFETY: exactly what mmap returned and was given; `Region` owns it.
        specimens
            .regions
            .push(unsafe { Region::from_raw(anonymous, page.get()) });
        // ANCHOR_END: shared_anonymous

        let memfd = memfd_create("mmap-workbook", MFdFlags::MFD_CLOEXEC)?;
        specimens.map_file(memfd, page)?;

        // O_EXCL: fail rather than open an object someone else planted. The
        // pid tells whose it is; the random part keeps it unguessable.
        let shm_name = format!(
            "/mmap-workbook-{}-{}",
            std::process::id(),
            support::unguessable_suffix()?
        );
        let shm = support::cleanup::protected(|| -> io::Result<OwnedFd> {
            let shm = shm_open(
                shm_name.as_str(),
                OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL,
                Mode::S_IRUSR | Mode::S_IWUSR,
            )
            .map_err(|e| {
                io::Error::other(format!(
                    "cannot create the POSIX shm object /dev/shm{shm_name}: {}",
                    support::errors::explain(&e.into())
                ))
            })?;
            let registered = support::cleanup::register(
                std::path::Path::new(&format!("/dev/shm{shm_name}")),
                support::cleanup::Removal::File,
            );
            match registered {
                Ok(registered) => {
                    specimens.shm_name = Some((shm_name.clone(), registered));
                    Ok(shm)
                }
                Err(e) => {
                    let _ = shm_unlink(shm_name.as_str());
                    Err(e)
                }
            }
        })?;
        specimens.map_file(shm, page)?;

        let doomed = scratch.join("deleted-while-mapped");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&doomed)?;
        specimens.map_file(file.into(), page)?;
        // The mapping keeps the file's pages alive; its name is gone.
        std::fs::remove_file(&doomed)?;
        Ok(specimens)
    }

    fn map_file(&mut self, fd: OwnedFd, page: NonZeroUsize) -> io::Result<()> {
        nix::unistd::ftruncate(&fd, page.get() as i64)?;
        let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh mapping at a kernel-chosen address, of a file we
        // just sized to one page and that no other process knows about.
        let region =
            unsafe { mmap(None, page, rw, MapFlags::MAP_SHARED, fd.as_fd(), 0) }?;
        // SAFETY: exactly what mmap returned and was given; `Region` owns it.
        self.regions
            .push(unsafe { Region::from_raw(region, page.get()) });
        self._fds.push(fd);
        Ok(())
    }

    /// The specimens' start addresses, in the order they were made.
    pub fn addresses(&self) -> Vec<u64> {
        self.regions.iter().map(|r| r.address() as u64).collect()
    }
}

impl Drop for Specimens {
    fn drop(&mut self) {
        self.regions.clear();
        if let Some((name, registered)) = self.shm_name.take() {
            let _ = shm_unlink(name.as_str());
            drop(registered);
        }
    }
}

/// Helper mode: print this process's libc code mapping (or `none`), then
/// wait until stdin closes, so the parent can look while both map it.
pub fn run_helper() -> io::Result<()> {
    let mappings = read_maps(Target::This).map_err(io::Error::other)?;
    let mut out = io::stdout().lock();
    match libc_code(&mappings) {
        Some(mapping) => writeln!(out, "{mapping}")?,
        None => writeln!(out, "none")?,
    }
    out.flush()?;
    drop(out);
    // Returns at EOF, when the parent drops our stdin.
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}
