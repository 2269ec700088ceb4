//! `--bench`: the measurements behind the chapter's answer, at a size worth
//! timing. Every figure is measured in this run and printed next to the
//! anonymous-memory ceiling or the read() figure of the same run.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::say;

use nix::sys::mman::{MapFlags, ProtFlags};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use page_cache::{
    Faults, READ_BUFFER, ReadAhead, anonymous_copy, cache_is_the_file, create_file,
    evict_from_cache, faults_during, filesystem_name, folio_sizes, map_file,
    populate_read, read_ahead, smaps_kb, sum_file_mapped, sum_file_with_read,
    sum_mapped, sum_region, sum_with_read, thp_mode,
};
use support::region::Region;

use crate::describe_folios;

/// The large file's default size: a few hundred MiB, enough to leave the CPU
/// caches far behind, small enough for a laptop.
pub const DEFAULT_MIB: u64 = 256;

/// The largest `--mib` accepted at all (64 GiB); memory and disk space are
/// checked against the machine's own figures at run time.
const MAX_MIB: u64 = 64 << 10;

/// Each timing is the best of this many runs.
const RUNS: usize = 5;

/// The small-file sizes, and how many files of each.
/// (4 MiB is not small, but it shows where the crossover lies.)
const SMALL_FILES: [(usize, usize); 4] = [
    (4 << 10, 4096),
    (64 << 10, 1024),
    (1 << 20, 128),
    (4 << 20, 32),
];

#[derive(Debug)]
pub struct Options {
    pub mib: u64,
    pub json: bool,
}

/// Reads `--mib`'s value: a whole number of MiB from 1 to `MAX_MIB`.
pub fn parse_mib(value: &OsStr) -> std::result::Result<u64, String> {
    let text = value.to_string_lossy();
    match text.trim().parse::<u64>() {
        Ok(0) => Err(format!(
            "--mib {text}: the file must have at least 1 MiB; try --mib {DEFAULT_MIB}"
        )),
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!(
                "--mib {text}: more than {MAX_MIB} MiB is not a benchmark this lesson runs; \
             try --mib {DEFAULT_MIB}"
            ))
        }
        Ok(mib) if mib > MAX_MIB => Err(format!(
            "--mib {text}: more than {MAX_MIB} MiB is not a benchmark this lesson runs; \
             try --mib {DEFAULT_MIB}"
        )),
        Ok(mib) => Ok(mib),
        Err(_) => Err(format!(
            "--mib {text}: not a whole number of MiB; try --mib {DEFAULT_MIB}"
        )),
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C (or SIGTERM) stops the benchmark at the next check, so that the
/// temporary directory is removed on the way out instead of left behind.
fn stop_cleanly_on_interrupt() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores into an atomic, which is
        // async-signal-safe.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

fn check_interrupt() -> std::io::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted; the temporary files were removed",
        ));
    }
    Ok(())
}

use support::Result;

pub fn run(scratch: &Path, options: &Options) -> Result {
    stop_cleanly_on_interrupt()?;
    let len = usize::try_from(options.mib << 20)?;
    check_room(scratch, options.mib)?;
    let out = Output { json: options.json };
    let filesystem = filesystem_name(scratch);
    out.note(&format!(
        "page-cache --bench: a {} MiB file on {filesystem}, u64 sums, best of {RUNS} runs, \
         opt-level {}",
        options.mib,
        crate::OPT_LEVEL
    ));
    large_file(scratch, len, filesystem, &out)?;
    small_files(scratch, &out)?;
    Ok(())
}

/// Refuses a size this machine cannot hold three times in memory (the page
/// cache and two anonymous copies) or once on the disk, before writing
/// anything.
fn check_room(scratch: &Path, mib: u64) -> Result {
    let small: u64 = SMALL_FILES
        .iter()
        .map(|&(size, count)| (size * count) as u64 >> 20)
        .sum();
    let available_mib = meminfo_kb("MemAvailable")? >> 10;
    if 3 * mib + small > available_mib {
        return Err(format!(
            "--mib {mib} needs about {} MiB of memory and {available_mib} MiB are available; \
             choose a smaller --mib",
            3 * mib + small
        )
        .into());
    }
    let stat = nix::sys::statvfs::statvfs(scratch)?;
    let free_mib =
        (stat.blocks_available() as u64 * stat.fragment_size() as u64) >> 20;
    if mib + small + 16 > free_mib {
        return Err(format!(
            "--mib {mib} needs about {} MiB in {} and it has {free_mib} MiB free; choose \
             a smaller --mib or set TMPDIR to a roomier directory",
            mib + small + 16,
            scratch.parent().unwrap_or(scratch).display()
        )
        .into());
    }
    Ok(())
}

