//! The walkthrough for lesson 5: run it with `cargo xtask run-lesson shared-memory-ipc`.
//!
//! The second process is this binary again, started with `--helper`: it
//! inherits no memory, only a control socket, and waits for commands on it.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use shared_memory_ipc::peer::Peer;
use shared_memory_ipc::{
    Guarded, Increment, Locked, LoopRun, Mailboxes, MemfdNoexec, Race, SHM_DIR,
    create_exclusive, futex_wake, listed_in_dev_shm, map_shared, open_checked,
    seal_names, sealed_memfd, unguessable_name, unsealed_memfd, view,
};
use support::cli::Cli;
use support::out::yes_no;
use support::{Result, say};

mod exercises;
mod helper;
mod runner;
mod speed;

const CLI: Cli = support::lesson_cli! {
    usage: "\
Flags:
  --bench        only measure step 6 (throughput and round trips), with more data
  --mib N        with --bench: move N MiB through each transport (default 512)
  --json         with --bench: print one JSON object per line
  --place P      with --bench: where the two processes run while they move the
                 bytes: free (where the kernel puts them, the default), same
                 (both on one CPU) or apart (on two CPUs)
  -h, --help     print this help

The lesson starts its own binary again as a second process (--helper); every
wait on it is bounded. The graded tests run it with --exercises. Shared
memory objects it names in /dev/shm are unlinked as soon as both processes
have mapped them.
",
    flags: &[
        "--bench", "--mib", "--json", "--place", "--help", "--helper",
    ],
};

/// How long the helper may take to answer, or anything else to finish.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The walkthrough's data per transport in step 6: small, so the lesson
/// stays quick; `--bench` moves more.
const WALKTHROUGH_MIB: u64 = 8;

/// Round trips measured per method in the walkthrough.
const WALKTHROUGH_ROUND_TRIPS: u64 = 200;

/// Additions per process in step 3, and under the lock in step 4.
const RACE_N: u64 = 300_000;
const LOCKED_N: u64 = 20_000;

/// What the command line asks for.
#[derive(Debug)]
enum Mode {
    Help,
    Walkthrough,
    Bench {
        mib: u64,
        json: bool,
        place: speed::Place,
    },
    Helper(u32),
}

fn main() {
    CLI.begin(runner::EXERCISES);
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => walkthrough(),
        Mode::Bench { mib, json, place } => {
            speed::bench(&lesson_exe(), mib, json, place)
        }
        Mode::Helper(parent) => helper::serve(parent),
    });
    // The one place errors become an exit: every guard (shm names, helpers)
    // has been dropped by now, so nothing is left behind.
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    let mut args = CLI.args();
    let (mut bench, mut mib, mut json, mut place) = (false, None, false, None);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok(Mode::Help),
            Some("--helper") => {
                let value = CLI.value_for("--helper", args.next())?;
                let text = value.to_string_lossy();
                return match text.parse::<u32>() {
                    Ok(pid) if pid > 0 => Ok(Mode::Helper(pid)),
                    _ => Err(CLI.refuse(format_args!(
                        "--helper {text}: not a process id. The lesson starts its helper \
                         itself, with its own pid; run the lesson without --helper"
                    ))),
                };
            }
            Some("--bench") => bench = true,
            Some("--json") => json = true,
            Some("--place") => {
                place = Some(parse_place(CLI.value_for("--place", args.next())?)?)
            }
            Some("--mib") => {
                mib = Some(parse_mib(CLI.value_for("--mib", args.next())?)?)
            }
            _ => return Err(CLI.unknown_argument(&arg)),
        }
    }
    if !bench && (mib.is_some() || json || place.is_some()) {
        return Err(CLI.refuse(
            "--mib, --json and --place only apply to --bench; add --bench, or drop them",
        ));
    }
    Ok(if bench {
        Mode::Bench {
            mib: mib.unwrap_or(speed::BENCH_MIB),
            json,
            place: place.unwrap_or(speed::Place::Free),
        }
    } else {
        Mode::Walkthrough
    })
}

