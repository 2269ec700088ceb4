//! Lesson 6: is mmap faster than read()?
//!
//! `read()` and a file mapping reach the same pages: the kernel's page cache.
//! `read()` copies from those pages into a buffer; a mapping puts them into
//! the process's page tables, a page fault at a time. Which is faster depends
//! on what the copy and the faults cost, so this lesson counts both.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap};
use support::region::Region;

pub mod picture;

/// The buffer `read()` fills in this lesson: 128 KiB, as `cp` and `cat` use.
pub const READ_BUFFER: usize = 128 * 1024;

// ANCHOR: cachestat
/// What cachestat(2) says about a range of a file's pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CacheStat {
    /// Pages in the page cache.
    pub cached: u64,
    /// Pages changed in memory and not yet written to the disk.
    pub dirty: u64,
    /// Pages being written to the disk right now.
    pub writeback: u64,
    /// Pages evicted from the cache.
    pub evicted: u64,
    /// Pages evicted recently enough that the kernel remembers them.
    pub recently_evicted: u64,
}

/// `cachestat(2)` (Linux 6.5) for the whole of `file`: the page cache's
/// view of it, without mapping it. `ENOSYS` on older kernels.
pub fn cachestat(file: &impl AsFd) -> nix::Result<CacheStat> {
    use std::os::fd::AsRawFd;
    /// The same number on every architecture but alpha (new system calls share
    /// one table).
    const SYS_CACHESTAT: libc::c_long = 451;
    let range: [u64; 2] = [0, 0]; // offset 0, length 0: to the end of the file
    let mut stat = CacheStat::default();
    // SAFETY: cachestat reads a 16-byte range (two u64s) and writes one
    // `struct cachestat`, five u64s, which `CacheStat` mirrors (#[repr(C)]);
    // both live on our stack for the whole call.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_fd().as_raw_fd(),
            range.as_ptr(),
            &mut stat as *mut CacheStat,
            0,
        )
    };
    Errno::result(rc)?;
    Ok(stat)
}
// ANCHOR_END: cachestat

// ANCHOR: faults
/// Page faults, as getrusage(2) counts them for this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Served from memory: the page was already in the page cache, or the
    /// fault made a private copy (copy-on-write).
    pub minor: u64,
    /// The process waited for the page to be read from the disk.
    pub major: u64,
}

