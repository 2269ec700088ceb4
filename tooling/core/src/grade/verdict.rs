//! Judging one graded test from how its process ended and whether it proved
//! its verdict: never from what it printed.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::ChildOutcome;

use super::run::RunRecord;

/// What happened to one graded test.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Its body returned and its process exited cleanly.
    Passed,
    /// It failed a check; the message is the test's own (its panic).
    Failed(String),
    /// It was still running at the limit, so its process group was killed.
    TimedOut(Duration),
    /// A signal killed the test process.
    Crashed(Signal),
    /// The process exited (with this code) before the test's checks finished.
    ExitedEarly(i32),
    /// It never ran; the reason says why (did not compile, missing, ...).
    DidNotRun(String),
    /// A verdict read back from a JSON report: its status word and message.
    Reported(String, String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        *self == Verdict::Passed
    }

    /// One word for tables and CSV files.
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed(_) => "failed",
            Verdict::TimedOut(_) => "timed-out",
            Verdict::Crashed(_) => "crashed",
            Verdict::ExitedEarly(_) => "exited-early",
            Verdict::DidNotRun(_) => "did-not-run",
            Verdict::Reported(status, _) => match status.as_str() {
                "passed" => "passed",
                "failed" => "failed",
                "timed-out" => "timed-out",
                "crashed" => "crashed",
                "exited-early" => "exited-early",
                _ => "did-not-run",
            },
        }
    }
}

impl fmt::Display for Verdict {
    /// The verdict in words, with any control character a test printed (a
    /// terminal escape that could repaint the table) shown as `?`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = Described(self).to_string();
        let printable: String = text
            .chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    '?'
                } else {
                    c
                }
            })
            .collect();
        f.write_str(&printable)
    }
}

struct Described<'a>(&'a Verdict);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Verdict::Passed => write!(f, "passed"),
            Verdict::Failed(message) => write!(f, "{message}"),
            Verdict::TimedOut(limit) => write!(
                f,
                "did not finish in {} s (an endless loop, or a wait that never ends?)",
                limit.as_secs_f64()
            ),
            Verdict::Crashed(signal) => write!(
                f,
                "the test process was killed by {} (signal {}){}",
                signal.as_str(),
                *signal as i32,
                match signal {
                    Signal::SIGBUS => ": an access past the end of a mapped file?",
                    Signal::SIGSEGV =>
                        ": an access outside any mapping, or against its protection?",
                    Signal::SIGABRT => ": an abort, or a panic while panicking?",
                    Signal::SIGXFSZ => ": a file grew past the grader's 1 GiB limit",
                    _ => "",
                }
            ),
            Verdict::ExitedEarly(code) => write!(
                f,
                "the test process exited (code {code}) before the test's checks finished: \
                 does the exercise call exit(), or was the test changed?"
            ),
            Verdict::DidNotRun(reason) => write!(f, "did not run: {reason}"),
            Verdict::Reported(_, message) => write!(f, "{message}"),
        }
    }
}

/// The verdict for a test `name` whose run produced `record`.
pub fn judge(name: &str, record: &RunRecord) -> Verdict {
    match record.outcome {
        ChildOutcome::TimedOut(limit) => Verdict::TimedOut(limit),
        ChildOutcome::Exited(0) if record.proved => Verdict::Passed,
        ChildOutcome::Signaled(signal) => Verdict::Crashed(signal),
        // libtest exits with 101 when a test failed: its own message says why.
        ChildOutcome::Exited(101) if !record.proved => {
            Verdict::Failed(failure_message(name, &record.stdout, &record.stderr))
        }
        ChildOutcome::Exited(code) => Verdict::ExitedEarly(code),
    }
}

/// The panic message in libtest's report of a failed test, without the
/// `thread '...' panicked at` line and the backtrace note. Only ever shown
/// for a test that failed, so a test cannot gain anything by faking it.
pub fn failure_message(name: &str, stdout: &str, stderr: &str) -> String {
    let header = format!("---- {name} stdout ----");
    let body = match stdout.split_once(&header) {
        Some((_, body)) => body,
        None if stderr.contains("panicked at") => stderr,
        None => stdout,
    };
    let mut lines = body.lines().skip_while(|l| !l.contains("panicked at"));
    lines.next();
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.is_empty() && !l.starts_with("failures:"))
        .take(6)
        .collect();
    if message.is_empty() {
        "the test failed".to_owned()
    } else {
        message.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: ChildOutcome, proved: bool, stdout: &str) -> RunRecord {
        RunRecord {
            outcome,
            proved,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    const FAILED: &str = "\
running 1 test
test second ... FAILED

failures:

---- second stdout ----

thread 'second' panicked at lessons/x/src/exercises.rs:9:5:
not yet implemented: write 3 values
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    second

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out
";

    #[test]
    fn only_a_proved_clean_exit_passes() {
        assert_eq!(
            judge("t", &record(ChildOutcome::Exited(0), true, "")),
            Verdict::Passed
        );
        // Printing libtest's words proves nothing.
        let fake = "test t ... ok\n\ntest result: ok. 1 passed; 0 failed\n";
        assert_eq!(
            judge("t", &record(ChildOutcome::Exited(0), false, fake)),
            Verdict::ExitedEarly(0)
        );
        assert_eq!(
            judge("t", &record(ChildOutcome::Exited(3), true, "")),
            Verdict::ExitedEarly(3)
        );
    }

    #[test]
    fn failures_carry_the_tests_own_message() {
        let verdict = judge("second", &record(ChildOutcome::Exited(101), false, FAILED));
        assert_eq!(
            verdict,
            Verdict::Failed("not yet implemented: write 3 values".into())
        );
        assert_eq!(
            failure_message("other", "no panic here", ""),
            "the test failed"
        );
    }

    #[test]
    fn crashes_and_timeouts_are_named() {
        let crashed = judge(
            "t",
            &record(ChildOutcome::Signaled(Signal::SIGBUS), false, ""),
        );
        assert_eq!(crashed, Verdict::Crashed(Signal::SIGBUS));
        assert!(crashed.to_string().contains("killed by SIGBUS (signal 7)"));
        let limit = Duration::from_secs(10);
        let timed_out = judge("t", &record(ChildOutcome::TimedOut(limit), true, ""));
        assert_eq!(timed_out, Verdict::TimedOut(limit));
        assert!(timed_out.to_string().starts_with("did not finish in 10 s"));
    }

    #[test]
    fn a_message_cannot_repaint_the_terminal() {
        let sneaky = Verdict::Failed("\u{1b}[1A\u{1b}[2K  pass 2/2\nnext line\tok".into());
        assert_eq!(sneaky.to_string(), "?[1A?[2K  pass 2/2\nnext line\tok");
    }
}
