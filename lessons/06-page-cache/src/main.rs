//! The walkthrough for lesson 6: run it with `cargo xtask run-lesson page-cache`,
//! and the benchmark with `cargo xtask run-lesson page-cache -- --bench`.
//!
//! Page faults are counted with getrusage around each step, and only around
//! the step: the lesson prints after it has counted.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::mman::{MapFlags, ProtFlags};
use nix::sys::signal::{SigHandler, Signal, signal};
use page_cache::picture::{draw, four_moments};
use page_cache::{
    Faults, READ_BUFFER, ReadAhead, anonymous_copy, cache_is_the_file, cachestat,
    create_file, evict_from_cache, faults_during, filesystem_name, folio_sizes,
    map_file, mapped_file_kb, populate_read, read_ahead, read_every_page,
    resident_pages, smaps_kb, status_kb, sum_file_mapped, sum_file_with_read,
    sum_mapped, sum_region, sum_with_read, thp_mode, write_every_page,
};
use support::cli::Cli;
use support::{Result, say};

mod bench;
mod exercises;
mod runner;

const CLI: Cli = support::lesson_cli! {
    usage: "\
Flags:
  --bench      measure instead of telling the story: sum a large warm file
               through a mapping, with read() and from anonymous memory, then
               many small files; prints ratios measured in this run
  --mib N      with --bench, the large file's size in MiB (default 256)
  --json       with --bench, print JSON lines instead of a table
  --svg FILE   also draw a file's residency at four moments (mincore beside
               pagemap's present bit) as an SVG picture in FILE (- for
               standard output: then the picture, without the story)
  --force      with --svg, replace an existing FILE
  -h, --help   print this help

The files live in a fresh temporary directory (TMPDIR) removed at exit.
",
    flags: &["--bench", "--mib", "--json", "--svg", "--force", "--help"],
};

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough(Option<(std::ffi::OsString, bool)>),
    Bench(bench::Options),
}

fn main() {
    CLI.begin(runner::EXERCISES);
    // Past `ulimit -f`, a write raises SIGXFSZ, which would end the lesson
    // before it could clean up; ignored, the write fails with EFBIG instead.
    // SAFETY: SIG_IGN runs no code of ours, so no handler can be unsafe.
    let _ = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) };
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough(svg) => support::svg::with_picture(
            &CLI,
            svg,
            || support::in_scratch_dir(walkthrough),
            || support::in_scratch_dir(|dir| Ok(draw(&four_moments(dir)?))),
        ),
        Mode::Bench(options) => optimised_build().and_then(|()| {
            support::in_scratch_dir(|dir| bench::run(dir, &options)).map_err(
                |error| {
                    CLI.refuse(format_args!(
                        "the benchmark stopped: {}",
                        support::errors::explain_any(&*error)
                    ))
                },
            )
        }),
    });
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    let mut bench = false;
    let mut mib = None;
    let mut json = false;
    let (mut svg, mut force) = (None, false);
    let mut args = CLI.args();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok(Mode::Help),
            Some("--bench") => bench = true,
            Some("--json") => json = true,
            Some("--svg") => svg = Some(CLI.value_for("--svg", args.next())?),
            Some("--force") => force = true,
            Some("--mib") => {
                let value = CLI.value_for("--mib", args.next())?;
                if mib.is_some() {
                    return Err(CLI.refuse("--mib is given twice; give it once"));
                }
                mib = Some(bench::parse_mib(&value).map_err(|e| CLI.refuse(e))?);
            }
            _ => return Err(CLI.unknown_argument(&arg)),
        }
    }
    if !bench && (mib.is_some() || json) {
        return Err(
            CLI.refuse("--mib and --json only make sense with --bench; add --bench")
        );
    }
    if bench && svg.is_some() {
        return Err(
            CLI.refuse("--svg draws the walkthrough's run; leave out --bench")
        );
    }
    let svg = support::svg::requested(&CLI, svg, force)?;
    Ok(if bench {
        Mode::Bench(bench::Options {
            mib: mib.unwrap_or(bench::DEFAULT_MIB),
            json,
        })
    } else {
        Mode::Walkthrough(svg)
    })
}

