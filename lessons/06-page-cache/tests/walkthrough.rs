//! The walkthrough as a subprocess: its story snapshotted with every
//! measurement redacted, and the relations behind it asserted on the same
//! run's numbers.

const LESSON: &str = env!("CARGO_BIN_EXE_page-cache");

/// What varies from run to run, machine to machine: fault counts, pages
/// resident, rates, ratios, times, memory deltas, and the filesystem (the
/// fact test checks the outcome that filesystem should give).
const FILTERS: &[(&str, &str)] = &[
    (r"\d+ minor \+ \d+ major", "[N] minor + [N] major"),
    (
        r"dirty pages: \d+ before (.*), \d+ after",
        "dirty pages: [N] before $1, [N] after",
    ),
    (r"\d+ of (\d+) pages resident", "[N] of $1 pages resident"),
    (
        r"on \S+ \(statfs\), .*",
        "on [FS] (statfs), [WHAT DONTNEED CAN DO THERE]",
    ),
    (
        r"readahead: .*",
        "readahead: [DEVICE, read_ahead_kb; OR WHY THERE IS NONE]",
    ),
    (r"mapped: \d+ of", "mapped: [N] of"),
    (
        r"folios: .*",
        "folios: [HOW MANY, THE LARGEST; WHERE READABLE]",
    ),
    (r"MADV_\w+, THP \S+: \d+ of", "[ADVICE], THP [MODE]: [N] of"),
    (r"\d+\.\d+ GB/s", "[N] GB/s"),
    (r"\d+\.\d+ µs/file", "[N] µs/file"),
    (r"\d+\.\d+x", "[N]x"),
    (r"[+-]\d+ kB", "[N] kB"),
];

#[test]
fn the_story() {
    let out = test_support::testing::story(LESSON);
    test_support::story_snapshots!(out, FILTERS);
}

/// The line that starts with `what` (after indentation), trimmed.
fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(what))
        .unwrap_or_else(|| panic!("no line starting {what:?} in\n{out}"))
}

/// The number just before `unit` in `text`: `number_before("17 minor", " minor")`.
fn number_before(text: &str, unit: &str) -> i64 {
    let end = text
        .find(unit)
        .unwrap_or_else(|| panic!("no {unit:?} in {text:?}"));
    let digits = text[..end].rsplit(' ').next().unwrap();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{digits:?} before {unit:?} in {text:?}"))
}

/// (minor, major) on the fault row labelled `label`.
fn faults(out: &str, label: &str) -> (i64, i64) {
    let row = line(out, label);
    (number_before(row, " minor"), number_before(row, " major"))
}

fn resident(out: &str, label: &str) -> i64 {
    number_before(line(out, label), " of ")
}

#[test]
fn the_facts_behind_the_story() {
    let out = test_support::testing::story(LESSON);
    assert!(
        out.lines().all(|l| l.chars().count() <= 86),
        "a story line is wider than 86 columns:\n{out}"
    );

    // Step 1: one page cache, seen both ways, with no msync.
    assert!(out.contains("the mapping reads \"written by pwrite\" at once"));
    assert!(out.contains("pread at offset 100 returns \"stored through the map\""));

    // ...and msync wrote the dirty page (tmpfs has no disk: nothing is
    // ever dirty there). An old kernel has no cachestat: nothing to check.
    let memory_only =
        line(&out, "the files are on").starts_with("the files are on tmpfs ");
    if out.contains("cachestat(2) counts dirty pages:") {
        let row = line(&out, "cachestat(2) counts dirty pages:");
        let before = number_before(row, " before");
        assert_eq!(number_before(row, " after"), 0, "{row}");
        assert!(memory_only || before >= 1, "{row}");
    }

    // Step 2: the faults, counted.
    let pages = 256;
    let (minor, major) = faults(&out, "MAP_SHARED, read a byte of every page:");
    assert!(minor + major > 0, "a fresh mapping faults at least once");
    assert!(
        minor + major < pages,
        "fault-around: fewer faults than pages"
    );
    assert_eq!(faults(&out, "the same reads again:"), (0, 0));
    let (minor, major) = faults(&out, "mmap(MAP_SHARED | MAP_POPULATE) itself:");
    assert!(minor + major > 0, "MAP_POPULATE faults in mmap itself");
    let (minor, major) = faults(&out, "madvise(MADV_POPULATE_READ) itself:");
    assert!(minor + major > 0, "MADV_POPULATE_READ faults in madvise");
    let populated: Vec<_> = out
        .lines()
        .filter(|l| l.trim().starts_with("then a byte of every page:"))
        .map(|l| (number_before(l, " minor"), number_before(l, " major")))
        .collect();
    assert_eq!(populated, [(0, 0), (0, 0)], "populated: no fault on touch");
    let (minor, major) = faults(&out, "MAP_PRIVATE, write a byte of every page:");
    assert!(minor + major >= pages, "copy-on-write: a fault per page");
    assert_eq!(
        faults(&out, "pread the whole file, 128 KiB at a time:"),
        (0, 0)
    );

    // Step 3: residency, and what DONTNEED did on this filesystem.
    assert_eq!(resident(&out, "written and fsynced (clean):"), 64);
    let after = resident(&out, "after posix_fadvise(DONTNEED):");
    if memory_only {
        assert_eq!(after, 64, "tmpfs ignores DONTNEED");
    } else {
        assert!(
            after < 64,
            "DONTNEED drops clean pages on a disk filesystem"
        );
        let (_, major) = faults(&out, "then read a byte of every page:");
        assert!(major >= 1, "evicted pages come back from the disk");
    }
    assert_eq!(resident(&out, "and now:"), 64);

    // Step 4: readahead decides the folios, the folios decide the page size
    // of the mapping, and the ceiling is anonymous memory of that page size.
    step_4_page_sizes(&out, memory_only);
    // The speeds are printed: the lesson was built optimised (it withholds
    // them otherwise), as the workspace's profile makes it.
    assert!(out.contains("through a fresh mapping "), "{out}");
    assert!(!out.contains("speeds not shown"), "{out}");

    // Step 4 and 5: measured, so only the sums are checked.
    assert!(out.contains("the three sums agree: yes"));
    assert!(out.contains("8 files of 4 KiB: read "));

    // Step 6: a mapping puts the file's pages in this process's RSS; read
    // puts them nowhere; a copy in a Vec is anonymous memory.
    let file_kb = 2048;
    let row = |label: &str| line(&out, label).to_owned();
    let mapped = number_before(&row("mapped and summed, still mapped:"), " kB");
    assert!(mapped >= file_kb * 3 / 4, "mapped: {mapped} kB");
    let unmapped = number_before(&row("after munmap:"), " kB");
    assert!(unmapped < file_kb / 4, "after munmap: {unmapped} kB");
    let read = row("pread and summed, 128 KiB buffer:");
    let (file, anon) = read.split_once(", anonymous").unwrap();
    assert!(number_before(file, " kB") < file_kb / 4, "{read}");
    assert!(number_before(anon, " kB") < file_kb / 4, "{read}");
    let copy = number_before(&row("read whole into a Vec:"), " kB");
    assert!(copy >= file_kb * 3 / 4, "Vec: {copy} kB");
}

