//! The authoring checks, as plain tests: every lesson's exercises have
//! stubs and solutions, titles and hints, and graded tests with points that
//! the grader can see pass. `cargo xtask verify` runs the same checks.

use test_support::layout;

#[test]
fn every_lesson_passes_the_authoring_checks() {
    let root = layout::workbook_root();
    let lessons = layout::discover(&root).unwrap();
    assert!(!lessons.is_empty(), "no lesson under {}", root.display());
    let problems: Vec<String> = lessons.iter().flat_map(layout::checks::problems).collect();
    assert!(
        problems.is_empty(),
        "the exercises are not ready:\n  {}",
        problems.join("\n  ")
    );
}
