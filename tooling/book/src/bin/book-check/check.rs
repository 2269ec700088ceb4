//! `cargo xtask book --check`: every page of the built book, as a reader's
//! browser shows it.
//!
//! The book is served on 127.0.0.1 under its site path and opened in
//! headless Chromium at a 1280-pixel window, one page after another. A page
//! passes when it loads with status 200 and no console error or dialog,
//! shows no unresolved `{{#` directive, ANCHOR line or empty code block (an
//! include whose anchor is missing), loads every image, links only
//! to pages and anchors that exist, and (in a lesson chapter) has no code
//! block wider than its column, with every `<details>` opened. Search for
//! "SIGBUS" must list the sigbus chapter. The book served live (as `book
//! serve` does) must reload an open page after a rebuild, with no console
//! error. Then every page with a figure is
//! opened again at a phone's 390-px width, where each figure's text must be
//! legible (see `figures`). A failing page is saved as a screenshot under
//! `target/book-check/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cdp::{Browser, base64_decode};
use super::live::Reload;
use super::server::{self, Server};
use super::{figures, pictures};
use serde_json::{Value, json};

/// What the check looks at in a page once it has loaded: unresolved
/// directives, images, links and over-wide code, after opening every
/// `<details>` and waiting (at most 5 s) for images and fonts.
const INSPECT: &str = r#"(async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  // A lazy image below the fold would never load and look broken.
  document.querySelectorAll('img[loading="lazy"]').forEach(i => { i.loading = 'eager'; });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && [...document.images].some(i => !i.complete)) {
    await new Promise(r => setTimeout(r, 50));
  }
  await document.fonts.ready;
  const text = document.body.innerText;
  const leaks = [];
  if (text.includes('{{#')) leaks.push('an unresolved {{# directive');
  if (/ANCHOR(_END)?:/.test(text)) leaks.push('an ANCHOR line');
  // mdBook includes nothing, silently, for an anchor the file lacks.
  const empty = [...document.querySelectorAll('pre > code')]
    .filter(c => c.textContent.trim() === '').length;
  if (empty) leaks.push(`${empty} empty code block(s) (an include whose anchor or lines are missing?)`);
  const images = [...document.images].map(i => ({
    src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0 }));
  const links = [...document.querySelectorAll('a[href]')]
    .map(a => ({ href: a.href, raw: a.getAttribute('href') }));
  const main = document.querySelector('main');
  const wide = [];
  let column = 0;
  if (main) {
    column = main.getBoundingClientRect().width;
    for (const pre of main.querySelectorAll('pre')) {
      const code = pre.querySelector('code') || pre;
      const width = Math.max(pre.scrollWidth, code.scrollWidth);
      const room = Math.min(pre.clientWidth, code.clientWidth || pre.clientWidth, column);
      if (width > room + 1) {
        const line = (code.innerText || '').split('\n')
          .reduce((a, b) => (b.length > a.length ? b : a), '');
        wide.push({ width, room, line });
      }
    }
  }
  return JSON.stringify({ leaks, images, links, wide, column });
})()"#;

/// Types "SIGBUS" into mdBook's search box until results show (the index
/// loads asynchronously), and returns the result links.
const SEARCH: &str = r#"(async () => {
  const toggle = document.getElementById('mdbook-search-toggle');
  const bar = document.getElementById('mdbook-searchbar');
  if (!toggle || !bar) return JSON.stringify({ missing: true, hits: [] });
  toggle.click();
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    bar.value = 'SIGBUS';
    bar.dispatchEvent(new KeyboardEvent('keyup', { key: 'S', bubbles: true }));
    await new Promise(r => setTimeout(r, 200));
    const hits = [...document.querySelectorAll('#mdbook-searchresults a')].map(a => a.href);
    if (hits.length) return JSON.stringify({ missing: false, hits });
  }
  return JSON.stringify({ missing: false, hits: [] });
})()"#;

/// The result of checking the whole book.
#[derive(Debug, Default)]
pub struct Report {
    pub pages: usize,
    /// (page, problem), in the order found.
    pub problems: Vec<(String, String)>,
    pub screenshots: Vec<PathBuf>,
}

