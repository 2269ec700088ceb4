//! A parser of `/proc/<pid>/maps` into typed records, and back.
//!
//! Each line is `start-end perms offset major:minor inode [pathname]`, the
//! numbers in hex except the inode. The pathname is everything after the
//! inode and the padding: it may contain spaces, end in ` (deleted)`, or be a
//! `[name]` this code has never heard of. Parsing never panics, and
//! `Mapping`'s `Display` writes the line back in the kernel's own layout.

use std::fmt;

/// One line of a maps file: one virtual memory area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address of the area.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    pub perms: Perms,
    /// Where in the file the area starts (0 for anonymous memory).
    pub offset: u64,
    pub device: Device,
    /// The file's inode number, 0 when no file backs the area.
    pub inode: u64,
    /// Everything after the inode, as the kernel wrote it (may be empty).
    pub pathname: String,
}

/// `rwxp` / `r-xs` and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// `s`: stores reach the object and other mappers; `p`: copy-on-write.
    pub shared: bool,
}

/// The device holding the file, `major:minor` (0:0 for no file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Device {
    pub major: u32,
    pub minor: u32,
}

/// What a mapping is, judged by its pathname (and the executable's path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The program's own file.
    Executable,
    /// A shared library: `lib*.so*`, `ld-linux*.so*`.
    SharedLibrary,
    /// Any other file mapped from disk (locale data, caches, your data).
    File,
    /// The `brk` heap.
    Heap,
    /// The main thread's stack.
    Stack,
    /// Pages the kernel maps into every process: `[vdso]`, `[vvar]`, `[vsyscall]`.
    Kernel,
    /// Memory with no name: private anonymous mappings, guard pages, big allocations.
    Anonymous,
    /// `MAP_SHARED|MAP_ANONYMOUS`: backed by an inode on the kernel's internal
    /// tmpfs (shmem), which the maps merely name `/dev/zero (deleted)`.
    SharedAnonymous,
    /// A `memfd_create` file: `/memfd:NAME (deleted)`.
    Memfd,
    /// A POSIX shared memory object: `/dev/shm/NAME`.
    SharedMemory,
    /// A file unlinked while mapped: `PATH (deleted)`.
    DeletedFile,
    /// A `[name]` this parser does not know (`[anon:...]`, `[uprobes]`, ...).
    UnknownPseudo,
    /// Any other name (`anon_inode:[perf_event]`, SysV shm, ...).
    Other,
}

impl Kind {
    /// Every kind, in the order the walkthrough lists them.
    pub const ALL: [Kind; 13] = [
        Kind::Executable,
        Kind::SharedLibrary,
        Kind::File,
        Kind::Heap,
        Kind::Stack,
        Kind::Kernel,
        Kind::Anonymous,
        Kind::SharedAnonymous,
        Kind::Memfd,
        Kind::SharedMemory,
        Kind::DeletedFile,
        Kind::UnknownPseudo,
        Kind::Other,
    ];

    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Executable => "executable",
            Kind::SharedLibrary => "shared library",
            Kind::File => "other file",
            Kind::Heap => "heap",
            Kind::Stack => "stack",
            Kind::Kernel => "kernel pseudo-mapping",
            Kind::Anonymous => "anonymous",
            Kind::SharedAnonymous => "shared anonymous",
            Kind::Memfd => "memfd",
            Kind::SharedMemory => "POSIX shm object",
            Kind::DeletedFile => "deleted file",
            Kind::UnknownPseudo => "unknown [name]",
            Kind::Other => "other",
        }
    }
}

const DELETED: &str = " (deleted)";

impl Mapping {
    /// The area's size in bytes.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// What this mapping is. `executable` is the program's path as
    /// `/proc/PID/exe` reads, if known.
    pub fn kind(&self, executable: Option<&str>) -> Kind {
        let path = self.pathname.as_str();
        if path.is_empty() {
            return Kind::Anonymous;
        }
        if executable == Some(path) {
            return Kind::Executable;
        }
        match path {
            "[heap]" => return Kind::Heap,
            "[stack]" => return Kind::Stack,
            "[vdso]" | "[vsyscall]" => return Kind::Kernel,
            "/dev/zero (deleted)" => return Kind::SharedAnonymous,
            _ => {}
        }
        if path.starts_with("[vvar") {
            return Kind::Kernel;
        }
        if path.starts_with("[stack:") {
            return Kind::Stack;
        }
        if path.starts_with('[') && path.ends_with(']') {
            return Kind::UnknownPseudo;
        }
        if path.starts_with("/memfd:") {
            return Kind::Memfd;
        }
        // A POSIX shm object is a file directly in /dev/shm (its name has
        // no further slash); a file in a directory under /dev/shm, such as a
        // TMPDIR there, is an ordinary (or deleted) file.
        if let Some(name) = path.strip_prefix("/dev/shm/")
            && !name.trim_end_matches(DELETED).contains('/')
        {
            return Kind::SharedMemory;
        }
        if !path.starts_with('/') || path.starts_with("/SYSV") {
            return Kind::Other;
        }
        if path.ends_with(DELETED) {
            return Kind::DeletedFile;
        }
        if is_shared_library(path) {
            return Kind::SharedLibrary;
        }
        Kind::File
    }

