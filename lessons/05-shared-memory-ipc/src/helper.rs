//! The second process: `--helper` answers the walkthrough's commands, one
//! line each way on its control socket.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use shared_memory_ipc::peer::{Channel, Message, die_with_parent};
use shared_memory_ipc::{
    CHUNK, ChunkRing, Doorbell, Guarded, Increment, Mailboxes, Race, Samples,
    StreamSum, check_received, futex_wait, futex_wake, map_shared, open_checked,
    ring_bytes, seal_names, spin_until, view, wait_for_value,
};
use support::region::Region;

use crate::{LIMIT, Result};

/// How long the helper waits for its next command before giving up.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Serves the walkthrough's commands until `quit` or the socket closes;
/// `parent` is the lesson's pid.
pub fn serve(parent: u32) -> Result {
    if !alive_parent(Some(parent))? {
        return Ok(());
    }
    let channel = Channel::from_stdin()?;
    let mut mapped: Option<Region> = None;
    let samples = Samples::new();
    loop {
        let message = match channel.recv(IDLE_LIMIT) {
            Ok(message) => message,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Message { line, fds } = message;
        let mut words = line.split(' ');
        let command = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let number = |i: usize| -> Result<u64> {
            Ok(args
                .get(i)
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| format!("helper: bad command '{line}'"))?)
        };
        match command {
            "quit" => return Ok(()),
            "open" => {
                mapped =
                    Some(open_by_name(&channel, args.first().copied().unwrap_or(""))?)
            }
            "read" => {
                let boxes: &Mailboxes = view(region(&mapped)?);
                channel.send(&format!("read {:?}", boxes.to_helper.read()))?;
            }
            "write" => {
                let text = args.join(" ");
                view::<Mailboxes>(region(&mapped)?).to_lesson.post(&text);
                channel.send(&format!("wrote {text:?}"))?;
            }
            "pointer" => channel.send(&follow_pointer(region(&mapped)?))?,
            "map-memfd" => {
                if let Some(region) =
                    map_memfd(&channel, one_fd(fds, &line)?, number(0)? as usize)?
                {
                    mapped = Some(region);
                }
            }
            "race" => {
                let race: &Race = view(region(&mapped)?);
                let how = match args.first() {
                    Some(&"atomic") => Increment::FetchAdd,
                    _ => Increment::LoadThenStore,
                };
                race.start_together(2, LIMIT, args.get(2) == Some(&"apart"))?;
                let ran = race.add_timed(number(1)?, how)?;
                channel.send(&format!("done {}", ran.to_words()))?;
            }
            "locked" => {
                let guarded: &Guarded = view(region(&mapped)?);
                guarded.arrived.fetch_add(1, Release);
                spin_until(LIMIT, || guarded.arrived.load(Acquire) >= 2)?;
                guarded.add_locked(number(0)?, LIMIT)?;
                channel.send("done")?;
            }
            "hold" => hold_until_killed(&channel, view(region(&mapped)?))?,
            "futex-wait" => {
                let word = &view::<Doorbell>(region(&mapped)?).word;
                let private = args.first() == Some(&"private");
                let limit = Duration::from_millis(number(1)?);
                channel.send("waiting")?;
                let reply = match futex_wait(word, 0, limit, private) {
                    Ok(()) => {
                        "woken: the wake found this process's waiter".to_owned()
                    }
                    Err(Errno::ETIMEDOUT) => format!(
                        "nobody woke me: ETIMEDOUT when my {} ms limit ran out",
                        limit.as_millis()
                    ),
                    Err(errno) => format!("futex wait failed: {errno:?}"),
                };
                channel.send(&reply)?;
            }
            "doorbell" => {
                let word = &view::<Doorbell>(region(&mapped)?).word;
                let spin = args.first() == Some(&"spin");
                channel.send("ready")?;
                channel.send(&read_doorbell(word, number(1)? as u32, spin)?)?;
            }
            "pipe" | "unix" => {
                let bytes = number(0)?;
                let fd = one_fd(fds, &line)?;
                channel.send("ready")?;
                let total = consume_stream(File::from(fd), bytes, &samples)?;
                channel.send(&format!("done {} {}", total.bytes, total.sum))?;
            }
            "ring" => {
                let bytes = number(0)?;
                let fd = one_fd(fds, &line)?;
                check_received(&fd, ring_bytes())?;
                let region = map_shared(&fd, ring_bytes())?;
                let ring = ChunkRing::new(&region);
                channel.send("ready")?;
                let mut total = StreamSum::default();
                for index in 0..bytes / CHUNK as u64 {
                    let sum =
                        ring.pop_with(LIMIT, |chunk| samples.sum_of(index, chunk))?;
                    total.add(sum);
                }
                channel.send(&format!(
                    "done {} {} {}",
                    total.bytes,
                    total.sum,
                    ring.yields()
                ))?;
            }
            "rtt-pipe" => {
                let mut fds = fds.into_iter();
                let (Some(from), Some(to)) = (fds.next(), fds.next()) else {
                    return Err("helper: rtt-pipe needs two descriptors".into());
                };
                let (mut from, mut to) = (File::from(from), File::from(to));
                channel.send("ready")?;
                let mut token = [0u8; 8];
                for _ in 0..number(0)? {
                    from.read_exact(&mut token)?;
                    to.write_all(&token)?;
                }
                channel.send("done")?;
            }
            "rtt-futex" | "rtt-spin" => {
                let fd = one_fd(fds, &line)?;
                check_received(&fd, support::page_size())?;
                let region = map_shared(&fd, support::page_size())?;
                let word = &view::<Doorbell>(&region).word;
                let spin = command == "rtt-spin";
                channel.send("ready")?;
                for trip in 0..number(0)? as u32 {
                    // The lesson stores 2k+1; we answer 2k+2.
                    wait_for_value(word, 2 * trip + 1, spin, LIMIT)?;
                    word.store(2 * trip + 2, Release);
                    if !spin {
                        futex_wake(word, 1, false)?;
                    }
                }
                channel.send("done")?;
            }
            _ => return Err(format!("helper: unknown command '{line}'").into()),
        }
    }
}

