//! Grading a class, the three ways an instructor does it: `grade-all` on
//! their own machine, Gradescope's autograder, and Classroom 50's grader.
//! Each runs for real on made-up submissions of a one-lesson handout.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::ChildOutcome;
use support::spawn::{Captured, output_bounded};

mod warm;

const LIMIT: Duration = Duration::from_secs(600);
const EXERCISES: &str = "lessons/01-file-mapping/src/exercises.rs";
const HEXDUMP_STUB: &str = "todo!(\"map {} read-only and hexdump it\", path.display())";
/// Exercise 1.3's stub: a pure function, so its runner has no filter on
/// reading files (the probe below must be able to read what it finds).
const ROUND_STUB: &str = "todo!(\"round {len} up to a multiple of {page_size}\")";

/// The grader's `ARGS` in `cwd`, as `cargo xtask ARGS` runs them there
/// (the workbook it finds from there, no target directory of ours), but
/// without building that tree's own copy of the tooling first (about 10 s
/// of CPU a tree): the code is the same. `cargo xtask` in a handout, the
/// way to it, is what the attack suite and `verify` go through.
fn xtask(cwd: &Path, args: &[&str]) -> Captured {
    let run = output_bounded(
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(args)
            .current_dir(cwd)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR"),
        LIMIT,
    )
    .unwrap();
    assert!(
        !matches!(run.outcome, ChildOutcome::TimedOut(_)),
        "xtask {args:?} in {} hung",
        cwd.display()
    );
    run
}

/// Gradescope's `run_autograder`, from `root/source`, with `root` as its
/// root; returns its run and the `results.json` it wrote.
fn run_autograder(root: &Path) -> (Captured, String) {
    let run = output_bounded(
        Command::new("bash")
            .arg(root.join("source/run_autograder"))
            .env("AUTOGRADER_ROOT", root)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR"),
        LIMIT,
    )
    .unwrap();
    assert!(run.outcome.is_success(), "{}\n{}", run.stdout, run.stderr);
    let results = fs::read_to_string(root.join("results/results.json")).unwrap();
    (run, results)
}

/// This workbook's root.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

/// Lesson 1's maximum, from its graded tests' `// points:` lines.
fn lesson_1_max() -> String {
    let lesson = test_support::layout::find(workspace(), "file-mapping").unwrap();
    let points: u32 = lesson
        .graded_tests()
        .unwrap()
        .iter()
        .map(|t| t.points)
        .sum();
    assert!(
        points > 2,
        "the checks below need more than one 2-point test"
    );
    points.to_string()
}

/// The reference solutions of lesson 1, from this workbook.
fn reference_exercises() -> String {
    fs::read_to_string(workspace().join(EXERCISES)).unwrap()
}

