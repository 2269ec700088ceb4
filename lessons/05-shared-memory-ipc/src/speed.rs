//! Step 6 and `--bench`: the same bytes through a pipe, an enlarged pipe, a
//! Unix socket and a shared-memory ring, then round trips of one message.
//!
//! Fair by construction: one producer (this process) and one consumer (the
//! helper) for every transport; the same bytes in the same 64 KiB chunks,
//! from the same pre-generated buffers; the consumer checks every chunk the
//! same way (one memcmp against what it should be, then its checksum is
//! added); both left where the kernel puts them. The one difference is
//! the point: a pipe or socket reader must copy each chunk into a buffer of
//! its own, while the ring's consumer reads it where it lies. Round trips:
//! sleepers (pipe, futex) are left where the kernel puts them, which suits
//! wake-ups best; the spinners are pinned to two different CPUs, without
//! which spinning cannot work.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::Ordering::Release;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use shared_memory_ipc::peer::Peer;
use shared_memory_ipc::{
    CHUNK, ChunkRing, Doorbell, Samples, StreamSum, futex_wake, map_shared, pin_to,
    ring_bytes, sealed_memfd, unpin, usable_cpu_list, usable_cpus, view,
    wait_for_value,
};

use support::say;

use crate::{LIMIT, Result};

/// `--bench` moves this many MiB through each transport by default: about
/// a second in all on the machine the lesson was written on.
pub const BENCH_MIB: u64 = 512;

/// Round trips per method under `--bench`.
const BENCH_ROUND_TRIPS: u64 = 10_000;

/// How the figures are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Step 6 of the walkthrough.
    Story,
    /// `--bench`: the same lines, without the step's heading.
    Human,
    /// `--bench --json`: one JSON object per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Pipe,
    BigPipe,
    Unix,
    Ring,
}

impl Transport {
    fn json_name(self) -> &'static str {
        match self {
            Transport::Pipe => "pipe",
            Transport::BigPipe => "pipe-1m",
            Transport::Unix => "unix",
            Transport::Ring => "ring",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Transport::Pipe => "pipe, as it comes (64 KiB)",
            Transport::BigPipe => "pipe, F_SETPIPE_SZ 1 MiB",
            Transport::Unix => "Unix stream socket",
            Transport::Ring => "SPSC ring in shared memory",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Pipe,
    Futex,
    Spin,
}

impl Wait {
    fn json_name(self) -> &'static str {
        match self {
            Wait::Pipe => "pipe",
            Wait::Futex => "futex",
            Wait::Spin => "spin",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Wait::Pipe => "pipe",
            Wait::Futex => "futex wait/wake",
            Wait::Spin => "spinning on a shared word",
        }
    }
}

/// Where the two processes run while they move the bytes (`--place`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Where the kernel puts them (the walkthrough's way).
    Free,
    /// Both pinned to one CPU.
    Same,
    /// Pinned to two different CPUs.
    Apart,
}

impl Place {
    /// `free`, `same` or `apart`.
    pub fn parse(word: &str) -> Option<Place> {
        match word {
            "free" => Some(Place::Free),
            "same" => Some(Place::Same),
            "apart" => Some(Place::Apart),
            _ => None,
        }
    }

    fn json_name(self) -> &'static str {
        match self {
            Place::Free => "free",
            Place::Same => "same",
            Place::Apart => "apart",
        }
    }
}

/// `--bench [--mib N] [--json] [--place P]`.
pub fn bench(exe: &Path, mib: u64, json: bool, place: Place) -> Result {
    let output = if json { Output::Json } else { Output::Human };
    how_fast(exe, mib, BENCH_ROUND_TRIPS, output, place)
}

