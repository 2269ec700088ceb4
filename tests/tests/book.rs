//! The book builds, and every include in it resolves to real, non-empty text.
//!
//! mdBook only logs a missing include file or anchor and exits 0, so this
//! test resolves every `{{#include}}` itself, then builds the book with
//! mdbook-driver into a temporary directory and inspects the output.

use std::fs;
use std::path::{Path, PathBuf};

fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book")
}

/// The chapters SUMMARY.md links to, as paths relative to `book/src`.
fn summary_chapters() -> Vec<String> {
    let summary = fs::read_to_string(book_dir().join("src/SUMMARY.md")).unwrap();
    summary
        .lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = start + line[start..].find(')')?;
            Some(line[start..end].to_owned())
        })
        .collect()
}

/// Every `{{#include PATH[:SPEC]}}` in `markdown`, as (path, spec).
fn includes(markdown: &str) -> Vec<(String, Option<String>)> {
    markdown
        .match_indices("{{#include ")
        .map(|(at, _)| {
            let rest = &markdown[at + "{{#include ".len()..];
            let body = rest[..rest.find("}}").expect("an include is closed by }}")].trim();
            match body.split_once(':') {
                Some((path, spec)) => (path.to_owned(), Some(spec.to_owned())),
                None => (body.to_owned(), None),
            }
        })
        .collect()
}

/// The text an include selects, as mdBook would: an anchor's lines, a line
/// range `A:` / `A:B`, or the whole file.
fn resolve(file: &str, spec: Option<&str>) -> Result<String, String> {
    let lines: Vec<&str> = file.lines().collect();
    let Some(spec) = spec else {
        return Ok(file.to_owned());
    };
    let mut range = spec.splitn(2, ':');
    let first = range.next().unwrap_or_default();
    if let Ok(start) = first.parse::<usize>() {
        let end = match range.next() {
            Some("") | None => lines.len(),
            Some(end) => end
                .parse::<usize>()
                .map_err(|_| format!("bad line range '{spec}'"))?,
        };
        return Ok(lines
            .get(start.saturating_sub(1)..end.min(lines.len()))
            .unwrap_or_default()
            .join("\n"));
    }
    let begin = lines
        .iter()
        .position(|l| l.trim() == format!("// ANCHOR: {first}"))
        .ok_or_else(|| format!("no `// ANCHOR: {first}` line"))?;
    let end = lines
        .iter()
        .position(|l| l.trim() == format!("// ANCHOR_END: {first}"))
        .ok_or_else(|| format!("no `// ANCHOR_END: {first}` line"))?;
    if end <= begin {
        return Err(format!("ANCHOR_END: {first} comes before its ANCHOR"));
    }
    Ok(lines[begin + 1..end].join("\n"))
}

#[test]
fn every_chapter_in_the_summary_exists() {
    let chapters = summary_chapters();
    assert!(
        chapters.len() >= 2,
        "SUMMARY.md should list the introduction and chapters: {chapters:?}"
    );
    for chapter in chapters {
        let path = book_dir().join("src").join(&chapter);
        assert!(
            path.is_file(),
            "SUMMARY.md lists {chapter}, but {} does not exist",
            path.display()
        );
    }
}

#[test]
fn every_include_resolves_to_non_empty_text() {
    let mut checked = 0;
    for chapter in summary_chapters() {
        let chapter_path = book_dir().join("src").join(&chapter);
        let markdown = fs::read_to_string(&chapter_path).unwrap();
        for (path, spec) in includes(&markdown) {
            let target = chapter_path.parent().unwrap().join(&path);
            let file = fs::read_to_string(&target).unwrap_or_else(|e| {
                panic!("{chapter}: include of {path}: {e} ({})", target.display())
            });
            let text = resolve(&file, spec.as_deref())
                .unwrap_or_else(|e| panic!("{chapter}: {path}: {e}"));
            assert!(
                !text.trim().is_empty(),
                "{chapter}: the include of {path}:{spec:?} is empty"
            );
            if path.ends_with(".snap") {
                assert!(
                    !text.starts_with("---")
                        && !text.contains("\nsource: ")
                        && !text.contains("assertion_line"),
                    "{chapter}: the include of {path} shows the snapshot's YAML header; \
                     start the line range after its closing ---"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no includes found: the chapters should include code and output"
    );
}

#[test]
fn every_lesson_has_a_chapter() {
    let chapters = summary_chapters();
    let lessons = support::layout::discover(&support::layout::workbook_root()).unwrap();
    assert!(!lessons.is_empty());
    for lesson in lessons {
        let dir = lesson.dir_name();
        assert!(
            chapters.contains(&format!("{dir}.md")),
            "lesson {dir} has no chapter: add book/src/{dir}.md and list it in SUMMARY.md"
        );
        // The chapter shows the lesson's reviewed output, not a pasted copy.
        let chapter = fs::read_to_string(book_dir().join("src").join(format!("{dir}.md"))).unwrap();
        let story = format!("{{{{#include ../../lessons/{dir}/tests/snapshots/story.snap:4:}}}}");
        assert!(
            chapter.contains(&story),
            "book/src/{dir}.md should include its story: {story}"
        );
    }
}

#[test]
fn the_book_builds_with_nothing_left_unresolved() {
    let out = tempfile::tempdir().unwrap();
    let mut book = mdbook_driver::MDBook::load(book_dir()).expect("book.toml and SUMMARY.md load");
    book.config.build.build_dir = out.path().to_path_buf();
    book.build().expect("the book builds");
    let mut pages = 0;
    for chapter in summary_chapters() {
        let html_path = out.path().join(Path::new(&chapter).with_extension("html"));
        let html = fs::read_to_string(&html_path)
            .unwrap_or_else(|e| panic!("{}: {e}", html_path.display()));
        assert!(
            !html.contains("{{#"),
            "{chapter}: an mdBook directive was left unresolved"
        );
        assert!(
            !html.contains("ANCHOR"),
            "{chapter}: an anchor marker leaked into the page"
        );
        pages += 1;
    }
    // The chapter's output really is the lesson's snapshot.
    let chapter = fs::read_to_string(out.path().join("01-file-mapping.html")).unwrap();
    assert!(
        chapter.contains("00000020  00 00 00 00 00 00 00 00  41"),
        "the hexdump from the snapshot"
    );
    assert!(
        chapter.contains("fn store_words_through_shared_mapping"),
        "code from lib.rs"
    );
    assert!(pages >= 2);
}
