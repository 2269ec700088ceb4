//! A static file server for the built book, on 127.0.0.1 only.
//!
//! Enough HTTP/1.1 for a browser reading a static site: GET and HEAD, one
//! request per connection, a content type by extension. Pages are served
//! under the book's site path (`site-url` in book.toml, e.g.
//! `/mmap-workbook/`), so the check proves the book works under a sub-path;
//! `/` leads there. Served live (`book serve`), every page carries the
//! reload script and [`live::RELOAD_PATH`] answers it (see `live`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::live::{self, Reload};

/// How many answered requests the log keeps (the check reads a page's
/// few dozen, then clears it).
const LOG_AT_MOST: usize = 4096;

/// One request the server answered: its path and status.
#[derive(Debug, Clone)]
pub struct Served {
    pub path: String,
    pub status: u16,
}

/// A running server. It stops when the process ends; the check is short.
#[derive(Debug)]
pub struct Server {
    pub base: String,
    pub log: Arc<Mutex<Vec<Served>>>,
}

/// Serves `root` at `http://127.0.0.1:PORT{prefix}` (`prefix` starts and
/// ends with `/`). Port 0 picks a free one. With `reload`, pages reload
/// when it is bumped.
pub fn start(
    root: &Path,
    prefix: &str,
    port: u16,
    reload: Option<Arc<Reload>>,
) -> Result<Server, String> {
    start_on(listen(port)?, root, prefix, reload)
}

/// Listens on 127.0.0.1:`port` (0: a free one), or says why it cannot.
/// `book serve` calls it before building, so that a second server on the
/// same port stops at once, before it rebuilds the book the first serves.
pub fn listen(port: u16) -> Result<TcpListener, String> {
    TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        let busy = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another `cargo xtask book` may be serving there: open it in the browser)"
        } else {
            ""
        };
        format!("cannot listen on 127.0.0.1:{port}: {e}{busy}; or pick another port with --port N")
    })
}

/// [`start`] on a `listener` made by [`listen`].
pub fn start_on(
    listener: TcpListener,
    root: &Path,
    prefix: &str,
    reload: Option<Arc<Reload>>,
) -> Result<Server, String> {
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the server's address: {e}"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let root = root.to_owned();
    let prefix_owned = prefix.to_owned();
    let log_for_thread = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            let prefix = prefix_owned.clone();
            let log = Arc::clone(&log_for_thread);
            let reload = reload.clone();
            // No thread to spare (too many connections): this one is
            // dropped, and the server goes on accepting the others.
            let _ = std::thread::Builder::new().spawn(move || {
                if let Some(served) = answer(stream, &root, &prefix, reload.as_deref()) {
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    // A server left running for days keeps only the latest.
                    if log.len() >= LOG_AT_MOST {
                        log.drain(..LOG_AT_MOST / 2);
                    }
                    log.push(served);
                }
            });
        }
    });
    Ok(Server {
        base: format!("http://{address}{prefix}"),
        log,
    })
}