fn git(dir: &Path, args: &[&str], date: &str) {
    let output = Command::new("git")
        .args(["-c", "user.name=Student", "-c", "user.email=s@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
}

/// A student's clone: the handout with `exercises` committed on `date`.
fn student(dir: &Path, handout: &Path, exercises: &str, date: &str) -> PathBuf {
    let status = Command::new("cp")
        .arg("-a")
        .arg(handout)
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
    fs::write(dir.join(EXERCISES), exercises).unwrap();
    git(dir, &["init", "-q"], date);
    git(dir, &["add", "."], date);
    git(dir, &["commit", "-qm", "my work"], date);
    dir.to_owned()
}

#[test]
fn grade_all_gives_every_submission_its_row() {
    let scratch = tempfile::tempdir().unwrap();
    let template = scratch.path().join("template");
    let run = xtask(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "handout",
            template.to_str().unwrap(),
            "--lessons",
            "file-mapping",
        ],
    );
    assert!(run.outcome.is_success(), "{}", run.stderr);
    // The one-lesson handout's book links to no chapter it left out.
    let src = template.join("book/src");
    for page in fs::read_dir(&src).unwrap().flatten() {
        let text = fs::read_to_string(page.path()).unwrap_or_default();
        for (at, _) in text.match_indices("](") {
            let target = text[at + 2..].split([')', '#']).next().unwrap();
            if target.ends_with(".md") && !target.contains("://") {
                assert!(
                    src.join(target).is_file(),
                    "{} links to {target}, which the handout left out",
                    page.path().display()
                );
            }
        }
    }
    let stubs = fs::read_to_string(template.join(EXERCISES)).unwrap();
    let class = scratch.path().join("class");
    fs::create_dir(&class).unwrap();
    // Private, as grade-all requires of a class as root.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&class, fs::Permissions::from_mode(0o700)).unwrap();
    // The reference, finished before the deadline, then broken after it.
    let ada = student(
        &class.join("ada"),
        &template,
        &reference_exercises(),
        "2026-01-01T12:00:00Z",
    );
    fs::write(ada.join(EXERCISES), "this does not compile").unwrap();
    git(&ada, &["commit", "-qam", "oops"], "2026-03-01T12:00:00Z");
    student(
        &class.join("bob"),
        &template,
        &stubs,
        "2026-01-02T12:00:00Z",
    );
    student(
        &class.join("cyd"),
        &template,
        &stubs.replace(HEXDUMP_STUB, "}"),
        "2026-01-03T12:00:00Z",
    );
    student(
        &class.join("dee"),
        &template,
        &stubs.replace(HEXDUMP_STUB, "loop { std::hint::black_box(0); }"),
        "2026-01-04T12:00:00Z",
    );

    // After the students' copies: a clone holds no build cache.
    warm::target_of(&template);
    warm::submissions_of(&template);
    let csv = scratch.path().join("grades.csv");
    let feedback = scratch.path().join("feedback");
    let run = xtask(
        &template,
        &[
            "grade-all",
            class.to_str().unwrap(),
            "--template",
            ".",
            "--at",
            "2026-02-01T00:00:00Z",
            "--csv",
            csv.to_str().unwrap(),
            "--feedback",
            feedback.to_str().unwrap(),
            "--timeout",
            "2",
        ],
    );
    assert!(run.outcome.is_success(), "{}\n{}", run.stdout, run.stderr);
    // A progress line per submission, with its time.
    for name in ["ada", "bob", "cyd", "dee"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(name) && l.contains(" s")),
            "no progress line for {name}:\n{}",
            run.stderr
        );
    }
    let csv = fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (total, max, status, reason) = (
        column("total"),
        column("max"),
        column("status"),
        column("reason"),
    );
    assert!(
        header.contains(&"file-mapping::hexdump_through_mapping"),
        "{csv}"
    );
    assert_eq!(rows.len(), 5, "{csv}");
    let row = |student: &str| rows.iter().find(|r| r[0] == student).unwrap().clone();

    let max_points = lesson_1_max();
    let ada = row("ada");
    assert_eq!(
        (ada[total], ada[max], ada[status]),
        (max_points.as_str(), max_points.as_str(), "graded"),
        "{csv}"
    );
    assert_eq!(ada[1].len(), 40, "graded at a named commit: {csv}");
    let bob = row("bob");
    assert_eq!(
        (bob[total], bob[max], bob[status]),
        ("0", max_points.as_str(), "graded"),
        "{csv}"
    );
    // A status per lesson, beside the row's.
    let lesson_status = column("status:file-mapping");
    assert_eq!(ada[lesson_status], "graded", "{csv}");
    let cyd = row("cyd");
    assert_eq!((cyd[total], cyd[status]), ("0", "did-not-run"), "{csv}");
    assert_eq!(cyd[reason], "file-mapping does not compile", "{csv}");
    assert_eq!(cyd[lesson_status], "did-not-compile", "{csv}");
    // A test that loops forever ran: its verdict is the timeout, and the
    // lesson says so; the row is graded.
    let dee = row("dee");
    assert_eq!((dee[total], dee[status]), ("0", "graded"), "{csv}");
    assert!(dee[reason].contains("did not finish in 2 s"), "{csv}");
    assert_eq!(dee[lesson_status], "timed-out", "{csv}");

    let bob_feedback = fs::read_to_string(feedback.join("bob.md")).unwrap();
    assert!(
        bob_feedback.contains(&format!("**Score: 0/{max_points}**")),
        "{bob_feedback}"
    );
    // Grouped per exercise: each title once with its points, each failing
    // test on one line with its reason, each hint once.
    let exercises = test_support::layout::exercises::of_lesson(
        &test_support::layout::find(&template, "file-mapping").unwrap(),
    )
    .unwrap();
    for exercise in &exercises {
        assert_eq!(
            bob_feedback
                .matches(&format!("### {} (0/", exercise.title))
                .count(),
            1,
            "{bob_feedback}"
        );
        if let Some(hint) = &exercise.hint {
            let first = hint.lines().next().unwrap();
            assert_eq!(
                bob_feedback.matches(first).count(),
                1,
                "the hint once: {bob_feedback}"
            );
        }
    }
    assert!(
        bob_feedback
            .lines()
            .any(|l| l.starts_with("- FAIL `") && l.contains("not yet implemented")),
        "{bob_feedback}"
    );
    // A lesson that does not compile: its first error, once.
    let cyd_feedback = fs::read_to_string(feedback.join("cyd.md")).unwrap();
    let compiler_errors = cyd_feedback
        .lines()
        .filter(|l| l.starts_with("error"))
        .count();
    assert_eq!(compiler_errors, 1, "{cyd_feedback}");
    assert!(cyd_feedback.len() < 4000, "{cyd_feedback}");
    let ada_feedback = fs::read_to_string(feedback.join("ada.md")).unwrap();
    assert!(
        ada_feedback.contains("Every graded test passes."),
        "{ada_feedback}"
    );
}

