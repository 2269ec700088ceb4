//! The walkthrough, run as a learner runs it, snapshotted with what varies
//! redacted; and the facts behind the story, asserted from the same output.

const LESSON: &str = env!("CARGO_BIN_EXE_process-maps");

/// What varies between runs and machines in this lesson's story.
const FILTERS: &[(&str, &str)] = &[
    (r"has \d+ lines", "has [N] lines"),
    (r"\d+ mappings?, [\d.]+ [KM]iB", "[N] mappings, [SIZE]"),
    (r"mmap-workbook-\d+-[0-9a-f]{16}", "mmap-workbook-[RANDOM]"),
    // GNU ld maps one segment more than rust-lld (RELRO on its own).
    (
        r"the program's file \d+ times",
        "the program's file [N] times",
    ),
    (r"file offset 0x[0-9a-f]+", "file offset [OFFSET]"),
    (
        r"device [0-9a-f]+:[0-9a-f]+, inode \d+",
        "device [DEV], inode [INODE]",
    ),
    (r"\d+ kB", "[N] kB"),
    (r"Rss / Pss = [\d.]+", "Rss / Pss = [RATIO]"),
];

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = support::testing::story(LESSON);
    the_facts_behind(&out);
    the_shm_object_is_unlinked_afterwards(&out);
    support::testing::settings(FILTERS)
        .bind(|| insta::assert_snapshot!("story", out));
}

/// The number after `label` on the line that contains it.
fn kilobytes(out: &str, label: &str) -> u64 {
    let number = support::testing::line(out, label)
        .trim_end()
        .trim_end_matches(" kB")
        .rsplit(' ')
        .next()
        .unwrap();
    number.parse().unwrap()
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    // Every specimen shows up as its own kind, shared.
    for (note, pathname) in [
        ("shared anonymous memory", "/dev/zero (deleted)"),
        ("a memfd", "/memfd:mmap-workbook (deleted)"),
        ("a POSIX shm object", "/dev/shm/mmap-workbook-"),
        ("a deleted file", "/deleted-while-mapped (deleted)"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(note) && l.contains(pathname));
        assert!(
            line.is_some_and(|l| l.trim_start().starts_with("rw-s")),
            "{pathname} missing:\n{out}"
        );
    }
    // The executable's segments: code is r-xp, data rw-p, all one file, and
    // the first segment starts the file.
    assert!(out.contains("r-xp  machine code"));
    assert!(out.contains("rw-p  writable data"));
    assert!(out.contains("at file offset 0x0\n"));
    assert!(out.contains("All from one file (same device and inode): yes."));
    // However the linker split them: at least headers, code, RELRO, data,
    // and each role listed once.
    let count: usize = out
        .split("the program's file ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(count >= 4, "{out}");
    let roles: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" at file offset 0x"))
        .map(|l| l.split(" at file offset").next().unwrap().trim())
        .collect();
    assert!(roles.len() <= count, "{out}");
    assert!(roles.windows(2).all(|w| w[0] != w[1]), "{out}");
    // The helper maps libc's code from the same file pages.
    assert!(
        out.contains("Same file, offset, device and inode: yes."),
        "{out}"
    );
    assert!(out.contains("The helper exited normally (code 0)."));
    // smaps: libc's code is shared, so its proportional share is below its resident size.
    let (rss, pss, shared) = (
        kilobytes(out, "Rss:"),
        kilobytes(out, "Pss:"),
        kilobytes(out, "Shared_Clean:"),
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
    let run = support::testing::run(LESSON, &["--pid", &pid], cwd.path());
    assert!(run.outcome.is_success(), "{}", run.stderr);
    assert!(run.stdout.contains(&format!("/proc/{pid}/maps has")));
    assert!(run.stdout.contains("r-xp  machine code"));
    assert!(run.stdout.contains("run it without --pid"));
}
