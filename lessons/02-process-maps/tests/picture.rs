//! The picture of the address space (`--svg FILE`): the book's copy drawn
//! from a recorded run and snapshotted; hostile maps drawn safely and in
//! bounded size; a live drawing checked for its structure with an XML
//! parser; bad `--svg` paths refused.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use process_maps::maps::{self, Mapping};
use process_maps::picture::{AddressSpace, draw};
use test_support::testing::picture::{assert_book_figure, parse, run_with_svg};

const LESSON: &str = env!("CARGO_BIN_EXE_process-maps");
const RECORDED: &str = "tests/samples/picture-lesson.rec";
const FIGURE: &str = "../../book/src/figures/process-maps.svg";

fn here(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_books_picture_is_drawn_from_the_recorded_run() {
    let text = std::fs::read_to_string(here(RECORDED)).unwrap();
    let space = AddressSpace::from_recording(&text).unwrap();
    assert_eq!(
        AddressSpace::from_recording(&space.recording()).unwrap(),
        space
    );
    let svg = draw(&space);
    let parsed = parse(&svg);
    assert_eq!(parsed.of_class("mapping").len(), space.mappings.len());
    assert!(
        !parsed.of_class("segment").is_empty(),
        "the ELF segments are drawn"
    );
    assert!(svg.contains("RELRO"), "the RELRO split is labelled");
    assert_eq!(parsed.of_class("rss-pss").len(), 2);
    insta::with_settings!({ omit_expression => true, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("picture", svg);
    });
    assert_book_figure(&here(FIGURE), &svg);
}

fn mapping(start: u64, end: u64, perms: &str, name: &str) -> Mapping {
    let line = format!("{start:x}-{end:x} {perms} 00000000 00:00 0 ");
    Mapping {
        pathname: name.to_owned(),
        ..maps::parse_line(&line).unwrap()
    }
}

#[test]
fn hostile_names_are_escaped() {
    let names = [
        "/tmp/a name with spaces.so",
        "/tmp/two\nlines",
        "/tmp/<script>alert('x')</script> & \"quotes\"",
        "/tmp/gone (deleted)",
        "/tmp/\u{7}bell\u{0}nul",
        "[</desc><svg onload=x>]",
        &"/very/long/".repeat(400),
    ];
    let mut space = AddressSpace {
        whose: "a <hostile> & \"odd\" process".into(),
        executable: Some(names[2].to_owned()),
        ..AddressSpace::default()
    };
    for (index, name) in names.iter().enumerate() {
        let start = 0x1000_0000 + index as u64 * 0x10_0000;
        space
            .mappings
            .push(mapping(start, start + 0x1000, "r-xp", name));
    }
    let svg = draw(&space);
    let parsed = parse(&svg);
    assert_eq!(parsed.of_class("mapping").len(), names.len());
    assert!(parsed.title.contains("a <hostile> & \"odd\" process"));
    assert!(parsed.texts.iter().any(|t| t.contains("two\\nlines")));
    assert!(parsed.texts.iter().any(|t| t.contains("gone (deleted)")));
    assert!(!svg.contains("<script"), "markup in a name stays text");
}

#[test]
fn a_single_mapping_and_none() {
    for space in [
        AddressSpace {
            mappings: vec![mapping(0x400000, 0x401000, "r--p", "/bin/x")],
            ..AddressSpace::default()
        },
        AddressSpace::default(),
    ] {
        let parsed = parse(&draw(&space));
        assert_eq!(parsed.of_class("mapping").len(), space.mappings.len());
    }
}

#[test]
fn ten_thousand_mappings_draw_in_bounded_size_and_time() {
    let space = AddressSpace {
        whose: "a process with 10,000 mappings".into(),
        mappings: (0..10_000u64)
            .map(|i| {
                // Every third one leaves a gap before the next.
                let start = 0x7f00_0000_0000 + i * 0x3000;
                let end = start + if i % 3 == 0 { 0x1000 } else { 0x3000 };
                // Long names full of characters that escaping lengthens.
                let name = format!("/data/file number {i} {}", "<&>\"".repeat(100));
                mapping(start, end, "rw-p", &name)
            })
            .collect(),
        ..AddressSpace::default()
    };
    let started = Instant::now();
    let svg = draw(&space);
    let took = started.elapsed();
    eprintln!("10,000 mappings: {} bytes drawn in {took:?}", svg.len());
    assert!(
        svg.len() <= 2 << 20,
        "{} bytes for 10,000 mappings",
        svg.len()
    );
    // 5 s is the promise for an optimised build; an unoptimised test build
    // gets a generous bound, never a tight one.
    let limit = if cfg!(debug_assertions) { 60 } else { 5 };
    assert!(
        took < Duration::from_secs(limit),
        "{took:?} for 10,000 mappings"
    );
    assert_eq!(parse(&svg).of_class("mapping").len(), 10_000);
}

#[test]
fn a_live_drawing_of_another_process_shows_every_mapping() {
    // An idle `sleep` keeps its map still while both read it, once its
    // loader is done: a run during which its map changed is tried again.
    let mut sleeper = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    let read_maps = || std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let (svg, story, maps) = (0..20)
        .find_map(|_| {
            let before = read_maps();
            let (svg, story) = run_with_svg(LESSON, &["--pid", &pid, "--svg", "{}"]);
            let after = read_maps();
            if before == after {
                return Some((svg, story, after));
            }
            std::thread::sleep(Duration::from_millis(50));
            None
        })
        .expect("sleep's map kept changing for a second");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        story.contains("The picture of this run is in me.svg."),
        "{story}"
    );
    let parsed = parse(&svg);
    assert!(
        parsed.title.contains(&format!("process {pid}")),
        "{}",
        parsed.title
    );
    let drawn = parsed.of_class("mapping");
    let expected = maps::parse_maps(&maps).unwrap();
    assert_eq!(drawn.len(), expected.len(), "one bar per mapping");
    for (tip, mapping) in drawn.iter().zip(&expected) {
        let range =
            format!("{:x}-{:x} {}", mapping.start, mapping.end, mapping.perms);
        assert!(tip.starts_with(&range), "{tip} is not {range}");
    }
}

