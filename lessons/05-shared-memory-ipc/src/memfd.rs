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
    let seals = SealFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GET_SEALS)?);
    if !seals.contains(required_seals()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing the memfd: its seals are {}; without SHRINK, GROW and SEAL \
                 the sender could shrink it and make our reads fault with SIGBUS",
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

/// The seals' names, as `<fcntl.h>` spells them without `F_SEAL_`.
pub fn seal_names(seals: SealFlag) -> String {
    let names: Vec<&str> = [
        (SealFlag::F_SEAL_SHRINK, "SHRINK"),
        (SealFlag::F_SEAL_GROW, "GROW"),
        (SealFlag::F_SEAL_WRITE, "WRITE"),
        (SealFlag::F_SEAL_SEAL, "SEAL"),
    ]
    .into_iter()
    .filter(|(flag, _)| seals.contains(*flag))
    .map(|(_, name)| name)
    .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_named_as_fcntl_spells_them() {
        assert_eq!(seal_names(required_seals()), "SHRINK|GROW|SEAL");
        assert_eq!(seal_names(SealFlag::empty()), "none");
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
