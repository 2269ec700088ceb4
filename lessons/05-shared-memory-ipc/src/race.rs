//! Step 3: the lost update. Two processes add to one counter, started
//! together by a barrier, and where each one ran, and when.

use std::io;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

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
    /// they start counting at the same moment. `apart`: each party has a
    /// CPU of its own, so it spins without ever yielding it (a party that
    /// yielded could miss the start by a whole time slice of another
    /// program); otherwise it yields now and then, as [`spin_until`] does.
    pub fn start_together(
        &self,
        parties: u32,
        limit: Duration,
        apart: bool,
    ) -> io::Result<()> {
        self.arrived.fetch_add(1, Release);
        let all_here = || self.arrived.load(Acquire) >= parties;
        if !apart {
            return spin_until(limit, all_here);
        }
        let deadline = Instant::now() + limit;
        let mut looks = 0u32;
        while !all_here() {
            looks = looks.wrapping_add(1);
            if looks.is_multiple_of(4096) && Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the other process did not reach the start line in time",
                ));
            }
            std::hint::spin_loop();
        }
        Ok(())
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

    // ANCHOR: add_timed
    /// [`Race::add`], and where and when it ran: the CPU before and after
    /// the loop (`sched_getcpu`), and the loop's span on the clock every
    /// process shares (`CLOCK_MONOTONIC`).
    pub fn add_timed(&self, n: u64, how: Increment) -> io::Result<LoopRun> {
        let cpu_before = nix::sched::sched_getcpu()?;
        let start_ns = monotonic_ns()?;
        self.add(n, how);
        let end_ns = monotonic_ns()?;
        let cpu_after = nix::sched::sched_getcpu()?;
        Ok(LoopRun {
            cpu_before,
            cpu_after,
            start_ns,
            end_ns,
        })
    }
    // ANCHOR_END: add_timed
}

/// Where and when one process ran its loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopRun {
    /// The CPU it was on when the loop began.
    pub cpu_before: usize,
    /// The CPU it was on when the loop ended.
    pub cpu_after: usize,
    /// When the loop began, in ns of `CLOCK_MONOTONIC`.
    pub start_ns: u64,
    /// When the loop ended.
    pub end_ns: u64,
}

impl LoopRun {
    /// The CPU it stayed on, if it began and ended on the same one.
    pub fn cpu(&self) -> Option<usize> {
        (self.cpu_before == self.cpu_after).then_some(self.cpu_before)
    }

    /// How long the two loops ran at the same time, in percent of the
    /// shorter one (0 if they never did).
    pub fn overlap_percent(&self, other: &LoopRun) -> u64 {
        let both = self
            .end_ns
            .min(other.end_ns)
            .saturating_sub(self.start_ns.max(other.start_ns));
        let shorter =
            (self.end_ns - self.start_ns).min(other.end_ns - other.start_ns);
        (both * 100).checked_div(shorter).unwrap_or(0)
    }

    /// True if the two loops ran on two different CPUs, each on one, at
    /// the same time for at least [`OVERLAP_NEEDED`] percent of the shorter.
    pub fn raced(&self, other: &LoopRun) -> bool {
        matches!((self.cpu(), other.cpu()), (Some(a), Some(b)) if a != b)
            && self.overlap_percent(other) >= OVERLAP_NEEDED
    }

    /// How a helper reports it: `cpus BEFORE AFTER span START END`.
    pub fn to_words(&self) -> String {
        format!(
            "cpus {} {} span {} {}",
            self.cpu_before, self.cpu_after, self.start_ns, self.end_ns
        )
    }

    /// Reads what [`LoopRun::to_words`] wrote, after its first word.
    pub fn from_words(words: &str) -> Option<LoopRun> {
        let mut numbers = words
            .split(' ')
            .filter(|w| !matches!(*w, "cpus" | "span"))
            .map(str::parse::<u64>);
        let mut next = || numbers.next()?.ok();
        let run = LoopRun {
            cpu_before: next()? as usize,
            cpu_after: next()? as usize,
            start_ns: next()?,
            end_ns: next()?,
        };
        (run.start_ns <= run.end_ns).then_some(run)
    }
}

/// How much of the shorter loop the two must share, in percent, to count
/// as having raced.
pub const OVERLAP_NEEDED: u64 = 50;

/// Now on `CLOCK_MONOTONIC`, in ns: one clock for every process.
pub fn monotonic_ns() -> io::Result<u64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `now`, which we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64)
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

/// Lets process `pid` (0: this one) run on all of `cpus` again.
pub fn unpin(pid: u32, cpus: &[usize]) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(pid as i32), &set)
}

/// Lets process `pid` (0: this one) run on `cpu` only.
pub fn pin_to(pid: u32, cpu: usize) -> nix::Result<()> {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(pid as i32), &set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cpus: (usize, usize), span: (u64, u64)) -> LoopRun {
        LoopRun {
            cpu_before: cpus.0,
            cpu_after: cpus.1,
            start_ns: span.0,
            end_ns: span.1,
        }
    }

    #[test]
    fn two_loops_raced_only_on_two_cpus_at_once() {
        let ours = run((0, 0), (100, 200));
        assert_eq!(ours.overlap_percent(&run((1, 1), (150, 400))), 50);
        assert!(ours.raced(&run((1, 1), (150, 400))));
        assert!(!ours.raced(&run((1, 1), (160, 400))), "40% is too little");
        assert!(!ours.raced(&run((0, 0), (100, 200))), "one CPU");
        assert!(!ours.raced(&run((1, 0), (100, 200))), "it moved");
        assert_eq!(ours.overlap_percent(&run((1, 1), (300, 400))), 0);
        assert_eq!(ours.overlap_percent(&run((1, 1), (0, 50))), 0);
    }

    #[test]
    fn a_loop_run_survives_its_trip_through_words() {
        let sent = run((3, 5), (7, 11));
        let line = format!("done {}", sent.to_words());
        let words = line.split_once(' ').unwrap().1;
        assert_eq!(LoopRun::from_words(words), Some(sent));
        assert_eq!(LoopRun::from_words("cpus 1 1 span 9 8"), None);
        assert_eq!(LoopRun::from_words("cpus 1 1 span 9"), None);
    }

    #[test]
    fn a_timed_loop_reports_its_own_span() {
        let race = Race {
            arrived: AtomicU32::new(0),
            counter: AtomicU64::new(0),
        };
        let before = monotonic_ns().unwrap();
        let ran = race.add_timed(1000, Increment::FetchAdd).unwrap();
        assert_eq!(race.counter.load(Acquire), 1000);
        assert!(before <= ran.start_ns && ran.start_ns <= ran.end_ns);
        assert!(ran.end_ns <= monotonic_ns().unwrap());
    }
}
