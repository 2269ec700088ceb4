//! The maps parser on real captures and on anything at all.

use fastrand::Rng;
use process_maps::maps::{Device, Kind, Mapping, Perms, parse_line, parse_maps};

const SAMPLES: &[(&str, &str)] = &[
    ("cat.maps", include_str!("samples/cat.maps")),
    (
        "python-odd-kinds.maps",
        include_str!("samples/python-odd-kinds.maps"),
    ),
    (
        "static-binary.maps",
        include_str!("samples/static-binary.maps"),
    ),
    (
        "synthetic-edge-cases.maps",
        include_str!("samples/synthetic-edge-cases.maps"),
    ),
];

fn kind_of(sample: &str, pathname_part: &str, exe: Option<&str>) -> Kind {
    let maps = parse_maps(sample).unwrap();
    let m = maps
        .iter()
        .find(|m| m.pathname.contains(pathname_part))
        .unwrap();
    m.kind(exe)
}

#[test]
fn every_sample_line_parses_and_prints_back_exactly() {
    for (name, text) in SAMPLES {
        let maps = parse_maps(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(maps.len(), text.lines().count(), "{name}");
        for (mapping, original) in maps.iter().zip(text.lines()) {
            assert_eq!(mapping.to_string(), original, "{name}");
        }
    }
}

#[test]
fn fields_are_read_with_the_right_bases() {
    let m = parse_line(
        "7fd13d93d000-7fd13da93000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6",
    )
    .unwrap();
    assert_eq!(
        (m.start, m.end, m.offset),
        (0x7fd1_3d93_d000, 0x7fd1_3da9_3000, 0x26000)
    );
    assert_eq!(
        m.perms,
        Perms {
            read: true,
            write: false,
            exec: true,
            shared: false
        }
    );
    assert_eq!(
        m.device,
        Device {
            major: 0xfe,
            minor: 0
        }
    );
    assert_eq!(m.inode, 326_279);
    assert_eq!(m.size(), 0x156000);
    assert_eq!(m.file_name(), Some("libc.so.6"));
}

#[test]
fn paths_with_spaces_and_deleted_markers_are_kept_whole() {
    let text = include_str!("samples/synthetic-edge-cases.maps");
    let maps = parse_maps(text).unwrap();
    assert!(
        maps.iter()
            .any(|m| m.pathname == "/tmp/dir (deleted)/still here (deleted)")
    );
    assert!(maps.iter().any(|m| m.pathname == "/tmp/trailing spaces   "));
    assert!(
        maps.iter()
            .any(|m| m.pathname == "[anon:glibc: malloc arena]")
    );
    let odd = include_str!("samples/python-odd-kinds.maps");
    assert!(
        parse_maps(odd)
            .unwrap()
            .iter()
            .any(|m| m.pathname.ends_with("/a file with spaces.dat"))
    );
}

#[test]
fn every_kind_is_recognised() {
    let cat = include_str!("samples/cat.maps");
    let odd = include_str!("samples/python-odd-kinds.maps");
    let synthetic = include_str!("samples/synthetic-edge-cases.maps");
    let static_maps = include_str!("samples/static-binary.maps");
    assert_eq!(
        kind_of(cat, "/usr/bin/cat", Some("/usr/bin/cat")),
        Kind::Executable
    );
    assert_eq!(kind_of(cat, "/usr/bin/cat", None), Kind::File);
    assert_eq!(kind_of(cat, "libc.so.6", None), Kind::SharedLibrary);
    assert_eq!(
        kind_of(cat, "ld-linux-x86-64.so.2", None),
        Kind::SharedLibrary
    );
    assert_eq!(kind_of(cat, "LC_CTYPE", None), Kind::File);
    assert_eq!(kind_of(cat, "[heap]", None), Kind::Heap);
    assert_eq!(kind_of(cat, "[stack]", None), Kind::Stack);
    for pseudo in ["[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"] {
        assert_eq!(kind_of(cat, pseudo, None), Kind::Kernel, "{pseudo}");
    }
    assert_eq!(
        kind_of(odd, "/dev/zero (deleted)", None),
        Kind::SharedAnonymous
    );
    assert_eq!(kind_of(odd, "/memfd:workbook-sample", None), Kind::Memfd);
    assert_eq!(
        kind_of(odd, "/dev/shm/workbook-sample-", None),
        Kind::SharedMemory
    );
    assert_eq!(
        kind_of(odd, "deleted-later.dat (deleted)", None),
        Kind::DeletedFile
    );
    assert_eq!(kind_of(synthetic, "[stack:4242]", None), Kind::Stack);
    assert_eq!(kind_of(synthetic, "[anon:", None), Kind::UnknownPseudo);
    assert_eq!(
        kind_of(synthetic, "[some_future_name]", None),
        Kind::UnknownPseudo
    );
    assert_eq!(
        kind_of(synthetic, "anon_inode:[perf_event]", None),
        Kind::Other
    );
    assert_eq!(kind_of(synthetic, "/SYSV00000000", None), Kind::Other);
    let anonymous = parse_maps(cat)
        .unwrap()
        .into_iter()
        .find(|m| m.pathname.is_empty())
        .unwrap();
    assert_eq!(anonymous.kind(None), Kind::Anonymous);
    // A static binary: the executable and kernel pages, and no library at all.
    let maps = parse_maps(static_maps).unwrap();
    assert!(
        maps.iter()
            .all(|m| m.kind(Some("/tmp/static-maps")) != Kind::SharedLibrary)
    );
    assert!(process_maps::libc_code(&maps).is_none());
    assert!(process_maps::libc_code(&parse_maps(cat).unwrap()).is_some());
}

#[test]
fn malformed_lines_are_errors_not_panics() {
    for bad in [
        "",
        "zzzz-0000 r-xp 0 00:00 0",
        "1000-0fff r-xp 00000000 00:00 0 ",
        "1000-2000 r-xq 00000000 00:00 0 ",
        "1000-2000 rwx 00000000 00:00 0 ",
        "1000 r-xp 00000000 00:00 0 ",
        "1000-2000 r-xp 00000000 0000 0 ",
        "1000-2000 r-xp 00000000 00:00 -1 ",
        "1000-2000 r-xp 00000000 00:00",
        "1000-2000 r-xp",
    ] {
        assert!(parse_line(bad).is_err(), "{bad:?} should not parse");
    }
    let error =
        parse_maps("1000-2000 r-xp 00000000 00:00 0 \nnonsense\n").unwrap_err();
    assert_eq!(error.line, 2);
}

// The property tests draw from `fastrand` with a fixed seed: the same
// inputs every run, so every failure can be replayed.

const PATHS: &[&str] = &[
    "",
    "[heap]",
    "[stack]",
    "[vdso]",
    "[anon:x y]",
    "/usr/lib/libc.so.6",
    "/a b/c d (deleted)",
    "/memfd:n (deleted)",
    "/dev/shm/x",
    "/dev/zero (deleted)",
    "anon_inode:[io_uring]",
    "/tail space ",
    "/ünïcödé/файл",
    "/x\\012y",
];

fn random_mapping(random: &mut Rng) -> Mapping {
    let start = random.u64(..) >> random.u32(..64);
    Mapping {
        start,
        end: start.saturating_add(random.u64(..) >> random.u32(..64)),
        perms: Perms {
            read: random.bool(),
            write: random.bool(),
            exec: random.bool(),
            shared: random.bool(),
        },
        offset: random.u64(..) >> random.u32(..64),
        device: Device {
            major: random.u32(..) >> random.u32(..32),
            minor: random.u32(..) >> random.u32(..32),
        },
        inode: random.u64(..) >> random.u32(..64),
        pathname: PATHS[random.usize(..PATHS.len())].to_owned(),
    }
}

#[test]
fn property_whatever_it_parses_round_trips() {
    let mut random = Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let mapping = random_mapping(&mut random);
        let line = mapping.to_string();
        assert_eq!(parse_line(&line).as_ref(), Ok(&mapping), "{line:?}");
    }
}

