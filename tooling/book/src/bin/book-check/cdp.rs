//! Headless Chromium, driven over the Chrome DevTools Protocol on a pipe.
//!
//! `--remote-debugging-pipe` makes Chromium read commands on fd 3 and write
//! answers and events on fd 4, each a JSON text ended by a NUL byte. That is
//! all a page check needs: no WebSocket, no port, no driver program and no
//! crate beyond serde_json, which the grader uses too.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal, killpg};
use nix::unistd::Pid;

use serde_json::Value;

/// How long any one command may take to be answered.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// A running headless Chromium. Dropping it kills its whole process group.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    commands: File,
    messages: Receiver<Result<Value, String>>,
    /// Events that arrived while waiting for an answer, oldest first.
    events: VecDeque<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// The running browser's process group and profile, for [`clean_up_on_signals`].
static RUNNING: Mutex<Option<(i32, PathBuf)>> = Mutex::new(None);

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP kill Chromium and remove its
/// profile before this process ends, as dropping the browser would. Call it
/// before any thread starts: the signals are blocked in this thread and so in
/// every later one, and one thread waits for them. (Chromium starts with none
/// blocked: `Command` clears the mask.)
pub fn clean_up_on_signals() -> Result<(), String> {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(signal);
    }
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    std::thread::spawn(move || {
        let signal = signals.wait().unwrap_or(Signal::SIGINT);
        // Held to the end: a browser being dropped now waits, and the check
        // does not go on to report Chromium's death as a problem.
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((group, profile)) = running.take() {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            let _ = std::fs::remove_dir_all(profile);
        }
        std::process::exit(128 + signal as i32);
    });
    Ok(())
}

/// The Chromium program: `$CHROMIUM`, else the first of the usual names on
/// PATH.
pub fn find_chromium() -> Result<PathBuf, String> {
    if let Some(program) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(
        "no Chromium found (looked for chromium, chromium-browser, google-chrome, chrome on \
         PATH). Install it (Debian: apt-get install chromium) or name it with \
         CHROMIUM=/path/to/chrome"
            .into(),
    )
}

impl Browser {
    /// Starts `program` headless with a fresh profile, in a process group of
    /// its own that dies with this process.
    pub fn launch(program: &Path) -> Result<Browser, String> {
        let profile = tempfile::Builder::new()
            .prefix("workbook-chromium-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary Chromium profile: {e}"))?;
        let (their_commands, our_commands) = pipe()?;
        let (our_messages, their_messages) = pipe()?;
        let mut profile_flag = OsString::from("--user-data-dir=");
        profile_flag.push(profile.path());
        let mut command = Command::new(program);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--disable-extensions",
                "--mute-audio",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(profile_flag)
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let (read_fd, write_fd) = (their_commands.as_raw_fd(), their_messages.as_raw_fd());
        // SAFETY: between fork and exec the closure calls only async-signal-safe
        // functions (fcntl, dup2, prctl, getppid) on descriptors this process
        // owns; it allocates nothing and touches no lock.
        unsafe {
            command.pre_exec(move || {
                // fd 3 is Chromium's command pipe, fd 4 its message pipe. Both
                // ends are first copied above 9, so neither can be overwritten
                // by the other's dup2; dup2 clears close-on-exec on 3 and 4.
                let read_fd = libc::fcntl(read_fd, libc::F_DUPFD_CLOEXEC, 10);
                let write_fd = libc::fcntl(write_fd, libc::F_DUPFD_CLOEXEC, 10);
                if read_fd < 0
                    || write_fd < 0
                    || libc::dup2(read_fd, 3) < 0
                    || libc::dup2(write_fd, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() == 1 {
                    return Err(std::io::Error::other("the parent is gone"));
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        drop((their_commands, their_messages));
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((child.id() as i32, profile.path().to_owned()));
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(File::from(our_messages));
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) => break,
                    Ok(_) => {
                        message.pop_if(|b| *b == 0);
                        let parsed = String::from_utf8(message)
                            .map_err(|_| "Chromium sent a message that is not UTF-8".to_owned())
                            .and_then(|text| {
                                serde_json::from_str::<Value>(&text).map_err(|e| {
                                    format!("Chromium sent a message that is not JSON ({e})")
                                })
                            });
                        if sender.send(parsed).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = sender.send(Err(format!("reading from Chromium: {e}")));
                        break;
                    }
                }
            }
        });
        Ok(Browser {
            child,
            commands: File::from(our_commands),
            messages,
            events: VecDeque::new(),
            next_id: 1,
            _profile: profile,
        })
    }

    /// Sends `method` with `params` (a JSON object's text) to the browser, or
    /// to the page attached as `session`, and returns the answer's `result`.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: &str,
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let session = session
            .map(|s| format!(",\"sessionId\":{}", Value::from(s)))
            .unwrap_or_default();
        let message =
            format!("{{\"id\":{id},\"method\":\"{method}\",\"params\":{params}{session}}}\0");
        self.commands
            .write_all(message.as_bytes())
            .map_err(|e| format!("Chromium stopped listening ({method}): {e}"))?;
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            let message = self.next_message(deadline, method)?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(error) = message.get("error") {
                    let text = error.get("message").and_then(Value::as_str).unwrap_or("?");
                    return Err(format!("Chromium refused {method}: {text}"));
                }
                return Ok(message.get("result").cloned().unwrap_or(Value::Null));
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// Waits until an event of one of `methods` arrives for `session`,
    /// keeping the rest.
    pub fn wait_for(
        &mut self,
        session: &str,
        methods: &[&str],
        within: Duration,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        let method = methods.join(" or ");
        let method = method.as_str();
        let matches = |event: &Value| {
            event
                .get("method")
                .and_then(Value::as_str)
                .is_some_and(|m| methods.contains(&m))
                && event.get("sessionId").and_then(Value::as_str) == Some(session)
        };
        if let Some(at) = self.events.iter().position(matches) {
            return Ok(self.events.remove(at).unwrap_or(Value::Null));
        }
        loop {
            let message = self.next_message(deadline, method)?;
            if matches(&message) {
                return Ok(message);
            }
            self.events.push_back(message);
        }
    }

    /// Every event received so far, oldest first; the queue is emptied.
    pub fn drain_events(&mut self) -> Vec<Value> {
        while let Ok(message) = self.messages.try_recv() {
            if let Ok(message) = message {
                self.events.push_back(message);
            }
        }
        self.events.drain(..).collect()
    }

    fn next_message(&mut self, deadline: Instant, waiting_for: &str) -> Result<Value, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "Chromium did not answer {waiting_for} within {} s",
                ANSWER_WITHIN.as_secs()
            )),
            Err(RecvTimeoutError::Disconnected) => Err(format!(
                "Chromium exited while the check waited for {waiting_for}"
            )),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Held while killing, so a signal now waits for this drop.
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running = None;
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A pipe as (read end, write end), both close-on-exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| format!("cannot make a pipe for Chromium: {e}"))
}

/// Decodes standard base64 (Chromium's screenshots).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let digits = digits
        .strip_suffix(b"==")
        .or(digits.strip_suffix(b"="))
        .unwrap_or(&digits);
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut bits = 0u32;
        for &c in chunk {
            bits = bits << 6 | value(c).ok_or("bad base64 from Chromium")?;
        }
        bits <<= 6 * (4 - chunk.len()) as u32;
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_round_trips_rfc4648_vectors() {
        for (text, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(base64_decode(text).unwrap(), plain.as_bytes(), "{text}");
        }
        assert!(base64_decode("Zm9v!").is_err());
    }
}
