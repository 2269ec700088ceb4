//! The walkthrough, run as a learner runs it, snapshotted with what varies
//! redacted; and the facts behind the story, asserted from the same output.

const LESSON: &str = env!("CARGO_BIN_EXE_process-maps");

/// What varies between runs and machines in this lesson's story.
const FILTERS: &[(&str, &str)] = &[
    (r"has \d+ lines", "has [N] lines"),
    (r"\d+ mappings?, [\d.]+ [KM]iB", "[N] mappings, [SIZE]"),
    (r"mmap-workbook-\d+-[0-9a-f]{16}", "mmap-workbook-[RANDOM]"),
    // How many segments and mappings depends on the linker and the libc.
    (r"has \d+ PT_LOAD segments", "has [N] PT_LOAD segments"),
    (
        r"shows \d+ mappings of its file, and \d+ without",
        "shows [N] mappings of its file, and [N] without",
    ),
    // A segment's file offset, in the segment tables of step 2.
    (
        r"(?m)^(    [r-][w-][x-] {6})0x[0-9a-f]+ +",
        "${1}[OFFSET]  ",
    ),
    // Offset, device and inode of libc's code, in step 3.
    (
        r"(?m)^(    (?:this process|the helper) +)\[ADDR\] +0x[0-9a-f]+ +[0-9a-f]+:[0-9a-f]+ +\d+$",
        "${1}[ADDR]              [OFFSET]    [DEV]   [INODE]",
    ),
    // smaps sizes, in step 4.
    (r"(?m)^ +\d+ kB  ", "        [N] kB  "),
    (r"Rss / Pss = [\d.]+", "Rss / Pss = [RATIO]"),
];

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = test_support::testing::story(LESSON);
    the_facts_behind(&out);
    the_shm_object_is_unlinked_afterwards(&out);
    test_support::story_snapshots!(out, FILTERS);
}

/// The kilobytes on the smaps line of `key` (`    864 kB  Rss ...`).
fn kilobytes(out: &str, key: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.contains(&format!(" kB  {key} ")))
        .unwrap_or_else(|| panic!("no {key} line in\n{out}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// The number right after `before` in `text`.
fn number_after(text: &str, before: &str) -> usize {
    text.split(before)
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {before:?} in\n{text}"))
}

/// One segment table of step 2: its segment and mapping counts, and its rows
/// (segment flags, or "" for a further mapping of the same segment; the
/// mapping's permissions; what it holds).
struct Table {
    segments: usize,
    from_file: usize,
    without_file: usize,
    rows: Vec<(String, String, String)>,
}

fn tables(step2: &str) -> Vec<Table> {
    step2
        .split(" PT_LOAD segments")
        .skip(1)
        .zip(step2.split(" has ").skip(1))
        .map(|(after, before)| {
            let segments = before.split(' ').next().unwrap().parse().unwrap();
            let rows = after
                .lines()
                .skip(3)
                .take_while(|l| l.starts_with("    ") && !l.trim().is_empty())
                .map(|l| {
                    let flags = l[4..13].trim().to_owned();
                    let perms = l[23..34].trim().to_owned();
                    (flags, perms, l[34..].to_owned())
                })
                .collect();
            Table {
                segments,
                from_file: number_after(after, "shows "),
                without_file: number_after(after, "of its file, and "),
                rows,
            }
        })
        .collect()
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    // Every specimen shows up as its own kind, shared, explained below it.
    for (pathname, note) in [
        ("/dev/zero (deleted)", "shared anonymous memory"),
        ("/memfd:mmap-workbook (deleted)", "a memfd"),
        ("/dev/shm/mmap-workbook-", "a POSIX shm object"),
        ("/deleted-while-mapped (deleted)", "a deleted file"),
    ] {
        let mut lines = out.lines().skip_while(|l| {
            !(l.trim_start().starts_with("rw-s ") && l.contains(pathname))
        });
        assert!(lines.next().is_some(), "{pathname} missing:\n{out}");
        assert!(lines.next().is_some_and(|l| l.contains(note)), "{out}");
    }
    // Step 2: the executable (counts only: its layout is the linker's) and
    // libc (a table); however the linker laid them out, the segments become
    // at least as many mappings, each segment at least one, the first one
    // starts the file, and RELRO is mapped read-only.
    let step2 = out.split("Step 2.").nth(1).unwrap();
    let step2 = step2.split("Step 3.").next().unwrap();
    let tables = tables(step2);
    assert_eq!(tables.len(), 2, "{step2}");
    let executable = &tables[0];
    assert!(executable.rows.is_empty(), "{step2}");
    assert!(executable.from_file >= executable.segments, "{step2}");
    assert!(executable.segments >= 2, "{step2}");
    for table in &tables[1..] {
        let segments = table.rows.iter().filter(|r| !r.0.is_empty()).count();
        let no_file = table
            .rows
            .iter()
            .filter(|r| r.2.starts_with("no file"))
            .count();
        assert_eq!(segments, table.segments, "{step2}");
        assert_eq!(table.rows.len() - no_file, table.from_file, "{step2}");
        assert_eq!(no_file, table.without_file, "{step2}");
        assert!(table.from_file >= table.segments, "{step2}");
        assert_eq!(table.rows[0].0, "r--", "{step2}");
        assert!(step2.contains("r--      0x0 "), "{step2}");
        for (flags, perms, what) in &table.rows {
            if what.starts_with("RELRO") {
                assert_eq!(perms, "r--p", "{step2}");
            }
            if flags == "r-x" {
                assert_eq!(perms, "r-xp", "{step2}");
            }
        }
        assert!(
            table.rows.iter().any(|r| r.2.starts_with("RELRO")),
            "{step2}"
        );
        assert!(table.rows.iter().any(|r| r.1 == "rw-p"), "{step2}");
    }
    // GNU ld's libc: RELRO shares the rw- segment, which became two mappings.
    let libc = &tables[1];
    assert!(libc.from_file > libc.segments, "{step2}");
    // The helper maps libc's code from the same file pages.
    assert!(out.contains("Same device, inode and offset: yes."), "{out}");
    assert!(out.contains("The helper exited normally (code 0)."));
    // smaps: libc's code is shared, so its proportional share is below its
    // resident size, and Rss / Pss is at least 1.
    let (rss, pss, shared) = (
        kilobytes(out, "Rss"),
        kilobytes(out, "Pss"),
        kilobytes(out, "Shared_Clean"),
    );
    assert!(
        rss > 0 && shared > 0 && shared <= rss,
        "Rss {rss}, Shared_Clean {shared}"
    );
    assert!(pss < rss, "Pss {pss} should be below Rss {rss}");
}

fn the_shm_object_is_unlinked_afterwards(out: &str) {
    let at = out.find("/dev/shm/mmap-workbook-").unwrap();
    let name = out[at..].split_whitespace().next().unwrap();
    assert!(
        !std::path::Path::new(name).exists(),
        "{name} was left behind"
    );
}

#[test]
fn another_process_by_pid() {
    // The test harness itself is a live process the lesson may read.
    let cwd = tempfile::tempdir().unwrap();
    let pid = std::process::id().to_string();
    let run = test_support::testing::run(LESSON, &["--pid", &pid], cwd.path());
    assert!(run.outcome.is_success(), "{}", run.stderr);
    assert!(run.stdout.contains(&format!("/proc/{pid}/maps has")));
    assert!(run.stdout.contains("r-xp       machine code"));
    assert!(run.stdout.contains("run it without --pid"));
}
