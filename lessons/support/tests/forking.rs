//! `run_in_child` and `fork_child`, tested where forking is allowed: this
//! test has no libtest harness (`harness = false` in Cargo.toml), so it is a
//! plain single-threaded program, like a lesson's walkthrough.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, waitpid};
use support::ChildOutcome;
use support::fork::{ChildError, fork_child, run_in_child};

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
    let total = 9;

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
    let empty = nix::sys::memfd::memfd_create(
        "empty",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
    )
    .unwrap();
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

    let helper =
        std::thread::spawn(|| std::thread::sleep(Duration::from_millis(200)));
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

    // A panic in the child must not unwind into this frame: if it did, the
    // child would drop `guard` and delete the parent's directory.
    let guard = tempfile::tempdir().unwrap();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = run_in_child(LIMIT, || panic!("a bug in the child")).unwrap();
    std::panic::set_hook(quiet);
    check(
        "a_panicking_child_exits_with_101_and_runs_no_destructor_of_the_parent",
        outcome == ChildOutcome::Exited(support::fork::PANICKED)
            && guard.path().exists(),
        &mut failures,
    );

    // The child forks a grandchild that would sleep for 30 s, tells us its
    // pid, and exits: the grandchild must die with its parent.
    let (reader, writer) = nix::unistd::pipe().unwrap();
    let outcome = run_in_child(LIMIT, || {
        let grandchild = fork_child(|| {
            std::thread::sleep(Duration::from_secs(30));
            0
        })
        .unwrap();
        let pid = grandchild.pid().as_raw().to_ne_bytes();
        let _ = nix::unistd::write(&writer, &pid);
        // Leave without waiting for (or killing) the grandchild.
        std::mem::forget(grandchild);
        0
    })
    .unwrap();
    drop(writer);
    let mut pid = [0u8; 4];
    let read = nix::unistd::read(&reader, &mut pid).unwrap_or(0);
    let grandchild = i32::from_ne_bytes(pid);
    let started = Instant::now();
    let mut gone = false;
    while read == 4 && started.elapsed() < Duration::from_secs(5) {
        // Gone, or a zombie waiting for init: either way no longer running.
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        if stat.is_empty() || state == Some("Z") || state == Some("X") {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    check(
        "a_forked_child_dies_with_its_parent",
        outcome == ChildOutcome::Exited(0) && gone,
        &mut failures,
    );

    // An interrupted parent removes what it registered; its child, sent
    // the same signal, dies without touching the parent's things. A job
    // started in the background inherits SIGINT ignored, and the cleanup
    // handler rightly leaves an ignored signal ignored: restore the default
    // first, since an interruption is what this checks.
    // SAFETY: SIG_DFL installs no handler of ours; no other thread runs.
    let _ = unsafe {
        nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigDfl)
    };
    let scratch = support::scratch_dir().unwrap();
    let path = scratch.path().to_path_buf();
    let outcome = run_in_child(LIMIT, || {
        // SAFETY: raise sends a signal to this (child) process only.
        unsafe { libc::raise(libc::SIGINT) };
        0
    })
    .unwrap();
    check(
        "an_interrupted_child_leaves_its_parents_files_alone",
        outcome == ChildOutcome::Signaled(Signal::SIGINT) && path.exists(),
        &mut failures,
    );
    drop(scratch);

    println!(
        "{} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
