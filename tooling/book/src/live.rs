//! `cargo xtask book serve` keeps the book current, as `mdbook serve` does.
//!
//! A watcher on `book/` and `lessons/` (whole directories: editors save by
//! writing a new file and renaming it over the old one) waits until the
//! edits stop for a moment, rebuilds the book with the same builder as the
//! first build, and swaps the new book in at once. Every page the server
//! hands out carries a small script that long-polls [`RELOAD_PATH`]; a new
//! build bumps the version that request waits for, and the page reloads.
//! The check serves the book without the script.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use notify::{EventKind, RecursiveMode, Watcher};

use support::say;

/// The URL a page asks for the book's version: `?since=V` waits (at most
/// [`LONG_POLL`]) until the version is no longer `V`.
pub const RELOAD_PATH: &str = "/__workbook/reload";

/// How long one reload request may wait before it is answered anyway.
pub const LONG_POLL: Duration = Duration::from_secs(25);

/// Edits closer together than this are one change: one rebuild.
const QUIET: Duration = Duration::from_millis(300);

/// A stream of edits (a `git checkout`) rebuilds at least this often.
const AT_MOST: Duration = Duration::from_secs(3);

/// The script added to every served page. It asks for the version, then
/// waits for the next one; a different answer means a new build. When the
/// server is gone it tries again, less and less often, without a word.
const SCRIPT: &str = r#"<script>
(() => {
  let seen = null, pause = 1000;
  const poll = () => fetch('/__workbook/reload?since=' + encodeURIComponent(seen || ''),
                           { cache: 'no-store' })
    .then(r => (r.ok ? r.text() : Promise.reject(r.status)))
    .then(version => {
      if (seen !== null && version !== seen) { location.reload(); return; }
      seen = version; pause = 1000; poll();
    })
    .catch(() => { pause = Math.min(pause * 2, 30000); setTimeout(poll, pause); });
  poll();
})();
</script>
"#;

/// The book's version, and a way to wait for the next one.
#[derive(Debug)]
pub struct Reload {
    /// This server's start (so that a restarted server reloads its pages
    /// too), and the number of builds since.
    start: u128,
    builds: Mutex<u64>,
    changed: Condvar,
}

impl Default for Reload {
    fn default() -> Self {
        Reload {
            start: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            builds: Mutex::new(0),
            changed: Condvar::new(),
        }
    }
}