/// Options for [`check`].
#[derive(Debug)]
pub struct Options<'a> {
    pub built: &'a Path,
    pub site_path: &'a str,
    pub chromium: &'a Path,
    /// Where screenshots of failing pages go (and of every page, if `all`).
    pub shots: &'a Path,
    pub shoot_every_page: bool,
    /// The pages whose code blocks must fit their column (lesson chapters).
    pub lesson_pages: &'a [String],
}

pub fn check(options: &Options) -> Result<Report, String> {
    let server = server::start(options.built, options.site_path, 0, None)?;
    let mut browser = Browser::launch(options.chromium)?;
    let session = open_page(&mut browser)?;
    let pages = html_pages(options.built)?;
    if pages.is_empty() {
        return Err(format!(
            "no pages in {}: is the book built?",
            options.built.display()
        ));
    }
    let mut report = Report::default();
    let mut anchors = Anchors::default();
    for page in &pages {
        let problems = check_page(&mut browser, &session, &server, options, page, &mut anchors)
            .map_err(|e| format!("{page}: {e} (the check stopped there)"))?;
        let failed = !problems.is_empty();
        report.pages += 1;
        report
            .problems
            .extend(problems.into_iter().map(|p| (page.clone(), p)));
        // A screenshot that cannot be saved is one more problem, not the end
        // of the check: the problems found so far are still reported.
        if failed || options.shoot_every_page {
            match screenshot(&mut browser, &session, options.shots, page) {
                Ok(file) => report.screenshots.push(file),
                Err(e) => report
                    .problems
                    .push((page.clone(), format!("no screenshot: {e}"))),
            }
        }
    }
    // Search, from the first page a reader opens.
    navigate(
        &mut browser,
        &session,
        &format!("{}index.html", server.base),
    )?;
    let found = evaluate(&mut browser, &session, SEARCH)?;
    let hits: Vec<String> = found
        .get("hits")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|h| h.as_str().map(str::to_owned))
        .collect();
    if found.get("missing").and_then(Value::as_bool) == Some(true) {
        report.problems.push((
            "index.html".into(),
            "the page has no search box: build the book with mdbook-driver's `search` feature"
                .into(),
        ));
    } else if !hits.iter().any(|h| h.contains("03-sigbus.html")) {
        report.problems.push((
            "index.html".into(),
            format!("searching for SIGBUS does not list the sigbus chapter; it lists {hits:?}"),
        ));
        match screenshot(&mut browser, &session, options.shots, "search.html") {
            Ok(file) => report.screenshots.push(file),
            Err(e) => report
                .problems
                .push(("index.html".into(), format!("no screenshot: {e}"))),
        }
    }
    report.problems.extend(
        check_reload(&mut browser, &session, options)?
            .into_iter()
            .map(|p| ("index.html (served live)".to_owned(), p)),
    );
    // Last, as the window changes to a phone's.
    report.problems.extend(figures::check_on_a_phone(
        &mut browser,
        &session,
        &server.base,
        &figures::pages_with_figures(options.built, &pages),
        options.shots,
        options.shoot_every_page,
    )?);
    // For a reviewer: each lesson-drawn picture, light, dark and on a phone.
    if options.shoot_every_page {
        let shown = figures::pages_with_figures(options.built, &pages);
        match pictures::shoot(&mut browser, &session, &server.base, &shown, options.shots) {
            Ok(files) => report.screenshots.extend(files),
            Err(e) => report.problems.push((
                "(pictures)".into(),
                format!("no screenshots of the pictures: {e}"),
            )),
        }
    }
    Ok(report)
}

/// The book as `book serve` serves it: an open page reloads after a
/// rebuild, and its reload script logs no error. A second server, with the
/// script, has its version bumped each second until the page loads again
/// (the first bump may come before the page asks), at most 10 times.
fn check_reload(
    browser: &mut Browser,
    session: &str,
    options: &Options,
) -> Result<Vec<String>, String> {
    let reload = Arc::new(Reload::default());
    let live = server::start(
        options.built,
        options.site_path,
        0,
        Some(Arc::clone(&reload)),
    )?;
    let mut problems = navigate(browser, session, &format!("{}index.html", live.base))?;
    let reloaded = (0..10).any(|_| {
        reload.bump();
        browser
            .wait_for(session, &["Page.loadEventFired"], Duration::from_secs(1))
            .is_ok()
    });
    if !reloaded {
        problems.push("the page did not reload within 10 s of a rebuild".into());
    }
    let status = console(
        browser.drain_events(),
        session,
        &live.base,
        options.site_path,
        &mut problems,
    );
    if status != Some(200.0) {
        problems.push(format!("the page was answered {status:?}"));
    }
    Ok(problems)
}