/// Pins this process and the helper as `place` says; returns the line
/// that says where they are.
fn place_both(peer: &Peer, place: Place, cpus: &[usize]) -> Result<String> {
    Ok(match (place, cpus) {
        (Place::Same, [cpu, ..]) => {
            pin_to(0, *cpu)?;
            pin_to(peer.pid(), *cpu)?;
            format!("  Placed for the transfers: both processes on CPU {cpu}.")
        }
        (Place::Apart, [ours, theirs, ..]) => {
            pin_to(0, *ours)?;
            pin_to(peer.pid(), *theirs)?;
            format!(
                "  Placed for the transfers: this process on CPU {ours}, the helper on CPU {theirs}."
            )
        }
        (Place::Apart, _) => {
            return Err(
                "--place apart needs two usable CPUs; use --place same".into()
            );
        }
        _ => "  Placed for the transfers: where the kernel puts them.".to_owned(),
    })
}

/// A bound for moving `bytes`: generous (100 MB/s), still finite.
fn transfer_limit(bytes: u64) -> Duration {
    LIMIT + Duration::from_millis(bytes / 100_000)
}

// ANCHOR: step6
pub fn how_fast(
    exe: &Path,
    mib: u64,
    round_trips: u64,
    output: Output,
    place: Place,
) -> Result {
    let say = |line: String| {
        if output != Output::Json {
            say!("{line}");
        }
    };
    let bytes = mib << 20;
    let cpus = usable_cpus();
    match output {
        Output::Story => {
            say(format!(
                "\nStep 6. How fast? {mib} MiB through each transport, in 64 KiB chunks"
            ));
        }
        _ => say(format!(
            "shared-memory-ipc --bench: {mib} MiB through each transport, in 64 KiB chunks"
        )),
    }
    say(format!(
        "  The helper checks every chunk, byte for byte; usable CPUs: {cpus}"
    ));
    let samples = Samples::new();
    let expected = samples.expected(bytes);
    let peer = Peer::spawn(exe)?;
    let cpu_list = usable_cpu_list();
    let placed = place_both(&peer, place, &cpu_list)?;
    if output != Output::Story {
        say(placed);
    }
    let mut rates = Vec::new();
    let mut ring_yields = (0, 0);
    for transport in [
        Transport::Pipe,
        Transport::BigPipe,
        Transport::Unix,
        Transport::Ring,
    ] {
        let Moved {
            seconds,
            received,
            yields,
        } = throughput(&peer, transport, bytes, &samples)?;
        let gbps = bytes as f64 / seconds / 1e9;
        let verdict = if received == expected { "ok" } else { "WRONG" };
        if output == Output::Json {
            let yields = yields.map_or(String::new(), |(ours, theirs)| {
                format!(", \"sched_yield\": [{ours}, {theirs}]")
            });
            say!(
                "{{\"transport\": \"{}\", \"chunk\": {CHUNK}, \"bytes\": {}, \
                 \"seconds\": {seconds:.6}, \"gbps\": {gbps:.3}, \"place\": \"{}\"{yields}}}",
                transport.json_name(),
                received.bytes,
                place.json_name()
            );
        }
        say(format!(
            "    {:<27} {} bytes, checksum {verdict}, {gbps:.2} GB/s",
            transport.label(),
            received.bytes
        ));
        if received != expected {
            return Err(format!(
                "{}: {} bytes arrived with checksum {:#x}; {} bytes with {:#x} were sent",
                transport.label(),
                received.bytes,
                received.sum,
                expected.bytes,
                expected.sum
            )
            .into());
        }
        rates.push(gbps);
        if let Some((ours, theirs)) = yields {
            ring_yields = (ours, theirs);
        }
    }
    if place != Place::Free {
        unpin(0, &cpu_list)?;
        unpin(peer.pid(), &cpu_list)?;
    }
    let ring = rates[3];
    say(format!(
        "  The ring moved {:.1}x as much as the pipe, {:.1}x the 1 MiB pipe and {:.1}x\n  \
         the socket, in the same time.",
        ring / rates[0],
        ring / rates[1],
        ring / rates[2]
    ));
    say(format!(
        "  No system call moved the ring's data; waiting for a slot or a chunk, this\n  \
         process called sched_yield {} times and the helper {} times.",
        ring_yields.0, ring_yields.1
    ));

    say(format!(
        "  Round trip of one 8-byte message, {round_trips} times each way:"
    ));
    if cpus == 1 && output == Output::Json {
        eprintln!(
            "note: one usable CPU, so the spinner yields the CPU after every 64 looks; \
             its figure measures the scheduler"
        );
    }
    if cpus == 1 {
        say(
            "  (one usable CPU: a spinner would hold the CPU its partner needs, for a whole".into(),
        );
        say("  time slice per message; here spinning yields the CPU after every 64 looks.)".into());
    }
    let mut times = Vec::new();
    for wait in [Wait::Pipe, Wait::Futex, Wait::Spin] {
        // A spinner needs its partner running at the same moment, on
        // another CPU: pin the two apart for it. Sleepers are left where
        // the kernel puts them, which suits their wake-ups best.
        let pinned = match cpu_list[..] {
            [ours, theirs, ..] if wait == Wait::Spin => {
                pin_to(0, ours)?;
                pin_to(peer.pid(), theirs)?;
                say(format!(
                    "  Pinned for spinning: this process to CPU {ours}, the helper to CPU {theirs}."
                ));
                true
            }
            _ => false,
        };
        let elapsed = round_trip(&peer, wait, round_trips);
        if pinned {
            unpin(0, &cpu_list)?;
            unpin(peer.pid(), &cpu_list)?;
        }
        let elapsed = elapsed?;
        let ns = elapsed.as_nanos() as f64 / round_trips as f64;
        if output == Output::Json {
            say!(
                "{{\"rtt\": \"{}\", \"round_trips\": {round_trips}, \
                 \"ns_per_round_trip\": {ns:.0}}}",
                wait.json_name()
            );
        }
        say(format!("    {:<27} {ns:.0} ns", wait.label()));
        times.push(ns);
    }
    say(format!(
        "  Spinning answered {:.1}x sooner than a pipe, {:.1}x sooner than a futex:",
        times[0] / times[2],
        times[1] / times[2]
    ));
    say("  no system call, no sleep, no wake-up; but the spinner burns its CPU meanwhile.".into());
    peer.channel.send("quit")?;
    peer.wait(LIMIT)?;
    Ok(())
}
// ANCHOR_END: step6

