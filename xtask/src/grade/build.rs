//! Building a lesson's graded tests once, before any learner code runs.
//!
//! `cargo test --no-run --message-format=json` names the test binary it
//! built, or gives the compiler's errors as data: nothing here reads
//! cargo's human-readable output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::ChildOutcome;

use crate::json;

/// The most one lesson's build may take, dependencies included; then the
/// whole process group (cargo and every rustc) is killed.
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// Refuses to build when a cargo configuration or a toolchain file that
/// cargo or rustup would read (in the tree or any directory above it)
/// belongs to someone other than this user or root: a test run as a
/// throwaway user could have planted it, to run code of its own in the
/// next build.
fn refuse_planted_configuration(root: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    for dir in root.ancestors() {
        for name in [
            ".cargo",
            ".cargo/config",
            ".cargo/config.toml",
            "rust-toolchain",
            "rust-toolchain.toml",
        ] {
            let path = dir.join(name);
            if let Ok(meta) = path.symlink_metadata()
                && meta.uid() != me
                && meta.uid() != 0
            {
                return Err(format!(
                    "{} belongs to user {}, not to you: cargo would read it while building \
                     the graded tests. Remove it (a test may have planted it), then grade again.",
                    path.display(),
                    meta.uid()
                ));
            }
        }
    }
    Ok(())
}

/// What building one lesson's graded tests gave.
#[derive(Debug)]
pub enum Built {
    /// The graded test binary.
    Binary(PathBuf),
    /// It did not compile: the first error, as the compiler rendered it.
    DoesNotCompile(String),
}

/// Builds `package`'s `graded` test target in the workspace at `root`, with
/// the target directory `target` (which belongs to that tree).
pub fn build_graded(root: &Path, target: &Path, package: &str) -> Result<Built, String> {
    refuse_planted_configuration(root)?;
    let mut command = Command::new(crate::cargo_program());
    // The compiler of the cargo that runs us, whatever toolchain file a
    // directory above the tree may name.
    if let Some(rustc) = std::path::Path::new(&crate::cargo_program())
        .parent()
        .map(|bin| bin.join("rustc"))
        .filter(|rustc| rustc.is_file())
    {
        command.env("RUSTC", rustc);
    }
    command
        .args(["test", "--no-run", "--message-format=json", "--package"])
        .arg(package)
        .args(["--test", "graded", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never");
    if root.join("Cargo.lock").is_file() {
        command.arg("--locked");
    }
    let (outcome, stdout, stderr) = super::run::output_in_group(&mut command, BUILD_LIMIT)?;
    let mut executable = None;
    let mut first_error = None;
    for line in stdout.lines() {
        let Ok(message) = json::parse(line) else {
            continue; // not one of cargo's messages (a build script's output, say)
        };
        match message.get("reason").and_then(json::Value::as_str) {
            Some("compiler-artifact") => {
                let target = message.get("target");
                let is_graded = target
                    .and_then(|t| t.get("name"))
                    .and_then(json::Value::as_str)
                    == Some("graded");
                let is_test = target
                    .and_then(|t| t.get("kind"))
                    .and_then(json::Value::as_array)
                    .is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some("test")));
                if is_graded && is_test {
                    executable = message
                        .get("executable")
                        .and_then(json::Value::as_str)
                        .map(PathBuf::from);
                }
            }
            Some("compiler-message") if first_error.is_none() => {
                let diagnostic = message.get("message");
                let level = diagnostic
                    .and_then(|m| m.get("level"))
                    .and_then(json::Value::as_str);
                if level == Some("error") {
                    first_error = diagnostic
                        .and_then(|m| m.get("rendered"))
                        .and_then(json::Value::as_str)
                        .map(|r| r.lines().take(12).collect::<Vec<_>>().join("\n"));
                }
            }
            _ => {}
        }
    }
    if let ChildOutcome::TimedOut(limit) = outcome {
        return Ok(Built::DoesNotCompile(format!(
            "the build did not finish in {} s (a constant that computes forever?)",
            limit.as_secs()
        )));
    }
    match (outcome.is_success(), executable) {
        (true, Some(path)) => Ok(Built::Binary(path)),
        (true, None) => Err(format!(
            "cargo built {package} but named no `graded` test binary; \
             does lessons/NN-{package}/tests/graded.rs exist?"
        )),
        (false, _) => Ok(Built::DoesNotCompile(first_error.unwrap_or_else(|| {
            let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("cargo {outcome}:\n{}", tail.join("\n"))
        }))),
    }
}