/// Opens a page target at a 1280 x 900 window and returns its session.
fn open_page(browser: &mut Browser) -> Result<String, String> {
    let target = browser.call(None, "Target.createTarget", r#"{"url":"about:blank"}"#)?;
    let target = target
        .get("targetId")
        .and_then(Value::as_str)
        .ok_or("Chromium made a page without a target id")?
        .to_owned();
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        &json!({"targetId": target, "flatten": true}).to_string(),
    )?;
    let session = attached
        .get("sessionId")
        .and_then(Value::as_str)
        .ok_or("Chromium attached without a session id")?
        .to_owned();
    for domain in ["Page", "Runtime", "Log", "Network"] {
        browser.call(Some(&session), &format!("{domain}.enable"), "{}")?;
    }
    browser.call(
        Some(&session),
        "Emulation.setDeviceMetricsOverride",
        r#"{"width":1280,"height":900,"deviceScaleFactor":1,"mobile":false}"#,
    )?;
    Ok(session)
}

/// Every `.html` file of the built book, relative to it, sorted.
fn html_pages(built: &Path) -> Result<Vec<String>, String> {
    let mut pages = Vec::new();
    let mut dirs = vec![built.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "html")
                && let Ok(relative) = path.strip_prefix(built)
            {
                pages.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    pages.sort();
    Ok(pages)
}

/// Opens `url` and waits for its load event. A dialog (`alert`, `confirm`)
/// would stop the page until answered: it is accepted, and its text returned.
pub(super) fn navigate(
    browser: &mut Browser,
    session: &str,
    url: &str,
) -> Result<Vec<String>, String> {
    browser.drain_events();
    let answer = browser.call(
        Some(session),
        "Page.navigate",
        &json!({ "url": url }).to_string(),
    )?;
    if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
        return Err(format!("Chromium could not open {url}: {error}"));
    }
    let mut dialogs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = browser.wait_for(
            session,
            &["Page.loadEventFired", "Page.javascriptDialogOpening"],
            left,
        )?;
        if event.get("method").and_then(Value::as_str) == Some("Page.loadEventFired") {
            return Ok(dialogs);
        }
        let params = event.get("params").cloned().unwrap_or(Value::Null);
        dialogs.push(format!(
            "the page opens a dialog ({}): {}",
            params.get("type").and_then(Value::as_str).unwrap_or("?"),
            params.get("message").and_then(Value::as_str).unwrap_or("")
        ));
        browser.call(
            Some(session),
            "Page.handleJavaScriptDialog",
            r#"{"accept":true}"#,
        )?;
    }
}

/// Runs `script` (which returns a JSON text) in the page and parses it.
pub(super) fn evaluate(
    browser: &mut Browser,
    session: &str,
    script: &str,
) -> Result<Value, String> {
    let params =
        json!({"expression": script, "awaitPromise": true, "returnByValue": true}).to_string();
    let answer = browser.call(Some(session), "Runtime.evaluate", &params)?;
    if let Some(details) = answer.get("exceptionDetails") {
        let text = exception_text(details);
        return Err(format!("the check's script failed in the page: {text}"));
    }
    let text = answer
        .get("result")
        .and_then(|r| r.get("value"))
        .and_then(Value::as_str)
        .ok_or("the check's script returned no text")?;
    serde_json::from_str(text).map_err(|e| format!("the check's script returned bad JSON: {e}"))
}

