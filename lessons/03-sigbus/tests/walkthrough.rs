//! The walkthrough as a subprocess: its story snapshotted, its facts asserted.

use test_support::testing::line;

const LESSON: &str = env!("CARGO_BIN_EXE_sigbus");

/// What the filesystem holding TMPDIR decides: step 3's byte past the end
/// of the file, after msync and after the file grows over it, and the
/// filesystem's name (the fact test below checks the bytes against the name).
const FILTERS: &[(&str, &str)] = &[
    (
        r"byte 100 reads '[^']*' \([^)]* holds the files here\)",
        "byte 100 reads [BYTE] ([FILESYSTEM] holds the files here)",
    ),
    (r"finds byte 100 is '[^']*'", "finds byte 100 is [BYTE]"),
];

#[test]
fn the_story_and_the_facts_behind_it_on_this_filesystem() {
    let out = test_support::testing::story(LESSON);
    the_facts_behind(&out);
    the_byte_past_the_end_is_what_the_filesystem_found_decides(&out);
    test_support::story_snapshots!(out, FILTERS);
}

/// Step 3, after msync: the byte stored past the end of the file as it
/// reads now, and the filesystem the lesson found.
fn byte_after_msync(out: &str) -> (String, String) {
    let line = line(out, "after msync, byte 100");
    let (_, rest) = line.split_once("byte 100 reads ").unwrap();
    let (byte, rest) = rest.split_once(" (").unwrap();
    let (filesystem, _) = rest.split_once(" holds the files here").unwrap();
    (byte.to_owned(), filesystem.to_owned())
}

fn the_byte_past_the_end_is_what_the_filesystem_found_decides(out: &str) {
    let (byte, filesystem) = byte_after_msync(out);
    // Once the file grows over byte 100, it holds what the page held.
    let grown = line(out, "set_len(101) grows the file");
    assert!(
        grown.ends_with(&format!("finds byte 100 is {byte}")),
        "{out}"
    );
    match filesystem.as_str() {
        // tmpfs writes nothing back: the page stays as stored, and growing
        // the file makes the stray byte part of it.
        "tmpfs" => assert_eq!(byte, "'!'", "{out}"),
        // Disk filesystems zero the tail of the last page on writeback.
        "ext4" | "xfs" | "btrfs" => assert_eq!(byte, "'\\0'", "{out}"),
        other => assert!(
            other.starts_with("a filesystem")
                && ["'!'", "'\\0'"].contains(&byte.as_str()),
            "{out}"
        ),
    }
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    let sigbus = "child killed by SIGBUS (signal 7)";
    let fine = "child exited normally (code 0)";
    // Step 1: storing into an empty file's mapping faults; after set_len it works.
    assert!(line(out, "store 0x78 at offset 0 ->").ends_with(sigbus));
    assert!(line(out, "store 0x78 at offset 0 again ->").ends_with(fine));
    assert!(out.contains("read(2) now finds 40 bytes, the first 0x78"));
    // Step 2: the boundary is the end of the page that holds the file's end.
    assert!(out.contains("byte 8 is 'A'"));
    assert!(out.contains("bytes 9 to 4095 all read as zero: yes"));
    assert_eq!(
        line(out, "SIGBUS handler:"),
        "SIGBUS handler: si_code BUS_ADRERR (2), fault at offset 4096 of the mapping"
    );
    assert!(line(out, "read byte 8, bytes 9 to 4095").ends_with(sigbus));
    assert!(!out.contains("no fault: unexpected"));
    // Step 3: the file does not grow, but the page cache keeps the store.
    assert!(out.contains("the file is still 9 bytes"));
    assert!(out.contains("a fresh mapping reads byte 100 as '!'"));
    // Step 4: truncation by another process turns a good page into SIGBUS...
    assert_eq!(
        line(out, "another process's ftruncate to 4096 bytes: done"),
        "another process's ftruncate to 4096 bytes: done; the file is now 4096 bytes"
    );
    assert!(line(out, "read page 2 again ->").ends_with(sigbus));
    assert!(out.contains("page 0 still reads 'A'"));
    // Step 5: a seal turns the truncate into EPERM, and the reader survives;
    // the receiver trusts a sealed memfd only if it is long enough.
    assert!(out.contains("safe to map 12288 bytes: yes"));
    assert_eq!(
        line(out, "another process's ftruncate to 4096 bytes: refused"),
        "another process's ftruncate to 4096 bytes: refused, EPERM (Operation not permitted)"
    );
    assert!(line(out, "so the reader survives: read page 2 ->").ends_with(fine));
    assert!(out.contains("page 2 reads 'C'"));
    assert!(out.contains(
        "a 9-byte memfd, sealed the same way: safe to map 12288 bytes: no"
    ));
}
