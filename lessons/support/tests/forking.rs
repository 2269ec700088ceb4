//! `run_in_child` and `fork_child`, tested where forking is allowed: this
//! test has no libtest harness (`harness = false` in Cargo.toml), so it is a
//! plain single-threaded program, like a lesson's walkthrough.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, waitpid};
use support::ChildOutcome;
use support::child::{ChildError, fork_child, run_in_child};

const LIMIT: Duration = Duration::from_secs(10);

/// True when this process has no child left, not even a zombie.
fn no_children_left() -> bool {
    waitpid(None, Some(WaitPidFlag::WNOHANG)) == Err(Errno::ECHILD)
}

fn check(name: &str, ok: bool, failures: &mut Vec<String>) {
    println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
    if !ok {
        failures.push(name.to_owned());
    }
}

fn main() {
    let mut failures = Vec::new();
    let total = 6;

    let outcome = run_in_child(LIMIT, || 0).unwrap();
    check(
        "a_child_that_returns_0_exits_normally",
        outcome == ChildOutcome::Exited(0),
        &mut failures,
    );

    let outcome = run_in_child(LIMIT, || 3).unwrap();
    check(
        "a_childs_return_value_is_its_exit_code",
        outcome == ChildOutcome::Exited(3),
        &mut failures,
    );

    // A real fault: a page of a mapping with no file behind it. (raise()
    // would not do: Rust's runtime catches a first SIGBUS to look for stack
    // overflows and only a retried fault gets the default action.)
    let empty =
        nix::sys::memfd::memfd_create("empty", nix::sys::memfd::MFdFlags::MFD_CLOEXEC).unwrap();
    let page = std::num::NonZeroUsize::new(support::page_size()).unwrap();
    // SAFETY: a fresh mapping at an address the kernel picks; nothing in
    // Rust refers to that memory yet.
    let base = unsafe {
        nix::sys::mman::mmap(
            None,
            page,
            nix::sys::mman::ProtFlags::PROT_READ,
            nix::sys::mman::MapFlags::MAP_SHARED,
            &empty,
            0,
        )
    }
    .unwrap();
    // SAFETY: exactly what mmap returned and was given; `region` alone owns it.
    let region = unsafe { support::region::Region::from_raw(base, page.get()) };
    let outcome = run_in_child(LIMIT, || i32::from(region.read(0))).unwrap();
    check(
        "a_child_killed_by_sigbus_is_reported_by_name",
        outcome == ChildOutcome::Signaled(Signal::SIGBUS)
            && outcome.to_string() == "killed by SIGBUS (signal 7)",
        &mut failures,
    );

    let started = Instant::now();
    let limit = Duration::from_millis(100);
    let outcome = run_in_child(limit, || {
        std::thread::sleep(Duration::from_secs(30));
        0
    })
    .unwrap();
    check(
        "a_child_past_its_limit_is_killed_and_reaped",
        outcome == ChildOutcome::TimedOut(limit)
            && started.elapsed() < Duration::from_secs(5)
            && no_children_left(),
        &mut failures,
    );

    let child = fork_child(|| {
        std::thread::sleep(Duration::from_secs(30));
        0
    })
    .unwrap();
    drop(child);
    check(
        "a_forked_child_dropped_unwaited_is_killed_and_reaped",
        no_children_left(),
        &mut failures,
    );

    let helper = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(200)));
    let refused = matches!(
        run_in_child(LIMIT, || 0),
        Err(ChildError::NotSingleThreaded(2))
    );
    helper.join().unwrap();
    check(
        "forking_is_refused_while_another_thread_runs",
        refused,
        &mut failures,
    );

    println!(
        "{} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
