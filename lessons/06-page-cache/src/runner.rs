//! `page-cache --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`).
//!
//! Before your code first runs, the runner installs a seccomp filter
//! (`support::seccomp::install_mapping_only`): reading, copying or writing a file's bytes other than
//! through a mapping fails, and so does asking the page cache without one.
//! The `method:` entries are not exercises: they show a test that the
//! filter refuses what it should.

use std::fs::{File, OpenOptions};
use std::path::Path;

use support::exercise::{Args, Handler, io_result};

use crate::exercises;

use support::seccomp::install_mapping_only;

/// Each exercise by name, with how its inputs are read.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("mmap_copy", |args| {
        let (src, dst) = (args.path()?, args.path()?);
        install_mapping_only()?;
        io_result(exercises::mmap_copy(&src, &dst))
    }),
    ("count_resident_pages", |args| {
        let file = filtered_file(args)?;
        io_result(exercises::count_resident_pages(&file))
    }),
    ("method:std_fs_copy", |args| {
        let (src, dst) = (args.path()?, args.path()?);
        install_mapping_only()?;
        io_result(std::fs::copy(src, dst))
    }),
    ("method:write_to_a_new_file", |args| {
        let (src, dst) = (args.path()?, args.path()?);
        install_mapping_only()?;
        io_result(write_mapped(&src, &dst))
    }),
    ("method:cachestat", |args| {
        let file = filtered_file(args)?;
        io_result(page_cache::cachestat(&file).map_err(std::io::Error::from))
    }),
    ("method:socket", |_| {
        install_mapping_only()?;
        io_result(std::os::unix::net::UnixStream::pair().map(|_| ()))
    }),
    ("method:exec_cp", |args| {
        let (src, dst) = (args.path()?, args.path()?);
        install_mapping_only()?;
        io_result(std::process::Command::new("cp").arg(src).arg(dst).status())
    }),
];

/// The file at the request's path, opened read+write (so mincore tells the
/// truth about it) after the filter is in place.
fn filtered_file(args: &mut Args) -> Result<File, String> {
    let path = args.path()?;
    install_mapping_only()?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("the runner cannot open {}: {e}", path.display()))
}

/// Half a copy through a mapping: maps `src`, then `write`s its bytes to
/// `dst`, which the filter refuses.
fn write_mapped(src: &Path, dst: &Path) -> std::io::Result<usize> {
    let source = File::open(src)?;
    // SAFETY: the test's own file, which nobody changes while it is mapped.
    let map = unsafe { memmap2::Mmap::map(&source)? };
    std::fs::write(dst, &map[..])?;
    Ok(map.len())
}
