//! The walkthrough as a subprocess: its story snapshotted, its facts asserted.

const LESSON: &str = env!("CARGO_BIN_EXE_anonymous-sharing");

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = test_support::testing::story(LESSON);
    the_facts_behind(&out);
    test_support::story_snapshots!(out, &[(r"inode \d+", "inode [INODE]")]);
}

/// The value the parent read for `place` in step 1's table.
fn parent_reads(out: &str, place: &str) -> u32 {
    let row = test_support::testing::line(out, place);
    row[row.find(place).unwrap() + place.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    // Step 1: only the shared mapping carries the child's 42 back.
    assert!(out.contains("child: wrote 42; it now reads 42, 42 and 42"));
    assert_eq!(parent_reads(out, "MAP_SHARED|MAP_ANONYMOUS"), 42);
    assert_eq!(parent_reads(out, "MAP_PRIVATE|MAP_ANONYMOUS"), 1);
    assert_eq!(parent_reads(out, "a plain variable"), 1);
    // Step 2: both directions, and the same object in both maps.
    assert!(out.contains("parent: reads 42 in slot 0, written by the child"));
    assert!(out.contains("child: reads 43 in slot 1, written by the parent"));
    let inode = |who: &str| {
        let line = out
            .lines()
            .find(|l| {
                l.contains(&format!("{who}: maps it as rw-s /dev/zero (deleted)"))
            })
            .unwrap();
        line.rsplit(' ').next().unwrap().to_owned()
    };
    assert_eq!(inode("child"), inode("parent"));
    assert!(out.contains("both write, both see, one inode"));
    // The name /dev/zero is a label: the device is another inode.
    let zero =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata("/dev/zero").unwrap());
    assert_ne!(inode("parent"), zero.to_string());
    assert!(out.contains(&format!("/dev/zero itself is another file, inode {zero}")));
    // memmap2's map_anon is private: the child's store does not come back.
    assert!(out.contains("it maps as rw-p"));
    assert!(out.contains("the parent reads 0"));
    // Step 3: the forced bad order reads zeros, the ordered read sees 30.
    assert!(out.contains("the wrong order, forced: the child reads 0 + 0 = 0"));
    assert!(out.contains("once a byte came through the pipe: reads 10 + 20 = 30"));
    assert!(!out.contains("killed"), "no child should die here:\n{out}");
}