/// [`die_with_parent`]: false if the parent is gone already (the helper
/// then has nobody to serve, and ends quietly).
fn alive_parent(parent: Option<u32>) -> Result<bool> {
    match die_with_parent(parent) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(error) => Err(error.into()),
    }
}

fn region(mapped: &Option<Region>) -> Result<&Region> {
    Ok(mapped
        .as_ref()
        .ok_or("helper: asked to use memory before mapping any")?)
}

fn one_fd(fds: Vec<OwnedFd>, line: &str) -> Result<OwnedFd> {
    Ok(fds
        .into_iter()
        .next()
        .ok_or_else(|| format!("helper: '{line}' came without a descriptor"))?)
}

// ANCHOR: open_by_name
/// Step 1, the helper's side: open the object by name, check who made it,
/// map it.
fn open_by_name(channel: &Channel, name: &str) -> Result<Region> {
    let fd = match open_checked(name) {
        Ok(fd) => fd,
        Err(error) => {
            channel.send(&format!("refused: {error}"))?;
            return Err(error.into());
        }
    };
    let stat = nix::sys::stat::fstat(&fd)?;
    let region = map_shared(&fd, stat.st_size as usize)?;
    channel.send(&format!(
        "shm_open by name; fstat: uid {} (mine), mode {:04o}: accepted; mapped at {:#x}",
        stat.st_uid,
        stat.st_mode & 0o777,
        region.address()
    ))?;
    Ok(region)
}
// ANCHOR_END: open_by_name

/// Step 1: what the lesson's pointer means here, and what its offset means.
fn follow_pointer(region: &Region) -> String {
    let boxes: &Mailboxes = view(region);
    let pointer = boxes.to_helper.text_pointer.load(Acquire) as usize;
    let offset = boxes.to_helper.text_offset.load(Acquire) as usize;
    let len = boxes.to_helper.len.load(Acquire) as usize;
    let range = region.address()..region.address() + region.len();
    let text: Vec<u8> = (offset..offset + len).map(|i| region.read(i)).collect();
    format!(
        "your address {pointer:#x} is {} my mapping, which starts at {:#x}; \
         offset {offset} from my start finds {:?}",
        if range.contains(&pointer) {
            "inside"
        } else {
            "outside"
        },
        range.start,
        String::from_utf8_lossy(&text)
    )
}

// ANCHOR: map_memfd
/// Step 2, the receiver's side: check the memfd's seals and size, then map it.
fn map_memfd(channel: &Channel, fd: OwnedFd, len: usize) -> Result<Option<Region>> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd_number(&fd)))?;
    channel.send(&format!("received a descriptor for {}", link.display()))?;
    match check_received(&fd, len) {
        Ok((seals, size)) => {
            let region = map_shared(&fd, len)?;
            channel.send(&format!(
                "seals {}, size {size} bytes: it cannot shrink; mapped it",
                seal_names(seals)
            ))?;
            Ok(Some(region))
        }
        Err(error) => {
            channel.send(&error.to_string())?;
            Ok(None)
        }
    }
}
// ANCHOR_END: map_memfd

fn fd_number(fd: &impl AsFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_fd().as_raw_fd()
}

/// Step 4: take the lock, do half an update, and wait to be killed.
fn hold_until_killed(channel: &Channel, guarded: &Guarded) -> Result {
    guarded.mutex.lock_within(LIMIT)?;
    let first = guarded.first.fetch_add(1, Release) + 1;
    channel.send(&format!(
        "took the lock, set first = {first}, and stops before second"
    ))?;
    // The lesson kills us here. If it does not, give up in the end.
    std::thread::sleep(LIMIT);
    guarded.mutex.unlock()?;
    Err("helper: held the lock but was never killed".into())
}

/// Step 5: wait for message `count` on `word`, by futex or by spinning,
/// and say what that cost.
fn read_doorbell(
    word: &std::sync::atomic::AtomicU32,
    count: u32,
    spin: bool,
) -> Result<String> {
    let (mut calls, mut slept, mut spins) = (0u64, 0u64, 0u64);
    let deadline = Instant::now() + LIMIT;
    loop {
        let seen = word.load(Acquire);
        if seen >= count {
            break;
        }
        if Instant::now() >= deadline {
            return Err("helper: the messages stopped coming".into());
        }
        if spin {
            spins += 1;
            std::hint::spin_loop();
        } else {
            calls += 1;
            match futex_wait(word, seen, LIMIT, false) {
                Ok(()) => slept += 1,
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(errno) => return Err(format!("futex wait: {errno:?}").into()),
            }
        }
    }
    Ok(if spin {
        format!("reached message {count} with 0 system calls, after {spins} spins")
    } else {
        format!("reached message {count} after {calls} futex waits ({slept} slept)")
    })
}

/// Step 6, the consumer of a pipe or socket: read `bytes` in 64 KiB
/// chunks into one buffer, and checksum each chunk.
fn consume_stream(
    mut source: File,
    bytes: u64,
    samples: &Samples,
) -> io::Result<StreamSum> {
    let mut chunk = Box::new([0u8; CHUNK]);
    let mut total = StreamSum::default();
    for index in 0..bytes / CHUNK as u64 {
        source.read_exact(&mut chunk[..])?;
        total.add(samples.sum_of(index, &chunk));
    }
    Ok(total)
}