/// The faults this process has taken since it started.
pub fn faults_so_far() -> Faults {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` through the pointer, which points
    // at one on our stack. It fails only for a bad pointer or `who`; then the
    // zeroes stay, which are a valid `rusage` (plain integers).
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    Faults {
        minor: usage.ru_minflt as u64,
        major: usage.ru_majflt as u64,
    }
}

/// Runs `work` and returns its result with the faults it cost. Nothing else
/// runs in between: the caller prints afterwards, so printing (which may
/// allocate, and so fault) is not counted.
pub fn faults_during<T>(work: impl FnOnce() -> T) -> (T, Faults) {
    let before = faults_so_far();
    let result = work();
    let after = faults_so_far();
    let faults = Faults {
        minor: after.minor - before.minor,
        major: after.major - before.major,
    };
    (result, faults)
}
// ANCHOR_END: faults

// ANCHOR: map_file
/// Maps the first `len` bytes of `file` with protection `prot` and `flags`
/// (`MAP_SHARED` or `MAP_PRIVATE`, perhaps with `MAP_POPULATE`).
pub fn map_file(
    file: &impl AsFd,
    len: usize,
    prot: ProtFlags,
    flags: MapFlags,
) -> nix::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    // SAFETY: a fresh mapping at an address the kernel picks; nothing in
    // Rust refers to that memory yet.
    let base = unsafe { mmap(None, length, prot, flags, file.as_fd(), 0) }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    Ok(unsafe { Region::from_raw(base, len) })
}
// ANCHOR_END: map_file

// ANCHOR: populate_read
/// `madvise(MADV_POPULATE_READ)`: map every page of `region` now, as reads
/// would. Unlike `MAP_POPULATE`, it reports a failure (a page past the end
/// of the file, say) as an error instead of leaving a SIGBUS for later.
pub fn populate_read(region: &Region) -> nix::Result<()> {
    let base = NonNull::new(region.as_ptr().cast()).ok_or(Errno::EINVAL)?;
    // SAFETY: the range is exactly the mapping `region` owns; populating it
    // changes no byte of it.
    unsafe { madvise(base, region.len(), MmapAdvise::MADV_POPULATE_READ) }
}
// ANCHOR_END: populate_read

// ANCHOR: touch
/// Reads one byte of every page of `region`; returns their sum, so that the
/// reads cannot be left out by the compiler.
pub fn read_every_page(region: &Region, page: usize) -> u64 {
    (0..region.len())
        .step_by(page)
        .map(|offset| u64::from(region.read(offset)))
        .sum()
}

/// Writes one byte into every page of `region`.
pub fn write_every_page(region: &Region, page: usize) {
    for offset in (0..region.len()).step_by(page) {
        region.write(offset, 1);
    }
}
// ANCHOR_END: touch

// ANCHOR: mincore
/// How many pages of `region` are in the page cache now, by mincore(2): one
/// byte per page, whose bit 0 says "resident". (For a file you could not open
/// for writing, Linux answers "resident" for every page.)
pub fn resident_pages(region: &Region) -> nix::Result<usize> {
    let mut residency = vec![0u8; region.len().div_ceil(support::page_size())];
    // SAFETY: the range is exactly the mapping `region` owns, page-aligned as
    // mmap returned it, and `residency` has one byte for each of its pages.
    let rc = unsafe {
        libc::mincore(region.as_ptr().cast(), region.len(), residency.as_mut_ptr())
    };
    Errno::result(rc)?;
    Ok(residency.iter().filter(|&&byte| byte & 1 == 1).count())
}

/// `posix_fadvise(POSIX_FADV_DONTNEED)`: asks the kernel to drop `file`'s
/// pages from the page cache. It drops only clean pages that no process has
/// mapped, and only where the page cache is not the file itself (not tmpfs).
pub fn evict_from_cache(file: &File) -> nix::Result<()> {
    posix_fadvise(file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED)
}
// ANCHOR_END: mincore

// ANCHOR: sums
/// The sum of `bytes` as native-endian u64 words (a short tail counts as a
/// word padded with zeroes), wrapping on overflow. Every scan computes this.
pub fn sum_words(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    words
        .map(|word| u64::from_ne_bytes(word.try_into().expect("8 bytes")))
        .fold(u64::from_ne_bytes(tail), u64::wrapping_add)
}

/// Sums `file` with pread(2) (read(2) at an explicit offset), `buffer.len()`
/// bytes at a time: the kernel copies each chunk from the page cache into
/// `buffer`, and the sum reads the copy. Use a buffer whose length is a
/// multiple of 8, so chunks split no word.
pub fn sum_with_read(file: &File, buffer: &mut [u8]) -> io::Result<u64> {
    let mut sum = 0u64;
    let mut offset = 0u64;
    loop {
        let filled = fill_from(file, buffer, offset)?;
        sum = sum.wrapping_add(sum_words(&buffer[..filled]));
        if filled < buffer.len() {
            return Ok(sum);
        }
        offset += filled as u64;
    }
}

/// Sums the first `len` bytes of `file` through a fresh read-only shared
/// mapping: no copy, but a page fault wherever a page is not mapped yet.
///
/// # Safety
/// Nobody may write to or shrink the file while this runs: the sum reads the
/// page cache through a `&[u8]`, whose bytes must not change, and a page past
/// a shrunk file's end raises SIGBUS.
pub unsafe fn sum_mapped(file: &File, len: usize) -> io::Result<u64> {
    if len == 0 {
        return Ok(0); // mmap refuses a length of 0 (EINVAL)
    }
    let map = map_file(file, len, ProtFlags::PROT_READ, MapFlags::MAP_SHARED)?;
    // SAFETY: the caller's promise, passed on.
    Ok(unsafe { sum_region(&map) })
}

/// Sums the bytes of a readable mapping as u64 words.
///
/// # Safety
/// Nobody may change or shrink what `region` maps while this runs.
pub unsafe fn sum_region(region: &Region) -> u64 {
    // SAFETY: `region` is `len` readable bytes that stay mapped while it
    // lives, beyond the last use of the slice; the caller promises that
    // nobody changes them meanwhile.
    let bytes = unsafe { std::slice::from_raw_parts(region.as_ptr(), region.len()) };
    sum_words(bytes)
}
// ANCHOR_END: sums

/// Reads from `offset` until `buffer` is full or the file ends; returns how
/// many bytes it read.
fn fill_from(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read_at(&mut buffer[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

// ANCHOR: small_files
/// Opens the file at `path` and sums it with read(2) into `buffer`.
pub fn sum_file_with_read(path: &Path, buffer: &mut [u8]) -> io::Result<u64> {
    sum_with_read(&File::open(path)?, buffer)
}

/// Opens the file at `path`, asks its length (fstat), maps it, sums it and
/// unmaps it.
///
/// # Safety
/// As for [`sum_mapped`]: nobody writes to or shrinks the file meanwhile.
pub unsafe fn sum_file_mapped(path: &Path) -> io::Result<u64> {
    let file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    // SAFETY: the caller's promise, passed on.
    unsafe { sum_mapped(&file, len) }
}
// ANCHOR_END: small_files

/// Creates (or truncates) the file at `path` and fills it with `len` bytes of
/// distinct u64 words, written in `chunk`-byte writes; returns it open for
/// reading and writing. (How a file is written decides how its pages sit in
/// the page cache: small writes give small pages.)
pub fn create_file(path: &Path, len: usize, chunk: usize) -> io::Result<File> {
    write_pattern(path, len, chunk).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot write {len} bytes to {}: {} (A file-size limit stops it \
                 too: raise `ulimit -f`.)",
                path.display(),
                support::errors::explain_or(&e, "Set TMPDIR to another directory.")
            ),
        )
    })
}

fn write_pattern(path: &Path, len: usize, chunk: usize) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let mut written = 0;
    let mut block = vec![0u8; chunk.max(8)];
    while written < len {
        let n = block.len().min(len - written);
        for (i, word) in block[..n].chunks_mut(8).enumerate() {
            let value =
                ((written / 8 + i) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            word.copy_from_slice(&value.to_ne_bytes()[..word.len()]);
        }
        file.write_all(&block[..n])?;
        written += n;
    }
    Ok(file)
}

/// The name of the filesystem holding `path`, from statfs(2)'s magic number:
/// what DONTNEED does depends on it.
pub fn filesystem_name(path: &Path) -> &'static str {
    use nix::sys::statfs::{
        BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, OVERLAYFS_SUPER_MAGIC, TMPFS_MAGIC,
        XFS_SUPER_MAGIC, statfs,
    };
    match statfs(path).map(|s| s.filesystem_type()) {
        Ok(t) if t == EXT4_SUPER_MAGIC => "ext4",
        Ok(t) if t == TMPFS_MAGIC => "tmpfs",
        Ok(t) if t == XFS_SUPER_MAGIC => "xfs",
        Ok(t) if t == BTRFS_SUPER_MAGIC => "btrfs",
        Ok(t) if t == OVERLAYFS_SUPER_MAGIC => "overlayfs",
        _ => "another filesystem",
    }
}

/// True where the page cache is the file itself, so that DONTNEED has
/// nothing it could drop: tmpfs keeps files only in memory (and swap).
pub fn cache_is_the_file(filesystem: &str) -> bool {
    filesystem == "tmpfs"
}

// ANCHOR: rss
/// A `kB` line of /proc/self/status, such as `RssFile` (file pages this
/// process has mapped), `RssShmem` (tmpfs and shared memory pages) or
/// `RssAnon` (its own private memory).
pub fn status_kb(field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::other(format!("no {field} line in /proc/self/status"))
        })
}

/// Pages of files this process has mapped, in kB: `RssFile`, plus `RssShmem`
/// because a tmpfs file's pages count there.
pub fn mapped_file_kb() -> io::Result<u64> {
    Ok(status_kb("RssFile")? + status_kb("RssShmem")?)
}
// ANCHOR_END: rss

// ANCHOR: readahead
/// The block device behind the filesystem that holds a path, and its
/// readahead window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAhead {
    /// The device number, as `ls -l /dev` shows it: major, minor.
    pub device: (u32, u32),
    /// `read_ahead_kb` of the device's queue (of the disk, for a partition):
    /// the most readahead reads at once, and so the largest folio it builds.
    /// `None` if sysfs does not show it (not mounted, or not a block device).
    pub kb: Option<u64>,
}

/// The readahead window of the device under `path`, from sysfs:
/// `/sys/dev/block/MAJ:MIN/queue/read_ahead_kb`, or the queue of the disk a
/// partition belongs to. `None` where the filesystem has no single backing
/// device: tmpfs, overlayfs and btrfs report an anonymous device (major 0).
pub fn read_ahead(path: &Path) -> io::Result<Option<ReadAhead>> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path)?.dev();
    let device = (libc::major(dev), libc::minor(dev));
    if device.0 == 0 {
        return Ok(None);
    }
    let sys = Path::new("/sys/dev/block").join(format!("{}:{}", device.0, device.1));
    let queue = if sys.join("partition").exists() {
        sys.join("../queue/read_ahead_kb") // `..` of the symlink's target: the disk
    } else {
        sys.join("queue/read_ahead_kb")
    };
    let kb = match std::fs::read_to_string(&queue) {
        Ok(text) => Some(text.trim().parse().map_err(|_| {
            io::Error::other(format!("{}: not a number: {text:?}", queue.display()))
        })?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(Some(ReadAhead { device, kb }))
}
// ANCHOR_END: readahead

// ANCHOR: smaps
/// A `kB` field of the mapping that holds `region`, from /proc/self/smaps
/// (proc_pid_smaps(5)): `FilePmdMapped` (file pages mapped by 2 MiB
/// page-table entries), `AnonHugePages` (anonymous memory in 2 MiB pages),
/// `Rss`, ...
pub fn smaps_kb(region: &Region, field: &str) -> io::Result<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let address = region.address();
    // A mapping's block: its header line `start-end perms ...`, then one
    // `Name: value` line per field, up to the next header.
    let holds_address = |header: &str| {
        let range = header.split_whitespace().next().unwrap_or("");
        let (start, end) = range.split_once('-').unwrap_or(("", ""));
        let hex = |text| usize::from_str_radix(text, 16).ok();
        match (hex(start), hex(end)) {
            (Some(start), Some(end)) => start <= address && address < end,
            _ => false,
        }
    };
    let is_field = |line: &&str| {
        let name = line.split_whitespace().next().unwrap_or("");
        name.ends_with(':')
    };
    smaps
        .lines()
        .skip_while(|line| is_field(line) || !holds_address(line))
        .skip(1)
        .take_while(is_field)
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::other(format!(
                "no {field} for the mapping at {address:#x} in /proc/self/smaps"
            ))
        })
}
// ANCHOR_END: smaps

// ANCHOR: anonymous_copy
/// The transparent-huge-page mode for anonymous memory, the word in brackets
/// in /sys/kernel/mm/transparent_hugepage/enabled: `always`, `madvise`
/// (only where `MADV_HUGEPAGE` asks) or `never`.
pub fn thp_mode() -> String {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .ok()
        .and_then(|text| {
            let (_, rest) = text.split_once('[')?;
            Some(rest.split_once(']')?.0.to_owned())
        })
        .unwrap_or_else(|| "not available".to_owned())
}

/// A private anonymous copy of the first `len` bytes of `file`, in 2 MiB
/// pages where `huge` and THP allow it (`MADV_HUGEPAGE`), in 4 KiB pages
/// otherwise (`MADV_NOHUGEPAGE`). The advice comes before the copy: pages
/// are chosen at the first touch. `smaps_kb(&copy, "AnonHugePages")` says
/// what was obtained.
pub fn anonymous_copy(file: &File, len: usize, huge: bool) -> io::Result<Region> {
    let length = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
    let flags = MapFlags::MAP_PRIVATE | MapFlags::MAP_ANONYMOUS;
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh anonymous mapping at an address the kernel picks.
    let base = unsafe { nix::sys::mman::mmap_anonymous(None, length, prot, flags) }?;
    // SAFETY: exactly what mmap returned and was given; `Region` owns it.
    let copy = unsafe { Region::from_raw(base.cast(), len) };
    let advice = if huge {
        MmapAdvise::MADV_HUGEPAGE
    } else {
        MmapAdvise::MADV_NOHUGEPAGE
    };
    // SAFETY: the range is exactly our fresh mapping; the advice changes
    // which pages back it, never its bytes. It fails (EINVAL) only on a
    // kernel without THP, and then the pages are 4 KiB anyway.
    let _ = unsafe { madvise(base, len, advice) };
    // SAFETY: our private mapping of `len` writable bytes; nothing else
    // refers to it while the slice lives.
    let bytes = unsafe { std::slice::from_raw_parts_mut(copy.as_ptr(), len) };
    if fill_from(file, bytes, 0)? != len {
        return Err(io::Error::other("the file is shorter than the copy"));
    }
    Ok(copy)
}
// ANCHOR_END: anonymous_copy

// ANCHOR: folios
/// The sizes of the folios (pages kept as one unit) behind a populated
/// mapping, as (size in bytes, how many), from /proc/self/pagemap (each
/// page's frame number) and /proc/kpageflags (whether a frame starts or
/// continues a compound page). `None` without `CAP_SYS_ADMIN`: frame numbers
/// then read as 0, and kpageflags cannot be opened.
pub fn folio_sizes(
    region: &Region,
    page: usize,
) -> io::Result<Option<Vec<(usize, usize)>>> {
    const PRESENT: u64 = 1 << 63;
    const FRAME: u64 = (1 << 55) - 1;
    const COMPOUND_TAIL: u64 = 1 << 16;
    let read_u64 = |file: &File, index: u64| -> io::Result<u64> {
        let mut word = [0u8; 8];
        file.read_exact_at(&mut word, index * 8)?;
        Ok(u64::from_ne_bytes(word))
    };
    let flags = match File::open("/proc/kpageflags") {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let pagemap = File::open("/proc/self/pagemap")?;
    let first = (region.address() / page) as u64;
    let mut folios = std::collections::BTreeMap::<usize, usize>::new();
    let mut current = 0; // pages in the folio being counted
    for index in first..first + region.len().div_ceil(page) as u64 {
        let entry = read_u64(&pagemap, index)?;
        if entry & PRESENT == 0 || entry & FRAME == 0 {
            return Ok(None); // not populated, or no privilege: no frame number
        }
        let tail = read_u64(&flags, entry & FRAME)? & COMPOUND_TAIL != 0;
        if !tail && current > 0 {
            *folios.entry(current * page).or_default() += 1;
            current = 0;
        }
        current += 1;
    }
    if current > 0 {
        *folios.entry(current * page).or_default() += 1;
    }
    Ok(Some(folios.into_iter().rev().collect()))
}
// ANCHOR_END: folios

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_sum_with_a_padded_tail() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&5u64.to_ne_bytes());
        bytes.extend_from_slice(&7u64.to_ne_bytes());
        assert_eq!(sum_words(&bytes), 12);
        bytes.push(3);
        assert_eq!(
            sum_words(&bytes),
            12 + u64::from_ne_bytes([3, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(sum_words(&[]), 0);
        assert_eq!(sum_words(&u64::MAX.to_ne_bytes().repeat(2)), u64::MAX - 1);
    }

    #[test]
    fn read_and_mapping_give_the_same_sum() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 8, 4095, 4096, 300_001] {
            let path = dir.path().join(format!("f{len}"));
            let file = create_file(&path, len, 4096).unwrap();
            let expected = sum_words(&std::fs::read(&path).unwrap());
            let mut buffer = vec![0u8; 1024];
            assert_eq!(sum_with_read(&file, &mut buffer).unwrap(), expected);
            assert_eq!(sum_file_with_read(&path, &mut buffer).unwrap(), expected);
            // SAFETY: the test's own file; nothing else touches it.
            assert_eq!(unsafe { sum_file_mapped(&path) }.unwrap(), expected);
        }
    }

    #[test]
    fn page_sizes_are_read_for_the_mapping_asked_about() {
        let dir = tempfile::tempdir().unwrap();
        let len = 4 << 20;
        let file = create_file(&dir.path().join("f"), len, 1 << 20).unwrap();
        let copy = anonymous_copy(&file, len, false).unwrap();
        // SAFETY: the test's own copy; nothing else touches it.
        let copied = unsafe { sum_region(&copy) };
        // SAFETY: the test's own file; nothing else touches it.
        let mapped = unsafe { sum_mapped(&file, len) }.unwrap();
        assert_eq!(copied, mapped);
        assert!(smaps_kb(&copy, "Rss").unwrap() >= (len as u64 >> 10) * 3 / 4);
        assert_eq!(
            smaps_kb(&copy, "AnonHugePages").unwrap(),
            0,
            "MADV_NOHUGEPAGE"
        );
        assert!(smaps_kb(&copy, "NoSuchField").is_err());
        let page = support::page_size();
        if let Some(sizes) = folio_sizes(&copy, page).unwrap() {
            let total: usize = sizes.iter().map(|&(size, count)| size * count).sum();
            assert_eq!(total, len, "{sizes:?}");
        }
        if let Some(ahead) = read_ahead(dir.path()).unwrap() {
            assert_ne!(ahead.device.0, 0);
        }
    }

    #[test]
    fn status_fields_are_read() {
        assert!(status_kb("RssAnon").unwrap() > 0);
        assert!(status_kb("NoSuchField").is_err());
        mapped_file_kb().unwrap();
    }
}
