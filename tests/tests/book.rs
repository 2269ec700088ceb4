//! The book builds, and every include in it resolves to real, non-empty text.
//!
//! mdBook only logs a missing include file or anchor and exits 0, so this
//! test resolves every `{{#include}}` itself, then builds the book with
//! mdbook-driver into a temporary directory and inspects the output.

use std::fs;
use std::path::Path;

use workbook_tests::book::{book_dir, includes, resolve, summary_chapters};

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
    let lessons = test_support::layout::discover(&test_support::layout::workbook_root()).unwrap();
    assert!(!lessons.is_empty());
    for lesson in lessons {
        let dir = lesson.dir_name();
        assert!(
            chapters.contains(&format!("{dir}.md")),
            "lesson {dir} has no chapter: add book/src/{dir}.md and list it in SUMMARY.md"
        );
        // The chapter shows the lesson's reviewed output, step by step, each
        // step folded after a question: never a pasted copy.
        let chapter = fs::read_to_string(book_dir().join("src").join(format!("{dir}.md"))).unwrap();
        let steps = test_support::layout::workbook_root()
            .join("lessons")
            .join(&dir)
            .join("tests/snapshots");
        let mut shown = 0;
        for entry in fs::read_dir(&steps).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("step-") {
                continue;
            }
            let include = format!("{{{{#include ../../lessons/{dir}/tests/snapshots/{name}:4:}}}}");
            let at = chapter.find(&include).unwrap_or_else(|| {
                panic!("book/src/{dir}.md should show {name}'s output: {include}")
            });
            let before = &chapter[..at];
            let question = before.rfind("**Predict:**");
            let fold = before.rfind("<details>");
            let previous_output = before.rfind(".snap:4:}}");
            assert!(
                question > previous_output && question.is_some_and(|q| fold.is_some_and(|f| q < f)),
                "book/src/{dir}.md: ask a **Predict:** question, then fold {name} in \
                 <details>, before showing it"
            );
            shown += 1;
        }
        assert!(
            shown > 0,
            "lesson {dir} has no step snapshots (test_support::story_snapshots!)"
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
