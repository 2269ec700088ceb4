//! Reading the book's sources as mdBook does: its chapters, their includes.

use std::fs;
use std::path::{Path, PathBuf};

pub fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book")
}

/// The chapters SUMMARY.md links to, as paths relative to `book/src`.
pub fn summary_chapters() -> Vec<String> {
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
pub fn includes(markdown: &str) -> Vec<(String, Option<String>)> {
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
pub fn resolve(file: &str, spec: Option<&str>) -> Result<String, String> {
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
