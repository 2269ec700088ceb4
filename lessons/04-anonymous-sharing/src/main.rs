//! The walkthrough for lesson 4: run it with `cargo xtask run-lesson anonymous-sharing`.

mod exercises;
mod runner;

use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering::{Acquire, Release};

use anonymous_sharing::{Baton, LIMIT, Sharing, map_anonymous, maps_entry, picture};
use support::cli::Cli;
use support::fork::{fork_child, run_in_child};
use support::{Result, say};

const CLI: Cli = support::lesson_cli! {
    usage: "\
Flags:
  --svg FILE   also draw copy-on-write page by page (from /proc/self/pagemap)
               as an SVG picture in FILE (- for standard output: then the
               picture, without the story)
  --force      with --svg, replace an existing FILE
  -h, --help   print this help

The lesson forks children and waits for each with a bounded wait; no sleep
decides who goes first.
",
    flags: &["--svg", "--force", "--help"],
};

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough(Option<(std::ffi::OsString, bool)>),
}

fn main() {
    CLI.begin(runner::EXERCISES);
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough(svg) => {
            support::svg::with_picture(&CLI, svg, walkthrough, || {
                Ok(picture::draw(&picture::copy_on_write_rows()?))
            })
        }
    });
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    let mut args = CLI.args();
    let (mut svg, mut force) = (None, false);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok(Mode::Help),
            Some("--svg") => svg = Some(CLI.value_for("--svg", args.next())?),
            Some("--force") => force = true,
            _ => return Err(CLI.unknown_argument(&arg)),
        }
    }
    Ok(Mode::Walkthrough(support::svg::requested(
        &CLI, svg, force,
    )?))
}

fn walkthrough() -> Result {
    let page = support::page_size();
    say!(
        "anonymous-sharing: how do I share memory between a parent and child process?"
    );
    three_places(page)?;
    one_page(page)?;
    no_sleep(page)
}

// ANCHOR: step1
fn three_places(page: usize) -> Result {
    say!("\nStep 1. The child writes 42 in three places");
    let shared = map_anonymous(page, Sharing::Shared)?;
    let private = map_anonymous(page, Sharing::Private)?;
    let mut plain: u32 = 1;
    shared.atomic_u32(0).store(1, Release);
    private.atomic_u32(0).store(1, Release);
    say!("  before fork, all three hold 1");
    let outcome = run_in_child(LIMIT, || {
        shared.atomic_u32(0).store(42, Release);
        private.atomic_u32(0).store(42, Release);
        plain = std::hint::black_box(42);
        say!(
            "  child: wrote 42; it now reads {}, {} and {}",
            shared.atomic_u32(0).load(Acquire),
            private.atomic_u32(0).load(Acquire),
            plain
        );
        0
    })?;
    say!("  parent: waited for the child with waitpid: it {outcome}");
    say!("  parent reads:");
    let rows = [
        (
            "MAP_SHARED|MAP_ANONYMOUS",
            shared.atomic_u32(0).load(Acquire),
            "one page in both: the child's store is here",
        ),
        (
            "MAP_PRIVATE|MAP_ANONYMOUS",
            private.atomic_u32(0).load(Acquire),
            "copy-on-write: the child wrote its own copy",
        ),
        (
            "a plain variable",
            plain,
            "ordinary memory: copy-on-write as well",
        ),
    ];
    for (place, value, why) in rows {
        say!("    {place:<27} {value:>3}   {why}");
    }
    Ok(())
}
// ANCHOR_END: step1

