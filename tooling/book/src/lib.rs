//! The book's tooling (`cargo xtask book`): build, serve and check the book.
//!
//! The book is built with mdBook's own library, so nothing needs installing
//! to read it. Two programs: `book` builds and serves it (what a reader
//! runs); `book-check` (`cargo xtask book --check`, `src/bin/book-check/`)
//! also drives a real browser over every page, so a reader never builds
//! the browser check.

pub mod live;
pub mod server;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use support::say;

use tooling::{Result, note, workspace_root};

/// What `book-check` adds: the browser.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Finds Chromium, before anything is built, so that a missing browser
    /// is said at once.
    pub find_browser: fn() -> Result<PathBuf>,
    /// Checks the book built in `built` (served under `site_path`) with
    /// `browser`, saving every page's screenshot in `every_page` if given.
    pub run: fn(
        root: &Path,
        built: &Path,
        site_path: &str,
        browser: &Path,
        every_page: Option<&Path>,
    ) -> Result<ExitCode>,
}

/// The `main` of both programs: `cargo xtask book ARGS` runs one of them
/// as `PROGRAM book ARGS`; `check` is `book-check`'s.
pub fn main_with(check: Option<Check>) -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(2).collect();
    match cmd_book(args, check) {
        Ok(code) => code,
        Err(message) => {
            note!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn cmd_book(args: Vec<OsString>, check: Option<Check>) -> Result<ExitCode> {
    /// `book [serve [--port N] | build | --check [--screenshots DIR]]`.
    #[derive(Debug, clap::Parser)]
    struct Book {
        /// serve (the default) or build.
        #[arg(value_parser = ["serve", "build"], conflicts_with = "check")]
        action: Option<String>,
        /// Check every page in headless Chromium.
        #[arg(long)]
        check: bool,
        /// The port to serve on, on 127.0.0.1 (default 3000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// With --check: save a screenshot of every page in DIR.
        #[arg(long, value_name = "DIR")]
        screenshots: Option<PathBuf>,
    }
    let Some(book) = tooling::args::parse::<Book>("book", args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let action = match (book.check, book.action) {
        (true, _) => "--check".to_owned(),
        (false, action) => action.unwrap_or_else(|| "serve".into()),
    };
    let port_given = book.port.is_some();
    let port = book.port.unwrap_or(3000);
    let shots_of_every_page = book.screenshots;
    if port_given && action != "serve" {
        return Err(format!("--port is for `book serve`, not `book {action}`"));
    }
    if shots_of_every_page.is_some() && action != "--check" {
        return Err(format!(
            "--screenshots is for `book --check`, not `book {action}`"
        ));
    }
    // Before the build, so that a missing browser is said at once.
    let check = match (action.as_str(), check) {
        ("--check", Some(check)) => Some((check, (check.find_browser)()?)),
        ("--check", None) => {
            return Err("the check is the book-check program: run cargo xtask book --check".into());
        }
        _ => None,
    };
    let root = workspace_root()?;
    let built = root.join("target/book");
    // Before the build: a port in use is said at once, and the book another
    // server on it serves is not rebuilt under its feet.
    let listener = match action.as_str() {
        "serve" => Some(server::listen(port)?),
        _ => None,
    };
    build(&root, &built)?;
    let site_path = site_path(&root)?;
    match action.as_str() {
        "build" => {
            say!("The book is in {}; open index.html there.", built.display());
            Ok(ExitCode::SUCCESS)
        }
        "serve" => {
            let reload = Arc::new(live::Reload::default());
            let listener = listener.ok_or("no listener for the server")?;
            let server = server::start_on(listener, &built, &site_path, Some(Arc::clone(&reload)))?;
            say!("Serving the book at {}  (Ctrl-C to stop)", server.base);
            say!("Saving a chapter (book/src) or a lesson's sources or snapshots rebuilds it,");
            say!("and the open pages reload.");
            if let Err(e) = live::watch(&root, &built, &reload, |next| build(&root, next)) {
                // Reading goes on without it; a reload of the page shows a
                // rebuild made by `cargo xtask book build`.
                say!("Live reload is off: {e}.");
                say!("After an edit, run `cargo xtask book build` and reload the page.");
            }
            loop {
                std::thread::park();
            }
        }
        _ => {
            let (check, browser) = check.ok_or("no browser for the check")?;
            (check.run)(
                &root,
                &built,
                &site_path,
                &browser,
                shots_of_every_page.as_deref(),
            )
        }
    }
}

/// Builds the book in `root/book` into `out` with mdBook's library.
pub fn build(root: &Path, out: &Path) -> Result {
    let book_dir = root.join("book");
    let mut book = mdbook_driver::MDBook::load(&book_dir)
        .map_err(|e| format!("cannot load the book in {}: {e:#}", book_dir.display()))?;
    book.config.build.build_dir = out.to_owned();
    book.build()
        .map_err(|e| format!("the book in {} does not build: {e:#}", book_dir.display()))
}

/// The path part of `site-url` in book.toml, e.g. `/mmap-workbook/`
/// (`/` when it is not set).
fn site_path(root: &Path) -> Result<String> {
    let toml = root.join("book/book.toml");
    let text = std::fs::read_to_string(&toml).map_err(|e| format!("{}: {e}", toml.display()))?;
    let url = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("site-url"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        // The quoted string, without a comment after it.
        .map(|value| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|rest| rest.split_once('"'))
                .map_or(value, |(inside, _)| inside)
                .to_owned()
        })
        .next()
        .unwrap_or_else(|| "/".into());
    let path = match url.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_owned(), |at| rest[at..].to_owned()),
        None => url,
    };
    let path = format!("/{}/", path.trim_matches('/')).replace("//", "/");
    Ok(path)
}
