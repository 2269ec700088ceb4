//! `cargo xtask timings`: how long each lesson's walkthrough takes, for the
//! README.

use std::ffi::OsString;
use std::process::ExitCode;

use support::say;
use test_support::layout as lessons;
use tooling::Result;

pub fn cmd_timings(args: Vec<OsString>) -> Result<ExitCode> {
    /// `timings [RUNS]`.
    #[derive(Debug, clap::Parser)]
    struct Timings {
        /// How many times each walkthrough runs (default 20).
        #[arg(value_parser = tooling::args::positive)]
        runs: Option<u64>,
    }
    let Some(Timings { runs }) = tooling::args::parse("timings", args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let runs = usize::try_from(runs.unwrap_or(20)).map_err(|e| e.to_string())?;
    let root = tooling::workspace_root()?;
    let lessons = lessons::discover(&root)?;
    let mut build = tooling::cargo();
    build
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    for lesson in &lessons {
        build.args(["--package", &lesson.name]);
    }
    if !build
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?
        .success()
    {
        return Err("the lessons did not build".into());
    }
    let target = tooling::target_dir(&root);
    let scratch = std::env::temp_dir();
    say!(
        "{:<20} {:>10} {:>10}   ({runs} runs each, release build)",
        "lesson",
        "median",
        "slowest"
    );
    for lesson in &lessons {
        let binary = target.join("release").join(&lesson.name);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = std::time::Instant::now();
            let status = std::process::Command::new(&binary)
                .current_dir(&scratch)
                .stdout(std::process::Stdio::null())
                .status()
                .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
            times.push(started.elapsed());
            if !status.success() {
                return Err(format!(
                    "{} {}",
                    lesson.name,
                    support::ChildOutcome::from(status)
                ));
            }
        }
        times.sort();
        let ms = |d: std::time::Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        say!(
            "{:<20} {:>10} {:>10}",
            lesson.name,
            ms(times[runs / 2]),
            ms(times[runs - 1])
        );
    }
    Ok(ExitCode::SUCCESS)
}