// ANCHOR: step2
fn one_page(page: usize) -> Result {
    say!("\nStep 2. It really is one page");
    let shared = map_anonymous(page, Sharing::Shared)?;
    let (to_parent, to_child) = (Baton::new()?, Baton::new()?);
    let ours = maps_entry(shared.address())?
        .ok_or("the shared mapping is not in /proc/self/maps")?;
    let child = fork_child(|| {
        let theirs = maps_entry(shared.address()).ok().flatten();
        shared.atomic_u32(0).store(42, Release);
        if to_parent.pass().is_err() || to_child.take(LIMIT).is_err() {
            return 1;
        }
        say!(
            "  child: reads {} in slot 1, written by the parent",
            shared.atomic_u32(1).load(Acquire)
        );
        match &theirs {
            Some(m) => say!(
                "  child: maps it as {} {}, inode {}",
                m.perms,
                m.pathname,
                m.inode
            ),
            None => say!("  child: cannot find the mapping in its /proc/self/maps"),
        }
        i32::from(theirs.is_none_or(|m| m.inode != ours.inode))
    })?;
    to_parent.take(LIMIT)?;
    say!(
        "  parent: reads {} in slot 0, written by the child",
        shared.atomic_u32(0).load(Acquire)
    );
    shared.atomic_u32(1).store(43, Release);
    to_child.pass()?;
    let outcome = child.wait(LIMIT)?;
    say!(
        "  parent: maps it as {} {}, inode {}",
        ours.perms,
        ours.pathname,
        ours.inode
    );
    say!("  the child {outcome}: both write, both see, one inode");
    match std::fs::metadata("/dev/zero") {
        Ok(zero) if zero.ino() != ours.inode => say!(
            "  /dev/zero itself is another file, inode {}: the name is only a label",
            zero.ino()
        ),
        Ok(_) => say!("  /dev/zero itself has the same inode number"),
        Err(e) => say!("  /dev/zero cannot be examined here: {e}"),
    }

    say!("  The trap: memmap2's MmapMut::map_anon is MAP_PRIVATE");
    let mut anon = memmap2::MmapMut::map_anon(page)?;
    let kind = maps_entry(anon.as_ptr() as usize)?.map(|m| m.perms.to_string());
    say!(
        "    it maps as {}",
        kind.as_deref().unwrap_or("(not found)")
    );
    let outcome = run_in_child(LIMIT, || {
        anon[0] = 42;
        0
    })?;
    say!(
        "    the child stored 42 in it and {outcome}; the parent reads {}",
        anon[0]
    );
    say!(
        "    To share with memmap2, map a memfd with MmapMut::map_mut (that is MAP_SHARED)."
    );
    Ok(())
}
// ANCHOR_END: step2

// ANCHOR: step3
fn no_sleep(page: usize) -> Result {
    say!("\nStep 3. Who goes first? A pipe orders them; sleep does not");
    let shared = map_anonymous(page, Sharing::Shared)?;
    let (ready, done) = (Baton::new()?, Baton::new()?);
    let read_both = || {
        (
            shared.atomic_u32(0).load(Acquire),
            shared.atomic_u32(1).load(Acquire),
        )
    };
    // The unlucky order, forced: the child reads before the parent writes.
    let child = fork_child(|| {
        let (a, b) = read_both();
        say!(
            "  the wrong order, forced: the child reads {a} + {b} = {}",
            a + b
        );
        i32::from(done.pass().is_err())
    })?;
    done.take(LIMIT)?;
    shared.atomic_u32(0).store(10, Release);
    shared.atomic_u32(1).store(20, Release);
    child.wait(LIMIT)?;
    say!("  With sleep(1) in the child this order is only unlikely: on a busy");
    say!("  machine the parent may not run within the second. Nothing orders them.");

    shared.atomic_u32(0).store(0, Release);
    shared.atomic_u32(1).store(0, Release);
    let child = fork_child(|| {
        if ready.take(LIMIT).is_err() {
            return 1;
        }
        let (a, b) = read_both();
        say!(
            "  the child, once a byte came through the pipe: reads {a} + {b} = {}",
            a + b
        );
        0
    })?;
    shared.atomic_u32(0).store(10, Release);
    shared.atomic_u32(1).store(20, Release);
    ready.pass()?;
    let outcome = child.wait(LIMIT)?;
    say!("  the child {outcome}. Its read from the pipe cannot return before");
    say!("  the parent's write, and the parent wrote after storing 10 and 20.");
    Ok(())
}
// ANCHOR_END: step3