/// The most `--mib` accepts: 64 GiB per transport is minutes of copying.
const MAX_MIB: u64 = 65_536;

fn parse_mib(value: OsString) -> Result<u64> {
    let text = value.to_string_lossy();
    match text.parse::<u64>() {
        Ok(n) if (1..=MAX_MIB).contains(&n) => Ok(n),
        _ => Err(CLI.refuse(format_args!(
            "--mib {text}: not a whole number of MiB from 1 to {MAX_MIB}. Try --mib 256."
        ))),
    }
}

fn parse_place(value: OsString) -> Result<speed::Place> {
    let text = value.to_string_lossy();
    let place = speed::Place::parse(&text).ok_or_else(|| {
        CLI.refuse(format_args!(
            "--place {text}: not a placement. Say free, same or apart."
        ))
    })?;
    let cpus = shared_memory_ipc::usable_cpus();
    if place == speed::Place::Apart && cpus < 2 {
        return Err(CLI.refuse(format_args!(
            "--place apart: this process may use {cpus} CPU, and apart needs two. \
             Say --place same, or run it where two CPUs are usable."
        )));
    }
    Ok(place)
}

fn lesson_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
}

fn walkthrough() -> Result {
    let exe = lesson_exe();
    say!(
        "shared-memory-ipc: how do two processes talk through shared memory, safely and fast?"
    );
    with_signals_held(|| meeting_by_name(&exe))?;
    with_signals_held(squatting)?;
    meeting_without_a_name(&exe)?;
    the_lost_update(&exe)?;
    locks_across_processes(&exe)?;
    std_mutex_does_not_work(&exe)?;
    waking_without_a_pipe(&exe)?;
    speed::how_fast(
        &exe,
        WALKTHROUGH_MIB,
        WALKTHROUGH_ROUND_TRIPS,
        speed::Output::Story,
        speed::Place::Free,
    )?;
    Ok(())
}

// ANCHOR: signals_held
/// Runs `work` with SIGINT, SIGTERM, SIGHUP and SIGQUIT held back: a Ctrl-C
/// while a name exists in /dev/shm waits until `work` has unlinked it (its
/// guards run on every path out), then ends the process as usual.
fn with_signals_held<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut held = SigSet::empty();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        held.add(signal);
    }
    let mut before = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut before))?;
    let result = work();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&before), None)?;
    result
}
// ANCHOR_END: signals_held

/// Asks the helper to do `command` and returns its one-line answer.
fn ask(peer: &Peer, command: &str) -> io::Result<String> {
    peer.channel.send(command)?;
    Ok(peer.channel.recv(LIMIT)?.line)
}

// ANCHOR: step1
fn meeting_by_name(exe: &Path) -> Result {
    say!("\nStep 1. Meeting by name: POSIX shm");
    let page = support::page_size();
    let name = unguessable_name()?;
    let (fd, mut guard) = create_exclusive(&name, page)?;
    say!("  shm_open(O_CREAT|O_EXCL, mode 0600) created {page} bytes as");
    say!("    {SHM_DIR}{name}");
    let region = map_shared(&fd, page)?;
    let boxes: &Mailboxes = view(&region);
    boxes
        .to_helper
        .post(&format!("hello from pid {}", std::process::id()));
    say!(
        "  mapped it at {:#x} and wrote {:?}",
        region.address(),
        boxes.to_helper.read()
    );
    let peer = Peer::spawn(exe)?;
    say!(
        "  started this lesson's binary again, pid {}; it knows only the name",
        peer.pid()
    );
    let opened = ask(&peer, &format!("open {name}"))?;
    helper_says(2, &opened);
    if opened.starts_with("refused") {
        return Err("the helper refused the object the lesson created".into());
    }
    helper_says(2, &ask(&peer, "read")?);

    guard.unlink()?;
    say!(
        "  both have it mapped, so shm_unlink: {SHM_DIR} still lists it: {}",
        yes_no(listed_in_dev_shm(&name))
    );
    boxes.to_helper.post("still here after the unlink");
    say!("  wrote {:?}", boxes.to_helper.read());
    helper_says(2, &ask(&peer, "read")?);
    helper_says(2, &ask(&peer, "write and back")?);
    say!(
        "  read {:?}: the object lives on while anyone maps it",
        boxes.to_lesson.read()
    );

    say!("  The same object, two addresses:");
    say!(
        "    the text is at offset {} of the object, at {:#x} here",
        boxes.to_helper.text_offset.load(Relaxed),
        boxes.to_helper.text_pointer.load(Relaxed)
    );
    helper_says(4, &ask(&peer, "pointer")?);
    say!("  So shared memory holds offsets, never pointers.");
    peer.channel.send("quit")?;
    say!("  the helper {}", peer.wait(LIMIT)?);
    Ok(())
}
// ANCHOR_END: step1

