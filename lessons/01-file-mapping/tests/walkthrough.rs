//! The walkthrough, run as a learner runs it: a separate process, a bounded
//! wait, its stdout compared with the reviewed snapshot in `snapshots/`.

use std::path::Path;

use support::spawn::Captured;

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

fn run_lesson(args: &[&str], cwd: &Path) -> Captured {
    test_support::testing::run(LESSON, args, cwd)
}

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = test_support::testing::story(LESSON);
    the_facts_behind(&out);
    test_support::story_snapshots!(out);
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    // The classic program's file is 41 bytes, and its dump is the one
    // `hexdump -C` prints.
    assert!(out.contains("the file now holds 41 bytes"), "{out}");
    assert!(out.contains(
        "00000000  78 56 34 12 de c0 ad de  00 00 00 00 00 00 00 00  |xV4.............|"
    ));
    assert!(out.contains(
        "00000020  00 00 00 00 00 00 00 00  41                       |........A|"
    ));
    assert!(out.contains("    00000029\n"));
    // Plain hexdump's 2-byte words, in this CPU's order (little-endian here).
    if cfg!(target_endian = "little") {
        assert!(out.contains("order: 5678 1234 c0de dead\n"), "{out}");
    }
    // The page-tail store neither faulted nor reached the file.
    assert!(
        out.contains("the file is 41 bytes and unchanged: yes"),
        "{out}"
    );
    // The better ways give exactly 40 bytes, identical to each other.
    assert!(out.contains("set_len(40) (ftruncate), then the same mmap: 40 bytes"));
    assert!(out.contains("set_len + memmap2::MmapMut: 40 bytes"));
    assert!(out.contains("without its 'A': yes"));
    // Both halves of the access rule, as the kernel really answers.
    let step5 = part(out, "Step 5.", "Step 6.");
    for (row, result) in [
        ("O_RDONLY   READ        SHARED ", "ok"),
        ("O_RDONLY   READ|WRITE  PRIVATE ", "ok"),
        ("O_RDONLY   READ|WRITE  SHARED ", "EACCES"),
        ("O_WRONLY   WRITE       SHARED ", "EACCES"),
    ] {
        let line = test_support::testing::line(step5, row);
        assert!(
            line.contains(&format!(" {result} ")),
            "{row} should give {result}: {line}"
        );
    }
    // Which files map (see FACTS: ENODEV, not EACCES, for what cannot).
    let step6 = part(out, "Step 6.", "\n\n");
    for (call, result) in [
        ("data (a regular file)", "ok"),
        ("/dev/zero", "ok"),
        ("a memfd", "ok"),
        ("/dev/null", "ENODEV"),
        ("/proc/self/status", "ENODEV"),
        ("the read end of a pipe", "ENODEV"),
        ("data, length 0", "EINVAL"),
        ("data, offset 100", "EINVAL"),
    ] {
        let line = test_support::testing::line(step6, call);
        assert!(
            line.contains(&format!(" {result} ")),
            "{call} should give {result}: {line}"
        );
    }
}

/// The text of `out` from `start` up to `end` (or to the end of `out`).
fn part<'a>(out: &'a str, start: &str, end: &str) -> &'a str {
    let from = out
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in\n{out}"));
    let rest = &out[from..];
    rest.find(end).map_or(rest, |to| &rest[..to])
}

#[test]
fn help_describes_the_flags() {
    let cwd = tempfile::tempdir().unwrap();
    let run = run_lesson(&["--help"], cwd.path());
    assert!(run.outcome.is_success());
    for flag in ["--keep DIR", "--force", "--help"] {
        assert!(run.stdout.contains(flag), "--help should mention {flag}");
    }
}

#[test]
fn keep_writes_the_classic_programs_file_into_the_named_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let dir = cwd.path().join("out/nested");
    let run = run_lesson(&["--keep", dir.to_str().unwrap()], cwd.path());
    assert!(run.outcome.is_success(), "{}", run.stderr);
    let kept = std::fs::read(dir.join("data")).unwrap();
    assert_eq!(kept.len(), 41);
    assert_eq!(&kept[..4], &0x1234_5678u32.to_ne_bytes());
    assert_eq!(kept[40], b'A');
    assert!(
        run.stdout
            .contains(&format!("hexdump -C {}", dir.join("data").display()))
    );
}

#[test]
fn keep_with_force_replaces_an_existing_file() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("data"),
        b"old contents, much longer than forty-one bytes......",
    )
    .unwrap();
    let run = run_lesson(&["--keep", ".", "--force"], cwd.path());
    assert!(run.outcome.is_success(), "{}", run.stderr);
    assert_eq!(
        std::fs::metadata(cwd.path().join("data")).unwrap().len(),
        41
    );
}
