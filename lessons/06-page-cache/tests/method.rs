//! The runner's filter (`support::seccomp::install_mapping_only`) checks "through a mapping"
//! for the graded tests: these tests show that it refuses the other ways,
//! and that the files are as they were, so a copy by `read`/`write`, by
//! `copy_file_range`, by another program, or a count by `cachestat`, fails
//! the graded tests instead of passing them.

use std::fs;
use std::io::ErrorKind;

use test_support::judge::{Request, Runner};

fn runner() -> Runner {
    Runner::new(env!("CARGO_BIN_EXE_page-cache"))
}

#[test]
fn every_other_way_of_copying_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::write(&src, vec![7u8; 3 * support::page_size() + 5]).unwrap();
    let ways = [
        "method:std_fs_copy",
        "method:write_to_a_new_file",
        "method:exec_cp",
    ];
    let requests = ways
        .iter()
        .map(|way| Request::new(way).path(&src).path(&dir.path().join(way)))
        .collect();
    for (reply, way) in runner().ask_all(requests).iter().zip(ways) {
        let message = reply.expect_err(ErrorKind::Unsupported);
        assert!(message.contains("os error 95"), "{way}: {message}");
        let copied = fs::read(dir.path().join(way)).unwrap_or_default();
        assert!(copied.is_empty(), "{way} copied {} bytes", copied.len());
    }
}

#[test]
fn cachestat_is_refused_and_mincore_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    fs::write(&path, vec![1u8; 2 * support::page_size()]).unwrap();
    let replies = runner().ask_all(vec![
        Request::new("method:cachestat").path(&path),
        Request::new("count_resident_pages").path(&path),
    ]);
    replies[0].expect_err(ErrorKind::Unsupported);
    replies[1].expect_ok(2);
}

#[test]
fn a_copy_through_two_mappings_passes_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(&src, &bytes).unwrap();
    runner()
        .ask(Request::new("mmap_copy").path(&src).path(&dst))
        .expect_ok(bytes.len() as u64);
    assert_eq!(fs::read(&dst).unwrap(), bytes);
}

#[test]
fn no_socket_can_carry_a_descriptor_or_bytes_to_a_process_without_the_filter() {
    let message = runner()
        .ask(Request::new("method:socket"))
        .expect_err(ErrorKind::Unsupported)
        .to_owned();
    assert!(message.contains("os error 95"), "{message}");
}
