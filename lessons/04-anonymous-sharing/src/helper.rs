//! `--exercise-helper sum LEN WORKERS SEED HOW`: runs the learner's
//! `parallel_sum` in a process of its own (a test harness must never fork)
//! and prints what a graded test checks, one `key: value` line each:
//!
//! - `result: ok SUM` or `result: error MESSAGE`, and `expected: SUM`;
//! - `workers: PID,PID,...`: the process that ran each call of `sum_slice`,
//!   recorded by `sum_slice` itself in a shared page the learner never sees;
//! - `helper: PID`: this process, which must not be one of the workers;
//! - `leftover: none | running | zombie`: what `waitpid(-1, WNOHANG)` found
//!   after `parallel_sum` returned (`none` is ECHILD: no child at all).
//!
//! HOW is `plain`, `slow` (each call of `sum_slice` first sleeps 200 ms, so
//! a parent that reads before waiting reads nothing) or `crash` (the second
//! call kills its own process with SIGKILL).

use std::sync::atomic::Ordering::AcqRel;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::Duration;

use anonymous_sharing::exercises::parallel_sum;
use anonymous_sharing::{Sharing, Slots};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::getpid;
use support::{Result, say};

/// The most workers the helper records.
const MAX_WORKERS: usize = 4096;

/// Runs one parallel sum as the arguments say and prints the facts.
pub fn exercise(args: &[String]) -> Result {
    let usage = "--exercise-helper sum LEN WORKERS SEED plain|slow|crash";
    let [role, len, workers, seed, how] = args else {
        return Err(format!("expected {usage}").into());
    };
    let number = |text: &str| -> Result<u64> {
        Ok(text
            .parse()
            .map_err(|_| format!("'{text}' is not a number; expected {usage}"))?)
    };
    let (len, workers, seed) = (
        number(len)? as usize,
        number(workers)? as usize,
        number(seed)?,
    );
    if role != "sum" || !["plain", "slow", "crash"].contains(&how.as_str()) {
        return Err(format!("expected {usage}").into());
    }
    if workers > MAX_WORKERS {
        return Err(format!("at most {MAX_WORKERS} workers").into());
    }
    let data = random_numbers(len, seed);
    let expected = data.iter().fold(0u64, |sum, &n| sum.wrapping_add(n));
    // Slot 0 counts the calls of `sum_slice`; slot 1 + i holds the pid of
    // the process that made call i.
    let calls = Slots::new(1 + MAX_WORKERS, Sharing::Shared)?;
    let sum_slice = |part: &[u64]| {
        let call = calls.slot(0).fetch_add(1, AcqRel) as usize;
        if call < MAX_WORKERS {
            calls
                .slot(1 + call)
                .store(u64::from(getpid().as_raw().unsigned_abs()), Release);
        }
        match how.as_str() {
            "slow" => std::thread::sleep(Duration::from_millis(200)),
            "crash" if call == 1 => {
                let _ = kill(getpid(), Signal::SIGKILL);
            }
            _ => {}
        }
        part.iter().fold(0u64, |sum, &n| sum.wrapping_add(n))
    };
    let me = getpid();
    let result = parallel_sum(&data, workers, sum_slice);
    if getpid() != me {
        // A child returned from parallel_sum into this code: stop it here.
        eprintln!("a worker returned from parallel_sum instead of exiting");
        // SAFETY: _exit ends this child at once; nothing of the parent's runs.
        unsafe { libc::_exit(70) }
    }
    let leftover = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        Err(Errno::ECHILD) => "none".to_owned(),
        Ok(WaitStatus::StillAlive) => "running".to_owned(),
        Ok(_) => "zombie".to_owned(),
        Err(e) => format!("unknown ({e})"),
    };
    let count = (calls.slot(0).load(Acquire) as usize).min(MAX_WORKERS);
    let pids: Vec<String> = (0..count)
        .map(|i| calls.slot(1 + i).load(Acquire).to_string())
        .collect();
    match result {
        Ok(sum) => say!("result: ok {sum}"),
        Err(e) => say!("result: error {e}"),
    }
    say!("expected: {expected}");
    say!("workers: {}", pids.join(","));
    say!("helper: {me}");
    say!("leftover: {leftover}");
    Ok(())
}

/// `len` numbers over the whole `u64` range (xorshift from `seed`), so a
/// sum that is not modulo 2^64 overflows.
fn random_numbers(len: usize, seed: u64) -> Vec<u64> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect()
}
