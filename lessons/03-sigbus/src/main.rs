//! The walkthrough for lesson 3: run it with `cargo xtask run-lesson sigbus`.
//!
//! Every access that may fault runs in a child (`run_in_child`); the parent
//! reports how the child ended and carries on.

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use sigbus::{
    map_shared, report_sigbus_for, safe_to_map, sealed_memfd, try_truncate,
};
use support::ChildOutcome;
use support::cli::Cli;
use support::errors::AtPath;
use support::fork::run_in_child;
use support::out::yes_no;
use support::{Result, say};

mod exercises;
mod runner;

const CLI: Cli = support::lesson_cli! {
    usage: "\
Every access that may fault happens in a child process; the lesson reports
how each child ended. Its files live in a temporary directory removed at exit.
",
    flags: &["--help"],
};

/// No child of this lesson should take more than a moment.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough,
}

fn main() {
    CLI.begin(runner::EXERCISES);
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => support::in_scratch_dir(walkthrough),
    });
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    Ok(if CLI.help_asked()? {
        Mode::Help
    } else {
        Mode::Walkthrough
    })
}

fn walkthrough(scratch: &Path) -> Result {
    let page = support::page_size();
    say!("sigbus: what happens when the file is too short?");
    say!(
        "(Each access that may fault runs in a child process; the page size is {page} bytes.)"
    );
    store_into_an_empty_file(scratch)?;
    the_exact_boundary(scratch, page)?;
    writes_past_the_end(scratch, page)?;
    truncation_under_a_live_mapping(scratch, page)?;
    a_file_nobody_can_shrink(page)?;
    Ok(())
}

/// Runs `work` in a child and prints how the child ended.
fn in_child(what: &str, work: impl FnOnce() -> i32) -> Result<ChildOutcome> {
    let outcome = run_in_child(CHILD_LIMIT, work)?;
    say!("  {what} -> child {outcome}");
    Ok(outcome)
}