#[test]
fn the_gradescope_and_classroom50_packages_grade_a_submission() {
    let scratch = tempfile::tempdir().unwrap();
    let package = scratch.path().join("gradescope");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = xtask(
        here,
        &[
            "gradescope",
            package.to_str().unwrap(),
            "--lessons",
            "file-mapping",
        ],
    );
    assert!(run.outcome.is_success(), "{}", run.stderr);
    for name in [
        "setup.sh",
        "run_autograder",
        "autograder.zip",
        "workbook/.workbook/manifest",
    ] {
        assert!(package.join(name).exists(), "{name} is missing");
    }
    let setup = fs::read_to_string(package.join("setup.sh")).unwrap();
    assert!(setup.contains("--default-toolchain 1.95.0"), "{setup}");

    // Gradescope's directories, under a root of our own: the zip's contents
    // in source/, the student's repository in submission/.
    let root = scratch.path().join("autograder");
    fs::create_dir_all(root.join("source")).unwrap();
    for name in ["setup.sh", "run_autograder", "workbook"] {
        let status = Command::new("cp")
            .arg("-a")
            .arg(package.join(name))
            .arg(root.join("source"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    // The upload as GitHub's "Download ZIP" makes it: one top-level folder.
    let upload = root.join("submission/mmap-workbook-main");
    fs::create_dir_all(root.join("submission")).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(package.join("workbook"))
        .arg(&upload)
        .status()
        .unwrap();
    assert!(status.success());
    warm::target_of(&root.join("source/workbook"));
    warm::submissions_of(&root.join("source/workbook"));
    let stubs = fs::read_to_string(upload.join(EXERCISES)).unwrap();
    // Exercise 1.3 solved (2 points); the graded tests rigged to pass.
    fs::write(
        upload.join(EXERCISES),
        stubs.replace(
            "todo!(\"round {len} up to a multiple of {page_size}\")",
            "len.div_ceil(page_size) * page_size",
        ),
    )
    .unwrap();
    let graded = upload.join("lessons/01-file-mapping/tests/graded.rs");
    let rigged = fs::read_to_string(&graded)
        .unwrap()
        .replace("graded(|| {", "graded(|| { return;");
    fs::write(&graded, rigged).unwrap();
    let (_, results) = run_autograder(&root);
    assert!(results.starts_with("{\"score\":2,"), "{results}");
    assert!(results.contains("\"status\":\"passed\""), "{results}");
    assert!(
        results.contains("\"max_score\":2,\"status\":\"failed\""),
        "{results}"
    );
    assert!(results.contains("differ from the handout"), "{results}");

    // An upload without the workbook: no test ran, and the output says
    // where the grader looked.
    let empty = scratch.path().join("empty-upload");
    fs::create_dir_all(empty.join("submission/notes")).unwrap();
    fs::rename(root.join("source"), empty.join("source")).unwrap();
    let (_, results) = run_autograder(&empty);
    assert!(results.starts_with("{\"score\":0,"), "{results}");
    assert!(
        results.contains("no lessons/ folder in ") && results.contains("notes/"),
        "{results}"
    );
    let value: Vec<&str> = results.matches("\"output\":").collect();
    assert_eq!(value.len(), 1, "{results}");
    fs::rename(empty.join("source"), root.join("source")).unwrap();

    // Classroom 50: autograder.py runs in the student's checkout.
    let python = Command::new("python3").arg("--version").output();
    if python.is_err() {
        eprintln!("python3 is not installed: Classroom 50's autograder.py was not run");
        return;
    }
    let config = scratch.path().join("classroom50");
    let run = xtask(
        here,
        &[
            "classroom50",
            config.to_str().unwrap(),
            "--lessons",
            "file-mapping",
        ],
    );
    assert!(run.outcome.is_success(), "{}", run.stderr);
    assert!(
        !config
            .join("workbook/.github/workflows/autograde.yaml")
            .exists()
    );
    // Reuse the dependencies Gradescope's run built.
    let status = Command::new("cp")
        .arg("-a")
        .arg(root.join("source/workbook/target"))
        .arg(config.join("workbook/target"))
        .status()
        .unwrap();
    assert!(status.success());
    let checkout = upload.clone();
    let run = output_bounded(
        Command::new("python3")
            .arg(config.join("autograder.py"))
            .current_dir(&checkout)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR")
            .env("CLASSROOM", "os-101")
            .env("ASSIGNMENT", "mmap")
            .env("SUBMISSION_TAG", "submit/3")
            .env("COMMIT_URL", "https://example.com/c")
            .env("RELEASE_URL", "https://example.com/r")
            .env("REVIEW_URL", "https://example.com/v"),
        LIMIT,
    )
    .unwrap();
    assert!(run.outcome.is_success(), "{}\n{}", run.stdout, run.stderr);
    let result = fs::read_to_string(checkout.join("result.json")).unwrap();
    assert!(
        result.starts_with(
            "{\"schema\":\"classroom50/result/v1\",\"classroom\":\"os-101\",\"assignment\":\"mmap\",\"submission\":\"submit/3\""
        ),
        "{result}"
    );
    let max_points = lesson_1_max();
    assert!(
        result.contains(&format!("\"score\":2,\"max-score\":{max_points}")),
        "{result}"
    );
    let body = fs::read_to_string(checkout.join("release-body.md")).unwrap();
    assert!(
        body.contains(&format!("**Score: 2/{max_points}**")),
        "{body}"
    );
}

/// A machine that cannot run tests gets one line and exit code 2, never a
/// table of zeros; its JSON report says "environment-error" (what grade-all
/// records). The check comes before anything is built, so it is quick.
#[test]
fn a_broken_environment_is_not_a_score() {
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report.json");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = output_bounded(
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(["grade", "file-mapping", "--json"])
            .arg(&report)
            .current_dir(here)
            .env("TMPDIR", "/nonexistent"),
        LIMIT,
    )
    .unwrap();
    assert_eq!(run.outcome, ChildOutcome::Exited(2), "{}", run.stderr);
    assert_eq!(run.stdout, "", "no table");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: cannot grade here: TMPDIR=/nonexistent does not exist."),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Set TMPDIR"), "{}", run.stderr);
    let report = fs::read_to_string(&report).unwrap();
    assert!(
        report.contains("\"status\":\"environment-error\""),
        "{report}"
    );
}