fn walkthrough(scratch: &Path) -> Result {
    let page = support::page_size();
    say!("page-cache: is mmap faster than read()?");
    say!("(The files live in a fresh temporary directory; pages are {page} bytes.)");
    one_cache(scratch, page)?;
    faults_counted(scratch, page)?;
    residency(scratch, page)?;
    speed(scratch, page)?;
    small_files(scratch)?;
    memory(scratch)?;
    Ok(())
}

/// The opt-level this lesson was built with, as cargo told its build script.
pub(crate) const OPT_LEVEL: &str = env!("PAGE_CACHE_OPT_LEVEL");

/// A speed measured in unoptimised code says how slow the build is, not how
/// fast mmap or read() is: an unoptimised u64 sum runs at a few hundred MB/s,
/// and every method ties. The workspace's Cargo.toml optimises this lesson
/// even in the dev profile; this refuses a build where that was undone.
pub(crate) fn optimised_build() -> Result {
    optimised(OPT_LEVEL)
}

fn optimised(opt_level: &str) -> Result {
    match opt_level {
        "0" | "unknown" => Err(CLI.refuse(format_args!(
            "this build of the lesson is not optimised (opt-level {opt_level}), so \
             its speeds would measure the build, not mmap or read(). Keep \
             [profile.dev.package.page-cache] opt-level = 3 in the workspace's \
             Cargo.toml, or build it optimised: cargo run --release -p page-cache \
             -- --bench"
        ))),
        _ => Ok(()),
    }
}