fn meminfo_kb(field: &str) -> Result<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| format!("no {field} line in /proc/meminfo").into())
}

/// Where the figures go: a table for people, or JSON lines for programs.
struct Output {
    json: bool,
}

impl Output {
    fn note(&self, text: &str) {
        if !self.json {
            say!("{text}");
        }
    }

    fn json_line(&self, text: &str) {
        if self.json {
            say!("{text}");
        }
    }

    fn scan(
        &self,
        cache: &str,
        (method, time, faults): (&str, Duration, Faults),
        bytes: usize,
        (ceiling_name, ceiling): (&str, f64),
    ) {
        let gbps = bytes as f64 / time.as_secs_f64().max(1e-9) / 1e9;
        if self.json {
            say!(
                "{{\"method\": \"{method}\", \"bytes\": {bytes}, \"seconds\": {:.6}, \
                 \"gbps\": {gbps:.3}, \"cache\": \"{cache}\", \"minor_faults\": {}, \
                 \"ceiling\": \"{ceiling_name}\"}}",
                time.as_secs_f64(),
                faults.minor
            );
        } else {
            let of_ceiling = if ceiling > 0.0 { gbps / ceiling } else { 1.0 };
            say!(
                "  {method:<7} {:>8.4} s {gbps:>7.2} GB/s  {of_ceiling:>5.2}x ceiling  {:>7} minor faults",
                time.as_secs_f64(),
                faults.minor
            );
        }
    }
}

/// Times each of `works` `RUNS` times, taking turns (one run of each, then
/// the next round), so that a busy moment on a shared machine slows them
/// all rather than one. Returns each one's best time, the faults of that
/// run, and its result (the same every run).
fn best_of_each<const N: usize>(
    mut works: [&mut dyn FnMut() -> std::io::Result<u64>; N],
) -> Result<[(Duration, Faults, u64); N]> {
    let mut best = [(Duration::MAX, Faults::default(), 0); N];
    for _ in 0..RUNS {
        for (work, best) in works.iter_mut().zip(&mut best) {
            let started = Instant::now();
            let (value, faults) = faults_during(&mut **work);
            let time = started.elapsed();
            let value = std::hint::black_box(value)?;
            if time < best.0 {
                *best = (time, faults, value);
            }
        }
    }
    Ok(best)
}

fn large_file(scratch: &Path, len: usize, filesystem: &str, out: &Output) -> Result {
    let path = scratch.join("large");
    // Written in 4 KiB writes: the page cache holds it in 4 KiB pages.
    let file = create_file(&path, len, 4096)?;
    // Only the descriptor is needed from here on; if the process is killed,
    // the kernel frees the file with the last descriptor.
    fs::remove_file(&path)?;
    check_interrupt()?;
    let ahead = read_ahead(scratch)?;
    let thp = thp_mode();
    out.note(&format!(
        "readahead: {} (the largest folio readahead builds)",
        match ahead {
            Some(ReadAhead {
                device,
                kb: Some(kb),
            }) => {
                format!("device {}:{}, read_ahead_kb {kb}", device.0, device.1)
            }
            Some(ReadAhead { device, kb: None }) => format!(
                "device {}:{}, read_ahead_kb not in /sys/dev/block",
                device.0, device.1
            ),
            None => format!("{filesystem} has no single backing device"),
        }
    ));
    let ceilings = Ceilings::copy(&file, len)?;
    out.note(&format!(
        "the ceilings, anonymous copies of the file (THP: {thp}), in 2 MiB pages:"
    ));
    out.note(&format!(
        "  MADV_NOHUGEPAGE {} kB, MADV_HUGEPAGE {} kB of {} kB (AnonHugePages)",
        ceilings.small_kb,
        ceilings.huge_kb,
        len >> 10
    ));
    out.json_line(&format!(
        "{{\"read_ahead_kb\": {}, \"thp\": \"{thp}\", \"anon_4k_huge_kb\": {}, \
         \"anon_2m_huge_kb\": {}}}",
        ahead
            .and_then(|a| a.kb)
            .map_or("null".to_owned(), |kb| kb.to_string()),
        ceilings.small_kb,
        ceilings.huge_kb
    ));
    check_interrupt()?;

    out.note("large file, just written in 4 KiB writes (4 KiB pages in the cache):");
    scan_three_ways(&file, &ceilings, "just-written", out)?;
    check_interrupt()?;

    file.sync_all()?;
    evict_from_cache(&file)?;
    let mut buffer = vec![1u8; READ_BUFFER];
    sum_with_read(&file, &mut buffer)?; // read back: readahead fills large folios
    check_interrupt()?;
    if cache_is_the_file(filesystem) {
        out.note("the same file after DONTNEED, which tmpfs ignores: the same pages");
    } else {
        out.note("the same file, evicted (DONTNEED) and read back with read(): on");
        out.note(&format!(
            "{filesystem}, readahead may cache it in large folios:"
        ));
    }
    scan_three_ways(&file, &ceilings, "read-back", out)?;
    Ok(())
}

