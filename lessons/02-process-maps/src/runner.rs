//! `process-maps --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`).
//!
//! Exercises 2.1 to 2.3 get maps text, which this runner parses with the
//! lesson's own parser. Exercises 2.4 and 2.5 look at this very process: the
//! tests read its maps and its ELF files from outside while it waits for its
//! requests, and choose the addresses to ask about from them. Addresses and
//! the values that hold addresses are written in hex, as the maps write them.

use std::num::NonZeroUsize;
use std::os::fd::AsFd;

use nix::sys::mman::{MapFlags, ProtFlags, mmap, mmap_anonymous};
use process_maps::maps::{Mapping, parse_line, parse_maps};
use support::exercise::{Args, Handler, returned};

use crate::exercises;

/// Each exercise by name, with how its inputs are read; then the requests
/// that prepare this process for exercise 2.5's tests (`symbolize:…`).
pub const EXERCISES: &[(&str, Handler)] = &[
    ("bytes_mapped_from", |args| {
        let (maps, path) = (maps(args)?, args.text()?);
        returned(exercises::bytes_mapped_from(&maps, &path))
    }),
    ("same_file_pages", |args| {
        let (a, b) = (line(args)?, line(args)?);
        returned(exercises::same_file_pages(&a, &b))
    }),
    ("writable_and_executable", |args| {
        let maps = maps(args)?;
        let found = exercises::writable_and_executable(&maps);
        hex(found.iter().map(|m| m.start).collect::<Vec<u64>>())
    }),
    ("locate", |args| {
        let address = address(args)?;
        hex(exercises::locate(address))
    }),
    ("symbolize", |args| {
        let address = address(args)?;
        hex(exercises::symbolize(address))
    }),
    // Not exercises, but for exercise 2.5's tests: this process maps an ELF
    // file the test wrote, as ld.so maps a library, at the address the test
    // chose. The second one then stops until the test resumes it (the test
    // replaces the file meanwhile).
    ("symbolize:load", |args| {
        let (path, at) = (args.text()?, address(args)?);
        load_library(&path, at).map(|bias| format!("{bias:x}"))
    }),
    ("symbolize:load_and_stop", |args| {
        let (path, at) = (args.text()?, address(args)?);
        let bias = load_library(&path, at)?;
        support::exercise::stop_for_checker(&format!("{bias:x}"))
            .map_err(|e| format!("cannot stop for the test: {e}"))?;
        Ok(format!("{bias:x}"))
    }),
];

/// A value's `Debug` text with its numbers in hex, as the tests compare it.
fn hex(value: impl std::fmt::Debug) -> Result<String, String> {
    Ok(format!("{value:x?}"))
}

/// The next argument as an address in hex (`0x` optional).
fn address(args: &mut Args) -> Result<usize, String> {
    let text = args.text()?;
    usize::from_str_radix(text.trim_start_matches("0x"), 16)
        .map_err(|_| format!("{text:?} is not an address in hex"))
}

/// The next argument as maps text, parsed by the lesson's parser.
fn maps(args: &mut Args) -> Result<Vec<Mapping>, String> {
    parse_maps(&args.text()?).map_err(|e| format!("the maps do not parse: {e}"))
}

/// The next argument as one maps line.
fn line(args: &mut Args) -> Result<Mapping, String> {
    parse_line(&args.text()?).map_err(|e| format!("the line does not parse: {e}"))
}

/// Maps each `PT_LOAD` segment of the ELF file at `path` read-only, as ld.so
/// maps a library, with the file's lowest page at `at`; returns the bias (what
/// the addresses of the file's numbering are shifted by). The mappings stay
/// until this process exits.
fn load_library(path: &str, at: usize) -> Result<u64, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{path}: {what}: {e}");
    let loads = process_maps::program_headers(path)
        .map_err(|e| fail("reading its program headers", &e))?
        .loads;
    let page = support::page_size() as u64;
    let (Some(first), Some(last)) = (loads.first(), loads.last()) else {
        return Err(format!("{path}: no PT_LOAD segment"));
    };
    let low = first.vaddr / page * page;
    let high = (last.vaddr + last.memory_size).next_multiple_of(page);
    let span = NonZeroUsize::new((high - low) as usize)
        .ok_or_else(|| format!("{path}: the segments span no bytes"))?;
    let base = NonZeroUsize::new(at).ok_or("cannot load at address 0")?;
    // A reservation of the whole span first, where nothing is mapped yet.
    // SAFETY: MAP_FIXED_NOREPLACE maps only where nothing is mapped, so no
    // memory of this process changes; the mapping is never unmapped.
    let reserved = unsafe {
        mmap_anonymous(
            Some(base),
            span,
            ProtFlags::PROT_NONE,
            MapFlags::MAP_PRIVATE | MapFlags::MAP_FIXED_NOREPLACE,
        )
    }
    .map_err(|e| fail(&format!("reserving {at:#x}"), &e))?;
    if reserved.as_ptr() as usize != at {
        return Err(format!(
            "{path}: the kernel reserved {reserved:?}, not {at:#x}"
        ));
    }
    let bias = (at as u64).wrapping_sub(low);
    let file = std::fs::File::open(path).map_err(|e| fail("opening it", &e))?;
    for s in &loads {
        // As ld.so does: from the page that holds the segment's start.
        let before = s.vaddr % page;
        let start = bias.wrapping_add(s.vaddr - before) as usize;
        let len = (before + s.file_size).next_multiple_of(page) as usize;
        let (Some(start), Some(len)) =
            (NonZeroUsize::new(start), NonZeroUsize::new(len))
        else {
            continue;
        };
        // SAFETY: MAP_FIXED replaces only pages of the reservation above,
        // which nothing else uses; the mapping is never unmapped.
        unsafe {
            mmap(
                Some(start),
                len,
                ProtFlags::PROT_READ,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_FIXED,
                file.as_fd(),
                (s.offset - before) as i64,
            )
        }
        .map_err(|e| fail("mapping a segment", &e))?;
    }
    Ok(bias)
}