fn check_page(
    browser: &mut Browser,
    session: &str,
    server: &Server,
    options: &Options,
    page: &str,
    anchors: &mut Anchors,
) -> Result<Vec<String>, String> {
    let url = format!("{}{page}", server.base);
    server.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let started = Instant::now();
    let mut problems = navigate(browser, session, &url)?;
    let seen = evaluate(browser, session, INSPECT)?;
    let document_status = console(
        browser.drain_events(),
        session,
        &server.base,
        options.site_path,
        &mut problems,
    );
    match document_status {
        Some(200.0) => {}
        Some(status) => problems.push(format!("the page loaded with status {status}")),
        None => problems.push("no response for the page itself".into()),
    }
    for served in server.log.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if served.status != 200 && served.path != "/favicon.ico" {
            problems.push(format!("{} was answered {}", served.path, served.status));
        }
    }
    for leak in seen
        .get("leaks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        problems.push(format!("the page shows {}", leak.as_str().unwrap_or("?")));
    }
    for image in seen
        .get("images")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        if image.get("ok").and_then(Value::as_bool) != Some(true) {
            let src = image.get("src").and_then(Value::as_str).unwrap_or("?");
            problems.push(format!("the image {src} does not load"));
        }
    }
    // The base is the origin followed by the site path.
    let origin = &server.base[..server.base.len() - options.site_path.len()];
    for link in seen
        .get("links")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let Some(href) = link.get("href").and_then(Value::as_str) else {
            continue;
        };
        let raw = link.get("raw").and_then(Value::as_str).unwrap_or_default();
        // mdBook serves its 404 page at any missing path with <base> at the
        // site root, so that page's own heading anchors (`#...`) point at the
        // index. They are mdBook's, and harmless; every other link counts.
        if page == "404.html" && raw.starts_with('#') {
            continue;
        }
        let link = href;
        if let Some(path) = link.strip_prefix(origin)
            && let Some(problem) = anchors.broken(options.built, options.site_path, path)
        {
            problems.push(format!("the link {link} {problem}"));
        }
    }
    if options.lesson_pages.iter().any(|p| p == page) {
        let column = seen.get("column").and_then(Value::as_f64).unwrap_or(0.0);
        for wide in seen
            .get("wide")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let width = wide.get("width").and_then(Value::as_f64).unwrap_or(0.0);
            let room = wide.get("room").and_then(Value::as_f64).unwrap_or(0.0);
            let line = wide.get("line").and_then(Value::as_str).unwrap_or("");
            problems.push(format!(
                "a code block is {width:.0} px wide in {room:.0} px (the column is {column:.0} px); \
                 its longest line ({} columns): {line}",
                line.chars().count()
            ));
        }
    }
    if started.elapsed() > Duration::from_secs(20) {
        problems.push(format!(
            "the page took {:.0} s to check",
            started.elapsed().as_secs_f64()
        ));
    }
    problems.dedup();
    Ok(problems)
}

/// Adds to `problems` the console errors and uncaught exceptions among
/// `events` (those of `session`), and returns the status the page itself
/// was answered with.
fn console(
    events: Vec<Value>,
    session: &str,
    base: &str,
    site_path: &str,
    problems: &mut Vec<String>,
) -> Option<f64> {
    let mut document_status = None;
    for event in events {
        if event.get("sessionId").and_then(Value::as_str) != Some(session) {
            continue;
        }
        let params = event.get("params").cloned().unwrap_or(Value::Null);
        match event
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "Network.responseReceived"
                if params.get("type").and_then(Value::as_str) == Some("Document")
                    && document_status.is_none() =>
            {
                document_status = params
                    .get("response")
                    .and_then(|r| r.get("status"))
                    .and_then(Value::as_f64);
            }
            "Runtime.consoleAPICalled"
                if matches!(
                    params.get("type").and_then(Value::as_str),
                    Some("error" | "assert")
                ) =>
            {
                let text = params
                    .get("args")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|a| a.get("value").or_else(|| a.get("description")))
                    .and_then(Value::as_str)
                    .unwrap_or("(no text)");
                problems.push(format!("console error: {text}"));
            }
            "Runtime.exceptionThrown" => {
                let details = params.get("exceptionDetails").unwrap_or(&Value::Null);
                problems.push(format!("uncaught exception: {}", exception_text(details)));
            }
            "Log.entryAdded" => {
                let entry = params.get("entry").cloned().unwrap_or(Value::Null);
                let from = entry.get("url").and_then(Value::as_str).unwrap_or("");
                if entry.get("level").and_then(Value::as_str) == Some("error")
                    && !is_browser_favicon_probe(from, base, site_path)
                {
                    let text = entry.get("text").and_then(Value::as_str).unwrap_or("?");
                    problems.push(
                        format!("console error: {text} {from}")
                            .trim_end()
                            .to_owned(),
                    );
                }
            }
            _ => {}
        }
    }
    document_status
}

