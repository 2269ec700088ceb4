//! Step 3: the lost update. Two processes add to one counter, started
//! together by a barrier, and where each one ran, and when.

use std::io;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use crate::{SharedLayout, spin_until};

/// A counter two processes add to, and the start barrier that releases them.
#[repr(C)]
#[derive(Debug)]
pub struct Race {
    /// How many processes have arrived at the start line.
    pub arrived: AtomicU32,
    /// The shared counter.
    pub counter: AtomicU64,
}

// SAFETY: atomics only, valid when zeroed.
unsafe impl SharedLayout for Race {}

/// How a process adds 1 to the shared counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// A load, then a separate store: another process's add in between is lost.
    LoadThenStore,
    /// One indivisible read-modify-write.
    FetchAdd,
}

impl Race {
    /// Waits, at most `limit`, until `parties` processes have arrived, so
    /// they start counting at the same moment.
    pub fn start_together(&self, parties: u32, limit: Duration) -> io::Result<()> {
        self.arrived.fetch_add(1, Release);
        spin_until(limit, || self.arrived.load(Acquire) >= parties)
    }

    // ANCHOR: increment
    /// Adds 1 to the counter `n` times.
    pub fn add(&self, n: u64, how: Increment) {
        for _ in 0..n {
            match how {
                Increment::LoadThenStore => {
                    // Atomic, so no undefined behaviour; not indivisible, so
                    // the other process's stores between these two are lost.
                    let seen = self.counter.load(Relaxed);
                    self.counter.store(seen + 1, Relaxed);
                }
                Increment::FetchAdd => {
                    self.counter.fetch_add(1, Relaxed);
                }
            }
        }
    }
    // ANCHOR_END: increment
}

/// The CPUs this process may run on (`sched_getaffinity`).
pub fn usable_cpu_list() -> Vec<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return vec![0];
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect()
}

/// How many CPUs this process may run on.
pub fn usable_cpus() -> usize {
    usable_cpu_list().len()
}

/// Lets process `pid` (0: this one) run on `cpu` only.
pub fn pin_to(pid: u32, cpu: usize) -> nix::Result<()> {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(pid as i32), &set)
}