/// The same bytes as the file in anonymous memory, twice: in 4 KiB pages
/// (`MADV_NOHUGEPAGE`), and in 2 MiB pages where THP allows
/// (`MADV_HUGEPAGE`), with how much of each is in 2 MiB pages.
struct Ceilings {
    small: Region,
    small_kb: u64,
    huge: Region,
    huge_kb: u64,
}

impl Ceilings {
    fn copy(file: &File, len: usize) -> Result<Ceilings> {
        let small = anonymous_copy(file, len, false)?;
        let huge = anonymous_copy(file, len, true)?;
        Ok(Ceilings {
            small_kb: smaps_kb(&small, "AnonHugePages")?,
            huge_kb: smaps_kb(&huge, "AnonHugePages")?,
            small,
            huge,
        })
    }
}

fn scan_three_ways(
    file: &File,
    ceilings: &Ceilings,
    cache: &str,
    out: &Output,
) -> Result {
    let len = ceilings.small.len();
    let mut buffer = vec![1u8; READ_BUFFER];
    // One untimed pass of each first: on a virtual machine, memory the
    // guest has not touched for a while can be slow on its first use.
    // SAFETY: the benchmark's own file, unlinked: nobody else can open it,
    // and this process neither writes to it nor shrinks it.
    unsafe { sum_mapped(file, len) }?;
    sum_with_read(file, &mut buffer)?;
    let (pmd_kb, folios) = mapped_page_sizes(file, len)?;
    let [
        (mapped, map_faults, sum_m),
        (read, read_faults, sum_r),
        (small, small_faults, sum_s),
        (huge, huge_faults, sum_h),
    ] = best_of_each([
        // SAFETY: the benchmark's own file, unlinked: nobody else can open
        // it, and this process neither writes to it nor shrinks it.
        &mut || unsafe { sum_mapped(file, len) },
        &mut || sum_with_read(file, &mut buffer),
        // SAFETY: the copies are this process's private memory, written
        // once before and never again.
        &mut || Ok(unsafe { sum_region(&ceilings.small) }),
        // SAFETY: as above.
        &mut || Ok(unsafe { sum_region(&ceilings.huge) }),
    ])?;
    if sum_m != sum_s || sum_r != sum_s || sum_h != sum_s {
        return Err("the sums differ: the benchmark is broken".into());
    }
    // Like with like: the ceiling is the anonymous copy whose pages are the
    // size of the mapping's (most of it in 2 MiB entries, or not).
    let len_kb = (len >> 10) as u64;
    let pmd_file = 2 * pmd_kb >= len_kb;
    let pmd_anon = 2 * ceilings.huge_kb >= len_kb;
    let (ceiling_name, ceiling_time) = if pmd_file && pmd_anon {
        ("anon-2m", huge)
    } else {
        ("anon-4k", small)
    };
    let ceiling = len as f64 / ceiling_time.as_secs_f64().max(1e-9) / 1e9;
    out.note(&format!(
        "  {pmd_kb} of {len_kb} kB mapped by 2 MiB entries (FilePmdMapped)"
    ));
    out.note(&format!(
        "  folios: {}",
        folios
            .as_deref()
            .unwrap_or("sizes need CAP_SYS_ADMIN (pagemap, kpageflags)")
    ));
    out.note(&format!(
        "  ceiling: {ceiling_name}, anonymous memory in the mapping's page size{}",
        if pmd_file && !pmd_anon {
            " (none: THP gave no 2 MiB pages, so mmap is compared across page sizes)"
        } else {
            ""
        }
    ));
    let like = (ceiling_name, ceiling);
    for row in [
        ("mmap", mapped, map_faults),
        ("read", read, read_faults),
        ("anon-4k", small, small_faults),
        ("anon-2m", huge, huge_faults),
    ] {
        out.scan(cache, row, len, like);
    }
    out.json_line(&format!(
        "{{\"cache\": \"{cache}\", \"file_pmd_mapped_kb\": {pmd_kb}, \"folios\": \"{}\"}}",
        folios.as_deref().unwrap_or("unreadable")
    ));
    out.note(&format!(
        "  mmap is {:.2}x as fast as read",
        read.as_secs_f64() / mapped.as_secs_f64().max(1e-12),
    ));
    Ok(())
}