// ANCHOR: squatting
fn squatting() -> Result {
    say!("\n  Squatting: someone creates the name first");
    let page = support::page_size();
    let name = unguessable_name()?;
    // Another user would do this; the lesson plays that user, with mode
    // 0666, which lets every user on the machine read and write the object:
    // a victim of another uid can open it only if the mode lets them.
    let (squat, _squatter) = create_exclusive(&name, page)?;
    nix::sys::stat::fchmod(&squat, nix::sys::stat::Mode::from_bits_truncate(0o666))?;
    let spy = map_shared(&squat, page)?;
    say!("    another user's program created {SHM_DIR}{name}");
    say!("    first, with mode 0666, and mapped it");

    let careless = nix::sys::mman::shm_open(
        name.as_str(),
        nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )?;
    let mine = map_shared(&careless, page)?;
    view::<Mailboxes>(&mine).to_helper.post("my secret");
    say!(
        "    shm_open(O_CREAT) without O_EXCL: opened it, no error; wrote \"my secret\""
    );
    say!(
        "    the squatter reads {:?}",
        view::<Mailboxes>(&spy).to_helper.read()
    );

    match create_exclusive(&name, page) {
        Ok(_) => say!("    with O_EXCL: created (unexpected: the name exists)"),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            say!(
                "    with O_EXCL: EEXIST, so create_exclusive stops: it never opens an"
            );
            say!("    object it did not create");
        }
        Err(error) => return Err(error.into()),
    }
    match open_checked(&name) {
        Ok(_) => say!("    open_checked: accepted (unexpected)"),
        Err(error) => say(4, &format!("open_checked: {error}")),
    }
    say!("    The lesson refuses instead of writing into someone else's object.");
    Ok(())
}
// ANCHOR_END: squatting

/// Story lines are at most this wide.
const COLUMNS: usize = 85; // test_support::testing::STORY_COLUMNS

