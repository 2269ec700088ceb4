//! Lesson 7: can a program run code it just wrote?
//!
//! Yes, if the page holding the code is executable: a program writes machine
//! code into a read-write page, asks `mprotect` to make it read+execute, and
//! calls it. Whether a page may be writable and executable at once, or may
//! become executable at all, is the kernel's policy. Everything here that can
//! fault is called by the walkthrough inside a child process, where
//! [`FaultWitness`] reports what the kernel said about the fault.

use std::ffi::{c_int, c_ulong};
use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use support::signal_line::SignalSafeLine;

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap, mmap_anonymous, mprotect};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use support::region::Region;

/// `uint32_t add(uint32_t a, uint32_t b)` in x86-64 machine code:
/// `lea eax, [rdi + rsi]` (8d 04 37) then `ret` (c3). The C calling
/// convention passes `a` in rdi, `b` in rsi, and returns eax.
#[cfg(target_arch = "x86_64")]
pub const ADD_CODE: Option<&[u8]> = Some(&[0x8d, 0x04, 0x37, 0xc3]);

/// This lesson has machine code for x86-64 only; elsewhere it says so.
#[cfg(not(target_arch = "x86_64"))]
pub const ADD_CODE: Option<&[u8]> = None;

/// How the code above is called: the C calling convention, two `u32` in,
/// one out.
pub type AddFn = extern "C" fn(u32, u32) -> u32;

/// Maps `len` bytes of fresh anonymous memory with protection `prot`.
fn map_anonymous(len: usize, prot: ProtFlags) -> nix::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    // SAFETY: a fresh private mapping at an address the kernel picks;
    // nothing in Rust refers to that memory yet.
    let base = unsafe { mmap_anonymous(None, length, prot, MapFlags::MAP_PRIVATE) }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    Ok(unsafe { Region::from_raw(base, len) })
}

// ANCHOR: write_code
/// A read-write anonymous page: memory a program may write, but not run.
pub fn map_read_write(len: usize) -> nix::Result<Region> {
    map_anonymous(len, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE)
}

/// Copies machine code to the start of `page`, byte by byte. To the CPU it
/// is only data until the page is made executable.
pub fn write_code(page: &Region, code: &[u8]) {
    for (offset, &byte) in code.iter().enumerate() {
        page.write(offset, byte);
    }
}
// ANCHOR_END: write_code

// ANCHOR: make_executable
/// The flip: `mprotect` turns the page from read-write into read+execute.
/// From now on the CPU may fetch instructions from it, and nobody may write.
pub fn make_executable(page: &Region) -> nix::Result<()> {
    let base = NonNull::new(page.as_ptr().cast()).ok_or(Errno::EINVAL)?;
    // SAFETY: the range is exactly one mapping that `page` owns, alive while
    // it is borrowed. Taking write permission away is what makes later Rust
    // writes fault (in a child) rather than corrupt anything.
    unsafe {
        mprotect(
            base,
            page.len(),
            ProtFlags::PROT_READ | ProtFlags::PROT_EXEC,
        )
    }
}
// ANCHOR_END: make_executable

// ANCHOR: call_add
/// Calls the code at the start of `code` as an [`AddFn`].
///
/// # Safety
/// `code` must start with [`ADD_CODE`] for this CPU. If its page is not
/// executable, the CPU refuses to fetch the first instruction and the
/// kernel sends SIGSEGV: call it like that only in a child meant to die.
pub unsafe fn call_add(code: &Region, a: u32, b: u32) -> u32 {
    // SAFETY: the caller promises a complete function that follows the C
    // calling convention at this address; a function pointer and a data
    // pointer have the same size on Linux targets.
    let add = unsafe { std::mem::transmute::<*mut u8, AddFn>(code.as_ptr()) };
    add(a, b)
}
// ANCHOR_END: call_add

/// Tries to map an anonymous page readable, writable and executable at once:
/// what W^X ("write xor execute") forbids where it is enforced.
pub fn map_read_write_exec(len: usize) -> nix::Result<Region> {
    let rwx = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE | ProtFlags::PROT_EXEC;
    map_anonymous(len, rwx)
}

/// An anonymous page nobody may touch (`PROT_NONE`): a guard page, as at
/// the end of every thread's stack.
pub fn map_guard_page(len: usize) -> nix::Result<Region> {
    map_anonymous(len, ProtFlags::PROT_NONE)
}