/// How a fresh, populated mapping of `file` is mapped: the kB mapped by
/// whole 2 MiB page-table entries (PMD-sized folios in the page cache), and
/// the folio sizes where this process may read them.
fn mapped_page_sizes(file: &File, len: usize) -> Result<(u64, Option<String>)> {
    let map = map_file(file, len, ProtFlags::PROT_READ, MapFlags::MAP_SHARED)?;
    populate_read(&map)?;
    let pmd_kb = smaps_kb(&map, "FilePmdMapped")?;
    let folios = folio_sizes(&map, support::page_size())?;
    Ok((pmd_kb, folios.map(|sizes| describe_folios(&sizes))))
}

fn small_files(scratch: &Path, out: &Output) -> Result {
    out.note("small files, warm, opened and summed one by one:");
    out.note("  size      files   read µs/file   mmap µs/file   mmap/read");
    let mut buffer = vec![1u8; READ_BUFFER];
    for (size, count) in SMALL_FILES {
        let dir = scratch.join(format!("small-{size}"));
        fs::create_dir(&dir)?;
        let paths: Vec<_> = (0..count).map(|i| dir.join(i.to_string())).collect();
        for path in &paths {
            create_file(path, size, size)?;
            check_interrupt()?;
        }
        let sum_all = |sum: &mut dyn FnMut(&Path) -> std::io::Result<u64>| {
            paths
                .iter()
                .try_fold(0u64, |total, p| Ok(total.wrapping_add(sum(p)?)))
        };
        let [(read, _, sums_r), (mapped, _, sums_m)] = best_of_each([
            &mut || sum_all(&mut |p| sum_file_with_read(p, &mut buffer)),
            // SAFETY: the benchmark's own files; nobody writes to them meanwhile.
            &mut || sum_all(&mut |p| unsafe { sum_file_mapped(p) }),
        ])?;
        if sums_r != sums_m {
            return Err("read and mmap summed a small file differently".into());
        }
        let per_file = |time: Duration| time.as_secs_f64() * 1e6 / count as f64;
        if out.json {
            for (method, time) in [("mmap", mapped), ("read", read)] {
                say!(
                    "{{\"small_files\": {size}, \"method\": \"{method}\", \"files\": {count}, \
                     \"us_per_file\": {:.3}}}",
                    per_file(time)
                );
            }
        } else {
            say!(
                "  {:<9} {count:>5}   {:>12.2}   {:>12.2}   {:>8.2}x",
                human(size),
                per_file(read),
                per_file(mapped),
                mapped.as_secs_f64() / read.as_secs_f64().max(1e-12)
            );
        }
        fs::remove_dir_all(&dir)?;
        check_interrupt()?;
    }
    out.note(
        "  (mmap/read above 1.00x: mapping costs more than it saves at that size)",
    );
    Ok(())
}

fn human(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    }
}
