//! `--exercise-helper ROLE ARGS`: runs the learner's
//! `read_all_surviving_truncation` (exercise 3.4) for the graded tests,
//! which must not fork. The reader always runs in a forked child, so a
//! reader that dies is reported by its signal's name instead of killing the
//! helper, and every wait is bounded.
//!
//! - `read PATH EXPECTED`: one read of an existing file; prints what the
//!   reader returned (its length and an FNV-1a hash), its `Truncated`
//!   report, or how it died.
//! - `race DIR ROUNDS LEN [--to-zero]`: writes a LEN-byte file in DIR and
//!   reads it ROUNDS times while this process truncates it at a random
//!   moment (to a random length, or to zero); stops at the first round
//!   where the reader dies, hangs or returns wrong bytes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use sigbus::exercises::{Truncated, read_all_surviving_truncation};
use support::errors::AtPath;
use support::fork::fork_child;
use support::{ChildOutcome, Result, say};

/// How long one read may take before the reader counts as hung.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// Exit codes of a reader child in a race round. None is 0: a reader that
/// exits on its own (code 0) before giving its verdict has proved nothing.
const WHOLE: i32 = 11;
const REPORTED: i32 = 10;
const WRONG_BYTES: i32 = 20;
const FALSE_REPORT: i32 = 21;

pub fn exercise(role: &str, args: &[String]) -> Result {
    let arg = |i: usize| -> Result<&str> {
        Ok(args.get(i).map(String::as_str).ok_or_else(|| {
            format!("--exercise-helper {role}: missing argument {}", i + 1)
        })?)
    };
    let number = |i: usize| -> Result<u64> {
        let text = arg(i)?;
        Ok(text.parse().map_err(|_| {
            format!("--exercise-helper {role}: {text:?} is not a number")
        })?)
    };
    match role {
        "read" => read_once(Path::new(arg(0)?), number(1)?),
        "race" if number(2)? == 0 => {
            Err("--exercise-helper race: LEN must be at least 1 byte".into())
        }
        "race" => race(
            Path::new(arg(0)?),
            number(1)?,
            number(2)?,
            args.get(3).is_some_and(|a| a == "--to-zero"),
        ),
        _ => Err(format!(
            "--exercise-helper {role}: no such role; the graded tests use read and race"
        )
        .into()),
    }
}

/// FNV-1a, 64 bits: enough for a test to recognise the bytes it wrote.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One read of the file at `path`, in a child; prints one `reader:` line.
fn read_once(path: &Path, expected: u64) -> Result {
    let file = File::open(path).at(path)?;
    let child = fork_child(|| {
        match read_all_surviving_truncation(&file, expected) {
            Ok(bytes) => say!(
                "reader: whole, {} bytes, fnv1a {:016x}",
                bytes.len(),
                fnv1a(&bytes)
            ),
            Err(Truncated { expected, found }) => {
                say!("reader: truncated, expected {expected}, found {found}")
            }
        }
        0
    })?;
    let outcome = child.wait(READ_LIMIT)?;
    if outcome != ChildOutcome::Exited(0) {
        say!("reader: {}", verdict(outcome).trim_start_matches("was "));
    }
    Ok(())
}

/// The byte at `offset` of a race file: never zero, so zeroes that a
/// truncation leaves behind never pass for the file's bytes.
fn pattern(offset: u64) -> u8 {
    (offset % 251 + (offset / 4096) % 4 + 1) as u8
}

/// The reader's side of one round: tells the parent it is about to read
/// (a byte on `signals`), reads, tells it the read is over (another byte),
/// checks what it got against `written`, and returns its verdict as an
/// exit code.
fn read_and_check(path: &Path, written: &[u8], mut signals: File) -> i32 {
    let Ok(file) = File::open(path) else {
        return 2;
    };
    let len = written.len() as u64;
    let _ = signals.write_all(b"r");
    let result = read_all_surviving_truncation(&file, len);
    let _ = signals.write_all(b"d");
    match result {
        Ok(bytes) if bytes == written => WHOLE,
        Ok(bytes) if bytes.len() != written.len() => {
            say!("    the reader returned {} bytes, not {len}", bytes.len());
            WRONG_BYTES
        }
        Ok(bytes) => {
            let offset = bytes
                .iter()
                .zip(written)
                .take_while(|(a, b)| a == b)
                .count();
            say!(
                "    byte {offset} is {:#04x}, the file held {:#04x}",
                bytes[offset],
                written[offset]
            );
            WRONG_BYTES
        }
        Err(Truncated { expected, found }) if expected == len && found < len => {
            REPORTED
        }
        Err(report) => {
            say!("    the report {report:?} is wrong: {len} bytes were expected");
            FALSE_REPORT
        }
    }
}

