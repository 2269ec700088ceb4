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
    Faults, READ_BUFFER, cache_is_the_file, create_file, evict_from_cache,
    faults_during, filesystem_name, map_file, populate_read, sum_file_mapped,
    sum_file_with_read, sum_mapped, sum_with_read, sum_words,
};

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
        "page-cache --bench: a {} MiB file on {filesystem}, u64 sums, best of {RUNS} runs",
        options.mib
    ));
    large_file(scratch, len, filesystem, &out)?;
    small_files(scratch, &out)?;
    Ok(())
}

/// Refuses a size this machine cannot hold twice in memory (the page cache
/// and the anonymous copy) or once on the disk, before writing anything.
fn check_room(scratch: &Path, mib: u64) -> Result {
    let small: u64 = SMALL_FILES
        .iter()
        .map(|&(size, count)| (size * count) as u64 >> 20)
        .sum();
    let available_mib = meminfo_kb("MemAvailable")? >> 10;
    if 2 * mib + small > available_mib {
        return Err(format!(
            "--mib {mib} needs about {} MiB of memory and {available_mib} MiB are available; \
             choose a smaller --mib",
            2 * mib + small
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

    fn scan(
        &self,
        cache: &str,
        method: &str,
        bytes: usize,
        time: Duration,
        ceiling: f64,
        faults: Faults,
    ) {
        let gbps = bytes as f64 / time.as_secs_f64().max(1e-9) / 1e9;
        if self.json {
            say!(
                "{{\"method\": \"{method}\", \"bytes\": {bytes}, \"seconds\": {:.6}, \
                 \"gbps\": {gbps:.3}, \"cache\": \"{cache}\", \"minor_faults\": {}}}",
                time.as_secs_f64(),
                faults.minor
            );
        } else {
            let of_ceiling = if ceiling > 0.0 { gbps / ceiling } else { 1.0 };
            say!(
                "  {method:<5} {:>8.4} s {gbps:>7.2} GB/s  {of_ceiling:>5.2}x anon   {:>7} minor faults",
                time.as_secs_f64(),
                faults.minor
            );
        }
    }
}

/// Times `work` `RUNS` times; returns the best time, the faults of that run
/// and its result.
fn best<T>(mut work: impl FnMut() -> T) -> (Duration, Faults, T) {
    let mut best = (Duration::MAX, Faults::default());
    let mut result = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let (value, faults) = faults_during(&mut work);
        let time = started.elapsed();
        if time < best.0 {
            best = (time, faults);
        }
        result = Some(std::hint::black_box(value));
    }
    (best.0, best.1, result.expect("at least one run"))
}

fn large_file(scratch: &Path, len: usize, filesystem: &str, out: &Output) -> Result {
    let path = scratch.join("large");
    // Written in 4 KiB writes: the page cache holds it in 4 KiB pages.
    let file = create_file(&path, len, 4096)?;
    // Only the descriptor is needed from here on; if the process is killed,
    // the kernel frees the file with the last descriptor.
    fs::remove_file(&path)?;
    check_interrupt()?;
    let mut anonymous = vec![0u8; len];
    let copied = file_read_exact(&file, &mut anonymous)?; // every page touched
    if copied != len {
        return Err("the large file is shorter than it was written".into());
    }

    out.note("large file, just written in 4 KiB writes (4 KiB pages in the cache):");
    scan_three_ways(&file, &anonymous, "just-written", out)?;
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
    scan_three_ways(&file, &anonymous, "read-back", out)?;
    Ok(())
}

fn file_read_exact(file: &File, into: &mut [u8]) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(into, 0)?;
    Ok(into.len())
}

fn scan_three_ways(
    file: &File,
    anonymous: &[u8],
    cache: &str,
    out: &Output,
) -> Result {
    let len = anonymous.len();
    let mut buffer = vec![1u8; READ_BUFFER];
    // One untimed pass of each first: on a virtual machine, memory the
    // guest has not touched for a while can be slow on its first use.
    // SAFETY: the benchmark's own file, unlinked: nobody else can open it,
    // and this process neither writes to it nor shrinks it.
    unsafe { sum_mapped(file, len) }?;
    sum_with_read(file, &mut buffer)?;
    let (anon, anon_faults, sum_a) = best(|| sum_words(anonymous));
    // SAFETY: the benchmark's own file, unlinked: nobody else can open it,
    // and this process neither writes to it nor shrinks it.
    let (mapped, map_faults, sum_m) = best(|| unsafe { sum_mapped(file, len) });
    let (read, read_faults, sum_r) = best(|| sum_with_read(file, &mut buffer));
    if sum_m? != sum_a || sum_r? != sum_a {
        return Err("the three sums differ: the benchmark is broken".into());
    }
    let ceiling = len as f64 / anon.as_secs_f64().max(1e-9) / 1e9;
    out.scan(cache, "mmap", len, mapped, ceiling, map_faults);
    out.scan(cache, "read", len, read, ceiling, read_faults);
    out.scan(cache, "anon", len, anon, ceiling, anon_faults);
    out.note(&format!(
        "  mmap is {:.2}x as fast as read; {} of {} kB mapped by 2 MiB entries \
         (FilePmdMapped)",
        read.as_secs_f64() / mapped.as_secs_f64().max(1e-12),
        pmd_mapped_kb(file, len)?,
        len >> 10
    ));
    Ok(())
}

/// How much of a fresh, populated mapping of `file` the kernel maps with
/// whole 2 MiB page-table entries: PMD-sized folios in the page cache, and
/// the reason a mapped scan can beat 4 KiB-page anonymous memory.
fn pmd_mapped_kb(file: &File, len: usize) -> Result<u64> {
    let map = map_file(file, len, ProtFlags::PROT_READ, MapFlags::MAP_SHARED)?;
    populate_read(&map)?;
    let rollup = fs::read_to_string("/proc/self/smaps_rollup")?;
    drop(map);
    Ok(rollup
        .lines()
        .find_map(|line| line.strip_prefix("FilePmdMapped:"))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or(0))
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
        let (read, _, sums_r) = best(|| {
            paths
                .iter()
                .map(|p| sum_file_with_read(p, &mut buffer))
                .collect::<std::io::Result<Vec<u64>>>()
        });
        let (mapped, _, sums_m) = best(|| {
            paths
                .iter()
                // SAFETY: the benchmark's own files; nobody writes to them meanwhile.
                .map(|p| unsafe { sum_file_mapped(p) })
                .collect::<std::io::Result<Vec<u64>>>()
        });
        if sums_r? != sums_m? {
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