/// Opens a file the story made, for reading and writing.
fn open_existing_rw(path: &Path) -> Result<File> {
    Ok(OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .at(path)?)
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

// ANCHOR: step1
fn store_into_an_empty_file(scratch: &Path) -> Result {
    say!("\nStep 1. Store into a mapping of an empty file");
    let empty = scratch.join("empty");
    let file = open_rw(&empty).at(&empty)?;
    let map = map_shared(&file, 40)?;
    say!(
        "  mapped 40 bytes of a {}-byte file: mmap itself does not mind",
        file.metadata()?.len()
    );
    in_child("store 0x78 at offset 0", || {
        map.write(0, 0x78);
        0
    })?;
    file.set_len(40).at(&empty)?;
    // Real blocks before the child stores: on a full disk the lesson says so,
    // instead of showing a SIGBUS that is not this step's point.
    support::space::reserve(&file, 40, &empty)?;
    say!("  set_len(40) on the same file; the mapping is unchanged");
    in_child("store 0x78 at offset 0 again", || {
        map.write(0, 0x78);
        0
    })?;
    let bytes = fs::read(&empty).at(&empty)?;
    say!(
        "  read(2) now finds {} bytes, the first {:#04x}: the child's store",
        bytes.len(),
        bytes[0]
    );
    Ok(())
}
// ANCHOR_END: step1

// ANCHOR: step2
fn the_exact_boundary(scratch: &Path, page: usize) -> Result {
    say!("\nStep 2. The exact boundary: a 9-byte file under a 3-page mapping");
    let path = scratch.join("nine");
    fs::write(&path, b"AAAAAAAAA").at(&path)?;
    let file = open_existing_rw(&path)?;
    let map = map_shared(&file, 3 * page)?;
    say!(
        "  mapped {} bytes (3 pages) of a {}-byte file",
        map.len(),
        file.metadata()?.len()
    );
    in_child(
        &format!("read byte 8, bytes 9 to {}, then byte {page}", page - 1),
        || {
            say!(
                "    byte 8 is {:?}: the file's last byte",
                char::from(map.read(8))
            );
            let tail_is_zero = (9..page).all(|offset| map.read(offset) == 0);
            say!(
                "    bytes 9 to {} all read as zero: {}",
                page - 1,
                yes_no(tail_is_zero)
            );
            if report_sigbus_for(map.address()).is_err() {
                return 3;
            }
            say!("    reading byte {page}...");
            let byte = map.read(page);
            say!("    byte {page} is {byte} (no fault: unexpected)");
            0
        },
    )?;
    say!(
        "  BUS_ADRERR is \"nonexistent physical address\" in sigaction(2); here it means"
    );
    say!("  that no page of the file is behind this address.");
    say!(
        "  The page that holds the file's end reads to its end, as zeroes; a page that"
    );
    say!(
        "  holds no byte of the file has nothing behind it, so the kernel sends SIGBUS."
    );
    Ok(())
}
// ANCHOR_END: step2

// ANCHOR: step3
fn writes_past_the_end(scratch: &Path, page: usize) -> Result {
    say!("\nStep 3. Stores past the end do not grow the file");
    let path = scratch.join("nine");
    let file = open_existing_rw(&path)?;
    let map = map_shared(&file, page)?;
    map.write(100, b'!');
    drop(map);
    say!(
        "  stored '!' at byte 100 (inside page 0, past the end) and unmapped: no fault"
    );
    say!(
        "  the file is still {} bytes: the store is not part of it",
        file.metadata()?.len()
    );
    let again = map_shared(&file, page)?;
    say!(
        "  yet a fresh mapping reads byte 100 as {:?}: the store is in the page cache",
        char::from(again.read(100))
    );
    again.sync()?;
    say!(
        "  after msync, byte 100 reads {:?} ({} holds the files here)",
        char::from(again.read(100)),
        sigbus::filesystem_name(scratch)
    );
    drop(again);
    file.set_len(101).at(&path)?;
    let bytes = fs::read(&path).at(&path)?;
    say!(
        "  set_len(101) grows the file; read(2) finds byte 100 is {:?}",
        char::from(bytes[100])
    );
    say!(
        "  A disk filesystem zeroes the part of the last page past the end of the file"
    );
    say!(
        "  when it writes the page back (msync forces that). tmpfs has no disk block to"
    );
    say!(
        "  write back to (its pages live in memory, or swap): msync does nothing there,"
    );
    say!("  the byte lingers, and growing the file made it part of the file.");
    say!("  Either way, never rely on a store past the end.");
    Ok(())
}
// ANCHOR_END: step3

// ANCHOR: step4
fn truncation_under_a_live_mapping(scratch: &Path, page: usize) -> Result {
    say!("\nStep 4. Another process truncates the file under a live mapping");
    let path = scratch.join("three-pages");
    fs::write(
        &path,
        [b"A".repeat(page), b"B".repeat(page), b"C".repeat(page)].concat(),
    )
    .at(&path)?;
    let file = open_existing_rw(&path)?;
    let map = map_shared(&file, 3 * page)?;
    say!(
        "  mapped all 3 pages; page 2 reads {:?}",
        char::from(map.read(2 * page))
    );
    let truncated = run_in_child(CHILD_LIMIT, || {
        try_truncate(&file, page as u64).map_or(0, |errno| errno as i32)
    })?;
    say!(
        "  another process's ftruncate to {page} bytes: {}; the file is now {} bytes",
        truncation_outcome(truncated),
        file.metadata()?.len()
    );
    say!("  nobody called munmap: all 3 pages are still mapped");
    in_child("read page 2 again", || i32::from(map.read(2 * page)))?;
    say!(
        "  SIGBUS, not SIGSEGV: the address is mapped, but no file is behind it now"
    );
    say!(
        "  page 0 still reads {:?}: it still has file behind it",
        char::from(map.read(0))
    );
    say!(
        "  This is why memmap2's Mmap::map is unsafe: a &[u8] over a file is only as"
    );
    say!(
        "  stable as the file, and any process that may write the file can shrink it."
    );
    Ok(())
}
// ANCHOR_END: step4

/// What a child that tried to truncate reported: its exit code is the
/// errno, or 0 when the truncate went through.
fn truncation_outcome(outcome: ChildOutcome) -> String {
    match outcome {
        ChildOutcome::Exited(0) => "done".to_owned(),
        ChildOutcome::Exited(code) => {
            let errno = Errno::from_raw(code);
            format!("refused, {errno:?} ({})", errno.desc())
        }
        other => format!("the child {other}"),
    }
}

// ANCHOR: step5
fn a_file_nobody_can_shrink(page: usize) -> Result {
    say!("\nStep 5. A file nobody can shrink: a sealed memfd");
    let len = 3 * page as u64;
    let sealed = sealed_memfd(len)?;
    // The memfd is sparse too; its pages come from memory, reserved now.
    support::space::allocate(&sealed, len).map_err(|e| {
        format!(
            "cannot reserve memory for the sealed memfd: {}",
            support::errors::explain(&e)
        )
    })?;
    say!("  a memfd of {len} bytes, sealed with F_SEAL_SHRINK and F_SEAL_SEAL");
    say!(
        "  the receiver's check (F_GET_SEALS, fstat): safe to map {len} bytes: {}",
        yes_no(safe_to_map(&sealed, len)?)
    );
    let map = map_shared(&sealed, 3 * page)?;
    map.write(2 * page, b'C');
    let refused = run_in_child(CHILD_LIMIT, || {
        try_truncate(&sealed, page as u64).map_or(0, |errno| errno as i32)
    })?;
    say!(
        "  another process's ftruncate to {page} bytes: {}",
        truncation_outcome(refused)
    );
    in_child("so the reader survives: read page 2", || {
        say!("    page 2 reads {:?}", char::from(map.read(2 * page)));
        0
    })?;
    let short = sealed_memfd(9)?;
    say!(
        "  a 9-byte memfd, sealed the same way: safe to map {len} bytes: {}",
        yes_no(safe_to_map(&short, len)?)
    );
    say!(
        "  The seal stops shrinking below the size it has; only fstat says that size"
    );
    say!("  covers the mapping.");
    Ok(())
}
// ANCHOR_END: step4
