//! `cargo xtask grade`: score the exercises of this tree, or (`--template`)
//! a student's exercise files with a pristine copy's tests, in the
//! instructor's sandbox. The grading itself is the core's
//! ([`tooling::grade::grade_tree`]).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use test_support::layout as lessons;
use tooling::grade::report::{self, Format};
use tooling::grade::{
    Event, Graded, Limits, all_exercises, check_environment, choose, emit, grade_tree, markdown,
    one_line, table, tests_of, totals, write_atomically,
};
use tooling::manifest::Manifest;
use tooling::{Result, workspace_root};

use crate::sandbox::Sandbox;
use crate::submission::{canonical, grade_against_template, run_template_grader};

/// `grade`'s options.
pub struct Options {
    pub lesson: Option<String>,
    pub json: Option<PathBuf>,
    pub format: Format,
    pub summary: Option<PathBuf>,
    pub template: Option<PathBuf>,
    pub submission: Option<PathBuf>,
    pub limits: Limits,
    pub verbose: bool,
}

/// `grade`'s command line (clap); `None` when `--help` was printed.
fn parse_options(args: &[OsString]) -> Result<Option<Options>> {
    /// `grade [LESSON] [--timeout SECS] [--jobs N] [--json FILE [--format F]]
    /// [--summary FILE] [--template DIR [--submission DIR]]`.
    #[derive(Debug, clap::Parser)]
    struct Grade {
        /// Grade only this lesson (by name or number).
        lesson: Option<String>,
        /// Seconds a test may take, 0.1 to 3600 (default 10).
        #[arg(long, value_name = "SECS", value_parser = timeout)]
        timeout: Option<Duration>,
        /// How many tests run at once, from 1 to 64.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
        jobs: Option<u8>,
        /// Also write the result as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// workbook (the default), gradescope or classroom50.
        #[arg(long, value_name = "F", value_parser = format)]
        format: Option<Format>,
        /// Write (or append to) a Markdown summary in FILE.
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
        /// Grade with DIR's graded tests and grader.
        #[arg(long, value_name = "DIR")]
        template: Option<PathBuf>,
        /// With --template: the copy to grade (default: here).
        #[arg(long, value_name = "DIR")]
        submission: Option<PathBuf>,
        /// A line per test as it ends.
        #[arg(short, long)]
        verbose: bool,
    }
    fn timeout(text: &str) -> std::result::Result<Duration, String> {
        text.parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| "seconds per test, from 0.1 to 3600".to_owned())
    }
    fn format(name: &str) -> std::result::Result<Format, String> {
        Format::parse(name).ok_or_else(|| format!("--format takes {}", Format::NAMES))
    }
    let Some(parsed) = tooling::args::parse::<Grade>("grade", args.to_vec())? else {
        return Ok(None);
    };
    let mut limits = Limits::default();
    if let Some(timeout) = parsed.timeout {
        limits.timeout = timeout;
    }
    if let Some(jobs) = parsed.jobs {
        limits.jobs = jobs.into();
    }
    Ok(Some(Options {
        lesson: parsed.lesson,
        json: parsed.json,
        format: parsed.format.unwrap_or(Format::Workbook),
        summary: parsed.summary,
        template: parsed.template,
        submission: parsed.submission,
        limits,
        verbose: parsed.verbose,
    }))
}