/// The file a URL path names under `root`, if it is inside the prefix and
/// has no `..`; a directory means its `index.html`.
pub fn file_for(root: &Path, prefix: &str, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or_default();
    let inside = path.strip_prefix(prefix).or_else(|| {
        // `/mmap-workbook` without its slash is the book's index too.
        (path == prefix.trim_end_matches('/')).then_some("")
    })?;
    let relative = PathBuf::from(percent_decode(inside)?);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let file = root.join(relative);
    if file.is_dir() {
        Some(file.join("index.html"))
    } else {
        Some(file)
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A request's reader: at most 16 KiB, all of it within 10 s, so that no
/// client can hold a thread or grow a buffer for as long as it likes.
struct Bounded {
    stream: TcpStream,
    until: Instant,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

fn answer(stream: TcpStream, root: &Path, prefix: &str, reload: Option<&Reload>) -> Option<Served> {
    let bounded = Bounded {
        stream: stream.try_clone().ok()?,
        until: Instant::now() + Duration::from_secs(10),
    };
    let mut reader = BufReader::new(bounded.take(16 * 1024));
    let mut request = String::new();
    reader.read_line(&mut request).ok()?;
    // The headers are read and ignored: every answer closes the connection.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut words = request.split_whitespace();
    let (method, path) = (words.next()?, words.next()?.to_owned());
    let (status, body, kind, location) = respond(method, &path, root, prefix, reload);
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let location = location.map_or(String::new(), |to| format!("Location: {to}\r\n"));
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n{location}Content-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&body);
    }
    Some(Served { path, status })
}

/// The status, body, content type and redirection of the answer to
/// `method path`.
fn respond(
    method: &str,
    path: &str,
    root: &Path,
    prefix: &str,
    reload: Option<&Reload>,
) -> (u16, Vec<u8>, &'static str, Option<String>) {
    let bare = path.split(['?', '#']).next().unwrap_or_default();
    if method != "GET" && method != "HEAD" {
        return (405, b"only GET and HEAD".to_vec(), "text/plain", None);
    }
    if bare == prefix.trim_end_matches('/') {
        // The book's relative links only work under the slash.
        return (301, b"moved".to_vec(), "text/plain", Some(prefix.into()));
    }
    if bare == "/" {
        // The server's root leads to the book (found, not moved for good:
        // the port may serve something else tomorrow).
        return (302, b"the book".to_vec(), "text/plain", Some(prefix.into()));
    }
    if let Some(reload) = reload.filter(|_| bare == live::RELOAD_PATH) {
        let version = reload.wait_past(&live::since(path), live::LONG_POLL);
        return (200, version.into_bytes(), "text/plain", None);
    }
    // Nothing outside the book, even through a symbolic link in it.
    let inside = |file: &PathBuf| {
        let (Ok(file), Ok(root)) = (file.canonicalize(), root.canonicalize()) else {
            return false;
        };
        file.starts_with(root)
    };
    match file_for(root, prefix, path)
        .filter(inside)
        .map(|f| (std::fs::read(&f), f))
    {
        Some((Ok(body), file)) => {
            let kind = content_type(&file);
            let body = match reload {
                Some(_) if kind.starts_with("text/html") => live::inject(body),
                _ => body,
            };
            (200, body, kind, None)
        }
        _ => (404, b"not found".to_vec(), "text/plain", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_port_in_use_is_said_with_the_way_out() {
        let taken = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let error = listen(port).unwrap_err();
        assert!(error.contains("another `cargo xtask book`"), "{error}");
        assert!(error.contains("--port"), "{error}");
        drop(taken);
        assert!(listen(port).is_ok());
    }

    /// One request to a server, and its whole answer.
    fn get(base: &str, path: &str) -> String {
        let address = base
            .strip_prefix("http://")
            .and_then(|b| b.split_once('/'))
            .unwrap()
            .0;
        let mut stream = TcpStream::connect(address).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    fn book() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            "<html><body>the book</body></html>",
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_root_leads_to_the_book() {
        let dir = book();
        let server = start(dir.path(), "/mmap-workbook/", 0, None).unwrap();
        let answer = get(&server.base, "/");
        assert!(answer.starts_with("HTTP/1.1 302 "), "{answer}");
        assert!(
            answer.contains("\r\nLocation: /mmap-workbook/\r\n"),
            "{answer}"
        );
        let answer = get(&server.base, "/mmap-workbook");
        assert!(
            answer.contains("\r\nLocation: /mmap-workbook/\r\n"),
            "{answer}"
        );
        let answer = get(&server.base, "/mmap-workbook/");
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(
            answer.ends_with("<html><body>the book</body></html>"),
            "{answer}"
        );
        assert!(get(&server.base, "/index.html").starts_with("HTTP/1.1 404 "));
    }

    #[test]
    fn served_live_pages_reload_after_a_build() {
        let dir = book();
        let reload = Arc::new(Reload::default());
        let server = start(dir.path(), "/mmap-workbook/", 0, Some(reload.clone())).unwrap();
        let page = get(&server.base, "/mmap-workbook/index.html");
        assert!(page.contains(live::RELOAD_PATH), "{page}");
        let version = reload.version();
        let body = |answer: String| answer.split("\r\n\r\n").nth(1).unwrap().to_owned();
        // A page that knows no version yet is told at once.
        let asked = Instant::now();
        assert_eq!(body(get(&server.base, live::RELOAD_PATH)), version);
        assert!(asked.elapsed() < Duration::from_secs(5));
        // A page with the current version waits for the next build.
        let waiting = {
            let (base, version) = (server.base.clone(), version.clone());
            std::thread::spawn(move || {
                get(&base, &format!("{}?since={version}", live::RELOAD_PATH))
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "the request did not wait");
        reload.bump();
        let answer = body(waiting.join().unwrap());
        assert_ne!(answer, version);
        assert_eq!(answer, reload.version());
    }

    #[test]
    fn the_checked_book_has_no_reload_script() {
        let dir = book();
        let server = start(dir.path(), "/mmap-workbook/", 0, None).unwrap();
        let page = get(&server.base, "/mmap-workbook/index.html");
        assert!(
            page.ends_with("<html><body>the book</body></html>"),
            "{page}"
        );
        assert!(get(&server.base, live::RELOAD_PATH).starts_with("HTTP/1.1 404 "));
    }

    #[test]
    fn only_files_under_the_prefix_are_served() {
        let root = Path::new("/book");
        let prefix = "/mmap-workbook/";
        assert_eq!(
            file_for(root, prefix, "/mmap-workbook/03-sigbus.html#x"),
            Some(root.join("03-sigbus.html"))
        );
        assert_eq!(
            file_for(root, prefix, "/mmap-workbook/img/a%20b.svg?v=1"),
            Some(root.join("img/a b.svg"))
        );
        assert_eq!(file_for(root, prefix, "/03-sigbus.html"), None);
        assert_eq!(file_for(root, prefix, "/mmap-workbook/../etc/passwd"), None);
        assert_eq!(file_for(root, prefix, "/mmap-workbook/%2e%2e/x"), None);
        assert_eq!(file_for(root, prefix, "/mmap-workbook/%zz"), None);
    }
}