/// What one transport moved.
struct Moved {
    /// From the consumer's "ready" to its "done".
    seconds: f64,
    /// What the consumer received.
    received: StreamSum,
    /// For the ring: the `sched_yield` calls each side (ours, the
    /// helper's) made while it waited.
    yields: Option<(u64, u64)>,
}

/// Moves `bytes` to the helper through `transport`.
fn throughput(
    peer: &Peer,
    transport: Transport,
    bytes: u64,
    samples: &Samples,
) -> Result<Moved> {
    let limit = transfer_limit(bytes);
    // Bounds our blocking writes: if the helper stops reading, it is killed
    // and the write fails with EPIPE.
    let _watchdog = peer.watchdog(limit);
    let count = bytes / CHUNK as u64;
    let chunk = |i: u64| samples.chunk(i);
    let start;
    let mut our_yields = None;
    match transport {
        Transport::Pipe | Transport::BigPipe => {
            let (reader, writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            if transport == Transport::BigPipe {
                fcntl(&writer, FcntlArg::F_SETPIPE_SZ(1 << 20)).map_err(|e| {
                    format!("F_SETPIPE_SZ 1 MiB: {e}; /proc/sys/fs/pipe-max-size may be lower")
                })?;
            }
            peer.channel
                .send_with_fds(&format!("pipe {bytes}"), &[reader.as_raw_fd()])?;
            drop(reader);
            peer.channel.expect("ready", LIMIT)?;
            start = Instant::now();
            let mut writer = File::from(writer);
            for i in 0..count {
                writer.write_all(&chunk(i)[..])?;
            }
        }
        Transport::Unix => {
            let (mut ours, theirs) = UnixStream::pair()?;
            peer.channel
                .send_with_fds(&format!("unix {bytes}"), &[theirs.as_raw_fd()])?;
            drop(theirs);
            peer.channel.expect("ready", LIMIT)?;
            start = Instant::now();
            for i in 0..count {
                ours.write_all(&chunk(i)[..])?;
            }
        }
        Transport::Ring => {
            let memfd = sealed_memfd(ring_bytes())?;
            let region = map_shared(&memfd, ring_bytes())?;
            let ring = ChunkRing::new(&region);
            peer.channel
                .send_with_fds(&format!("ring {bytes}"), &[memfd.as_raw_fd()])?;
            peer.channel.expect("ready", LIMIT)?;
            start = Instant::now();
            for i in 0..count {
                ring.push(chunk(i), LIMIT)?;
            }
            our_yields = Some(ring.yields());
        }
    }
    let done = peer.channel.expect("done", limit)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut fields = done.line.split(' ').skip(1).map(str::parse::<u64>);
    let report = (fields.next(), fields.next(), fields.next());
    match (report, our_yields) {
        ((Some(Ok(bytes)), Some(Ok(sum)), None), None) => {
            Ok(Moved {
                seconds,
                received: StreamSum { bytes, sum },
                yields: None,
            })
        }
        ((Some(Ok(bytes)), Some(Ok(sum)), Some(Ok(theirs))), Some(ours)) => {
            Ok(Moved {
                seconds,
                received: StreamSum { bytes, sum },
                yields: Some((ours, theirs)),
            })
        }
        _ => Err(format!(
            "the helper's report '{}' is not 'done BYTES SUM' (and YIELDS for the ring)",
            done.line
        )
        .into()),
    }
}

// ANCHOR: round_trip
/// `trips` round trips of one small message with the helper, waiting by
/// `wait`; returns the time they took.
fn round_trip(peer: &Peer, wait: Wait, trips: u64) -> Result<Duration> {
    let _watchdog = peer.watchdog(transfer_limit(trips * 100_000));
    match wait {
        Wait::Pipe => {
            let (their_in, our_out) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            let (our_in, their_out) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            peer.channel.send_with_fds(
                &format!("rtt-pipe {trips}"),
                &[their_in.as_raw_fd(), their_out.as_raw_fd()],
            )?;
            drop((their_in, their_out));
            let (mut to, mut from) = (File::from(our_out), File::from(our_in));
            peer.channel.expect("ready", LIMIT)?;
            let start = Instant::now();
            let mut token = [0u8; 8];
            for trip in 0..trips {
                to.write_all(&trip.to_ne_bytes())?;
                from.read_exact(&mut token)?;
            }
            let elapsed = start.elapsed();
            peer.channel.expect("done", LIMIT)?;
            Ok(elapsed)
        }
        Wait::Futex | Wait::Spin => {
            let spin = wait == Wait::Spin;
            let page = support::page_size();
            let memfd = sealed_memfd(page)?;
            let region = map_shared(&memfd, page)?;
            let word = &view::<Doorbell>(&region).word;
            let command = if spin { "rtt-spin" } else { "rtt-futex" };
            peer.channel
                .send_with_fds(&format!("{command} {trips}"), &[memfd.as_raw_fd()])?;
            peer.channel.expect("ready", LIMIT)?;
            let start = Instant::now();
            for trip in 0..trips as u32 {
                // We store 2k+1 and wait for the helper's 2k+2.
                word.store(2 * trip + 1, Release);
                if !spin {
                    futex_wake(word, 1, false)?;
                }
                wait_for_value(word, 2 * trip + 2, spin, LIMIT)?;
            }
            let elapsed = start.elapsed();
            peer.channel.expect("done", LIMIT)?;
            Ok(elapsed)
        }
    }
}
// ANCHOR_END: round_trip
