//! Step 2: meeting without a name. A memfd, sealed so that its size can
//! never change, checked by whoever receives it.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{FcntlArg, SealFlag, fcntl};

/// The seals a receiver demands before it maps a memfd.
pub fn required_seals() -> SealFlag {
    SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL
}

// ANCHOR: sealed_memfd
/// A memfd of `len` bytes whose size nobody can change any more: a process
/// that maps it can trust that every page it mapped stays backed.
pub fn sealed_memfd(len: usize) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let fd = memfd_create("shared-memory-ipc", flags)?;
    nix::unistd::ftruncate(&fd, len as i64)?;
    fcntl(&fd, FcntlArg::F_ADD_SEALS(required_seals()))?;
    Ok(fd)
}
// ANCHOR_END: sealed_memfd

/// An unsealed memfd, for showing that a careful receiver refuses it.
pub fn unsealed_memfd(len: usize) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create("shared-memory-ipc-unsealed", MFdFlags::MFD_CLOEXEC)?;
    nix::unistd::ftruncate(&fd, len as i64)?;
    Ok(fd)
}

// ANCHOR: check_received
/// What a receiver checks before mapping a memfd someone sent: its size
/// can no longer change, and it is at least `min_len` bytes. Returns the
/// seals and the size.
pub fn check_received(
    fd: &impl AsFd,
    min_len: usize,
) -> io::Result<(SealFlag, usize)> {
    let seals = SealFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GET_SEALS)?);
    if !seals.contains(required_seals()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing the memfd: without SHRINK, GROW and SEAL the sender may \
                 shrink it and make our reads fault with SIGBUS (its seals: {})",
                seal_names(seals)
            ),
        ));
    }
    let size = nix::sys::stat::fstat(fd)?.st_size as usize;
    if size < min_len {
        return Err(io::Error::other(format!(
            "refusing the memfd: {size} bytes, expected at least {min_len}"
        )));
    }
    Ok((seals, size))
}
// ANCHOR_END: check_received

/// `F_SEAL_EXEC` (Linux 6.3), which nix's `SealFlag` does not name: the
/// memfd's exec mode bits can no longer change.
pub const F_SEAL_EXEC: SealFlag = SealFlag::from_bits_retain(libc::F_SEAL_EXEC);

/// The seals' names, as `<fcntl.h>` spells them without `F_SEAL_`; a bit
/// this list does not know is shown in hex.
pub fn seal_names(seals: SealFlag) -> String {
    let known = [
        (SealFlag::F_SEAL_SHRINK, "SHRINK"),
        (SealFlag::F_SEAL_GROW, "GROW"),
        (SealFlag::F_SEAL_WRITE, "WRITE"),
        (SealFlag::F_SEAL_FUTURE_WRITE, "FUTURE_WRITE"),
        (F_SEAL_EXEC, "EXEC"),
        (SealFlag::F_SEAL_SEAL, "SEAL"),
    ];
    let mut names: Vec<String> = known
        .iter()
        .filter(|(flag, _)| seals.contains(*flag))
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let unknown = known
        .iter()
        .fold(seals.bits(), |left, (flag, _)| left & !flag.bits());
    if unknown != 0 {
        names.push(format!("{unknown:#x}"));
    }
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("|")
    }
}

/// `vm.memfd_noexec` (Linux 6.3, per pid namespace): at 0 a new memfd is
/// as before; at 1 or 2 it has no exec mode bits and starts with
/// `F_SEAL_EXEC` (and at 2, `MFD_EXEC` is refused).
pub const MEMFD_NOEXEC: &str = "/proc/sys/vm/memfd_noexec";

/// What [`MEMFD_NOEXEC`] says here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemfdNoexec {
    /// The value, 0, 1 or 2.
    Level(u8),
    /// No such file: a kernel before 6.3, where memfds start as at 0.
    Absent,
}

impl MemfdNoexec {
    /// Reads it; an unreadable file (no `/proc`) is an error.
    pub fn read() -> io::Result<MemfdNoexec> {
        match std::fs::read_to_string(MEMFD_NOEXEC) {
            Ok(text) => text.trim().parse().map(MemfdNoexec::Level).map_err(|_| {
                io::Error::other(format!(
                    "{MEMFD_NOEXEC} holds {text:?}, not a number"
                ))
            }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if std::path::Path::new("/proc/sys/vm").is_dir() {
                    Ok(MemfdNoexec::Absent)
                } else {
                    Err(error)
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The seals a new memfd starts with, made with `MFD_ALLOW_SEALING`
    /// or without (and without `MFD_EXEC` or `MFD_NOEXEC_SEAL`). At 0,
    /// without the flag: `F_SEAL_SEAL`, so no seal can ever be added. At 1
    /// or 2 the kernel adds `MFD_NOEXEC_SEAL`, which starts it with
    /// `F_SEAL_EXEC` and, flag or not, lets it be sealed further.
    pub fn starting_seals(self, allow_sealing: bool) -> SealFlag {
        match self {
            MemfdNoexec::Level(level) if level >= 1 => F_SEAL_EXEC,
            _ if allow_sealing => SealFlag::empty(),
            _ => SealFlag::F_SEAL_SEAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_named_as_fcntl_spells_them() {
        assert_eq!(seal_names(required_seals()), "SHRINK|GROW|SEAL");
        assert_eq!(seal_names(SealFlag::empty()), "none");
        let all = SealFlag::from_bits_retain(0x7f);
        assert_eq!(
            seal_names(all),
            "SHRINK|GROW|WRITE|FUTURE_WRITE|EXEC|SEAL|0x40"
        );
    }

    #[test]
    fn a_sealed_memfd_passes_the_check_and_an_unsealed_one_does_not() {
        let sealed = sealed_memfd(8192).unwrap();
        assert_eq!(check_received(&sealed, 8192).unwrap().1, 8192);
        assert!(check_received(&sealed, 8193).is_err(), "too small");
        let unsealed = unsealed_memfd(8192).unwrap();
        let error = check_received(&unsealed, 8192).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
    }
}

#[cfg(test)]
mod noexec {
    use super::*;

    /// The seals a new memfd starts with match what `vm.memfd_noexec`
    /// says, with `MFD_ALLOW_SEALING` and without.
    #[test]
    fn a_new_memfd_starts_with_the_seals_the_sysctl_says() {
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let found = MemfdNoexec::read().unwrap();
        let seals = |flags| {
            let fd =
                memfd_create("noexec-test", MFdFlags::MFD_CLOEXEC | flags).unwrap();
            SealFlag::from_bits_retain(fcntl(&fd, FcntlArg::F_GET_SEALS).unwrap())
        };
        assert_eq!(
            seals(MFdFlags::MFD_ALLOW_SEALING),
            found.starting_seals(true),
            "{found:?}"
        );
        assert_eq!(
            seals(MFdFlags::empty()),
            found.starting_seals(false),
            "{found:?}"
        );
    }
}
