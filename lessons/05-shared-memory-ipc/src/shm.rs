//! Step 1: meeting by name. A POSIX shared-memory object in `/dev/shm`,
//! created so that nobody else can have made it first, and opened only
//! after checking who made it.

use std::io;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// Every shm name this lesson makes starts with this, then 16 random hex
/// digits: a leftover (only possible after SIGKILL) is easy to find.
pub const NAME_PREFIX: &str = "/shared-memory-ipc-";

/// Where Linux keeps POSIX shared-memory objects.
pub const SHM_DIR: &str = "/dev/shm";

/// A fresh name no other user can guess, and so cannot create first.
pub fn unguessable_name() -> io::Result<String> {
    Ok(format!("{NAME_PREFIX}{}", support::unguessable_suffix()?))
}

/// A name this process created in `/dev/shm`. It is unlinked when dropped
/// (on every path out, errors and panics included) unless already unlinked,
/// and until then it is registered with `support::cleanup`, so that a death
/// by signal (Ctrl-C, a closed pipe) removes it too.
#[derive(Debug)]
pub struct ShmName {
    name: String,
    unlinked: bool,
    registered: Option<support::cleanup::Registration>,
}

impl ShmName {
    /// Takes charge of `name`, which this process just created.
    fn new(name: &str) -> io::Result<ShmName> {
        let path = std::path::Path::new(SHM_DIR).join(name.trim_start_matches('/'));
        let registered =
            support::cleanup::register(&path, support::cleanup::Removal::File)?;
        Ok(ShmName {
            name: name.to_owned(),
            unlinked: false,
            registered: Some(registered),
        })
    }

    /// The name, as `shm_open` takes it (`/shared-memory-ipc-...`).
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Removes the name now. Mappings and descriptors keep the object alive.
    pub fn unlink(&mut self) -> io::Result<()> {
        if !self.unlinked {
            self.unlinked = true;
            let unlinked = nix::sys::mman::shm_unlink(self.name.as_str())
                .map_err(|e| shm_error("shm_unlink", &self.name, e));
            self.registered = None;
            unlinked?;
        }
        Ok(())
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = self.unlink();
    }
}

// ANCHOR: create_exclusive
/// Creates the shm object `name` of `len` bytes, readable and writable by
/// this user only. `O_EXCL` makes this fail with `EEXIST` if the name already
/// exists: whoever made it first could read everything we write.
pub fn create_exclusive(name: &str, len: usize) -> io::Result<(OwnedFd, ShmName)> {
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC;
    // Created and put in charge of a guard with Ctrl-C held off in between.
    let (fd, guard) = support::cleanup::protected(|| -> io::Result<_> {
        let fd = nix::sys::mman::shm_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| shm_error("shm_open", name, e))?;
        Ok((fd, ShmName::new(name)?))
    })?;
    // The umask may have taken bits away (never added any): say 0600 again.
    nix::sys::stat::fchmod(&fd, Mode::S_IRUSR | Mode::S_IWUSR)?;
    nix::unistd::ftruncate(&fd, len as i64)
        .map_err(|e| shm_error("ftruncate", name, e))?;
    // tmpfs allocates pages on first touch: a full /dev/shm would kill us
    // with SIGBUS then. Reserving them now turns that into ENOSPC here.
    nix::fcntl::fallocate(&fd, nix::fcntl::FallocateFlags::empty(), 0, len as i64)
        .map_err(|e| shm_error("fallocate", name, e))?;
    Ok((fd, guard))
}
// ANCHOR_END: create_exclusive

// ANCHOR: open_checked
/// Opens the existing shm object `name` and refuses it unless this user
/// owns it and nobody else may read or write it (mode 0600).
pub fn open_checked(name: &str) -> io::Result<OwnedFd> {
    let fd = nix::sys::mman::shm_open(
        name,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| shm_error("shm_open", name, e))?;
    let stat = nix::sys::stat::fstat(&fd)?;
    let me = nix::unistd::geteuid().as_raw();
    let mode = stat.st_mode & 0o777;
    if stat.st_uid != me || mode != 0o600 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing {SHM_DIR}{name}: owned by uid {} with mode {mode:04o}; \
                 expected uid {me} and 0600. Someone else may be listening.",
                stat.st_uid
            ),
        ));
    }
    Ok(fd)
}
// ANCHOR_END: open_checked

/// An error from a call on a shm object, naming `/dev/shm` and what to do.
pub fn shm_error(call: &str, name: &str, errno: Errno) -> io::Error {
    let path = format!("{SHM_DIR}{name}");
    let advice = match errno {
        Errno::ENOENT
            if call == "shm_open" && !std::path::Path::new(SHM_DIR).is_dir() =>
        {
            format!(
                "{SHM_DIR} does not exist. POSIX shared memory lives there: mount a tmpfs \
                 on it (mount -t tmpfs tmpfs {SHM_DIR})"
            )
        }
        Errno::ENOENT => format!("{path} does not exist (any more)"),
        Errno::EROFS => format!(
            "{SHM_DIR} is read-only. POSIX shared memory needs it writable: remount it \
             read-write, or give the container a writable {SHM_DIR}"
        ),
        Errno::ENOSPC => format!(
            "{SHM_DIR} is full. Free space there, or make it larger (containers get \
             64 MiB by default: docker run --shm-size=...)"
        ),
        Errno::EACCES | Errno::EPERM => {
            format!("not allowed to use {path}: check the permissions of {SHM_DIR}")
        }
        Errno::EEXIST => format!(
            "{path} already exists, made by someone else: refusing to use an object we \
             did not create. Run again for a new random name"
        ),
        _ => format!("on {path}"),
    };
    io::Error::new(
        io::Error::from(errno).kind(),
        format!("{call} failed with {errno:?} ({}): {advice}.", errno.desc()),
    )
}

/// True if `name` is listed in `/dev/shm` right now.
pub fn listed_in_dev_shm(name: &str) -> bool {
    std::path::Path::new(&format!("{SHM_DIR}{name}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_errors_name_dev_shm_and_the_fix() {
        let full = shm_error("fallocate", "/x", Errno::ENOSPC).to_string();
        assert!(
            full.contains("ENOSPC") && full.contains("/dev/shm is full"),
            "{full}"
        );
        let ro = shm_error("shm_open", "/x", Errno::EROFS).to_string();
        assert!(ro.contains("/dev/shm is read-only"), "{ro}");
        let taken = shm_error("shm_open", "/x", Errno::EEXIST);
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
    }
}