/// Prints `text` indented by `indent`, wrapped at [`COLUMNS`].
fn say(indent: usize, text: &str) {
    let mut line = " ".repeat(indent);
    let mut fresh = true;
    for word in text.split(' ') {
        if !fresh && line.len() + 1 + word.len() > COLUMNS {
            say!("{line}");
            line = " ".repeat(indent + 2);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    say!("{line}");
}

/// Prints what the helper answered.
fn helper_says(indent: usize, text: &str) {
    say(indent, &format!("helper: {text}"));
}

// ANCHOR: step2
fn meeting_without_a_name(exe: &Path) -> Result {
    use std::os::fd::AsRawFd;
    say!("\nStep 2. Meeting without a name: a memfd passed over a Unix socket");
    let page = support::page_size();
    let memfd = sealed_memfd(page)?;
    let region = map_shared(&memfd, page)?;
    let boxes: &Mailboxes = view(&region);
    boxes.to_helper.post("sent by descriptor");
    say!(
        "  memfd_create, {page} bytes, sealed SHRINK|GROW|SEAL; wrote \"sent by descriptor\""
    );
    let peer = Peer::spawn(exe)?;
    peer.channel
        .send_with_fds(&format!("map-memfd {page}"), &[memfd.as_raw_fd()])?;
    say!("  sent the descriptor to a new helper with SCM_RIGHTS");
    for _ in 0..2 {
        helper_says(2, &peer.channel.recv(LIMIT)?.line);
    }
    helper_says(2, &ask(&peer, "read")?);
    say!(
        "  {SHM_DIR}/shared-memory-ipc exists: {}; a memfd's name is only a label",
        yes_no(listed_in_dev_shm("/shared-memory-ipc"))
    );

    let noexec = MemfdNoexec::read()
        .map_err(|e| format!("reading {}: {e}", shared_memory_ipc::MEMFD_NOEXEC))?;
    let found = match noexec {
        MemfdNoexec::Level(level) => format!("is {level}"),
        MemfdNoexec::Absent => "absent (Linux before 6.3)".to_owned(),
    };
    say!(
        "  vm.memfd_noexec {found}: a memfd made without MFD_ALLOW_SEALING starts with {}",
        seal_names(noexec.starting_seals(false))
    );
    let unsealed = unsealed_memfd(page)?;
    peer.channel
        .send_with_fds(&format!("map-memfd {page}"), &[unsealed.as_raw_fd()])?;
    say!("  sent such a memfd, never sealed:");
    for _ in 0..2 {
        helper_says(2, &peer.channel.recv(LIMIT)?.line);
    }
    peer.channel.send("quit")?;
    say!("  the helper {}", peer.wait(LIMIT)?);
    Ok(())
}
// ANCHOR_END: step2

/// A sealed memfd of `len` bytes, mapped here and sent to `peer`, which
/// maps it too (replacing what it mapped before). Returns the descriptor
/// and our mapping.
fn share_with(
    peer: &Peer,
    len: usize,
) -> Result<(std::os::fd::OwnedFd, support::region::Region)> {
    use std::os::fd::AsRawFd;
    let memfd = sealed_memfd(len)?;
    let region = map_shared(&memfd, len)?;
    peer.channel
        .send_with_fds(&format!("map-memfd {len}"), &[memfd.as_raw_fd()])?;
    peer.channel.expect("received", LIMIT)?;
    peer.channel.expect("seals", LIMIT)?;
    Ok((memfd, region))
}

/// A new helper, sharing a fresh sealed memfd of `len` bytes with us.
fn share_with_new_helper(
    exe: &Path,
    len: usize,
) -> Result<(Peer, std::os::fd::OwnedFd, support::region::Region)> {
    let peer = Peer::spawn(exe)?;
    let (memfd, region) = share_with(&peer, len)?;
    Ok((peer, memfd, region))
}

// ANCHOR: step3
fn the_lost_update(exe: &Path) -> Result {
    say!("\nStep 3. The lost update");
    let n = RACE_N;
    say!("  Both processes wait at a start barrier, then each adds 1 to a shared");
    say!("  counter {n} times, each pinned to a CPU of its own if there are two.");
    let peer = Peer::spawn(exe)?;
    let cpus = shared_memory_ipc::usable_cpu_list();
    let apart = cpus.len() > 1;
    if let [ours, theirs, ..] = cpus[..] {
        shared_memory_ipc::pin_to(0, ours)?;
        shared_memory_ipc::pin_to(peer.pid(), theirs)?;
    }
    let raced = race_both_ways(&peer, n, apart);
    if apart {
        shared_memory_ipc::unpin(0, &cpus)?;
    }
    let race = raced?;
    peer.channel.send("quit")?;
    peer.wait(LIMIT)?;
    say_why_not(&race, apart);
    say!(
        "  A lost update is a load and a store with the other process's store between"
    );
    say!(
        "  them. fetch_add is one indivisible instruction (lock-prefixed on x86): none lost."
    );
    Ok(())
}

/// What the racy loops did: how many updates they lost, and where and
/// when each ran.
struct RaceRun {
    lost: u64,
    ours: LoopRun,
    theirs: LoopRun,
}

/// Says why a race that did not run on two CPUs at once lost what it lost.
fn say_why_not(race: &RaceRun, apart: bool) {
    let one_cpu = race.ours.cpu().is_some() && race.ours.cpu() == race.theirs.cpu();
    if race.ours.raced(&race.theirs) {
        // Two CPUs at once: the loss speaks for itself.
    } else if race.lost == 0 && !apart {
        say!(
            "    (nothing lost: with one usable CPU the two loops take turns, and only"
        );
        say!("    a switch between a load and its store loses anything. The code is");
        say!("    just as wrong.)");
    } else if race.lost == 0 {
        say!(
            "    (nothing lost: other programs kept a CPU busy, so the loops never ran"
        );
        say!("    on two CPUs at once. The code is just as wrong.)");
    } else if one_cpu {
        say!(
            "    (one CPU, yet updates were lost: the loops outlasted a time slice, and"
        );
        say!("    a switch between one's load and its store let that store undo the");
        say!("    other's work.)");
    } else {
        say!("    (the loops ran at once for less than half of the shorter one, and");
        say!("    still lost updates while they did.)");
    }
}

/// The racy loops are run again until they ran on two CPUs at once, at
/// most this many times in all, and not after [`RACE_BOUND`].
const RACE_TRIES: u32 = 10;
const RACE_BOUND: Duration = Duration::from_secs(1);

/// Runs the race both ways, racy then atomic, and says what each lost.
/// With the two `apart` (pinned to CPUs of their own), the racy one is run
/// again, within bounds, until the loops ran on two CPUs at once; returns
/// what the last racy run did.
fn race_both_ways(peer: &Peer, n: u64, apart: bool) -> Result<RaceRun> {
    let started = std::time::Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let (total, ours, theirs) =
            race_once(peer, n, Increment::LoadThenStore, apart)?;
        let raced = ours.raced(&theirs);
        if raced || !apart || tries == RACE_TRIES || started.elapsed() >= RACE_BOUND {
            let label = "load, then store (Relaxed)";
            let lost = 2 * n - total;
            say!("    {label:<27} {total} of {}, lost {lost}", 2 * n);
            say!(
                "      CPU {} here, CPU {} in the helper; the loops overlapped {}% (try {tries})",
                cpu_name(&ours),
                cpu_name(&theirs),
                ours.overlap_percent(&theirs)
            );
            let (atomic, _, _) = race_once(peer, n, Increment::FetchAdd, apart)?;
            say!(
                "    {:<27} {atomic} of {}, lost {}",
                "fetch_add",
                2 * n,
                2 * n - atomic
            );
            return Ok(RaceRun { lost, ours, theirs });
        }
    }
}

/// One race on a fresh page: returns the total, and where and when each
/// side's loop ran.
fn race_once(
    peer: &Peer,
    n: u64,
    how: Increment,
    apart: bool,
) -> Result<(u64, LoopRun, LoopRun)> {
    let (_memfd, region) = share_with(peer, support::page_size())?;
    let race: &Race = view(&region);
    let word = if how == Increment::FetchAdd {
        "atomic"
    } else {
        "racy"
    };
    let placed = if apart { "apart" } else { "shared" };
    peer.channel.send(&format!("race {word} {n} {placed}"))?;
    race.start_together(2, LIMIT, apart)?;
    let ours = race.add_timed(n, how)?;
    let done = peer.channel.expect("done", LIMIT)?;
    let theirs = done
        .line
        .split_once(' ')
        .and_then(|(_, words)| LoopRun::from_words(words))
        .ok_or_else(|| {
            format!("the helper's report '{}' is not 'done cpus ...'", done.line)
        })?;
    Ok((race.counter.load(Acquire), ours, theirs))
}

/// The CPU a loop ran on, or both if it moved.
fn cpu_name(run: &LoopRun) -> String {
    match run.cpu() {
        Some(cpu) => cpu.to_string(),
        None => format!("{}-{}", run.cpu_before, run.cpu_after),
    }
}
// ANCHOR_END: step3

// ANCHOR: step4
fn locks_across_processes(exe: &Path) -> Result {
    say!("\nStep 4. Locks across processes");
    let (peer, memfd, region) = share_with_new_helper(exe, support::page_size())?;
    let guarded: &Guarded = view(&region);
    guarded.mutex.init_robust_shared()?;
    say!(
        "  a pthread mutex in the memfd, PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST"
    );
    let n = LOCKED_N;
    peer.channel.send(&format!("locked {n}"))?;
    guarded.arrived.fetch_add(1, Release);
    shared_memory_ipc::spin_until(LIMIT, || guarded.arrived.load(Acquire) >= 2)?;
    guarded.add_locked(n, LIMIT)?;
    peer.channel.expect("done", LIMIT)?;
    let total = guarded.counter.load(Acquire);
    say!(
        "  each adds 1 {n} times, load then store, under the lock: {total} of {}, lost {}",
        2 * n,
        2 * n - total
    );
    peer.channel.send("quit")?;
    peer.wait(LIMIT)?;

    say!("  Kill the holder:");
    kill_the_holder(exe, &memfd, guarded, true)?;
    say!("  The same again, without pthread_mutex_consistent:");
    kill_the_holder(exe, &memfd, guarded, false)?;
    Ok(())
}

/// A helper takes the lock, writes `first` and dies (SIGKILL) before
/// writing `second`. We take the lock next, and repair or not.
fn kill_the_holder(
    exe: &Path,
    memfd: &std::os::fd::OwnedFd,
    guarded: &Guarded,
    repair: bool,
) -> Result {
    use std::os::fd::AsRawFd;
    let len = support::page_size();
    let mut peer = Peer::spawn(exe)?;
    peer.channel
        .send_with_fds(&format!("map-memfd {len}"), &[memfd.as_raw_fd()])?;
    peer.channel.expect("received", LIMIT)?;
    peer.channel.expect("seals", LIMIT)?;
    helper_says(4, &ask(&peer, "hold")?);
    peer.kill()?;
    let outcome = peer.wait(LIMIT)?;
    say!("    kill(SIGKILL); how the helper ended: {outcome}");
    let (first, second) = (&guarded.first, &guarded.second);
    match guarded.mutex.lock_within(LIMIT) {
        Ok(Locked::OwnerDied) => say!(
            "    pthread_mutex_timedlock: EOWNERDEAD; first = {}, second = {}: half done",
            first.load(Acquire),
            second.load(Acquire)
        ),
        Ok(Locked::Clean) => {
            say!("    pthread_mutex_timedlock: locked, no owner died?")
        }
        Err(errno) => {
            return Err(format!("pthread_mutex_timedlock: {errno:?}").into());
        }
    }
    if repair {
        second.store(first.load(Acquire), Release);
        guarded.mutex.mark_consistent()?;
        guarded.mutex.unlock()?;
        say!("    repaired (second = first), pthread_mutex_consistent, unlocked");
    } else {
        guarded.mutex.unlock()?;
        say!("    unlocked without pthread_mutex_consistent");
    }
    let next = match guarded.mutex.lock_within(LIMIT) {
        Ok(Locked::Clean) => {
            guarded.mutex.unlock()?;
            "locked, clean: the lock works again".to_owned()
        }
        Ok(Locked::OwnerDied) => "EOWNERDEAD again".to_owned(),
        Err(Errno::ENOTRECOVERABLE) => {
            "ENOTRECOVERABLE: unusable, for good".to_owned()
        }
        Err(errno) => format!("{errno:?}"),
    };
    say!("    the next pthread_mutex_timedlock: {next}");
    Ok(())
}
// ANCHOR_END: step4

/// How long the helper sleeps on a futex nobody can wake.
const PRIVATE_WAIT: Duration = Duration::from_millis(50);

// ANCHOR: std_mutex
fn std_mutex_does_not_work(exe: &Path) -> Result {
    say!("\n  What does not work: std::sync::Mutex, whose futex is private");
    let (peer, _memfd, region) = share_with_new_helper(exe, support::page_size())?;
    let word = &view::<shared_memory_ipc::Doorbell>(&region).word;
    for private in [true, false] {
        let (wait, wake) = if private {
            ("FUTEX_WAIT_PRIVATE", "FUTEX_WAKE_PRIVATE")
        } else {
            ("FUTEX_WAIT", "FUTEX_WAKE")
        };
        let kind = if private { "private" } else { "shared" };
        peer.channel.send(&format!(
            "futex-wait {kind} {}",
            if private { PRIVATE_WAIT } else { LIMIT }.as_millis()
        ))?;
        peer.channel.expect("waiting", LIMIT)?;
        wait_until_asleep(peer.pid(), LIMIT)?;
        say!("    the helper sleeps in {wait} on the shared word");
        let mut woken = futex_wake(word, 1, private)?;
        if !private {
            // A shared waker may still race the waiter's way into the
            // kernel: retry until it is found, within the limit.
            shared_memory_ipc::spin_until(LIMIT, || {
                woken += futex_wake(word, 1, false).unwrap_or(0);
                woken > 0
            })?;
        }
        say!("    {wake} from this process woke {woken} waiter(s)");
        helper_says(4, &peer.channel.recv(LIMIT)?.line);
    }
    say!("  A private futex is keyed by this process's address of the word; the");
    say!("  other process's wake names another address space, so it finds nobody.");
    peer.channel.send("quit")?;
    peer.wait(LIMIT)?;
    Ok(())
}
// ANCHOR_END: std_mutex

/// Waits, at most `limit`, until process `pid` is asleep (state S).
fn wait_until_asleep(pid: u32, limit: Duration) -> io::Result<()> {
    shared_memory_ipc::spin_until(limit, || {
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the command name, which is in parentheses.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('S'))
    })
}

