//! Exercises for lesson 3. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade sigbus` to see your score.
//!
//! A mistake here can raise SIGBUS and kill the process running your code:
//! the graded tests run it in a process of its own and report the signal.

use std::fs::File;
use std::io;

// SOLUTION BEGIN
use memmap2::{MmapMut, MmapOptions};
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
// SOLUTION END

/// Exercise 3.1: a mapping of `map_len` bytes covers a file of `file_len`
/// bytes, on a machine with `page_size`-byte pages. How many bytes from the
/// start of the mapping can be read without SIGBUS?
///
/// Hint: every page that holds at least one byte of the file can be read to
/// its end; no page past that can. And nothing past `map_len` is mapped.
pub fn bytes_safe_to_touch(file_len: u64, map_len: usize, page_size: usize) -> usize {
    // STUB: todo!("file of {file_len} bytes, mapping of {map_len}, pages of {page_size}")
    // SOLUTION BEGIN
    let backed =
        usize::try_from(file_len.div_ceil(page_size as u64)).unwrap_or(usize::MAX);
    backed.saturating_mul(page_size).min(map_len)
    // SOLUTION END
}

/// Exercise 3.2: store `bytes` at `offset` in `file` through a shared
/// mapping, first making the file long enough. Never make it shorter, and
/// leave every other byte as it was.
///
/// Hint: grow the file first with `File::set_len` (only if it is too short),
/// then map it with `memmap2::MmapMut::map_mut` and `copy_from_slice`. Map
/// before growing and the mapping is as short as the file was: indexing past
/// its end panics.
pub fn store_at(file: &File, offset: usize, bytes: &[u8]) -> io::Result<()> {
    // STUB: todo!("store {} bytes at offset {offset} of {file:?}", bytes.len())
    // SOLUTION BEGIN
    let end = offset + bytes.len();
    if file.metadata()?.len() < end as u64 {
        file.set_len(end as u64)?;
    }
    if bytes.is_empty() {
        return Ok(());
    }
    // SAFETY: the caller hands us a file nobody else resizes meanwhile.
    let mut map = unsafe { MmapMut::map_mut(file)? };
    map[offset..end].copy_from_slice(bytes);
    map.flush()
    // SOLUTION END
}

/// Exercise 3.3: seal `memfd` (created with `MFD_ALLOW_SEALING`) so that it
/// can never shrink, whoever holds it: a truncate below its size must then
/// fail with EPERM. Growing it may still work.
///
/// Hint: `fcntl` with `F_ADD_SEALS` and the `F_SEAL_SHRINK` seal.
pub fn seal_against_shrinking(memfd: &File) -> io::Result<()> {
    // STUB: todo!("add F_SEAL_SHRINK to {memfd:?}")
    // SOLUTION BEGIN
    fcntl(memfd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK))?;
    Ok(())
    // SOLUTION END
}

/// What [`read_all_surviving_truncation`] reports instead of dying: the
/// file held fewer bytes than expected, before or while it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// How many bytes the caller expected.
    pub expected: u64,
    /// How many bytes the file held when the reader noticed (`fstat`).
    pub found: u64,
}

/// Exercise 3.4: read the first `expected` bytes of `file`, which another
/// process may truncate at any moment, even while you read. Return exactly
/// those bytes, or `Err(Truncated)` if the file is (or becomes) shorter than
/// `expected`: never die of SIGBUS, and never return bytes that are not the
/// file's. You may map the file, or not.
///
/// Hint: look at the size (`fstat`, `File::metadata`) before you map, and
/// again when you are done: a file that only shrinks was whole in between
/// if it is still whole at the end. What remains is the moment in between,
/// when a page can vanish under a load. Ask whether you need the mapping at
/// all; and if you keep it, what a SIGBUS handler could put where the
/// vanished page was, and how it would tell you it did.
pub fn read_all_surviving_truncation(
    file: &File,
    expected: u64,
) -> Result<Vec<u8>, Truncated> {
    // STUB: todo!("read {expected} bytes of {file:?}, reporting a truncation")
    // SOLUTION BEGIN
    let size = |file: &File| file.metadata().map_or(0, |m| m.len());
    let truncated = |found| Err(Truncated { expected, found });
    let found = size(file);
    if found < expected {
        return truncated(found);
    }
    if expected == 0 {
        return Ok(Vec::new());
    }
    let len = usize::try_from(expected).map_err(|_| Truncated { expected, found })?;
    // SAFETY: the file may shrink under this mapping; the guard below keeps
    // that from killing us, and the second fstat from lying.
    let map = match unsafe { MmapOptions::new().len(len).map(file) } {
        Ok(map) => map,
        Err(_) => return truncated(size(file)),
    };
    let mut copy = vec![0u8; len];
    let fired = guard::copy_out(map.as_ptr(), &mut copy);
    drop(map);
    let found = size(file);
    if fired || found < expected {
        return truncated(found);
    }
    Ok(copy)
    // SOLUTION END
}