/// Maps `len` bytes of `file` shared and read-only, whatever its length.
pub fn map_file_read_only(file: &File, len: usize) -> nix::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    // SAFETY: a fresh mapping at an address the kernel picks; nothing in
    // Rust refers to that memory yet.
    let base = unsafe {
        mmap(
            None,
            length,
            ProtFlags::PROT_READ,
            MapFlags::MAP_SHARED,
            file.as_fd(),
            0,
        )
    }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    Ok(unsafe { Region::from_raw(base, len) })
}

// ANCHOR: read_after_munmap
/// Unmaps `page`, then reads its first byte. Only call this in a child
/// meant to die: nothing is mapped there any more.
pub fn read_after_munmap(page: Region) -> u8 {
    let address = page.as_ptr();
    drop(page); // munmap(2)
    // SAFETY: this load is the lesson, and it is meant to fail: with no
    // mapping at `address`, the CPU faults and the kernel sends SIGSEGV
    // before any value exists. Callers run it only in a child meant to die.
    unsafe { address.read_volatile() }
}
// ANCHOR_END: read_after_munmap

// ANCHOR: refuse_exec_gain
/// Memory-deny-write-execute (Linux 6.3+): from now on this process and its
/// children may never map memory writable and executable at once, nor make
/// a mapping executable that was not. It cannot be undone. A kernel without
/// it answers EINVAL.
pub fn refuse_exec_gain() -> nix::Result<()> {
    let flags = libc::PR_MDWE_REFUSE_EXEC_GAIN as c_ulong;
    let zero: c_ulong = 0;
    // SAFETY: prctl(PR_SET_MDWE) reads four integer arguments (glibc reads
    // them all, so all four are passed) and touches no memory of ours; the
    // last three must be zero.
    let result = unsafe { libc::prctl(libc::PR_SET_MDWE, flags, zero, zero, zero) };
    Errno::result(result).map(drop)
}
// ANCHOR_END: refuse_exec_gain

// ANCHOR: two_views
/// One memfd mapped twice: a read-write view to write code through and a
/// read+execute view to run it. Both see the same page of memory, but no
/// single mapping is ever writable and executable.
#[derive(Debug)]
pub struct TwoViews {
    pub writable: Region,
    pub executable: Region,
}

pub fn memfd_two_views(len: usize) -> nix::Result<TwoViews> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    let memfd = memfd_create("exec-memory-code", MFdFlags::MFD_CLOEXEC)?;
    nix::unistd::ftruncate(&memfd, len as i64)?;
    let view = |prot: ProtFlags| -> nix::Result<Region> {
        // SAFETY: a fresh shared mapping of our own memfd at an address the
        // kernel picks; nothing in Rust refers to that memory yet.
        let base =
            unsafe { mmap(None, length, prot, MapFlags::MAP_SHARED, &memfd, 0) }?;
        // SAFETY: exactly what mmap returned and was given; `Region` owns it.
        Ok(unsafe { Region::from_raw(base, len) })
    };
    Ok(TwoViews {
        writable: view(ProtFlags::PROT_READ | ProtFlags::PROT_WRITE)?,
        executable: view(ProtFlags::PROT_READ | ProtFlags::PROT_EXEC)?,
    })
    // The descriptor closes here; the two mappings keep the memfd alive.
}
// ANCHOR_END: two_views

/// The permissions `/proc/self/maps` shows for the mapping holding
/// `address` (`rw-p`, `r-xp`, ...), or `None` if nothing is mapped there.
pub fn perms_at(address: usize) -> std::io::Result<Option<String>> {
    Ok(perms_in(
        &std::fs::read_to_string("/proc/self/maps")?,
        address,
    ))
}

/// The permissions `maps` (the text of a `/proc/PID/maps`) shows for the
/// mapping holding `address`, or `None` if nothing is mapped there.
pub fn perms_in(maps: &str, address: usize) -> Option<String> {
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        if (start..end).contains(&address) {
            return Some(perms.to_owned());
        }
    }
    None
}

// `<asm-generic/siginfo.h>` values; the libc crate does not define the
// SIGSEGV codes for Linux. An si_code means something only with its signal:
// 2 is SEGV_ACCERR for SIGSEGV but BUS_ADRERR for SIGBUS.
/// SIGSEGV's si_code: no mapping at the address.
pub const SEGV_MAPERR: c_int = 1;
/// SIGSEGV's si_code: a mapping, whose permissions forbid the access.
pub const SEGV_ACCERR: c_int = 2;
/// SIGSEGV's si_code: a memory protection key forbade the access.
pub const SEGV_PKUERR: c_int = 4;

