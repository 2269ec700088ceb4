//! Lesson 1: how do I map a file into memory?
//!
//! Each function shows one idea and is small enough to read in the book.
//! `main.rs` calls them in order and prints what happened.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use memmap2::MmapMut;
use nix::errno::Errno;
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use support::errors::AtPath;
use support::region::Region;

/// The length the classic C program from course notes maps: room for ten
/// 4-byte integers.
pub const CLASSIC_LEN: usize = 10 * size_of::<u32>();

/// The two words the classic program stores at the start of the mapping.
pub const CLASSIC_WORDS: [u32; 2] = [0x1234_5678, 0xdead_c0de];

// ANCHOR: create_data_file
/// Opens `path` for reading and writing, creating it with mode 0600 and
/// truncating it to zero bytes, as `open(path, O_RDWR|O_CREAT|O_TRUNC, 0600)`.
///
/// Read access matters: a mapping always needs it, even one you only write.
/// (`File::create` opens write-only, and mapping that file fails with EACCES.)
pub fn create_data_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}
// ANCHOR_END: create_data_file

// ANCHOR: size_the_classic_way
/// Makes the file at least `len` bytes long the way the classic program
/// does: seek to offset `len` and write one byte there. The file ends up
/// `len + 1` bytes long, with an `A` as its last byte. (The classic program
/// ignores what lseek and write return; `?` does not.)
pub fn size_by_writing_past_the_end(file: &mut File, len: u64) -> io::Result<()> {
    file.seek(SeekFrom::Start(len))?;
    file.write_all(b"A")
}
// ANCHOR_END: size_the_classic_way

// ANCHOR: map_shared
/// Maps the first `len` bytes of `file` shared and writable, at an address
/// the kernel picks. The [`Region`] unmaps it (`munmap`) when dropped.
pub fn map_shared(file: &File, len: usize) -> nix::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    // SAFETY: we ask for a fresh mapping at an address the kernel picks
    // (`None`), so no existing memory is replaced. The result is a raw
    // pointer; nothing in Rust refers to it yet.
    let base = unsafe {
        mmap(
            None,
            length,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            file.as_fd(),
            0,
        )
    }?;
    // SAFETY: `base` and `len` are exactly what mmap returned and was given,
    // and only the `Region` unmaps it.
    Ok(unsafe { Region::from_raw(base, len) })
}
// ANCHOR_END: map_shared

// ANCHOR: store_words
/// Maps the first `len` bytes of `file` shared and writable, stores `words`
/// at its start as native-endian `u32`s, and unmaps it. Returns the address
/// the kernel chose, for the learner to see.
///
/// The file must already be at least `len` bytes long: touching a page of the
/// mapping that lies wholly past the end of the file raises SIGBUS.
pub fn store_words_through_shared_mapping(
    file: &File,
    len: usize,
    words: &[u32],
) -> nix::Result<usize> {
    assert!(
        size_of_val(words) <= len,
        "the words must fit in the mapping"
    );
    let map = map_shared(file, len)?;
    let slots = map.as_ptr().cast::<u32>();
    for (index, &word) in words.iter().enumerate() {
        // SAFETY: mappings start on a page boundary, so `slots` is aligned
        // for u32; index < words.len() and the assert above keeps every
        // store inside the `len` bytes we mapped, which the file covers.
        unsafe { slots.add(index).write_volatile(word) };
    }
    let address = map.address();
    drop(map); // munmap
    Ok(address)
}
// ANCHOR_END: store_words

// ANCHOR: store_past_len
/// Maps `len` bytes of `file`, then stores `byte` at `offset`, past the end
/// of the file but inside its last page. The kernel maps whole pages, so the
/// store does not fault. The byte is not part of the file, and the file does
/// not grow; do not rely on what happens to it (see the sigbus lesson).
pub fn store_inside_page_past_len(
    file: &File,
    len: usize,
    offset: usize,
    byte: u8,
) -> nix::Result<()> {
    let page = support::page_size();
    assert!(
        len <= offset && offset < page,
        "the offset must be past len, inside the first page"
    );
    let map = map_shared(file, len)?;
    // SAFETY: the kernel rounds a mapping up to whole pages, so all of the
    // first page is mapped and writable; `offset < page`, and the file has
    // at least one byte, so this page is backed and the store cannot fault.
    unsafe { map.as_ptr().add(offset).write_volatile(byte) };
    Ok(()) // dropping `map` unmaps it
}
// ANCHOR_END: store_past_len