// ---------------------------------------------------------------------------
// Helper J (issue 18): nothing leaks between students in grade-all.
// As root, each submission is graded from a private copy that its tests
// cannot read, no command line names a classmate's files, the class
// directory and the results must be private, and what earlier submissions
// built is gone from the build cache before the next one builds.
// ---------------------------------------------------------------------------

/// A fresh random word, so that what a test looks for exists nowhere else.
fn random_word() -> String {
    let mut bytes = [0u8; 8];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exercise 1.2 of a nosy student: it looks for classmates' files
/// everywhere a test can look (its own tree first, then every path on every
/// command line in /proc and its parents, then the temporary directories
/// and the homes: build caches left out, for time, but for its own tree's),
/// reads every `exercises.rs` and every build output of lesson 1 (under
/// 16 MiB) it can, and puts every "J-CLASS-" word it finds into its
/// failure message. On a
/// busy machine (many processes, many paths) it stops after 5 s, within
/// the runner's limit, and says so: it must reply to be judged.
const NOSY: &str = r#"{
    // One walk per runner, however many requests it serves.
    static PROBE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let message = PROBE.get_or_init(|| {
    let needle = concat!("J-CLA", "SS-").as_bytes();
    let started = std::time::Instant::now();
    let mut roots: Vec<std::path::PathBuf> = vec![
        "../..".into(), "../../target/debug/deps".into(),
    ];
    let mut from_cmdlines = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(line) = std::fs::read(entry.path().join("cmdline")) else { continue };
        for arg in line.split(|b| *b == 0) {
            let arg = String::from_utf8_lossy(arg).into_owned();
            if arg.starts_with('/') {
                from_cmdlines += 1;
                let path = std::path::PathBuf::from(arg);
                roots.extend(path.ancestors().skip(1).take(3).map(|p| p.to_path_buf()));
                roots.push(path);
            }
        }
    }
    roots.extend(["/tmp", "/var/tmp", "/dev/shm", "/srv", "/home", "/root"].map(Into::into));
    roots.push(std::env::temp_dir());
    let system = ["/", "/usr", "/usr/bin", "/usr/lib", "/bin", "/lib", "/etc", "/proc", "/sys", "/dev"];
    roots.retain(|r| !system.iter().any(|s| r == std::path::Path::new(s)));
    // Each once: a busy machine's compilers name the same folders by the hundred.
    let mut walked = std::collections::HashSet::new();
    roots.retain(|r| walked.insert(r.clone()));
    let mut cut_short = false;
    let (mut seen, mut read) = (0, 0);
    let mut found: Vec<String> = Vec::new();
    // Each root in turn, with a budget of its own.
    for root in roots {
    let budget = seen + 5_000;
    let mut stack: Vec<(std::path::PathBuf, usize)> = vec![(root, 0)];
    while let Some((dir, depth)) = stack.pop() {
        if depth > 6 || seen > budget { continue; }
        if started.elapsed() > std::time::Duration::from_secs(5) { cut_short = true; break; }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            if dir.is_file() { stack.push((dir.parent().unwrap_or(&dir).to_path_buf(), depth + 1)); }
            continue;
        };
        for entry in entries.flatten() {
            // Checked at every entry: one big folder or file must not
            // carry the walk past the runner's limit.
            if started.elapsed() > std::time::Duration::from_secs(5) { cut_short = true; break; }
            seen += 1;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            let skipped = [".git", "proc", "sys", "target", "registry", "toolchains"];
            if kind.is_dir() && !skipped.contains(&name.as_str()) {
                stack.push((path, depth + 1));
            } else if kind.is_file()
                && (name == "exercises.rs" || name.contains("file_mapping"))
                && entry.metadata().is_ok_and(|m| m.len() < 16 << 20)
            {
                let Ok(bytes) = std::fs::read(&path) else { continue };
                read += 1;
                for (at, window) in bytes.windows(needle.len()).enumerate() {
                    // A compiled program takes a while to search, unoptimised.
                    if at % (1 << 20) == 0 && started.elapsed() > std::time::Duration::from_secs(5) {
                        cut_short = true;
                        break;
                    }
                    if window != needle { continue; }
                    let end = (at + 24).min(bytes.len());
                    let word = String::from_utf8_lossy(&bytes[at + 8..end]).into_owned();
                    if !found.contains(&word) { found.push(word); }
                }
            }
        }
    }
    }
    // Its own word apart, and the others first: the feedback keeps one line.
    let own = &word()[8..];
    let seen_own = found.iter().any(|w| w == own);
    found.retain(|w| w != own);
    let cut = if cut_short { ", cut short at 5 s" } else { "" };
    format!("probe: others {} own {seen_own} ({from_cmdlines} paths on command lines, {seen} entries, {read} files{cut})", found.join(" "))
    });
    panic!("{message}")
}"#;

