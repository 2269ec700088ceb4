//! Lesson 3: what happens when the file is too short?
//!
//! A mapping may be longer than its file. Pages that hold at least one byte
//! of the file are readable to their end (the rest reads as zero); pages
//! wholly past the end raise SIGBUS on the first access. Everything here that
//! can fault is called by the walkthrough inside a child process.

use std::ffi::c_int;
use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::signal_line::SignalSafeLine;

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use support::region::Region;

// ANCHOR: map_shared
/// Maps `len` bytes of `file` shared and writable. This succeeds whatever
/// the file's length: the kernel checks the file only when a page is touched.
pub fn map_shared(file: &impl AsFd, len: usize) -> nix::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh mapping at an address the kernel picks; nothing in
    // Rust refers to that memory yet.
    let base =
        unsafe { mmap(None, length, rw, MapFlags::MAP_SHARED, file.as_fd(), 0) }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    Ok(unsafe { Region::from_raw(base, len) })
}
// ANCHOR_END: map_shared

/// Where the mapping under test starts, for the SIGBUS handler to turn the
/// faulting address into an offset. An atomic: the handler may read it.
static MAPPING_BASE: AtomicUsize = AtomicUsize::new(0);

// ANCHOR: handler
/// Installs a SIGBUS handler that reports `si_code` and the faulting offset
/// within the mapping at `base`, then lets the signal kill the process.
pub fn report_sigbus_for(base: usize) -> nix::Result<()> {
    MAPPING_BASE.store(base, Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::SigAction(on_sigbus),
        // SA_RESETHAND: after this one report, SIGBUS has its default action
        // again, so the faulting access, retried on return, kills us.
        SaFlags::SA_SIGINFO | SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    // SAFETY: `on_sigbus` only calls async-signal-safe functions (write(2))
    // and touches no lock, allocation or non-atomic shared state.
    unsafe { sigaction(Signal::SIGBUS, &action) }?;
    Ok(())
}

extern "C" fn on_sigbus(
    _signal: c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler,
    // and for SIGBUS it fills in si_addr.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    let mut line = SignalSafeLine::new();
    line.push(b"    SIGBUS handler: si_code ");
    line.push(bus_code_name(code).as_bytes());
    line.push(b" (");
    line.push_number(code as u64);
    line.push(b"), fault at offset ");
    let base = MAPPING_BASE.load(Ordering::SeqCst);
    line.push_number(address.wrapping_sub(base) as u64);
    line.push(b" of the mapping\n");
    line.write_to_stdout();
}
// ANCHOR_END: handler

/// The name of a SIGBUS `si_code`, as `<signal.h>` spells it.
pub fn bus_code_name(code: c_int) -> &'static str {
    match code {
        libc::BUS_ADRALN => "BUS_ADRALN",
        libc::BUS_ADRERR => "BUS_ADRERR",
        libc::BUS_OBJERR => "BUS_OBJERR",
        libc::BUS_MCEERR_AR => "BUS_MCEERR_AR",
        libc::BUS_MCEERR_AO => "BUS_MCEERR_AO",
        _ => "unknown",
    }
}

// ANCHOR: try_truncate
/// What a seal did to a truncate: the errno, or `None` if it went through.
pub fn try_truncate(file: &impl AsFd, len: u64) -> Option<Errno> {
    nix::unistd::ftruncate(file, len as i64).err()
}
// ANCHOR_END: try_truncate

// ANCHOR: sealed_memfd
/// A memfd of `len` bytes that can never shrink. Seals are never removed:
/// `F_SEAL_SHRINK` makes any truncate below the current size fail with
/// EPERM, and `F_SEAL_SEAL` forbids adding seals, so no receiver can add
/// `F_SEAL_WRITE` or `F_SEAL_GROW` behind the creator's back.
pub fn sealed_memfd(len: u64) -> nix::Result<File> {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create(
        "sigbus-sealed",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    nix::unistd::ftruncate(&fd, len as i64)?;
    fcntl(
        &fd,
        FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_SEAL),
    )?;
    Ok(File::from(fd))
}
// ANCHOR_END: sealed_memfd

// ANCHOR: safe_to_map
/// The receiver's check before mapping `len` bytes of a file it was handed:
/// sealed against shrinking, and `len` bytes long now (the seal only keeps
/// the file from shrinking below its size at this moment).
pub fn safe_to_map(file: &impl AsFd, len: u64) -> nix::Result<bool> {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    let seals = SealFlag::from_bits_truncate(fcntl(file, FcntlArg::F_GET_SEALS)?);
    let size = nix::sys::stat::fstat(file)?.st_size as u64;
    Ok(seals.contains(SealFlag::F_SEAL_SHRINK) && size >= len)
}
// ANCHOR_END: safe_to_map

/// The kind of filesystem holding `path` (`ext4`, `tmpfs`, ...): what
/// becomes of a store past the end of a file depends on it.
pub fn filesystem_name(path: &std::path::Path) -> String {
    use nix::sys::statfs::{
        BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC, statfs,
    };
    match statfs(path).map(|s| s.filesystem_type()) {
        Ok(t) if t == EXT4_SUPER_MAGIC => "ext4".to_owned(),
        Ok(t) if t == TMPFS_MAGIC => "tmpfs".to_owned(),
        Ok(t) if t == BTRFS_SUPER_MAGIC => "btrfs".to_owned(),
        Ok(t) if t == XFS_SUPER_MAGIC => "xfs".to_owned(),
        // Name what was found, so the learner can look it up (`man statfs`).
        Ok(t) => format!("a filesystem of type {:#x}", t.0),
        Err(e) => format!("a filesystem statfs cannot name ({e})"),
    }
}