// SOLUTION BEGIN
/// A SIGBUS guard for one copy out of a mapping: a fault inside the mapping
/// gets a page of zeroes mapped over it and is remembered; any other SIGBUS
/// gets the default action back, and kills the process as it should.
mod guard {
    use super::*;

    static BASE: AtomicUsize = AtomicUsize::new(0);
    static LEN: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    static PAGE: AtomicUsize = AtomicUsize::new(4096);

    /// Copies `out.len()` bytes from `from` (a live mapping) into `out`;
    /// true if a page of the file vanished meanwhile.
    pub(super) fn copy_out(from: *const u8, out: &mut [u8]) -> bool {
        BASE.store(from as usize, Ordering::SeqCst);
        LEN.store(out.len(), Ordering::SeqCst);
        FIRED.store(false, Ordering::SeqCst);
        PAGE.store(support::page_size(), Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::SigAction(on_sigbus),
            SaFlags::SA_SIGINFO,
            SigSet::empty(),
        );
        // SAFETY: the handler only makes system calls and touches atomics.
        let Ok(previous) = (unsafe { sigaction(Signal::SIGBUS, &action) }) else {
            // No guard: do not touch the mapping at all.
            return true;
        };
        // SAFETY: `from` is a mapping of `out.len()` bytes that outlives this
        // call, and `out` is ours. A page that vanishes faults, and the
        // handler maps zeroes there; bytes another process changes meanwhile
        // are why the caller checks the size again after the copy.
        unsafe { std::ptr::copy_nonoverlapping(from, out.as_mut_ptr(), out.len()) };
        // SAFETY: puts back whatever handler was there before.
        let _ = unsafe { sigaction(Signal::SIGBUS, &previous) };
        FIRED.load(Ordering::SeqCst)
    }

    extern "C" fn on_sigbus(
        _signal: c_int,
        info: *mut libc::siginfo_t,
        _context: *mut libc::c_void,
    ) {
        // SAFETY: an SA_SIGINFO handler gets a valid siginfo_t.
        let address = unsafe { (*info).si_addr() } as usize;
        let (base, len) = (BASE.load(Ordering::SeqCst), LEN.load(Ordering::SeqCst));
        if address >= base && address < base + len {
            let page = PAGE.load(Ordering::SeqCst);
            let start = address & !(page - 1);
            // mmap is not on signal-safety(7)'s list, but on Linux it is a
            // bare system call that takes no user-space lock; only errno,
            // which the interrupted code may be about to read, needs saving.
            let errno = nix::errno::Errno::last_raw();
            // SAFETY: replaces one page of our own mapping with zeroes.
            let zeroes = unsafe {
                libc::mmap(
                    start as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            nix::errno::Errno::set_raw(errno);
            if zeroes != libc::MAP_FAILED {
                FIRED.store(true, Ordering::SeqCst);
                return;
            }
        }
        // Not ours (or no page to put there): let the retried access kill us.
        // SAFETY: sigaction is async-signal-safe.
        let _ = unsafe {
            sigaction(
                Signal::SIGBUS,
                &SigAction::new(
                    SigHandler::SigDfl,
                    SaFlags::empty(),
                    SigSet::empty(),
                ),
            )
        };
    }
}
// SOLUTION END
