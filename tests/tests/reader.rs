//! The book as a reader meets it: listings that fit the column and say which
//! file they come from, the calls rather than the printing, diagrams that
//! exist, no word the reader was never given, and the closing pages.
//!
//! (`cargo xtask book --check` looks at the same book in a real browser.)

use std::fs;

use workbook_tests::book::{book_dir, includes, resolve, summary_chapters};

/// What mdBook's content column shows without sideways scrolling.
const COLUMNS: usize = test_support::testing::LISTING_COLUMNS;

/// Every chapter, as (file name, markdown).
fn chapters() -> Vec<(String, String)> {
    summary_chapters()
        .into_iter()
        .map(|name| {
            let text = fs::read_to_string(book_dir().join("src").join(&name)).unwrap();
            (name, text)
        })
        .collect()
}

fn lesson_chapters() -> Vec<(String, String)> {
    let lessons = test_support::layout::discover(&test_support::layout::workbook_root()).unwrap();
    chapters()
        .into_iter()
        .filter(|(name, _)| {
            lessons
                .iter()
                .any(|l| format!("{}.md", l.dir_name()) == *name)
        })
        .collect()
}

#[test]
fn every_included_line_fits_the_column() {
    let mut too_wide = Vec::new();
    for (chapter, markdown) in chapters() {
        for (path, spec) in includes(&markdown) {
            let file = fs::read_to_string(book_dir().join("src").join(&path)).unwrap();
            let text = resolve(&file, spec.as_deref()).unwrap();
            for line in text.lines().filter(|l| l.chars().count() > COLUMNS) {
                too_wide.push(format!("{chapter} <- {path}: {line}"));
            }
        }
    }
    assert!(
        too_wide.is_empty(),
        "included lines wider than {COLUMNS} columns are cut off in the book; shorten \
         them:\n{}",
        too_wide.join("\n")
    );
}

#[test]
fn chapters_teach_with_the_calls_not_the_printing() {
    for (chapter, markdown) in lesson_chapters() {
        for (path, _) in includes(&markdown) {
            assert!(
                !path.ends_with("/src/main.rs"),
                "{chapter} includes the walkthrough ({path}): show the lib.rs functions that \
                 make the calls, and the step's output, instead"
            );
        }
    }
}

/// A fenced block of a chapter: the line it opens on and the text before it
/// (since the previous block ended).
struct Block {
    opens_at: usize,
    before: Vec<String>,
    body: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut before = Vec::new();
    let mut inside: Option<Block> = None;
    for (number, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if let Some(mut block) = inside.take() {
            if fence {
                blocks.push(block);
            } else {
                block.body.push_str(line);
                block.body.push('\n');
                inside = Some(block);
            }
        } else if fence {
            inside = Some(Block {
                opens_at: number + 1,
                before: std::mem::take(&mut before),
                body: String::new(),
            });
        } else {
            before.push(line.to_owned());
        }
    }
    blocks
}

#[test]
fn every_listing_names_its_file_and_follows_a_sentence() {
    for (chapter, markdown) in lesson_chapters() {
        for block in blocks(&markdown) {
            let Some((path, _)) = includes(&block.body).into_iter().next() else {
                continue;
            };
            let prose = block.before.iter().any(|line| {
                let line = line.trim();
                !line.is_empty() && !line.starts_with('<') && line.chars().any(char::is_alphabetic)
            });
            assert!(
                prose,
                "{chapter}:{}: a sentence must come between two listings",
                block.opens_at
            );
            if path.contains("/src/") {
                let file = path.trim_start_matches("../../");
                let label = format!("<div class=\"listing-file\">{file}</div>");
                let last = block.before.iter().rev().find(|l| !l.trim().is_empty());
                assert_eq!(
                    last.map(|l| l.trim()),
                    Some(label.as_str()),
                    "{chapter}:{}: label the listing with its file, on the line before it",
                    block.opens_at
                );
            }
        }
    }
}

#[test]
fn every_diagram_exists_is_used_and_reads_in_every_theme() {
    let img = book_dir().join("src/img");
    let mut used = Vec::new();
    for (chapter, markdown) in chapters() {
        for (at, _) in markdown.match_indices("](img/") {
            let rest = &markdown[at + 2..];
            let name = &rest[..rest.find(')').unwrap()];
            let alt_start = markdown[..at].rfind("![").expect("an image, not a link");
            assert!(
                at - alt_start > 10,
                "{chapter}: {name} needs alt text that says what it shows"
            );
            let svg = fs::read_to_string(book_dir().join("src").join(name))
                .unwrap_or_else(|e| panic!("{chapter}: {name}: {e}"));
            assert!(
                svg.contains("viewBox"),
                "{name}: give it a viewBox so it scales"
            );
            // An opaque background keeps dark text readable in the dark themes.
            assert!(
                svg.contains("<rect") && svg.contains("fill=\"#fdfdfd\""),
                "{name}: draw on an opaque light background (fill=\"#fdfdfd\")"
            );
            assert!(!svg.contains("<script"), "{name}: no scripts in a diagram");
            used.push(name.trim_start_matches("img/").to_owned());
        }
    }
    for entry in fs::read_dir(&img).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(used.contains(&name), "book/src/img/{name} is in no chapter");
    }
}

/// Whether `text` uses `word` as a word of its own (or its start: "seeds").
fn uses_word(text: &str, word: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices(word).any(|(at, _)| {
        !lower[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    })
}

#[test]
fn no_word_the_reader_was_never_given() {
    // "the seed" was the course-wiki page this workbook started from; the
    // reader never saw it. Name the classic program instead.
    for (chapter, markdown) in chapters() {
        let mut text = markdown.clone();
        for (path, spec) in includes(&markdown) {
            let file = fs::read_to_string(book_dir().join("src").join(&path)).unwrap();
            text.push_str(&resolve(&file, spec.as_deref()).unwrap());
        }
        assert!(
            !uses_word(&text, "seed"),
            "{chapter} (or what it includes) says \"seed\""
        );
    }
    assert!(uses_word("the seed's", "seed") && !uses_word("reseeded", "seed"));
}

#[test]
fn man_page_links_name_a_real_section() {
    for (chapter, markdown) in chapters() {
        for (at, _) in markdown.match_indices("https://man7.org/") {
            let rest = &markdown[at..];
            let url = &rest[..rest.find([')', ' ', '>', '"']).unwrap_or(rest.len())];
            let page = url.strip_prefix("https://man7.org/linux/man-pages/man");
            let ok = page.is_some_and(|page| {
                let (section, file) = page.split_once('/').unwrap_or(("", ""));
                let (_, file_section) = file
                    .strip_suffix(".html")
                    .and_then(|f| f.rsplit_once('.'))
                    .unwrap_or(("", "?"));
                !section.is_empty() && file_section.starts_with(section)
            });
            assert!(
                ok,
                "{chapter}: {url} is not a man7.org page link (manN/NAME.N.html)"
            );
        }
    }
}

#[test]
fn the_book_ends_with_where_next_and_a_glossary() {
    let chapters = summary_chapters();
    for page in ["where-next.md", "glossary.md"] {
        assert!(
            chapters.iter().any(|c| c == page),
            "SUMMARY.md should list {page}"
        );
    }
    let glossary = fs::read_to_string(book_dir().join("src/glossary.md")).unwrap();
    for term in [
        "Page cache",
        "RSS",
        "PSS",
        "ASLR",
        "RELRO",
        "Copy-on-write",
        "memfd",
        "W^X",
        "futex",
    ] {
        assert!(
            glossary.contains(&format!("## {term}")),
            "the glossary should define {term} (a `## {term}` heading)"
        );
    }
}
