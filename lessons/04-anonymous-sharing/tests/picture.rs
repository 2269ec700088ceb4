//! The picture of copy-on-write (`--svg FILE`): the book's copy drawn from
//! a recorded run and snapshotted; a live run read back from its picture
//! (with an XML parser) shows what the lesson promises wherever pagemap
//! can be read; bad `--svg` paths refused. Tests never fork: the lesson's
//! binary forks, and the tests read its picture.

use std::path::Path;

use anonymous_sharing::picture::{PAGES, PageState, Row, Rows, WRITTEN, draw};
use test_support::testing::picture::{
    Parsed, assert_book_figure, parse, run_with_svg,
};

const LESSON: &str = env!("CARGO_BIN_EXE_anonymous-sharing");
const RECORDED: &str = "tests/samples/picture-cow.rec";
const FIGURE: &str = "../../book/src/figures/anonymous-sharing.svg";

fn here(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The rows a picture shows, read back from its cells' classes and tips
/// (`MAPPING, LABEL: page N WORD`) and its "pagemap unavailable" notes.
fn rows_of(parsed: &Parsed) -> Rows {
    let mut rows: Vec<Row> = Vec::new();
    for (class, tip) in &parsed.tips {
        let Some(state) = class.strip_prefix("page ") else {
            continue;
        };
        let state = match state {
            "absent" => PageState::Absent,
            "shared" => PageState::Shared,
            "own" => PageState::Own,
            other => panic!("a cell of class {other}"),
        };
        let (who, _) = tip
            .split_once(": page ")
            .expect("a cell's tip names its page");
        let (mapping, label) = who.split_once(", ").unwrap();
        match rows.last_mut() {
            Some(row) if row.mapping == mapping && row.label == label => {
                row.pages.as_mut().unwrap().push(state)
            }
            _ => rows.push(Row {
                mapping: mapping.to_owned(),
                label: label.to_owned(),
                pages: Some(vec![state]),
            }),
        }
    }
    Rows(rows)
}

#[test]
fn the_books_picture_is_drawn_from_the_recorded_run() {
    let text = std::fs::read_to_string(here(RECORDED)).unwrap();
    let rows = Rows::from_recording(&text).unwrap();
    assert_eq!(Rows::from_recording(&rows.recording()).unwrap(), rows);
    let svg = draw(&rows);
    let parsed = parse(&svg);
    assert_eq!(rows_of(&parsed), rows, "every page of every row is drawn");
    insta::with_settings!({ omit_expression => true, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("picture", svg);
    });
    assert_book_figure(&here(FIGURE), &svg);
}

#[test]
fn where_pagemap_is_unavailable_the_picture_says_so() {
    let rows = Rows(vec![Row {
        mapping: "MAP_PRIVATE".into(),
        label: "child <&> just after fork".into(),
        pages: None,
    }]);
    let parsed = parse(&draw(&rows));
    assert!(parsed.texts.iter().any(|t| t == "pagemap unavailable here"));
    assert!(
        parsed
            .texts
            .iter()
            .any(|t| t == "child <&> just after fork")
    );
    assert!(parsed.of_class("page").is_empty());
}

/// What a live run must show, page by page, where pagemap can be read.
fn the_demonstration(rows: &Rows) {
    let states = |index: usize| rows.0[index].pages.clone().unwrap();
    let expect =
        |f: &dyn Fn(usize) -> PageState| (0..PAGES).map(f).collect::<Vec<_>>();
    let all = |state| expect(&|_| state);
    let written = expect(&|p| {
        if WRITTEN.contains(&p) {
            PageState::Own
        } else {
            PageState::Shared
        }
    });
    assert_eq!(
        states(0),
        all(PageState::Shared),
        "private, child after fork"
    );
    assert_eq!(states(1), written, "private, child after its writes");
    assert_eq!(states(2), written, "private, the parent meanwhile");
    assert_eq!(
        states(3),
        all(PageState::Absent),
        "shared, child after fork"
    );
    assert_eq!(
        states(4),
        all(PageState::Shared),
        "shared, child after touching"
    );
    assert_eq!(
        states(5),
        all(PageState::Shared),
        "shared, the parent meanwhile"
    );
}

#[test]
fn a_live_run_shows_copy_on_write_page_by_page() {
    let (svg, story) = run_with_svg(LESSON, &["--svg", "{}"]);
    assert!(story.contains("Step 3."), "the story runs too");
    assert!(
        story.ends_with("The picture of this run is in me.svg.\n"),
        "{story}"
    );
    let parsed = parse(&svg);
    let unavailable = parsed.texts.iter().any(|t| t == "pagemap unavailable here");
    if unavailable {
        assert!(parsed.of_class("page").is_empty());
        eprintln!("pagemap is unavailable here: the picture says so");
        return;
    }
    let rows = rows_of(&parsed);
    assert_eq!(rows.0.len(), 6);
    the_demonstration(&rows);
}

#[test]
fn svg_to_stdout_is_the_picture_alone() {
    let run = test_support::testing::run_ok(LESSON, &["--svg", "-"]);
    assert!(!run.stdout.contains("Step 1."));
    assert_eq!(
        parse(&run.stdout).title,
        "Copy-on-write after fork, page by page"
    );
}

test_support::svg_flag_tests!(env!("CARGO_PKG_NAME"), LESSON);

/// Records the book's run from the lesson's own picture:
/// `cargo test -p anonymous-sharing --test picture -- --ignored record`.
#[test]
#[ignore = "records tests/samples/picture-cow.rec; run by hand"]
fn record_the_books_run() {
    let run = test_support::testing::run_ok(LESSON, &["--svg", "-"]);
    let rows = rows_of(&parse(&run.stdout));
    the_demonstration(&rows);
    let text = format!(
        "# anonymous-sharing --svg - as `cargo test -p anonymous-sharing --test picture \
         -- --ignored record` recorded it.\n{}",
        rows.recording()
    );
    std::fs::write(here(RECORDED), text).unwrap();
}
