//! The walkthrough, run as a learner runs it: a separate process, a bounded
//! wait, its stdout compared with the reviewed snapshot in `snapshots/`.

use std::path::Path;

use support::spawn::Captured;

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

fn run_lesson(args: &[&str], cwd: &Path) -> Captured {
    support::testing::run(LESSON, args, cwd)
}

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = support::testing::story(LESSON);
    the_facts_behind(&out);
    support::story_snapshots!(out);
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    // The seed's file is 41 bytes, and its dump is the one `hexdump -C` prints.
    assert!(out.contains("the file now holds 41 bytes"), "{out}");
    assert!(out.contains(
        "00000000  78 56 34 12 de c0 ad de  00 00 00 00 00 00 00 00  |xV4.............|"
    ));
    assert!(out.contains(
        "00000020  00 00 00 00 00 00 00 00  41                       |........A|"
    ));
    assert!(out.contains("    00000029\n"));
    // The page-tail store neither faulted nor reached the file.
    assert!(
        out.contains("the file is still 41 bytes and unchanged: yes"),
        "{out}"
    );
    // The better ways give exactly 40 bytes, identical to each other.
    assert!(out.contains("set_len(40) (ftruncate), then the same mmap: 40 bytes"));
    assert!(out.contains("set_len + memmap2::MmapMut: 40 bytes"));
    assert!(out.contains("minus its 'A': yes"));
    // Every refusal is the errno Linux really gives (see FACTS: ENODEV for a pipe).
    for (call, errno) in [
        ("length 0", "EINVAL"),
        ("the read end of a pipe", "ENODEV"),
        ("PROT_WRITE|MAP_SHARED, fd opened read-only", "EACCES"),
        ("offset 100 (not page-aligned)", "EINVAL"),
    ] {
        let row = support::testing::line(out, call);
        assert!(
            row.contains(&format!(" {errno} ")),
            "{call} should give {errno}: {row}"
        );
    }
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
fn keep_writes_the_seed_file_into_the_named_directory() {
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