/// What DevTools' `exceptionDetails` says went wrong.
fn exception_text(details: &Value) -> &str {
    details
        .get("exception")
        .and_then(|e| e.get("description"))
        .or_else(|| details.get("text"))
        .and_then(Value::as_str)
        .unwrap_or("?")
}

/// Chromium asks the origin for `/favicon.ico` on its own for a page that
/// names no icon (mdBook's `toc.html`); the book never links there.
fn is_browser_favicon_probe(url: &str, base: &str, site_path: &str) -> bool {
    let origin = &base[..base.len() - site_path.len()];
    url == format!("{origin}/favicon.ico")
}

/// The ids each built page defines, read once per page.
#[derive(Debug, Default)]
struct Anchors {
    ids: HashMap<PathBuf, Vec<String>>,
}

impl Anchors {
    /// Why the same-origin link `path` (with query and fragment) is broken,
    /// or `None` if its page exists and defines its fragment.
    fn broken(&mut self, built: &Path, site_path: &str, path: &str) -> Option<String> {
        let (path, fragment) = path.split_once('#').unwrap_or((path, ""));
        let Some(file) = server::file_for(built, site_path, path) else {
            return Some(format!("leaves the book's site path {site_path}"));
        };
        if !file.is_file() {
            return Some("leads to no page".into());
        }
        if fragment.is_empty() || file.extension().is_none_or(|e| e != "html") {
            return None;
        }
        let ids = self.ids.entry(file.clone()).or_insert_with(|| {
            let html = std::fs::read_to_string(&file).unwrap_or_default();
            // An element's id, or an old-style `<a name>`, is a target.
            [" id=\"", " name=\""]
                .iter()
                .flat_map(|attribute| html.split(attribute).skip(1))
                .filter_map(|rest| rest.split_once('"').map(|(id, _)| id.to_owned()))
                .collect()
        });
        let wanted = decode(fragment);
        (!ids.contains(&wanted)).then(|| format!("leads to no #{wanted} on its page"))
    }
}

/// Percent-decoding for a fragment; undecodable text is kept as it is.
fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            text.get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Saves the whole page (up to 16 000 px tall) as `DIR/PAGE.png`.
pub(super) fn screenshot(
    browser: &mut Browser,
    session: &str,
    dir: &Path,
    page: &str,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let metrics = browser.call(Some(session), "Page.getLayoutMetrics", "{}")?;
    let size = metrics
        .get("cssContentSize")
        .or_else(|| metrics.get("contentSize"));
    let width = size
        .and_then(|s| s.get("width"))
        .and_then(Value::as_f64)
        .unwrap_or(1280.0);
    let height = size
        .and_then(|s| s.get("height"))
        .and_then(Value::as_f64)
        .unwrap_or(900.0);
    let params = format!(
        r#"{{"format":"png","captureBeyondViewport":true,"clip":{{"x":0,"y":0,"width":{},"height":{},"scale":1}}}}"#,
        width.clamp(1.0, 4000.0),
        height.clamp(1.0, 16000.0)
    );
    let shot = browser.call(Some(session), "Page.captureScreenshot", &params)?;
    let data = shot
        .get("data")
        .and_then(Value::as_str)
        .ok_or("Chromium sent no screenshot")?;
    let file = dir.join(format!(
        "{}.png",
        page.trim_end_matches(".html").replace('/', "_")
    ));
    std::fs::write(&file, base64_decode(data)?)
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn fragments_are_percent_decoded() {
        assert_eq!(decode("step-1-a%20b"), "step-1-a b");
        assert_eq!(decode("100%"), "100%");
    }
}
