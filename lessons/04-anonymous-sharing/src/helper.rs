//! `--exercise-helper sum LEN WORKERS START HOW`: runs the learner's
//! `parallel_sum` in a process of its own and prints what happened, one
//! `key: value` line each. The graded tests no longer start it: they judge
//! through `--exercises` (`src/runner.rs`), where nothing your code prints
//! can pass for a reply. The lines:
//!
//! - `result: ok SUM` or `result: error MESSAGE`, and `expected: SUM`;
//! - `workers: PID,PID,...`: the process that ran each call of `sum_slice`,
//!   recorded by `sum_slice` itself in a shared page the learner never sees;
//! - `spans: FROM-TO,...`: when each call of `sum_slice` began and ended,
//!   in microseconds since the helper started (on the one monotonic clock
//!   all processes share), to tell workers that ran together from workers
//!   that ran one after another;
//! - `helper: PID`: this process, which must not be one of the workers;
//! - `leftover: none | running | zombie`: what `waitpid(-1, WNOHANG)` found
//!   after `parallel_sum` returned (`none` is ECHILD: no child at all).
//!
//! HOW is `plain`, `slow` (each call of `sum_slice` first sleeps 300 ms, so
//! a parent that reads before waiting reads nothing) or `crash` (the second
//! call kills its own process with SIGKILL).

use std::sync::atomic::Ordering::AcqRel;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::{Duration, Instant};

use crate::exercises::parallel_sum;
use anonymous_sharing::{Sharing, Slots};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::getpid;
use support::{Result, say};

/// The most workers the helper records.
const MAX_WORKERS: usize = 4096;

/// Slots per call of `sum_slice`: its pid, when it began, when it ended.
const PER_CALL: usize = 3;

/// Runs one parallel sum as the arguments say and prints the facts.
pub fn exercise(args: &[String]) -> Result {
    let usage = "--exercise-helper sum LEN WORKERS START plain|slow|crash";
    let [role, len, workers, start, how] = args else {
        return Err(format!("expected {usage}").into());
    };
    let number = |text: &str| -> Result<u64> {
        Ok(text
            .parse()
            .map_err(|_| format!("'{text}' is not a number; expected {usage}"))?)
    };
    let (len, workers, start) = (
        number(len)? as usize,
        number(workers)? as usize,
        number(start)?,
    );
    if role != "sum" || !["plain", "slow", "crash"].contains(&how.as_str()) {
        return Err(format!("expected {usage}").into());
    }
    if workers > MAX_WORKERS {
        return Err(format!("at most {MAX_WORKERS} workers").into());
    }
    // The numbers are made in memory: keep them well inside any machine's.
    const MAX_LEN: usize = 1 << 24;
    if len > MAX_LEN {
        return Err(format!("LEN is at most {MAX_LEN} numbers, not {len}").into());
    }
    let data = random_numbers(len, start);
    let expected = data.iter().fold(0u64, |sum, &n| sum.wrapping_add(n));
    // Slot 0 counts the calls of `sum_slice`; call i records its pid and
    // when it began and ended in slots 1 + 3i, 2 + 3i and 3 + 3i.
    let calls = Slots::new(1 + PER_CALL * MAX_WORKERS, Sharing::Shared)?;
    let started = Instant::now();
    let micros = || started.elapsed().as_micros() as u64;
    let sum_slice = |part: &[u64]| {
        let began = micros();
        let call = calls.slot(0).fetch_add(1, AcqRel) as usize;
        let record = |field: usize, value: u64| {
            if call < MAX_WORKERS {
                calls
                    .slot(1 + PER_CALL * call + field)
                    .store(value, Release);
            }
        };
        record(0, u64::from(getpid().as_raw().unsigned_abs()));
        record(1, began);
        match how.as_str() {
            "slow" => std::thread::sleep(Duration::from_millis(300)),
            "crash" if call == 1 => {
                let _ = kill(getpid(), Signal::SIGKILL);
            }
            _ => {}
        }
        let sum = part.iter().fold(0u64, |sum, &n| sum.wrapping_add(n));
        record(2, micros());
        sum
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
    let field = |call: usize, field: usize| {
        calls.slot(1 + PER_CALL * call + field).load(Acquire)
    };
    let pids: Vec<String> = (0..count).map(|i| field(i, 0).to_string()).collect();
    let spans: Vec<String> = (0..count)
        .map(|i| format!("{}-{}", field(i, 1), field(i, 2)))
        .collect();
    match result {
        Ok(sum) => say!("result: ok {sum}"),
        Err(e) => say!("result: error {e}"),
    }
    say!("expected: {expected}");
    say!("workers: {}", pids.join(","));
    say!("spans: {}", spans.join(","));
    say!("helper: {me}");
    say!("leftover: {leftover}");
    Ok(())
}

/// `len` numbers over the whole `u64` range (the same for the same
/// `start`), so a sum that is not modulo 2^64 overflows.
fn random_numbers(len: usize, start: u64) -> Vec<u64> {
    let mut random = fastrand::Rng::with_seed(start);
    (0..len).map(|_| random.u64(..)).collect()
}