/// Folio sizes, largest first: `2 MiB x 120, 128 KiB x 3`.
pub(crate) fn describe_folios(sizes: &[(usize, usize)]) -> String {
    sizes
        .iter()
        .map(|&(size, count)| {
            let size = if size >= 1 << 20 && size % (1 << 20) == 0 {
                format!("{} MiB", size >> 20)
            } else {
                format!("{} KiB", size >> 10)
            };
            format!("{size} x {count}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const READ: ProtFlags = ProtFlags::PROT_READ;
const READ_WRITE: ProtFlags = ProtFlags::PROT_READ.union(ProtFlags::PROT_WRITE);

/// The text of `len` bytes of `region` from `offset`.
fn text_in(region: &support::region::Region, offset: usize, len: usize) -> String {
    (offset..offset + len)
        .map(|i| char::from(region.read(i)))
        .collect()
}

// ANCHOR: step1
fn one_cache(scratch: &Path, page: usize) -> Result {
    say!("\nStep 1. One cache: write() and the mapping see the same page");
    let file = create_file(&scratch.join("one-page"), page, page)?;
    let map = map_file(&file, page, READ_WRITE, MapFlags::MAP_SHARED)?;
    say!("  mapped a 1-page file MAP_SHARED, read+write");

    let written = b"written by pwrite";
    file.write_at(written, 0)?;
    say!("  pwrite {:?} at offset 0", as_text(written));
    say!(
        "    the mapping reads {:?} at once: no msync, no new mapping",
        text_in(&map, 0, written.len())
    );

    let stored = b"stored through the map";
    for (i, &byte) in stored.iter().enumerate() {
        map.write(100 + i, byte);
    }
    let mut back = vec![0u8; stored.len()];
    file.read_exact_at(&mut back, 100)?;
    say!(
        "  stored {:?} at offset 100 through the mapping",
        as_text(stored)
    );
    say!("    pread at offset 100 returns {:?}", as_text(&back));

    say!("  There is one copy of the page, in the page cache, and both paths reach");
    say!(
        "  it. msync and fsync write dirty pages to the disk so that they survive a"
    );
    say!("  crash: they are about durability, not about who sees what.");
    match cachestat(&file) {
        Ok(before) => {
            map.sync()?;
            let after = cachestat(&file)?;
            say!(
                "  cachestat(2) counts dirty pages: {} before msync(MS_SYNC), {} after",
                before.dirty,
                after.dirty
            );
        }
        Err(errno) => say!("  (cachestat(2) is not available here: {errno})"),
    }
    Ok(())
}
// ANCHOR_END: step1

fn as_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One row of a fault table: the label padded, then the counts unpadded
/// (so that a snapshot's redaction leaves the columns as they were).
fn fault_row(label: &str, faults: Faults) {
    say!(
        "  {label:<43} {} minor + {} major faults",
        faults.minor,
        faults.major
    );
}

// ANCHOR: step2
fn faults_counted(scratch: &Path, page: usize) -> Result {
    const PAGES: usize = 256;
    say!("\nStep 2. Faults, counted (getrusage, around each line's work only)");
    let len = PAGES * page;
    let file = create_file(&scratch.join("faults"), len, page)?;
    say!("  a file of {PAGES} pages, just written: every page is in the page cache");

    let map = map_file(&file, len, READ, MapFlags::MAP_SHARED)?;
    let (_, first) = faults_during(|| read_every_page(&map, page));
    let (_, again) = faults_during(|| read_every_page(&map, page));
    fault_row("MAP_SHARED, read a byte of every page:", first);
    fault_row("the same reads again:", again);

    let flags = MapFlags::MAP_SHARED | MapFlags::MAP_POPULATE;
    let (populated, setup) = faults_during(|| map_file(&file, len, READ, flags));
    let populated = populated?;
    let (_, touch) = faults_during(|| read_every_page(&populated, page));
    fault_row("mmap(MAP_SHARED | MAP_POPULATE) itself:", setup);
    fault_row("  then a byte of every page:", touch);

    let advised = map_file(&file, len, READ, MapFlags::MAP_SHARED)?;
    let (populate, setup) = faults_during(|| populate_read(&advised));
    populate?;
    let (_, touch) = faults_during(|| read_every_page(&advised, page));
    fault_row("madvise(MADV_POPULATE_READ) itself:", setup);
    fault_row("  then a byte of every page:", touch);

    let private = map_file(&file, len, READ_WRITE, MapFlags::MAP_PRIVATE)?;
    let (_, cow) = faults_during(|| write_every_page(&private, page));
    fault_row("MAP_PRIVATE, write a byte of every page:", cow);

    let mut buffer = vec![1u8; READ_BUFFER]; // written, so already faulted in
    sum_with_read(&file, &mut buffer)?; // once uncounted: its code is mapped in too
    let (sum, read) = faults_during(|| sum_with_read(&file, &mut buffer));
    sum?;
    fault_row("pread the whole file, 128 KiB at a time:", read);

    say!("  Fewer faults than pages: one fault maps the cached neighbours too");
    say!("  (fault-around, 64 KiB by default), or a whole large folio. Populating");
    say!("  moves the faults into the setup. A private write copies the page, one");
    say!("  fault per page. pread copies inside the kernel into a buffer that was");
    say!("  already mapped: no fault at all.");
    Ok(())
}
// ANCHOR_END: step2

// ANCHOR: step3
fn residency(scratch: &Path, page: usize) -> Result {
    const PAGES: usize = 64;
    say!("\nStep 3. Residency: mincore, then posix_fadvise(DONTNEED)");
    let filesystem = filesystem_name(scratch);
    let kind = if cache_is_the_file(filesystem) {
        "no disk copy (memory, swap): nothing to drop"
    } else {
        "a copy on disk: clean pages can go"
    };
    say!("  the files are on {filesystem} (statfs), {kind}");
    let len = PAGES * page;
    let file = create_file(&scratch.join("residency"), len, page)?;
    file.sync_all()?; // DONTNEED drops clean pages only
    let map = map_file(&file, len, READ, MapFlags::MAP_SHARED)?;
    let resident = |when: &str| -> Result {
        let pages = resident_pages(&map)?;
        say!("  {when:<43} {pages} of {PAGES} pages resident");
        Ok(())
    };
    resident("written and fsynced (clean):")?;
    evict_from_cache(&file)?;
    resident("after posix_fadvise(DONTNEED):")?;
    let (_, faults) = faults_during(|| read_every_page(&map, page));
    fault_row("then read a byte of every page:", faults);
    resident("and now:")?;
    say!("  DONTNEED drops clean pages that nobody has mapped: the disk holds the");
    say!("  same bytes, so the next touch reads them back (major faults and");
    say!(
        "  readahead). tmpfs ignores it: its page cache is the only copy of the file."
    );
    Ok(())
}
// ANCHOR_END: step3

/// The shortest of `runs` timings of `work`, with its last result: the
/// least disturbed run, on a machine shared with others.
fn best_of<T>(runs: usize, mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut result = None;
    for _ in 0..runs {
        let started = Instant::now();
        let value = std::hint::black_box(work());
        best = best.min(started.elapsed());
        result = Some(value);
    }
    (best, result.expect("at least one run"))
}

fn gbps(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64().max(1e-9) / 1e9
}

// ANCHOR: step4
fn speed(scratch: &Path, page: usize) -> Result {
    const LEN: usize = 64 << 20;
    say!("\nStep 4. Speed: a warm 64 MiB file summed as u64, three ways (best of 3)");
    let path = scratch.join("speed");
    let file = create_file(&path, LEN, READ_BUFFER)?;
    file.sync_all()?; // DONTNEED drops clean pages only
    evict_from_cache(&file)?;
    let mut buffer = vec![1u8; READ_BUFFER];
    sum_with_read(&file, &mut buffer)?; // readahead brings it back
    say!(
        "  written, evicted (DONTNEED), read back with read(): on a disk, readahead"
    );
    say!("  made its folios, none larger than the device's read_ahead_kb");
    match read_ahead(scratch)? {
        Some(ReadAhead {
            device,
            kb: Some(kb),
        }) => say!(
            "  readahead: device {}:{}, read_ahead_kb {kb}",
            device.0,
            device.1
        ),
        Some(ReadAhead { device, kb: None }) => say!(
            "  readahead: device {}:{}, read_ahead_kb not in /sys/dev/block",
            device.0,
            device.1
        ),
        None => say!(
            "  readahead: {} has no single backing device, no read_ahead_kb",
            filesystem_name(scratch)
        ),
    }
    let map = map_file(&file, LEN, READ, MapFlags::MAP_SHARED)?;
    populate_read(&map)?;
    let pmd_kb = smaps_kb(&map, "FilePmdMapped")?;
    let len_kb = (LEN >> 10) as u64;
    say!("  mapped: {pmd_kb} of {len_kb} kB by 2 MiB entries (FilePmdMapped)");
    match folio_sizes(&map, page)? {
        Some(sizes) => say!(
            "  folios: {} in all, the largest {} (pagemap, kpageflags)",
            sizes.iter().map(|&(_, count)| count).sum::<usize>(),
            describe_folios(&sizes[..sizes.len().min(1)])
        ),
        None => say!("  folios: sizes need CAP_SYS_ADMIN (pagemap, kpageflags)"),
    }
    drop(map);

    // Like with like: anonymous memory in the page size the mapping got.
    let huge = 2 * pmd_kb >= len_kb;
    let anonymous = anonymous_copy(&file, LEN, huge)?;
    let anon_huge_kb = smaps_kb(&anonymous, "AnonHugePages")?;
    let advice = if huge {
        "MADV_HUGEPAGE"
    } else {
        "MADV_NOHUGEPAGE"
    };
    say!("  the ceiling: a copy in anonymous memory, in the mapping's page size");
    say!(
        "    {advice}, THP {}: {anon_huge_kb} of {len_kb} kB in 2 MiB pages (AnonHugePages)",
        thp_mode()
    );

    // SAFETY: the lesson's own file in its temporary directory: nobody
    // writes to it or shrinks it while it is mapped.
    let (mapped, sum_m) = best_of(3, || unsafe { sum_mapped(&file, LEN) });
    let (read, sum_r) = best_of(3, || sum_with_read(&file, &mut buffer));
    // SAFETY: the copy is this process's private memory, written once.
    let (anon, sum_a) = best_of(3, || unsafe { sum_region(&anonymous) });
    if optimised_build().is_ok() {
        let ceiling = gbps(LEN, anon);
        for (how, time) in [
            ("through a fresh mapping", mapped),
            ("pread, 128 KiB at a time", read),
            ("anonymous memory (the ceiling)", anon),
        ] {
            let rate = gbps(LEN, time);
            say!(
                "  {how:<31} {rate:.2} GB/s, {:.2}x the ceiling",
                rate / ceiling
            );
        }
    } else {
        say!(
            "  (speeds not shown: this build is not optimised, opt-level {OPT_LEVEL})"
        );
    }
    let agree = sum_m? == sum_a && sum_r? == sum_a;
    say!("  the three sums agree: {}", yes_no(agree));
    say!("  --bench times a 256 MiB file, best of 5, just written (4 KiB pages) and");
    say!("  read back, against anonymous memory in 4 KiB and in 2 MiB pages.");
    Ok(())
}
// ANCHOR_END: step4

// ANCHOR: step5
fn small_files(scratch: &Path) -> Result {
    say!("\nStep 5. Small files, warm: open, read or map, sum, close, one by one");
    let mut buffer = vec![1u8; READ_BUFFER];
    for (size, label, count) in [(4 << 10, "4 KiB", 8), (64 << 10, "64 KiB", 2)] {
        let dir = scratch.join(format!("small-{size}"));
        fs::create_dir(&dir)?;
        let paths: Vec<_> = (0..count).map(|i| dir.join(i.to_string())).collect();
        for path in &paths {
            create_file(path, size, size)?;
        }
        let (read, sums_r) = best_of(3, || {
            let sums: std::io::Result<Vec<u64>> = paths
                .iter()
                .map(|p| sum_file_with_read(p, &mut buffer))
                .collect();
            sums
        });
        let (mapped, sums_m) = best_of(3, || {
            let sums: std::io::Result<Vec<u64>> = paths
                .iter()
                // SAFETY: the lesson's own files; nobody writes to them meanwhile.
                .map(|p| unsafe { sum_file_mapped(p) })
                .collect();
            sums
        });
        if sums_r? != sums_m? {
            return Err("read and mmap summed a small file differently".into());
        }
        let per_file = |time: Duration| time.as_secs_f64() * 1e6 / count as f64;
        say!(
            "  {count} files of {label}: read {:.1} µs/file, mmap {:.1} µs/file: {:.2}x",
            per_file(read),
            per_file(mapped),
            mapped.as_secs_f64() / read.as_secs_f64().max(1e-12)
        );
    }
    say!(
        "  A mapping costs mmap, a fault or a few, and munmap (which must flush the"
    );
    say!(
        "  TLB) for every file: a few µs, more than copying 4 KiB. --bench shows the"
    );
    say!("  size at which mapping starts to pay.");
    Ok(())
}
// ANCHOR_END: step5

// ANCHOR: step6
fn memory(scratch: &Path) -> Result {
    const LEN: usize = 2 << 20;
    say!("\nStep 6. Memory: whose pages are they?");
    let path = scratch.join("memory");
    let file = create_file(&path, LEN, READ_BUFFER)?;
    let mut buffer = vec![1u8; READ_BUFFER];
    let (file_kb, anon_kb) = (mapped_file_kb()?, status_kb("RssAnon")?);

    let map = map_file(&file, LEN, READ, MapFlags::MAP_SHARED)?;
    // SAFETY: the lesson's own file; nobody writes to it or shrinks it.
    std::hint::black_box(unsafe { sum_region(&map) });
    let mapped_file = mapped_file_kb()? as i64 - file_kb as i64;
    drop(map);
    let after_unmap = mapped_file_kb()? as i64 - file_kb as i64;

    sum_with_read(&file, &mut buffer)?;
    let read_file = mapped_file_kb()? as i64 - file_kb as i64;
    let read_anon = status_kb("RssAnon")? as i64 - anon_kb as i64;

    let copy = fs::read(&path)?;
    let copy_anon = status_kb("RssAnon")? as i64 - anon_kb as i64;
    drop(copy);

    say!("  a 2 MiB file; the change in this process's resident memory:");
    say!(
        "  {:<43} file pages {mapped_file:+} kB",
        "mapped and summed, still mapped:"
    );
    say!("  {:<43} file pages {after_unmap:+} kB", "after munmap:");
    say!(
        "  {:<43} file pages {read_file:+} kB, anonymous {read_anon:+} kB",
        "pread and summed, 128 KiB buffer:"
    );
    say!(
        "  {:<43} anonymous {copy_anon:+} kB",
        "read whole into a Vec:"
    );
    say!("  (file pages: RssFile + RssShmem; anonymous: RssAnon; /proc/self/status)");
    say!("  The mapped pages belong to the page cache and are clean: under memory");
    say!("  pressure the kernel unmaps and drops them, writes nothing, and reads");
    say!("  them back on the next touch. The Vec is a private copy: to reclaim it");
    say!("  the kernel must write it to swap, and without swap it cannot at all.");
    Ok(())
}
// ANCHOR_END: step6

fn yes_no(condition: bool) -> &'static str {
    if condition {
        "yes"
    } else {
        "NO (unexpected: please report it)"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn speeds_need_an_optimised_build() {
        for level in ["0", "unknown"] {
            let refusal = super::optimised(level).unwrap_err().to_string();
            assert!(refusal.contains("not optimised"), "{refusal}");
            assert!(refusal.contains("--release"), "{refusal}");
        }
        for level in ["1", "2", "3", "s", "z"] {
            assert!(super::optimised(level).is_ok(), "opt-level {level}");
        }
    }
}
