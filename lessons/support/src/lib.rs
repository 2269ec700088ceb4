//! The lessons' runtime: what their programs share, written once. What
//! only their tests and the tooling use is in `test-support`.
//!
//! - [`hexdump`]: bytes in the layout of `hexdump -C`, so a learner can compare.
//! - [`fork`] (walkthroughs only): run a step that faults, forks or races in
//!   a forked child; [`spawn`] (tests, xtask, helpers): run a program to its
//!   end; both wait a bounded time ([`wait`]) and say how the child ended
//!   ([`ChildOutcome`]).
//! - [`signal_line`]: text a signal handler may write, without allocating.
//! - [`region`]: an owned raw mapping with volatile byte access.
//! - [`seccomp`]: the runners' system-call filters, assembled and installed.
//! - [`page_size`]: the size the kernel maps in.
//! - [`scratch_dir`]: where a lesson keeps its files, never the learner's directory.
//! - [`cleanup`]: what a lesson created is removed even when it is interrupted.
//! - [`out`] and [`say!`]: the story's output, ending like `cat` on a closed pipe.
//! - [`errors`]: an errno in words, with the fix.
//! - [`keep`]: a file for the learner, written atomically, refusing links and FIFOs.
//! - [`svg`]: a lesson's picture of its run (`--svg FILE`): a tiny SVG
//!   writer, and the file or standard output it goes to.
//! - [`pagemap`]: this process's page table entries (present, exclusive).
//! - [`space`]: reserving a file's blocks before storing through a mapping.
//! - [`unguessable_suffix`]: random names for shared-memory objects.
//! - [`cli`]: the lessons' uniform flag parsing and error messages.
//! - [`exercise`]: the runner, the one place the learner's code runs
//!   (`LESSON --exercises`); `test_support::judge` is the graded test that
//!   sends it inputs and judges its replies in a process of its own.
//!
//! Nothing here teaches on its own; the lessons do.

pub mod cleanup;
pub mod cli;
pub mod errors;
pub mod exercise;
pub mod fork;
pub mod hexdump;
pub mod keep;
pub mod out;
pub mod pagemap;
pub mod region;
pub mod seccomp;
pub mod signal_line;
pub mod space;
pub mod spawn;
pub mod svg;
pub mod wait;

pub use errors::{Error, Result};
pub use wait::ChildOutcome;

/// A lesson's temporary directory: removed when dropped, and also when the
/// lesson is interrupted or gives up (it is registered with [`cleanup`]).
#[derive(Debug)]
pub struct Scratch {
    // Field order matters: the directory is removed before it is unregistered,
    // so an interruption in between still finds it registered.
    dir: tempfile::TempDir,
    _registered: cleanup::Registration,
}

impl Scratch {
    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A fresh temporary directory for a lesson's files, removed when dropped or
/// when the lesson is stopped; the error says where it tried and what to do.
pub fn scratch_dir() -> std::io::Result<Scratch> {
    cleanup::protected(|| {
        let dir = tempfile::tempdir().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot create a temporary directory in {}: {}",
                    errors::shown(&std::env::temp_dir()),
                    errors::explain_or(
                        &e,
                        "Set TMPDIR to a directory you can write to."
                    )
                ),
            )
        })?;
        let registered = cleanup::register(dir.path(), cleanup::Removal::Tree)?;
        Ok(Scratch {
            dir,
            _registered: registered,
        })
    })
}

/// Runs `work` in a fresh [`scratch_dir`], removed when `work` returns:
/// how a walkthrough or a one-off mode gets a place for its files.
pub fn in_scratch_dir<T>(
    work: impl FnOnce(&std::path::Path) -> Result<T>,
) -> Result<T> {
    let scratch = scratch_dir()?;
    work(scratch.path())
}

/// 16 hex digits from the kernel's random source, for names that another
/// user must not be able to guess (and so pre-create): POSIX shm objects.
pub fn unguessable_suffix() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The page size in bytes: the unit in which the kernel maps memory.
pub fn page_size() -> usize {
    // sysconf(_SC_PAGESIZE) cannot fail on Linux; 4096 is the only sane fallback.
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as usize)
}

#[cfg(test)]
mod tests {
    #[test]
    fn suffixes_are_16_hex_digits_and_differ() {
        let a = super::unguessable_suffix().unwrap();
        let b = super::unguessable_suffix().unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_page_size_is_a_power_of_two() {
        assert!(super::page_size().is_power_of_two());
    }
}