// ANCHOR: the_better_way
/// The idiomatic version: size the file exactly with `set_len` (ftruncate),
/// then let memmap2 own the mapping and hand it out as a `&mut [u8]`.
pub fn store_words_with_memmap2(
    file: &File,
    len: u64,
    words: &[u32],
) -> io::Result<()> {
    file.set_len(len)?;
    // set_len leaves the file sparse; real blocks now mean a full disk is
    // an error here, not SIGBUS at the first store.
    support::space::allocate(file, len)?;
    // SAFETY: memmap2 cannot promise that the bytes under the slice stay put:
    // any process may write or truncate this file while it is mapped. Here the
    // file lives in our own fresh temporary directory and nobody else knows it.
    let mut map = unsafe { MmapMut::map_mut(file)? };
    for (slot, word) in map.chunks_exact_mut(size_of::<u32>()).zip(words) {
        slot.copy_from_slice(&word.to_ne_bytes());
    }
    // Not needed for other processes to see the data (they share the page
    // cache); flush asks for it to reach the disk, like msync(MS_SYNC).
    map.flush()
}
// ANCHOR_END: the_better_way

// ANCHOR: raw_mmap
/// Calls `mmap(2)` directly, so the errno itself is visible. A mapping that
/// succeeds is unmapped at once.
pub fn raw_mmap(
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    offset: i64,
) -> Result<(), Errno> {
    // SAFETY: with a null address hint the kernel never replaces an existing
    // mapping, and we dereference nothing; at worst the call fails.
    let addr =
        unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, offset) };
    if addr == libc::MAP_FAILED {
        // Read errno first: any call before this (a printf, as in the
        // classic program) may overwrite it.
        return Err(Errno::last());
    }
    // SAFETY: `addr` and `len` are what mmap just returned and was given.
    unsafe { libc::munmap(addr, len) };
    Ok(())
}
// ANCHOR_END: raw_mmap

/// One `mmap` call the lesson makes on purpose, and what the kernel said.
#[derive(Debug)]
pub struct Attempt {
    /// What was mapped, and how it was opened or what was odd about the call.
    pub what: &'static str,
    /// The protection asked for (`PROT_READ`, ...).
    pub prot: i32,
    /// `MAP_SHARED` or `MAP_PRIVATE`.
    pub flags: i32,
    /// The errno the kernel returned, or `None` when the mapping was made.
    pub errno: Option<Errno>,
    /// Why the kernel says yes or no, in a few words.
    pub why: &'static str,
}

impl Attempt {
    /// `READ`, `WRITE` or `READ|WRITE`: the protection without its `PROT_`.
    pub fn prot_names(&self) -> String {
        let names: Vec<&str> =
            [(libc::PROT_READ, "READ"), (libc::PROT_WRITE, "WRITE")]
                .into_iter()
                .filter(|&(bit, _)| self.prot & bit != 0)
                .map(|(_, name)| name)
                .collect();
        if names.is_empty() {
            "NONE".to_owned()
        } else {
            names.join("|")
        }
    }

    /// `SHARED` or `PRIVATE`: the flags without their `MAP_`.
    pub fn flag_names(&self) -> &'static str {
        if self.flags & libc::MAP_SHARED != 0 {
            "SHARED"
        } else {
            "PRIVATE"
        }
    }

    /// `ok`, or the errno's name as C code spells it (`EACCES`).
    pub fn result(&self) -> String {
        self.errno
            .map_or_else(|| "ok".to_owned(), |e| format!("{e:?}"))
    }
}

/// One page of `fd` mapped with `prot` and `flags` at offset 0: an [`Attempt`].
fn attempt(
    what: &'static str,
    file: &dyn AsRawFd,
    prot: i32,
    flags: i32,
    why: &'static str,
) -> Attempt {
    let fd = file.as_raw_fd();
    let errno = raw_mmap(support::page_size(), prot, flags, fd, 0).err();
    Attempt {
        what,
        prot,
        flags,
        errno,
        why,
    }
}