pub fn cmd_grade(args: Vec<OsString>) -> Result<ExitCode> {
    let Some(options) = parse_options(&args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let root = workspace_root()?;
    if let Some(template) = &options.template {
        let template = canonical(template, "--template")?;
        if template != root {
            // The grader that runs must be the template's, not the one in
            // the tree being graded: hand over to it.
            return run_template_grader(&template, &args, &root);
        }
    }
    // A broken machine is not a score: one line, exit code 2, no table;
    // for grade-all, a report that says so.
    // (Gradescope's and Classroom 50's runners see no report and say so:
    // Classroom 50 shows an infrastructure error, never a score.)
    if let Err(problem) = check_environment() {
        if let (Some(path), Format::Workbook) = (&options.json, options.format) {
            let _ = write_atomically(path, report::environment_json(&problem).as_bytes());
        }
        return Err(problem.into());
    }
    let mut shown = Shown::new(options.verbose);
    let graded = match &options.template {
        Some(template) => {
            let template = canonical(template, "--template")?;
            let submission = match &options.submission {
                Some(dir) => fs::canonicalize(dir)
                    .ok()
                    .filter(|d| d.is_dir())
                    .ok_or_else(|| {
                        format!(
                            "--submission {}: not a directory; name a student's copy of the handout",
                            dir.display()
                        )
                    })?,
                None => root.clone(),
            };
            grade_against_template(
                &template,
                &submission,
                options.lesson.as_deref(),
                options.limits,
                &mut |e| shown.show(e),
            )?
        }
        None => {
            if let Some(submission) = &options.submission {
                return Err(format!(
                    "--submission {} needs --template: name the pristine copy to grade it \
                     against, for example: cargo xtask grade --template . --submission {}",
                    submission.display(),
                    submission.display()
                ));
            }
            grade_own_tree(&root, &options, &mut |e| shown.show(e))?
        }
    };
    shown.done();
    let Graded { results, changed } = graded;
    if !changed.is_empty() {
        let mut warning = String::from(if options.template.is_some() {
            "warning: these graded files differ from the handout and were not used (the\n\
             template's own were):"
        } else {
            "warning: these graded files differ from the handout, so this score is not\n\
             the one your instructor will see (they grade with the original files):"
        });
        for change in &changed {
            warning.push_str(&format!("\n  {change}"));
        }
        shown.show(Event::Warning(warning));
    }
    if let Some(path) = &options.json {
        write_atomically(path, options.format.render(&results, &changed).as_bytes()).map_err(
            |e| {
                format!(
                    "cannot write {}: {e}. Choose a writable path for --json.",
                    path.display()
                )
            },
        )?;
        shown.show(Event::Warning(format!(
            "Wrote the JSON report to {}",
            path.display()
        )));
    }
    if let Some(path) = &options.summary {
        let exercises = all_exercises(&root);
        let summary = markdown("Exercise results", &results, &exercises);
        append_or_write(path, &summary).map_err(|e| {
            format!(
                "cannot write {}: {e}. Choose a writable path for --summary.",
                path.display()
            )
        })?;
    }
    emit(&table(&results))?;
    let (score, max) = totals(&results);
    Ok(if score == max {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How `grade` shows its progress on stderr: with `--verbose`, a line per
/// test as it ends; on a terminal, one line rewritten in place; otherwise a
/// line per lesson built. Warnings always. A closed stderr is ignored.
struct Shown {
    verbose: bool,
    terminal: bool,
    /// A progress line is on the screen, to be cleared.
    dirty: bool,
}

impl Shown {
    fn new(verbose: bool) -> Shown {
        use std::io::IsTerminal;
        Shown {
            verbose,
            terminal: std::io::stderr().is_terminal(),
            dirty: false,
        }
    }

    fn show(&mut self, event: Event<'_>) {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let (line, transient) = match event {
            Event::Warning(text) => (text, false),
            Event::Building(lesson) => {
                let text = format!("building the graded tests of {lesson}...");
                (text, self.terminal && !self.verbose)
            }
            Event::Ran { result, .. } if self.verbose => (
                format!(
                    "  {:<11} {}::{} ({:.2} s)",
                    result.verdict.status(),
                    result.test.lesson,
                    result.test.name,
                    result.elapsed.as_secs_f64()
                ),
                false,
            ),
            Event::Ran { done, of, .. } if self.terminal => {
                (format!("ran {done} of {of} graded tests..."), true)
            }
            Event::Ran { .. } => return,
        };
        if self.dirty {
            let _ = write!(err, "\r\x1b[K");
            self.dirty = false;
        }
        if transient {
            let _ = write!(err, "{}", one_line(&line, 79));
            self.dirty = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Clears the progress line (also when grading stops with an error).
    fn done(&mut self) {
        use std::io::Write;
        if self.dirty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            self.dirty = false;
        }
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        self.done();
    }
}

/// Appends to a file that exists and is not empty (GitHub's job summary
/// collects every step's), else writes it whole.
fn append_or_write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if path.metadata().is_ok_and(|m| m.len() > 0) {
        fs::OpenOptions::new()
            .append(true)
            .open(path)?
            .write_all(text.as_bytes())
    } else {
        write_atomically(path, text.as_bytes())
    }
}

/// Grades the tree the grader belongs to. In a handout, the graded tests and
/// the maximum come from its manifest, and changed graded files are named.
fn grade_own_tree(
    root: &Path,
    options: &Options,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Graded> {
    let all = lessons::discover(root)?;
    let chosen = choose(root, &all, options.lesson.as_deref())?;
    let (tests, changed) = match Manifest::read(root) {
        Some(manifest) => {
            let manifest = manifest?;
            let mut changed = manifest.changes(root);
            changed.extend(manifest.additions(root));
            let tests = manifest
                .tests
                .into_iter()
                .filter(|t| chosen.iter().any(|l| l.name == t.lesson))
                .collect();
            (tests, changed)
        }
        None => (tests_of(&chosen)?, Vec::new()),
    };
    let results = grade_tree(
        root,
        &all,
        &tests,
        &HashMap::new(),
        options.limits,
        tooling::grade::Guards {
            check_files: scan::check_lesson,
            isolation: Some(&Sandbox::new()),
        },
        progress,
    )?;
    Ok(Graded { results, changed })
}