    /// True when both map the same file from the same offset: same device,
    /// inode and offset, whatever their addresses. Pages nobody wrote are
    /// then the same page-cache pages; a written private page is a copy.
    pub fn same_file_pages(&self, other: &Mapping) -> bool {
        self.inode != 0
            && (self.device, self.inode, self.offset)
                == (other.device, other.inode, other.offset)
    }

    /// The file name at the end of the path (`libc.so.6`), if any.
    pub fn file_name(&self) -> Option<&str> {
        let path = self
            .pathname
            .strip_suffix(DELETED)
            .unwrap_or(&self.pathname);
        path.starts_with('/')
            .then(|| path.rsplit('/').next())
            .flatten()
    }
}

fn is_shared_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.ends_with(".so") || name.contains(".so.")
}

/// Why a line is not a maps line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number within the parsed text (1 for a single line).
    pub line: usize,
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

// ANCHOR: parse_line
/// Parses one line of a maps file.
pub fn parse_line(line: &str) -> Result<Mapping, ParseError> {
    let fail = |reason| ParseError { line: 1, reason };
    let mut rest = line;
    let mut field = |what| {
        let trimmed = rest.trim_start_matches(' ');
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        let (token, after) = trimmed.split_at(end);
        rest = after;
        if token.is_empty() {
            Err(fail(what))
        } else {
            Ok(token)
        }
    };
    let range = field("missing the address range")?;
    let perms = field("missing the permissions")?;
    let offset = field("missing the offset")?;
    let device = field("missing the device")?;
    let inode = field("missing the inode")?;
    // The pathname: what follows the padding, spaces inside it kept.
    let pathname = rest.trim_start_matches(' ').to_owned();

    let (start, end) = range.split_once('-').ok_or(fail("the range has no '-'"))?;
    let (major, minor) = device
        .split_once(':')
        .ok_or(fail("the device has no ':'"))?;
    let hex_u64 = |s: &str, what| u64::from_str_radix(s, 16).map_err(|_| fail(what));
    let hex_u32 = |s: &str, what| u32::from_str_radix(s, 16).map_err(|_| fail(what));
    let mapping = Mapping {
        start: hex_u64(start, "the start address is not hex")?,
        end: hex_u64(end, "the end address is not hex")?,
        perms: parse_perms(perms)
            .ok_or(fail("the permissions are not like 'r-xp'"))?,
        offset: hex_u64(offset, "the offset is not hex")?,
        device: Device {
            major: hex_u32(major, "the device major is not hex")?,
            minor: hex_u32(minor, "the device minor is not hex")?,
        },
        inode: inode
            .parse()
            .map_err(|_| fail("the inode is not a number"))?,
        pathname,
    };
    if mapping.end < mapping.start {
        return Err(fail("the range ends before it starts"));
    }
    Ok(mapping)
}
// ANCHOR_END: parse_line

/// Parses a whole maps file; the error names the first bad line.
pub fn parse_maps(text: &str) -> Result<Vec<Mapping>, ParseError> {
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            parse_line(line).map_err(|e| ParseError {
                line: index + 1,
                ..e
            })
        })
        .collect()
}

fn parse_perms(text: &str) -> Option<Perms> {
    let &[r, w, x, s] = text.as_bytes() else {
        return None;
    };
    let flag = |byte: u8, set: u8| match byte {
        b'-' => Some(false),
        b if b == set => Some(true),
        _ => None,
    };
    Some(Perms {
        read: flag(r, b'r')?,
        write: flag(w, b'w')?,
        exec: flag(x, b'x')?,
        shared: match s {
            b's' => true,
            b'p' => false,
            _ => return None,
        },
    })
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pick = |on: bool, c: char| if on { c } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            pick(self.read, 'r'),
            pick(self.write, 'w'),
            pick(self.exec, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

/// The column where the kernel starts the pathname on a 64-bit system: it
/// pads the fields to 72 characters, then writes one more space.
const PATHNAME_COLUMN: usize = 25 + 6 * size_of::<u64>() - 1;

impl fmt::Display for Mapping {
    /// The line exactly as the kernel writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = format!(
            "{:08x}-{:08x} {} {:08x} {:02x}:{:02x} {} ",
            self.start,
            self.end,
            self.perms,
            self.offset,
            self.device.major,
            self.device.minor,
            self.inode
        );
        if self.pathname.is_empty() {
            return f.write_str(&fields);
        }
        write!(f, "{fields:<PATHNAME_COLUMN$} {}", self.pathname)
    }
}

// ANCHOR: smaps_fields
/// The `Key: N kB` fields of the smaps entry for the mapping starting at
/// `start`, in file order.
pub fn smaps_fields(smaps: &str, start: u64) -> Option<Vec<(String, u64)>> {
    let header = format!("{start:08x}-");
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header));
    lines.next()?;
    let is_header = |line: &str| {
        let first = line.split(' ').next().unwrap_or_default();
        first.contains('-')
            && first.split('-').all(|h| u64::from_str_radix(h, 16).is_ok())
    };
    Some(
        lines
            .take_while(|line| !is_header(line))
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                let kilobytes =
                    value.trim().strip_suffix("kB")?.trim().parse().ok()?;
                Some((key.to_owned(), kilobytes))
            })
            .collect(),
    )
}
// ANCHOR_END: smaps_fields