/// Waits (bounded) for the next byte the reader sends; false if none came.
fn next_signal(signals: &mut File) -> Result<bool> {
    let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(READ_LIMIT).unwrap_or(PollTimeout::MAX);
    Ok(poll(&mut fds, timeout)? == 1 && signals.read(&mut [0u8; 1])? == 1)
}

/// Runs one round: the reader in a child, this process truncating the file
/// to `cut_to` `delay` after the reader starts (or not at all). Returns how
/// the reader ended and how long its read took, as seen from here.
fn round(
    path: &Path,
    written: &[u8],
    cut: Option<(Duration, u64)>,
) -> Result<(ChildOutcome, Duration)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .at(path)?;
    let size = file.metadata()?.len() as usize;
    if size < written.len() {
        file.write_all_at(&written[size..], size as u64)?;
    }
    let (from_reader, to_parent) = nix::unistd::pipe()?;
    let (mut from_reader, to_parent) =
        (File::from(from_reader), File::from(to_parent));
    let child = fork_child(move || read_and_check(path, written, to_parent))?;
    let mut took = Duration::ZERO;
    if next_signal(&mut from_reader)? {
        let started = Instant::now();
        if let Some((delay, cut_to)) = cut {
            std::thread::sleep(delay);
            file.set_len(cut_to)?;
        }
        if next_signal(&mut from_reader)? {
            took = started.elapsed();
        }
    }
    Ok((child.wait(READ_LIMIT)?, took))
}

/// The most a race may ask for: the file's bytes are also kept in memory.
const MAX_RACE_LEN: u64 = 256 << 20;
const MAX_ROUNDS: u64 = 10_000;

fn race(dir: &Path, rounds: u64, len: u64, to_zero: bool) -> Result {
    if len > MAX_RACE_LEN || rounds > MAX_ROUNDS {
        return Err(format!(
            "--exercise-helper race: at most {MAX_ROUNDS} rounds and {MAX_RACE_LEN} bytes"
        )
        .into());
    }
    // Registered like every file a lesson makes: removed on Ctrl-C too.
    let path = dir.join("racing-file");
    let registered = support::cleanup::protected(|| -> Result<_> {
        File::create_new(&path).at(&path)?;
        Ok(support::cleanup::register(
            &path,
            support::cleanup::Removal::File,
        )?)
    })?;
    let result = race_on(&path, rounds, len, to_zero);
    let _ = std::fs::remove_file(&path);
    drop(registered);
    result
}

/// The race itself, on the file at `path`.
fn race_on(path: &Path, rounds: u64, len: u64, to_zero: bool) -> Result {
    let written: Vec<u8> = (0..len).map(pattern).collect();
    // One round without a truncation: the reader must return the file
    // whole, and its time sets the range the truncations are spread over.
    let (outcome, took) = round(path, &written, None)?;
    if outcome != ChildOutcome::Exited(WHOLE) {
        say!("untouched file: the reader {}", verdict(outcome));
        return Ok(());
    }
    say!("untouched file: the reader returned it whole");
    let mut random = fastrand::Rng::new();
    let page = support::page_size() as u64;
    let window = 3 * took.as_micros().max(1) as u64 / 2;
    let (mut whole, mut reported) = (0, 0);
    for number in 1..=rounds {
        let delay = Duration::from_micros(random.u64(..window));
        let cut_to = match random.u64(..4) {
            _ if to_zero => 0,
            // Inside the last page: no page vanishes, but the bytes past the
            // new end read as zeroes from now on, without any fault.
            0 => {
                (len - 1) / page * page + random.u64(..len - (len - 1) / page * page)
            }
            _ => random.u64(..len),
        };
        let (outcome, _) = round(path, &written, Some((delay, cut_to)))?;
        match outcome {
            ChildOutcome::Exited(WHOLE) => whole += 1,
            ChildOutcome::Exited(REPORTED) => reported += 1,
            _ => {
                say!(
                    "round {number} (truncated to {cut_to} bytes): the reader {}",
                    verdict(outcome)
                );
                return Ok(());
            }
        }
    }
    say!(
        "survived all {rounds} rounds: {whole} read whole, {reported} reported as truncated"
    );
    Ok(())
}

fn verdict(outcome: ChildOutcome) -> String {
    match outcome {
        ChildOutcome::Exited(WRONG_BYTES) => "returned wrong bytes".to_owned(),
        ChildOutcome::Exited(FALSE_REPORT) => {
            "reported a truncation wrongly".to_owned()
        }
        ChildOutcome::Exited(REPORTED) => {
            "reported a truncation, but nobody truncated the file".to_owned()
        }
        ChildOutcome::Exited(support::fork::PANICKED) => "panicked".to_owned(),
        ChildOutcome::Exited(code) => format!(
            "exited (code {code}) without returning from read_all_surviving_truncation"
        ),
        ChildOutcome::Signaled(_) => format!("was {outcome}"),
        other => other.to_string(),
    }
}