/// The name `<signal.h>` gives `code` for `signal`.
pub fn code_name(signal: c_int, code: c_int) -> &'static str {
    match (signal, code) {
        (libc::SIGSEGV, SEGV_MAPERR) => "SEGV_MAPERR",
        (libc::SIGSEGV, SEGV_ACCERR) => "SEGV_ACCERR",
        (libc::SIGSEGV, SEGV_PKUERR) => "SEGV_PKUERR",
        (libc::SIGBUS, libc::BUS_ADRALN) => "BUS_ADRALN",
        (libc::SIGBUS, libc::BUS_ADRERR) => "BUS_ADRERR",
        (libc::SIGBUS, libc::BUS_OBJERR) => "BUS_OBJERR",
        (_, libc::SI_USER) => "SI_USER",
        (_, libc::SI_KERNEL) => "SI_KERNEL",
        _ => "unknown",
    }
}

/// What a signal and its code say about an access, in a few words.
pub fn meaning(signal: c_int, code: c_int) -> &'static str {
    match (signal, code) {
        (libc::SIGSEGV, SEGV_MAPERR) => "nothing mapped there",
        (libc::SIGSEGV, SEGV_ACCERR) => "mapped, access not allowed",
        (libc::SIGBUS, libc::BUS_ADRERR) => "no file behind the page",
        _ => "see sigaction(2)",
    }
}

/// What the kernel told a child's handler about its fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// SIGSEGV or SIGBUS.
    pub signal: Signal,
    /// `si_code`: why.
    pub code: c_int,
    /// `si_addr` minus the start of the mapping the child was told to watch.
    pub offset: u64,
}

impl Fault {
    /// `si_code`'s name, as `<signal.h>` spells it.
    pub fn code_name(&self) -> &'static str {
        code_name(self.signal as c_int, self.code)
    }

    /// What it means, in a few words.
    pub fn meaning(&self) -> &'static str {
        meaning(self.signal as c_int, self.code)
    }
}

/// Where the shared page of the armed witness is, and which mapping's start
/// offsets are measured from: atomics, because the handler reads them.
static WITNESS_PAGE: AtomicUsize = AtomicUsize::new(0);
static WATCHED_BASE: AtomicUsize = AtomicUsize::new(0);

// The witness page's 32-bit slots.
const SLOT_SEEN: usize = 0;
const SLOT_SIGNAL: usize = 1;
const SLOT_CODE: usize = 2;
const SLOT_OFFSET_LOW: usize = 3;
const SLOT_OFFSET_HIGH: usize = 4;

/// A shared anonymous page where a child's SIGSEGV/SIGBUS handler leaves
/// what the kernel said, so the parent can read it after the child died.
#[derive(Debug)]
pub struct FaultWitness {
    page: Region,
}

impl FaultWitness {
    /// A fresh witness, shared with every child forked from now on.
    pub fn new() -> nix::Result<FaultWitness> {
        let length = NonZeroUsize::new(support::page_size()).ok_or(Errno::EINVAL)?;
        let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        let shared = MapFlags::MAP_SHARED | MapFlags::MAP_ANONYMOUS;
        // SAFETY: a fresh shared anonymous mapping; nothing refers to it yet.
        let base = unsafe { mmap_anonymous(None, length, rw, shared) }?;
        // SAFETY: exactly what mmap returned and was given; `Region` owns it.
        let page = unsafe { Region::from_raw(base, length.get()) };
        Ok(FaultWitness { page })
    }

    fn slot(&self, index: usize) -> &AtomicU32 {
        self.page.atomic_u32(index)
    }

    /// What the last armed child reported, if it faulted; clears the report.
    pub fn take(&self) -> Option<Fault> {
        if self.slot(SLOT_SEEN).swap(0, Ordering::SeqCst) == 0 {
            return None;
        }
        let signal =
            Signal::try_from(self.slot(SLOT_SIGNAL).load(Ordering::SeqCst) as c_int);
        let low = u64::from(self.slot(SLOT_OFFSET_LOW).load(Ordering::SeqCst));
        let high = u64::from(self.slot(SLOT_OFFSET_HIGH).load(Ordering::SeqCst));
        Some(Fault {
            signal: signal.ok()?,
            code: self.slot(SLOT_CODE).load(Ordering::SeqCst) as c_int,
            offset: high << 32 | low,
        })
    }

