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
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use support::region::Region;

pub mod exercises;

/// The seed program's length: room for ten 4-byte integers.
pub const SEED_LEN: usize = 10 * size_of::<u32>();

/// The two words the seed program stores at the start of the mapping.
pub const SEED_WORDS: [u32; 2] = [0x1234_5678, 0xdead_c0de];

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

// ANCHOR: size_the_seed_way
/// Makes the file at least `len` bytes long the way the seed program does:
/// seek to offset `len` and write one byte there. The file ends up `len + 1`
/// bytes long, with an `A` as its last byte.
pub fn size_by_writing_past_the_end(file: &mut File, len: u64) -> io::Result<()> {
    file.seek(SeekFrom::Start(len))?;
    file.write_all(b"A")
}
// ANCHOR_END: size_the_seed_way

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
/// Maps `len` bytes of `file`, then stores `byte` at `offset`, which lies past
/// `len` but inside the same page. The kernel maps whole pages, so this store
/// does not fault; but the file does not grow, so it never reaches the file.
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
    // first page is mapped and writable; `offset < page`, and the file has at
    // least one byte, so this page is backed and the store cannot fault.
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

/// One call that mmap refuses, with what the kernel said and why.
#[derive(Debug)]
pub struct Refusal {
    /// What was asked, in a few words.
    pub call: &'static str,
    /// The errno the kernel returned, or `None` if it unexpectedly succeeded.
    pub errno: Option<Errno>,
    /// Why the kernel says no.
    pub reason: &'static str,
}

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
        return Err(Errno::last());
    }
    // SAFETY: `addr` and `len` are exactly what mmap just returned and was given.
    unsafe { libc::munmap(addr, len) };
    Ok(())
}
// ANCHOR_END: raw_mmap

// ANCHOR: refusals
/// Makes four calls mmap refuses, on the `data` file and on a pipe.
pub fn what_mmap_refuses(data: &Path) -> io::Result<Vec<Refusal>> {
    let page = support::page_size();
    let read_write = OpenOptions::new().read(true).write(true).open(data)?;
    let read_only = File::open(data)?;
    let (pipe_reader, _pipe_writer) = nix::unistd::pipe()?;
    let (rw, shared) = (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED);
    Ok(vec![
        Refusal {
            call: "length 0",
            errno: raw_mmap(0, libc::PROT_READ, shared, read_write.as_raw_fd(), 0)
                .err(),
            reason: "there is nothing to map",
        },
        Refusal {
            call: "the read end of a pipe",
            errno: raw_mmap(
                page,
                libc::PROT_READ,
                shared,
                pipe_reader.as_raw_fd(),
                0,
            )
            .err(),
            reason: "a pipe is a stream: it has no pages to map",
        },
        Refusal {
            call: "PROT_WRITE|MAP_SHARED, fd opened read-only",
            errno: raw_mmap(page, rw, shared, read_only.as_raw_fd(), 0).err(),
            reason: "shared stores would write a file you may only read",
        },
        Refusal {
            call: "offset 100 (not page-aligned)",
            errno: raw_mmap(
                page,
                libc::PROT_READ,
                shared,
                read_write.as_raw_fd(),
                100,
            )
            .err(),
            reason: "file offsets map to pages, so must be a page multiple",
        },
    ])
}
// ANCHOR_END: refusals

/// The name of an errno as C code spells it (`EINVAL`), or `ok`.
pub fn errno_name(errno: Option<Errno>) -> String {
    errno.map_or_else(|| "ok (!)".to_owned(), |e| format!("{e:?}"))
}
