//! Confining a build with Landlock (Linux 5.13+, no capability needed): the
//! processes it starts may read only the paths they are given, and write
//! only where they are allowed to. A build of someone else's code reads its
//! files at compile time (`include_str!`, `include_bytes!`, `#[path]`,
//! `#[debugger_visualizer]`), so a grader running as root must not let it
//! read the rest of the machine.
//!
//! Raw system calls through `libc`: three calls and two small structures.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const CREATE_RULESET_VERSION: libc::c_ulong = 1;
const RULE_PATH_BENEATH: libc::c_int = 1;

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
/// ABI 1: every right from EXECUTE to MAKE_SYM.
const ABI1_ALL: u64 = (1 << 13) - 1;
/// ABI 2: renaming or linking a file into another directory.
const REFER: u64 = 1 << 13;
/// ABI 3: truncating a file.
const TRUNCATE: u64 = 1 << 14;

/// What a path may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read files and list directories, no execution.
    Read,
    /// Read and execute (the toolchain, the system's programs and libraries).
    ReadExecute,
    /// Read and write a file that exists (a lock, `/dev/null`).
    ReadWriteFile,
    /// Everything beneath it (the build's target directory).
    Full,
}

/// The `struct landlock_ruleset_attr` of ABI 1 (the kernel accepts the
/// shorter structure of an older ABI).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

/// `struct landlock_path_beneath_attr`, packed as the kernel declares it.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of this kernel, or `None` without Landlock.
pub fn abi_version() -> Option<i64> {
    // SAFETY: with a null attribute and the VERSION flag the call reads no
    // memory and returns the ABI version, or -1.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version)
}

/// A Landlock ruleset, built in the grader before it starts the build, and
/// applied in the child between fork and exec ([`Ruleset::restrict_self`]).
#[derive(Debug)]
pub struct Ruleset {
    fd: OwnedFd,
    handled: u64,
}

impl Ruleset {
    /// A ruleset that allows nothing yet; `None` where the kernel has no
    /// Landlock, or one too old to let a build rename files between its own
    /// directories (ABI 1).
    pub fn new() -> Option<Ruleset> {
        let version = abi_version()?;
        if version < 2 {
            return None;
        }
        let mut handled = ABI1_ALL | REFER;
        if version >= 3 {
            handled |= TRUNCATE;
        }
        let attr = RulesetAttr {
            handled_access_fs: handled,
        };
        // SAFETY: the attribute is a live local of the size we pass; the
        // call returns a new close-on-exec descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0usize,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: a non-negative result is a fresh descriptor only we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Some(Ruleset { fd, handled })
    }

    /// Allows `access` beneath `path` (or to the file `path`). A path that
    /// does not exist is skipped: there is nothing there to read.
    pub fn allow(&mut self, path: &Path, access: Access) -> Result<(), String> {
        let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
            return Err(format!("{} holds a NUL byte", path.display()));
        };
        // SAFETY: open(O_PATH) reads the NUL-terminated path we own and
        // returns a new descriptor or -1.
        let raw = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if raw < 0 {
            return Ok(());
        }
        // SAFETY: a non-negative result is a fresh descriptor only we own.
        let parent = unsafe { OwnedFd::from_raw_fd(raw) };
        let is_dir = path.is_dir();
        let file_rights = EXECUTE | WRITE_FILE | READ_FILE | (self.handled & TRUNCATE);
        let wanted = match access {
            Access::Read => READ_FILE | READ_DIR,
            Access::ReadExecute => READ_FILE | READ_DIR | EXECUTE,
            Access::ReadWriteFile => READ_FILE | WRITE_FILE | (self.handled & TRUNCATE),
            Access::Full => self.handled,
        };
        // A rule on a file may hold only the rights that apply to files.
        let allowed = if is_dir { wanted } else { wanted & file_rights } & self.handled;
        let attr = PathBeneathAttr {
            allowed_access: allowed,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: the attribute is a live local; the call reads it and the
        // two descriptors we own, and returns 0 or -1.
        let result = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        };
        if result < 0 {
            return Err(format!(
                "cannot allow {} in the build's Landlock ruleset: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Confines the calling thread, and everything it executes or starts,
    /// to the rules. Async-signal-safe: two system calls, for the child
    /// between fork and exec.
    pub fn restrict_self(&self) -> std::io::Result<()> {
        // SAFETY: prctl and landlock_restrict_self take plain integers; the
        // ruleset descriptor stays open while `self` lives.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::syscall(libc::SYS_landlock_restrict_self, self.fd.as_raw_fd(), 0u32) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// Runs `cat FILE` confined to the system's programs plus `allowed`.
    fn confined_cat(file: &Path, allowed: &Path) -> (bool, String) {
        let mut rules = Ruleset::new().expect("this kernel has Landlock (ABI 2+)");
        for system in ["/usr", "/bin", "/lib", "/lib64", "/etc/ld.so.cache"] {
            rules.allow(Path::new(system), Access::ReadExecute).unwrap();
        }
        rules.allow(allowed, Access::Read).unwrap();
        let mut command = Command::new("cat");
        command.arg(file);
        // SAFETY: restrict_self makes two async-signal-safe system calls.
        unsafe {
            command.pre_exec(move || rules.restrict_self());
        }
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }

    #[test]
    fn a_confined_process_reads_only_what_it_was_allowed() {
        if abi_version().is_none_or(|v| v < 2) {
            eprintln!("skipped: this kernel has no Landlock ABI 2");
            return;
        }
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "MARKER-outside").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let tree = tempfile::tempdir().unwrap();
        let inside = tree.path().join("inside");
        std::fs::write(&inside, "MARKER-inside").unwrap();
        // Allowed: read. Outside the rules: refused, even to root.
        assert_eq!(
            confined_cat(&inside, tree.path()),
            (true, "MARKER-inside".to_owned())
        );
        let (ok, text) = confined_cat(&secret, tree.path());
        assert!(!ok && !text.contains("MARKER"), "read {text:?}");
        // And through a link from inside the allowed tree.
        let link = tree.path().join("link");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let (ok, text) = confined_cat(&link, tree.path());
        assert!(!ok && !text.contains("MARKER"), "read {text:?}");
    }
}