impl Reload {
    /// The current version, as the pages see it.
    #[cfg(test)]
    pub fn version(&self) -> String {
        self.name(*self.builds.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn name(&self, builds: u64) -> String {
        format!("{:x}-{builds}", self.start)
    }

    /// Marks a new build: every waiting page is answered.
    pub fn bump(&self) {
        *self.builds.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// The version once it differs from `since`, or after `limit`.
    pub fn wait_past(&self, since: &str, limit: Duration) -> String {
        let until = Instant::now() + limit;
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let version = self.name(*builds);
            let left = until.saturating_duration_since(Instant::now());
            if version != since || left.is_zero() {
                return version;
            }
            builds = self
                .changed
                .wait_timeout(builds, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The query's `since` value of a reload request (empty if none).
pub fn since(url_path: &str) -> String {
    url_path
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("since="))
        .unwrap_or_default()
        .to_owned()
}

/// `html` with the reload script before its last `</body>` (at the end if it
/// has none).
pub fn inject(mut html: Vec<u8>) -> Vec<u8> {
    let at = html
        .windows(7)
        .rposition(|w| w.eq_ignore_ascii_case(b"</body>"))
        .unwrap_or(html.len());
    html.splice(at..at, SCRIPT.bytes());
    html
}

/// Whether a changed path can change the book: anything in `book/` (but its
/// build), and in `lessons/` what a chapter can include (sources, snapshots,
/// samples), not an editor's swap or backup file.
fn matters(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let scratch = name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.chars().all(|c| c.is_ascii_digit());
    let in_a_build = relative.components().any(|c| c.as_os_str() == "target");
    !scratch && !in_a_build
}

/// Watches `book/` and `lessons/` under `root` and, after each burst of
/// edits, rebuilds the book into `built` with `build` and bumps `reload`.
/// Runs until the process ends (Ctrl-C).
pub fn watch(
    root: &Path,
    built: &Path,
    reload: &Reload,
    build: impl Fn(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let (events, edits) = channel();
    let mut watcher = notify::recommended_watcher(events)
        .map_err(|e| format!("cannot watch the book's files: {e}"))?;
    let watched: Vec<PathBuf> = ["book", "lessons"].iter().map(|d| root.join(d)).collect();
    for dir in &watched {
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    }
    let next = built.with_file_name(format!(
        "{}-next",
        built.file_name().unwrap_or_default().to_string_lossy()
    ));
    // A build cut short by Ctrl-C may have left its half.
    let _ = std::fs::remove_dir_all(&next);
    loop {
        // The first edit of a burst, then the rest until a quiet moment.
        let mut changed: Vec<PathBuf> = Vec::new();
        let mut first_at: Option<Instant> = None;
        loop {
            let wait = match first_at {
                None => Duration::from_secs(3600),
                Some(at) => QUIET.min(AT_MOST.saturating_sub(at.elapsed())),
            };
            match edits.recv_timeout(wait) {
                Ok(Ok(event)) => {
                    let event: notify::Event = event;
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    for path in event.paths.into_iter().filter(|p| matters(root, p)) {
                        first_at.get_or_insert_with(Instant::now);
                        if !changed.contains(&path) {
                            changed.push(path);
                        }
                    }
                }
                Ok(Err(e)) => say!("(the file watcher reported: {e})"),
                Err(RecvTimeoutError::Timeout) if first_at.is_some() => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the file watcher stopped".into());
                }
            }
        }
        let named: Vec<String> = changed
            .iter()
            .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
            .collect();
        let what = match named.as_slice() {
            [one] => one.clone(),
            [one, two] => format!("{one} and {two}"),
            [first, rest @ ..] => format!("{first} and {} more files", rest.len()),
            [] => continue,
        };
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(&next);
        match build(&next).and_then(|()| swap(&next, built)) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(&next);
                reload.bump();
                say!("{what} changed:");
                say!(
                    "  rebuilt in {:.1} s; the open pages reload.",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                say!("{what} changed, but {e};");
                say!("  still serving the last good build.");
            }
        }
    }
}

/// Puts the new build `next` where the server reads (`built`) in one step,
/// so that no page is ever served half-built.
fn swap(next: &Path, built: &Path) -> Result<(), String> {
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    if renameat2(
        AT_FDCWD,
        next,
        AT_FDCWD,
        built,
        RenameFlags::RENAME_EXCHANGE,
    )
    .is_ok()
    {
        return Ok(());
    }
    // A filesystem without RENAME_EXCHANGE: out with the old, in with the
    // new (a moment without a book).
    let _ = std::fs::remove_dir_all(built);
    std::fs::rename(next, built)
        .map_err(|e| format!("cannot put the new build in {}: {e}", built.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_goes_before_the_end_of_the_body() {
        let page = inject(b"<html><body><p>x</p></body></html>".to_vec());
        let page = String::from_utf8(page).unwrap();
        let script = page.find(RELOAD_PATH).unwrap();
        assert!(page.find("<p>x</p>").unwrap() < script);
        assert!(script < page.find("</body>").unwrap());
        assert!(page.ends_with("</body></html>"));
    }

    #[test]
    fn a_waiting_request_is_answered_by_the_next_build() {
        let reload = std::sync::Arc::new(Reload::default());
        let first = reload.version();
        // A stale version is answered at once.
        let started = Instant::now();
        assert_eq!(reload.wait_past("old", LONG_POLL), first);
        assert!(started.elapsed() < Duration::from_secs(1));
        // The current one waits until the limit...
        let started = Instant::now();
        assert_eq!(reload.wait_past(&first, Duration::from_millis(200)), first);
        assert!(started.elapsed() >= Duration::from_millis(200));
        // ...or until a build, whichever comes first.
        let waiting = {
            let (reload, first) = (reload.clone(), first.clone());
            std::thread::spawn(move || reload.wait_past(&first, LONG_POLL))
        };
        std::thread::sleep(Duration::from_millis(100));
        reload.bump();
        let answer = waiting.join().unwrap();
        assert_ne!(answer, first);
        assert_eq!(answer, reload.version());
    }

    #[test]
    fn the_query_names_the_version() {
        assert_eq!(since("/__workbook/reload?since=ab-3"), "ab-3");
        assert_eq!(since("/__workbook/reload?x=1&since=ab-3"), "ab-3");
        assert_eq!(since("/__workbook/reload"), "");
    }

    #[test]
    fn only_edits_that_can_change_the_book_count() {
        let root = Path::new("/w");
        assert!(matters(root, Path::new("/w/book/src/03-sigbus.md")));
        assert!(matters(
            root,
            Path::new("/w/lessons/03-sigbus/tests/snapshots/story.snap")
        ));
        assert!(!matters(root, Path::new("/w/book/src/.03-sigbus.md.swp")));
        assert!(!matters(root, Path::new("/w/lessons/03-sigbus/src/4913")));
        assert!(!matters(
            root,
            Path::new("/w/lessons/03-sigbus/src/lib.rs~")
        ));
        assert!(!matters(root, Path::new("/elsewhere/book/src/x.md")));
    }
}
