//! The walkthrough for lesson 3: run it with `cargo xtask run-lesson sigbus`.
//!
//! Every access that may fault runs in a child (`run_in_child`); the parent
//! reports how the child ended and carries on.

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use sigbus::{map_shared, report_sigbus_for, sealed_memfd, try_truncate};
use support::ChildOutcome;
use support::cli::Cli;
use support::errors::AtPath;
use support::fork::run_in_child;
use support::out::yes_no;
use support::{Result, say};

const CLI: Cli = Cli {
    lesson: "sigbus",
    usage: "\
sigbus: what happens when the file is too short?

Usage: cargo xtask run-lesson sigbus [-- --help]

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
    CLI.begin();
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => support::scratch_dir()
            .map_err(Into::into)
            .and_then(|dir| walkthrough(dir.path())),
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
    Ok(())
}

/// Runs `work` in a child and prints how the child ended.
fn in_child(what: &str, work: impl FnOnce() -> i32) -> Result<ChildOutcome> {
    let outcome = run_in_child(CHILD_LIMIT, work)?;
    say!("  {what} -> child {outcome}");
    Ok(outcome)
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
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .at(&path)?;
    let map = map_shared(&file, 3 * page)?;
    say!(
        "  mapped {} bytes (3 pages) of a {}-byte file",
        map.len(),
        file.metadata()?.len()
    );
    in_child(
        "read byte 8, bytes 9..page end, then the first byte of page 1",
        || {
            say!(
                "    byte 8 is {:?}: the file's last byte",
                char::from(map.read(8))
            );
            let tail_is_zero = (9..page).all(|offset| map.read(offset) == 0);
            say!(
                "    bytes 9..{page} all read as zero: {}",
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
    say!("  The page that holds the file's end is readable to its end, as zeroes;");
    say!(
        "  a page that holds no byte of the file cannot be backed, so the kernel sends SIGBUS."
    );
    Ok(())
}
// ANCHOR_END: step2

// ANCHOR: step3
fn writes_past_the_end(scratch: &Path, page: usize) -> Result {
    say!("\nStep 3. Stores past the end do not grow the file");
    let path = scratch.join("nine");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .at(&path)?;
    let map = map_shared(&file, page)?;
    map.write(100, b'!');
    drop(map);
    say!(
        "  stored '!' at byte 100 (inside page 0, past the end) and unmapped: no fault"
    );
    say!("  the file is still {} bytes", file.metadata()?.len());
    let again = map_shared(&file, page)?;
    say!(
        "  yet a fresh mapping reads byte 100 as {:?}: the store is still in the page cache",
        char::from(again.read(100))
    );
    again.sync()?;
    say!(
        "  after msync writes the page back, byte 100 reads {:?} ({} holds the files here)",
        char::from(again.read(100)),
        sigbus::filesystem_name(scratch)
    );
    say!(
        "  ext4 zeroes the part of a page past the end of the file whenever it writes the"
    );
    say!(
        "  page back; tmpfs never writes back, so there the byte lingers, and a later"
    );
    say!(
        "  ftruncate that grows the file makes it part of the file. Never rely on either."
    );
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
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .at(&path)?;
    let map = map_shared(&file, 3 * page)?;
    say!(
        "  mapped all 3 pages; page 2 reads {:?}",
        char::from(map.read(2 * page))
    );
    in_child(
        &format!("another process truncates the file to {page} bytes"),
        || i32::from(file.set_len(page as u64).is_err()),
    )?;
    in_child("read page 2 again", || i32::from(map.read(2 * page)))?;
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

    say!("  A defence: a sealed memfd, which nobody can shrink");
    let sealed = sealed_memfd(3 * page as u64)?;
    // The memfd is sparse too; its pages come from memory, reserved now.
    support::space::allocate(&sealed, 3 * page as u64).map_err(|e| {
        format!(
            "cannot reserve memory for the sealed memfd: {}",
            support::errors::explain(&e)
        )
    })?;
    let map = map_shared(&sealed, 3 * page)?;
    map.write(2 * page, b'C');
    in_child(
        &format!("another process tries to truncate it to {page} bytes"),
        || {
            match try_truncate(&sealed, page as u64) {
                Some(errno) => {
                    say!("    ftruncate failed: {errno:?} ({})", errno.desc())
                }
                None => say!("    ftruncate succeeded (the seal did not hold!)"),
            }
            0
        },
    )?;
    in_child("read page 2 of the sealed memfd", || {
        say!("    page 2 reads {:?}", char::from(map.read(2 * page)));
        0
    })?;
    Ok(())
}
// ANCHOR_END: step4
