//! What the lessons share, written once.
//!
//! - [`hexdump`]: bytes in the layout of `hexdump -C`, so a learner can compare.
//! - [`child`]: run a step that faults, forks or races in a child process, wait
//!   a bounded time, and say how it ended ([`ChildOutcome`]).
//! - [`page_size`]: the size the kernel maps in.
//! - [`cli`]: the lessons' uniform flag parsing and error messages.
//! - [`snapshot`]: the redaction filters every snapshot test applies.
//!
//! Nothing here teaches on its own; the lessons do.

pub mod child;
pub mod cli;
pub mod hexdump;
pub mod snapshot;

pub use child::ChildOutcome;

/// The page size in bytes: the unit in which the kernel maps memory.
pub fn page_size() -> usize {
    // sysconf(_SC_PAGESIZE) cannot fail on Linux; 4096 is the only sane fallback.
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as usize)
}