/// Step 4's page sizes, checked against what the lesson found: the device's
/// readahead window, the kernel and the filesystem.
fn step_4_page_sizes(out: &str, memory_only: bool) {
    let file_kb = 64 << 10;
    let ahead = line(out, "readahead:");
    let pmd_kb = number_before(line(out, "mapped:"), " of ");
    let filesystem = line(out, "the files are on ")
        .split_whitespace()
        .nth(4)
        .unwrap();
    match ahead
        .split_once("read_ahead_kb ")
        .map(|(_, kb)| kb.parse::<i64>())
    {
        Some(Ok(kb)) => {
            if kb < 2048 {
                // page_cache_ra_order: no folio larger than the window.
                assert_eq!(pmd_kb, 0, "read_ahead_kb {kb}, yet PMD-mapped:\n{out}");
            } else if large_folios(filesystem) {
                assert!(pmd_kb > 0, "read_ahead_kb {kb} on {filesystem}:\n{out}");
            }
            if let Some(largest) = largest_folio_kb(out) {
                assert!(largest <= kb.max(4), "read_ahead_kb {kb}:\n{out}");
            }
        }
        // A device whose window sysfs does not show: nothing to expect.
        Some(Err(_)) => assert!(ahead.ends_with("not in /sys/dev/block"), "{ahead}"),
        None => {
            assert!(ahead.contains("has no single backing device"), "{ahead}");
            assert!(!memory_only || pmd_kb == 0, "tmpfs has no FilePmdMapped");
        }
    }
    let ceiling = line(out, "MADV_");
    let anon_huge_kb = number_before(ceiling, " of ");
    if 2 * pmd_kb >= file_kb {
        assert!(ceiling.starts_with("MADV_HUGEPAGE, "), "{out}");
        if !ceiling.contains("THP never") {
            assert!(anon_huge_kb > 0, "MADV_HUGEPAGE gave no 2 MiB page:\n{out}");
        }
    } else {
        assert!(ceiling.starts_with("MADV_NOHUGEPAGE, "), "{out}");
        assert_eq!(anon_huge_kb, 0, "MADV_NOHUGEPAGE, yet 2 MiB pages:\n{out}");
    }
}

/// Whether `filesystem` caches regular files in large folios on this
/// kernel: XFS since Linux 5.18, ext4 since 6.16.
fn large_folios(filesystem: &str) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = numbers.next().unwrap().parse().unwrap();
    let minor: u32 = numbers.next().unwrap().parse().unwrap();
    match filesystem {
        "xfs" => (major, minor) >= (5, 18),
        "ext4" => (major, minor) >= (6, 16),
        _ => false,
    }
}

/// The largest folio in kB from `folios: N in all, the largest 2 MiB x 24`,
/// where the lesson could read the sizes.
fn largest_folio_kb(out: &str) -> Option<i64> {
    let folios = line(out, "folios:");
    let largest = folios.split_once("the largest ")?.1;
    let mut words = largest.split_whitespace();
    let size: i64 = words.next()?.parse().ok()?;
    Some(match words.next()? {
        "MiB" => size << 10,
        _ => size,
    })
}