#[test]
fn a_live_drawing_of_this_process_to_stdout() {
    let run = test_support::testing::run_ok(LESSON, &["--svg", "-"]);
    assert_eq!(run.stderr, "");
    assert!(
        !run.stdout.contains("Step 1."),
        "--svg - prints the picture only"
    );
    let parsed = parse(&run.stdout);
    let drawn = parsed.of_class("mapping");
    let starts: Vec<u64> = drawn
        .iter()
        .map(|tip| u64::from_str_radix(tip.split('-').next().unwrap(), 16).unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "in address order");
    for kind in [
        "executable",
        "library",
        "stack",
        "kernel-provided",
        "shared memory",
    ] {
        assert!(
            drawn.iter().any(|t| t.contains(&format!(" {kind}: "))),
            "no {kind}"
        );
    }
    assert!(!parsed.of_class("segment").is_empty());
}

test_support::svg_flag_tests!(env!("CARGO_PKG_NAME"), LESSON);

/// Records the book's run: the lesson's own process (its `--helper`, which
/// waits for its stdin to close), its paths normalised. Run it by hand:
/// `cargo test -p process-maps --test picture -- --ignored record`.
#[test]
#[ignore = "records tests/samples/picture-lesson.rec; run by hand"]
fn record_the_books_run() {
    let mut helper = Command::new(LESSON)
        .arg("--helper")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(helper.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let pid = helper.id();
    let mut space = AddressSpace::live(process_maps::Target::Pid(pid)).unwrap();
    drop(helper.stdin.take());
    helper.wait().unwrap();
    let exe = space.executable.clone().unwrap();
    let normal = "/home/learner/mmap-workbook/target/debug/process-maps";
    space.whose = "the lesson's process".into();
    space.executable = Some(normal.into());
    for m in &mut space.mappings {
        if m.pathname == exe {
            m.pathname = normal.into();
        }
    }
    let text = format!(
        "# The lesson's process (process-maps --helper) as `cargo test -p process-maps \
         --test picture -- --ignored record` recorded it; the executable's path normalised.\n{}",
        space.recording()
    );
    std::fs::write(here(RECORDED), text).unwrap();
}