    // ANCHOR: arm
    /// In a child: installs an `SA_SIGINFO` handler for SIGSEGV and SIGBUS
    /// that prints `si_code` and the faulting address as an offset into the
    /// mapping at `base`, leaves both on the witness page, then lets the
    /// signal kill the process.
    pub fn arm(&self, base: usize) -> nix::Result<()> {
        self.slot(SLOT_SEEN).store(0, Ordering::SeqCst);
        WITNESS_PAGE.store(self.page.address(), Ordering::SeqCst);
        WATCHED_BASE.store(base, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::SigAction(on_fault),
            // SA_RESETHAND: after one report the signal has its default
            // action again, so the faulting access, retried, kills us.
            SaFlags::SA_SIGINFO | SaFlags::SA_RESETHAND,
            SigSet::empty(),
        );
        for signal in [Signal::SIGSEGV, Signal::SIGBUS] {
            // SAFETY: `on_fault` only calls async-signal-safe functions
            // (write(2)), stores to atomics, and takes no lock or allocation.
            unsafe { sigaction(signal, &action) }?;
        }
        Ok(())
    }
    // ANCHOR_END: arm
}

// ANCHOR: handler
extern "C" fn on_fault(
    signal: c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler,
    // and for SIGSEGV and SIGBUS it fills in si_addr.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    let offset = address.wrapping_sub(WATCHED_BASE.load(Ordering::SeqCst)) as u64;
    let mut line = SignalSafeLine::new();
    line.push(b"    ");
    line.push(if signal == libc::SIGBUS {
        b"SIGBUS"
    } else {
        b"SIGSEGV"
    });
    line.push(b" handler: si_code ");
    line.push(code_name(signal, code).as_bytes());
    line.push(b" (");
    line.push_number(code as u64);
    line.push(b"), fault at offset ");
    line.push_number(offset);
    line.push(b" of the mapping\n");
    line.write_to_stdout();
    leave_on_witness_page(signal, code, offset);
}
// ANCHOR_END: handler

/// The handler's second report: plain atomic stores into the shared page.
fn leave_on_witness_page(signal: c_int, code: c_int, offset: u64) {
    let page = WITNESS_PAGE.load(Ordering::SeqCst);
    if page == 0 {
        return;
    }
    let slot = |index: usize| -> &AtomicU32 {
        // SAFETY: `arm` stored the address of a live, page-aligned shared
        // page of at least five u32 slots; the witness outlives the child.
        unsafe { &*(page as *const AtomicU32).add(index) }
    };
    slot(SLOT_SIGNAL).store(signal as u32, Ordering::SeqCst);
    slot(SLOT_CODE).store(code as u32, Ordering::SeqCst);
    slot(SLOT_OFFSET_LOW).store(offset as u32, Ordering::SeqCst);
    slot(SLOT_OFFSET_HIGH).store((offset >> 32) as u32, Ordering::SeqCst);
    slot(SLOT_SEEN).store(1, Ordering::SeqCst);
}

/// How a child's fault reads, as the exercises classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Nothing is mapped at the address (`SEGV_MAPERR`).
    Unmapped,
    /// A mapping is there, but its permissions forbid this access (`SEGV_ACCERR`).
    Forbidden,
    /// A file mapping whose page has no file behind it (`BUS_ADRERR`).
    PastEndOfFile,
    /// Anything else.
    Other,
}

// ANCHOR: jit_fn
/// A function `u32 -> u32` that a program wrote as machine code while it
/// ran. It owns the executable mapping and unmaps it when dropped.
#[derive(Debug)]
pub struct JitFn {
    code: Region,
    entry: extern "C" fn(u32) -> u32,
}

impl JitFn {
    /// Wraps a mapping that holds a finished function.
    ///
    /// # Safety
    /// `code` must be mapped readable and executable, and hold from its
    /// first byte machine code for this CPU that behaves as an
    /// `extern "C" fn(u32) -> u32`; nothing may write it while it is wrapped.
    pub unsafe fn from_code(code: Region) -> JitFn {
        // SAFETY: the caller's promise, just above; function and data
        // pointers have the same size on Linux targets.
        let entry = unsafe {
            std::mem::transmute::<*mut u8, extern "C" fn(u32) -> u32>(code.as_ptr())
        };
        JitFn { code, entry }
    }

    /// Runs the code.
    pub fn call(&self, x: u32) -> u32 {
        (self.entry)(x)
    }

    /// Where the code is.
    pub fn address(&self) -> usize {
        self.code.address()
    }
}
// ANCHOR_END: jit_fn