#[test]
fn property_no_input_makes_it_panic() {
    let mut random = Rng::with_seed(0x0123_4567_89ab_cdef);
    let alphabet: Vec<char> =
        "0123456789abcdefxyz-: rwxps[]()/\\\n\tü".chars().collect();
    let originals: Vec<String> = SAMPLES
        .iter()
        .flat_map(|(_, t)| t.lines().map(str::to_owned))
        .collect();
    for _ in 0..20_000 {
        // Either pure noise, or a real line with a few characters changed.
        let mut chars: Vec<char> = if random.bool() {
            (0..random.usize(..100))
                .map(|_| alphabet[random.usize(..alphabet.len())])
                .collect()
        } else {
            originals[random.usize(..originals.len())].chars().collect()
        };
        for _ in 0..random.usize(..4) {
            if chars.is_empty() {
                break;
            }
            let at = random.usize(..chars.len());
            match random.u8(..3) {
                0 => {
                    chars.remove(at);
                }
                1 => chars.insert(at, alphabet[random.usize(..alphabet.len())]),
                _ => chars[at] = alphabet[random.usize(..alphabet.len())],
            }
        }
        let line: String = chars.into_iter().collect();
        // Whatever parses must print back to a line that parses the same.
        if let Ok(mapping) = parse_line(&line) {
            assert_eq!(parse_line(&mapping.to_string()), Ok(mapping), "{line:?}");
        }
        let _ = parse_maps(&line);
    }
}

#[test]
fn a_file_in_a_directory_under_dev_shm_is_not_a_posix_shm_object() {
    // TMPDIR=/dev/shm/x puts the lesson's deleted specimen there; only a
    // name directly in /dev/shm is a POSIX shm object.
    let kind = |path: &str| {
        let line =
            format!("7f0000000000-7f0000001000 rw-s 00000000 00:1a 42  {path}");
        process_maps::maps::parse_line(&line).unwrap().kind(None)
    };
    assert_eq!(kind("/dev/shm/mmap-workbook-1-ab"), Kind::SharedMemory);
    assert_eq!(kind("/dev/shm/gone (deleted)"), Kind::SharedMemory);
    assert_eq!(
        kind("/dev/shm/tmp/.tmpAbC123/deleted-while-mapped (deleted)"),
        Kind::DeletedFile
    );
    assert_eq!(kind("/dev/shm/tmp/kept.dat"), Kind::File);
}