// ANCHOR: access_rule
/// The open mode against the mapping: every access the mapping allows must
/// be allowed by how the file was opened, and a mapping always reads.
pub fn the_open_mode_decides(data: &Path) -> io::Result<Vec<Attempt>> {
    let read_only = File::open(data).at(data)?;
    let write_only = OpenOptions::new().write(true).open(data).at(data)?;
    let (ro, wo) = (&read_only, &write_only);
    let (read, write) = (libc::PROT_READ, libc::PROT_WRITE);
    let (shared, private) = (libc::MAP_SHARED, libc::MAP_PRIVATE);
    let rw = read | write;
    Ok(vec![
        attempt("O_RDONLY", ro, read, shared, "it only reads"),
        attempt("O_RDONLY", ro, rw, private, "stores go to private copies"),
        attempt("O_RDONLY", ro, rw, shared, "stores would reach the file"),
        attempt("O_WRONLY", wo, write, shared, "a mapping always needs read"),
    ])
}
// ANCHOR_END: access_rule

// ANCHOR: file_type_rule
/// Files of different types, each opened for reading and mapped
/// `PROT_READ|MAP_SHARED`: only a file whose filesystem or driver provides
/// an mmap operation can be mapped; every other file gives ENODEV.
pub fn only_some_files_can_be_mapped(data: &Path) -> io::Result<Vec<Attempt>> {
    let open = |path: &str| File::open(path).at(Path::new(path));
    let (zero, null) = (open("/dev/zero")?, open("/dev/null")?);
    // Without /proc (a bare container) its row is left out, not the step.
    let status = File::open("/proc/self/status").ok();
    let file = File::open(data).at(data)?;
    let memfd = memfd_create("file-mapping", MFdFlags::MFD_CLOEXEC)?;
    let (pipe, _writer) = nix::unistd::pipe().map_err(io::Error::from)?;
    let (read, shared) = (libc::PROT_READ, libc::MAP_SHARED);
    let map = |what, file: &dyn AsRawFd, why| attempt(what, file, read, shared, why);
    let mut attempts = vec![
        map("data (a regular file)", &file, "its filesystem has one"),
        map("/dev/zero", &zero, "its driver has one"),
        map("a memfd", &memfd, "tmpfs has one"),
        map("/dev/null", &null, "its driver has none"),
    ];
    if let Some(status) = &status {
        attempts.push(map("/proc/self/status", status, "procfs gives it none"));
    }
    attempts.push(map("the read end of a pipe", &pipe, "pipes have none"));
    Ok(attempts)
}
// ANCHOR_END: file_type_rule

// ANCHOR: argument_rule
/// Two calls on a good file with bad arguments: a length of 0, and an
/// offset that is not a multiple of the page size.
pub fn bad_arguments(data: &Path) -> io::Result<Vec<Attempt>> {
    let file = File::open(data).at(data)?;
    let (fd, page) = (file.as_raw_fd(), support::page_size());
    let (read, shared) = (libc::PROT_READ, libc::MAP_SHARED);
    let call = |len, offset| raw_mmap(len, read, shared, fd, offset).err();
    Ok(vec![
        Attempt {
            what: "data, length 0",
            prot: read,
            flags: shared,
            errno: call(0, 0),
            why: "there is nothing to map",
        },
        Attempt {
            what: "data, offset 100",
            prot: read,
            flags: shared,
            errno: call(page, 100),
            why: "the offset must be a page multiple",
        },
    ])
}
// ANCHOR_END: argument_rule

/// The first `bytes` as plain `hexdump` (no `-C`) shows them: 2-byte words
/// in this CPU's byte order, so `78 56 34 12` reads `5678 1234`.
pub fn as_hexdump_words(bytes: &[u8]) -> String {
    bytes
        .chunks(2)
        .map(|pair| match *pair {
            [low, high] => format!("{:04x}", u16::from_ne_bytes([low, high])),
            [odd] => format!("{odd:04x}"),
            _ => unreachable!("chunks(2) gives one or two bytes"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
