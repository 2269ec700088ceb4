//! The picture of residency (`--svg FILE`): the book's copy drawn from a
//! recorded run and snapshotted; large files aggregate pages into cells; a
//! live drawing checked for its structure with an XML parser; bad `--svg`
//! paths refused.

use std::path::Path;

use page_cache::picture::{
    MAX_CELLS, Moment, PAGES, Residency, draw, pages_per_cell,
};
use test_support::testing::picture::{assert_book_figure, parse, run_with_svg};

const LESSON: &str = env!("CARGO_BIN_EXE_page-cache");
const RECORDED: &str = "tests/samples/picture-ext4.rec";
const FIGURE: &str = "../../book/src/figures/page-cache.svg";

fn here(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_books_picture_is_drawn_from_the_recorded_run() {
    let text = std::fs::read_to_string(here(RECORDED)).unwrap();
    let residency = Residency::from_recording(&text).unwrap();
    assert_eq!(
        Residency::from_recording(&residency.recording()).unwrap(),
        residency
    );
    assert_eq!(residency.moments.len(), 4);
    let svg = draw(&residency);
    let parsed = parse(&svg);
    let cells = parsed.of_class("page").len();
    assert_eq!(
        cells,
        4 * 2 * PAGES,
        "two grids of one cell per page, four times"
    );
    insta::with_settings!({ omit_expression => true, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("picture", svg);
    });
    assert_book_figure(&here(FIGURE), &svg);
}

#[test]
fn a_large_file_shares_cells_and_says_so() {
    let pages = 10 * MAX_CELLS + 3;
    let moment = Moment {
        label: "half cached".into(),
        cached: (0..pages).map(|p| p % 2 == 0).collect(),
        mapped: None,
        touched: vec![0, 12, pages - 1],
    };
    let svg = draw(&Residency {
        filesystem: "xfs <&>".into(),
        moments: vec![moment],
    });
    let parsed = parse(&svg);
    assert_eq!(pages_per_cell(pages), 11);
    assert_eq!(parsed.of_class("page").len(), pages.div_ceil(11));
    assert_eq!(parsed.of_class("some-cached").len(), pages.div_ceil(11));
    assert!(
        parsed
            .texts
            .iter()
            .any(|t| t.contains("one cell per 11 pages"))
    );
    assert!(
        parsed
            .texts
            .iter()
            .any(|t| t.contains("pagemap unavailable"))
    );
    assert!(parsed.desc.contains("xfs <&>"));
}

#[test]
fn a_live_drawing_has_every_page_at_every_moment() {
    let (svg, story) = run_with_svg(LESSON, &["--svg", "{}"]);
    assert!(story.contains("Step 6."), "the story runs too");
    assert!(
        story.ends_with("The picture of this run is in me.svg.\n"),
        "{story}"
    );
    let parsed = parse(&svg);
    assert!(parsed.title.contains("Residency"));
    // Two grids per moment where pagemap can be read, one where it cannot.
    let unavailable = parsed
        .texts
        .iter()
        .filter(|t| t.contains("pagemap unavailable"))
        .count();
    assert_eq!(parsed.of_class("page").len(), (8 - unavailable) * PAGES);
    // The 4 pages read with pread, and the 16 read through the mapping,
    // marked in the page cache's grid and (where pagemap can be read) in
    // the mapping's.
    let grids = if unavailable == 0 { 2 } else { 1 };
    assert_eq!(parsed.of_class("touched").len(), (4 + PAGES / 16) * grids);
    // Every 16th page was read through the mapping: those pages, at least,
    // are cached and mapped at the last moment.
    if unavailable == 0 {
        let mapped = parsed
            .texts
            .iter()
            .rfind(|t| t.starts_with("mapped here:"))
            .unwrap();
        let count: usize = mapped["mapped here: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(count >= PAGES / 16, "{mapped}");
    }
}

test_support::svg_flag_tests!(env!("CARGO_PKG_NAME"), LESSON);

#[test]
fn svg_with_bench_is_refused() {
    let err = test_support::testing::refused(
        "page-cache",
        LESSON,
        &["--bench", "--svg", "x.svg"],
    );
    assert!(err.contains("leave out --bench"), "{err}");
}

/// Records the book's run on the filesystem of TMPDIR (ext4 for the book):
/// `cargo test -p page-cache --test picture -- --ignored record`.
#[test]
#[ignore = "records tests/samples/picture-ext4.rec; run by hand"]
fn record_the_books_run() {
    let dir = tempfile::tempdir().unwrap();
    let residency = page_cache::picture::four_moments(dir.path()).unwrap();
    let text = format!(
        "# page_cache::picture::four_moments as `cargo test -p page-cache --test picture \
         -- --ignored record` recorded it, TMPDIR on {}.\n{}",
        residency.filesystem,
        residency.recording()
    );
    std::fs::write(here(RECORDED), text).unwrap();
}
