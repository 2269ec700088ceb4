//! `book-check`: the book as a reader's browser shows it (`cargo xtask book
//! --check`): every page in headless Chromium, over the DevTools protocol.

mod cdp;
mod check;
mod figures;
mod pictures;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use support::say;
use tooling::Result;
// What the check drives: the lib's server and its live reload.
use workbook_book::{live, server};

fn main() -> ExitCode {
    workbook_book::main_with(Some(workbook_book::Check {
        find_browser: cdp::find_chromium,
        run: run_check,
    }))
}

fn run_check(
    root: &Path,
    built: &Path,
    site_path: &str,
    chromium: &Path,
    every_page: Option<&Path>,
) -> Result<ExitCode> {
    cdp::clean_up_on_signals()?;
    let failures = root.join("target/book-check");
    // Screenshots from an earlier run would be mistaken for this run's.
    let _ = std::fs::remove_dir_all(&failures);
    let lesson_pages: Vec<String> = test_support::layout::discover(root)?
        .iter()
        .map(|lesson| format!("{}.html", lesson.dir_name()))
        .collect();
    let started = Instant::now();
    let report = check::check(&check::Options {
        built,
        site_path,
        chromium,
        shots: every_page.unwrap_or(&failures),
        shoot_every_page: every_page.is_some(),
        lesson_pages: &lesson_pages,
    })?;
    for (page, problem) in &report.problems {
        say!("{page}: {problem}");
    }
    let seconds = started.elapsed().as_secs_f64();
    if report.problems.is_empty() {
        say!(
            "book check: {} pages in Chromium at 1280 px, live reload, figures at 390 px, \
             no problem ({seconds:.1} s)",
            report.pages
        );
        if let Some(dir) = every_page {
            say!("Screenshots of every page are in {}.", dir.display());
            say!(
                "The lessons' pictures, light, dark and at 390 px: {}.",
                dir.join("pictures").display()
            );
        }
        Ok(ExitCode::SUCCESS)
    } else {
        say!(
            "book check: {} problem(s) in {} pages ({seconds:.1} s); screenshots: {}",
            report.problems.len(),
            report.pages,
            report
                .screenshots
                .first()
                .and_then(|s| s.parent())
                .unwrap_or(&failures)
                .display()
        );
        Ok(ExitCode::FAILURE)
    }
}
