//! A static file server for the built book, on 127.0.0.1 only.
//!
//! Enough HTTP/1.1 for a browser reading a static site: GET and HEAD, one
//! request per connection, a content type by extension. Pages are served
//! under the book's site path (`site-url` in book.toml, e.g.
//! `/mmap-workbook/`), so the check proves the book works under a sub-path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
/// ends with `/`). Port 0 picks a free one.
pub fn start(root: &Path, prefix: &str, port: u16) -> Result<Server, String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port}: {e}; pick another port with --port")
    })?;
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
            // No thread to spare (too many connections): this one is
            // dropped, and the server goes on accepting the others.
            let _ = std::thread::Builder::new().spawn(move || {
                if let Some(served) = answer(stream, &root, &prefix) {
                    log.lock().unwrap_or_else(|e| e.into_inner()).push(served);
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

fn answer(stream: TcpStream, root: &Path, prefix: &str) -> Option<Served> {
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
    let mut stream = stream;
    let mut location = String::new();
    let (status, body, kind) = if method != "GET" && method != "HEAD" {
        (405, b"only GET and HEAD".to_vec(), "text/plain")
    } else if path.split(['?', '#']).next() == Some(prefix.trim_end_matches('/')) {
        // The book's relative links only work under the slash.
        location = format!("Location: {prefix}\r\n");
        (301, b"moved".to_vec(), "text/plain")
    } else {
        // Nothing outside the book, even through a symbolic link in it.
        let inside = |file: &PathBuf| {
            let (Ok(file), Ok(root)) = (file.canonicalize(), root.canonicalize()) else {
                return false;
            };
            file.starts_with(root)
        };
        match file_for(root, prefix, &path)
            .filter(inside)
            .map(|f| (std::fs::read(&f), f))
        {
            Some((Ok(body), file)) => (200, body, content_type(&file)),
            _ => (404, b"not found".to_vec(), "text/plain"),
        }
    };
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n{location}Content-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&body);
    }
    Some(Served { path, status })
}

#[cfg(test)]
mod tests {
    use super::file_for;
    use std::path::Path;

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