#[test]
fn no_student_reads_a_classmates_files_through_grade_all() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only root grades with throwaway users, and only they are kept apart");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // Where the throwaway users can reach the template (so that the tests
    // run as them), with a private class and private results inside.
    let base = test_support::reach::temp_base_for_others().expect("a /tmp that others can reach");
    let scratch = tempfile::tempdir_in(base).unwrap();
    fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let template = scratch.path().join("template");
    let run = xtask(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "handout",
            template.to_str().unwrap(),
            "--lessons",
            "file-mapping",
        ],
    );
    assert!(run.outcome.is_success(), "{}", run.stderr);
    let class = scratch.path().join("class");
    fs::create_dir(&class).unwrap();
    let stubs = fs::read_to_string(template.join(EXERCISES)).unwrap();
    // Ada and Zoe are graded before and after Eve; their words are in their
    // files and in their compiled code.
    let words: Vec<(&str, String)> = ["ada", "zoe", "eve"]
        .into_iter()
        .map(|name| (name, random_word()))
        .collect();
    for (name, word) in &words {
        let body = if *name == "eve" { NOSY } else { "{ todo!() }" };
        let exercises = format!(
            "// J-CLASS-{word}\n{}\npub fn word() -> &'static str {{ \"J-CLASS-{word}\" }}\n",
            stubs.replace(ROUND_STUB, body)
        );
        student(
            &class.join(name),
            &template,
            &exercises,
            "2026-01-01T12:00:00Z",
        );
    }
    warm::target_of(&template);
    warm::submissions_of(&template);
    let results = scratch.path().join("results");
    fs::create_dir(&results).unwrap();
    let csv = results.join("grades.csv");
    let feedback = results.join("feedback");
    let grade_all = |class: &Path| {
        xtask(
            &template,
            &[
                "grade-all",
                class.to_str().unwrap(),
                "--template",
                ".",
                "--csv",
                csv.to_str().unwrap(),
                "--feedback",
                feedback.to_str().unwrap(),
                "--timeout",
                "60",
            ],
        )
    };
    // A class directory others can reach is refused: from it, a student's
    // tests could read the others'.
    fs::set_permissions(&class, fs::Permissions::from_mode(0o755)).unwrap();
    let refused = grade_all(&class);
    assert!(!refused.outcome.is_success(), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("chmod 700 {}", class.display())),
        "{}",
        refused.stderr
    );
    fs::set_permissions(&class, fs::Permissions::from_mode(0o700)).unwrap();
    let run = grade_all(&class);
    assert!(run.outcome.is_success(), "{}\n{}", run.stdout, run.stderr);
    let eve_feedback = fs::read_to_string(feedback.join("eve.md")).unwrap();
    // The probe ran and its message reached Eve's feedback; it found her own
    // word (in the tree her tests run in), so it finds what it can read.
    // (Any word it finds is printed, but her own, which it only flags.)
    let eve_word = &words[2].1;
    assert!(eve_feedback.contains("probe: others"), "{eve_feedback}");
    assert!(eve_feedback.contains("own true"), "{eve_feedback}");
    assert!(!eve_feedback.contains(eve_word.as_str()), "{eve_feedback}");
    let csv_text = fs::read_to_string(&csv).unwrap();
    let eve_row = csv_text.lines().find(|l| l.starts_with("eve,")).unwrap();
    for (name, word) in &words[..2] {
        assert!(
            !eve_feedback.contains(word.as_str()) && !eve_row.contains(word.as_str()),
            "Eve read {name}'s files:\n{eve_feedback}\n{eve_row}"
        );
    }
    // Nothing of any student's in what grade-all said about the others.
    for (name, word) in &words {
        for (other, _) in words.iter().filter(|(o, _)| o != name) {
            let text = fs::read_to_string(feedback.join(format!("{other}.md"))).unwrap();
            assert!(
                !text.contains(word.as_str()),
                "{other}'s feedback holds {name}'s word"
            );
        }
    }
}