/// Messages sent in step 5.
const MESSAGES: u32 = 20;

// ANCHOR: step5
fn waking_without_a_pipe(exe: &Path) -> Result {
    say!("\nStep 5. Waking without a pipe");
    let peer = Peer::spawn(exe)?;
    for spin in [false, true] {
        let (_memfd, region) = share_with(&peer, support::page_size())?;
        let word = &view::<shared_memory_ipc::Doorbell>(&region).word;
        let how = if spin { "spin" } else { "futex" };
        peer.channel.send(&format!("doorbell {how} {MESSAGES}"))?;
        peer.channel.expect("ready", LIMIT)?;
        let mut wakes = 0;
        for message in 1..=MESSAGES {
            // A pause, as between real messages, so that the reader waits.
            std::thread::sleep(Duration::from_millis(1));
            word.store(message, Release);
            if !spin {
                futex_wake(word, 1, false)?;
                wakes += 1;
            }
        }
        let report = peer.channel.recv(LIMIT)?.line;
        if spin {
            say!(
                "  The same {MESSAGES} messages to a reader that spins on the word:"
            );
        } else {
            say!(
                "  {MESSAGES} messages, each a store to a shared word; the reader sleeps on it"
            );
        }
        helper_says(4, &report);
        say!("    this process made {wakes} FUTEX_WAKE calls");
    }
    peer.channel.send("quit")?;
    peer.wait(LIMIT)?;
    say!(
        "  The data moved without a system call: a store here, a load there. Waking a"
    );
    say!(
        "  reader that sleeps takes one (a futex, an eventfd or a pipe); only spinning"
    );
    say!("  avoids it, at the price of a whole CPU while it waits.");
    Ok(())
}
// ANCHOR_END: step5
