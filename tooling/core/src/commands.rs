//! Every command of `cargo xtask`, for whom, its summary and its help: one
//! table for the three programs that run them (xtask, the grader, the
//! book), so a command's `--help` and the usage never disagree.

/// Who a command is for: the usage lists learners' commands first, and a
/// learner's copy (`cargo xtask init`, feature `instructor` off) has no
/// instructor's commands at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Audience {
    Learner,
    Author,
    Instructor,
}

#[derive(Debug)]
pub struct Command {
    pub audience: Audience,
    pub name: &'static str,
    pub summary: &'static str,
    pub help: &'static str,
}

pub const COMMANDS: &[Command] = &[
    Command {
        audience: Audience::Learner,
        name: "list",
        summary: "list the lessons, one line each",
        help: "Prints each lesson's number, name and question.",
    },
    Command {
        audience: Audience::Learner,
        name: "run-lesson",
        summary: "build and run a lesson's walkthrough",
        help: "\
Builds the lesson's binary and runs it in your current directory, passing
ARGS through. Name a lesson by its name (file-mapping) or number (1 or 01).
Example: cargo xtask run-lesson file-mapping -- --keep ./out",
    },
    Command {
        audience: Audience::Learner,
        name: "init",
        summary: "start your own copy of the exercises, ready to solve",
        help: "\
Writes your personal workbook to DIR (default ../mmap-workbook-exercises):
the lessons, the book and the learner's commands, with every exercise
replaced by its todo!() stub. DIR must be new or empty, and outside this
workbook; the copy appears whole or not at all. Then builds it once
(from the crates this workbook already compiled, where they fit), and
says what to run next. --lessons a,b copies only those lessons.",
    },
    Command {
        audience: Audience::Learner,
        name: "watch",
        summary: "grade the exercise you are on each time you save",
        help: "\
Finds your first unsolved exercise and grades it again whenever a file
under lessons/*/src is saved: its verdict, the first compiler error, and a
progress bar. Type a command and Enter: h (hint), n (next exercise),
q (quit). With a file or pipe as input, it reads the same commands, one per
line, and keeps watching after the last one until interrupted (Ctrl-C).",
    },
    Command {
        audience: Audience::Learner,
        name: "grade",
        summary: "score exercise work",
        help: "\
Builds the graded tests of every lesson (or of LESSON) once, then runs each
test alone, in its own process group, for at most --timeout seconds (default
10), --jobs at a time (default: the number of CPUs, at most 4). Prints a table
per test and the score; exits 1 below full marks. --json FILE also writes the
result as JSON, in the --format workbook (the default), gradescope (its
results.json) or classroom50 (its result.json, with the submission's details
from the CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, COMMIT_URL, RELEASE_URL and
REVIEW_URL variables). --summary FILE writes (or appends to) a Markdown
summary with the hint for every failure.

A test earns its points only if its body returned: printing libtest's \"ok\",
exiting early, looping or crashing earns nothing, and the table says which
happened. In a handout, the tests and the maximum come from its manifest, and
graded files that were changed are named.

Instructors: --template DIR grades the exercise files of --submission DIR
(default: this checkout) with DIR's own graded tests and grader, whatever the
submission changed. Run it from your pristine copy, for example:
  cargo xtask grade --template . --submission ../alice",
    },
    Command {
        audience: Audience::Instructor,
        name: "grade-all",
        summary: "grade a class's submissions against your pristine copy",
        help: "\
Run from your pristine copy of the handout (the template). SUBMISSIONS_DIR
holds one clone per student; each is graded with the template's tests and
grader (only its exercise files are taken), by a grader process of its own,
so a submission that does not compile, hangs, crashes or deletes its tests
gets its row and the batch goes on. A line per submission shows progress.

--at DEADLINE grades each clone at its last commit before DEADLINE (any date
git understands, e.g. '2026-12-01 23:59'), and names that commit. It trusts
commit dates, which students set (git commit --date): for a deadline that
holds, check out each clone yourself at the commit that reached your host
in time (the hosting service's push events or tag times), then grade
without --at. --csv FILE
writes a row per student: commit, points per exercise, total, maximum, and a
status with its reason (printed to stdout without --csv). --feedback DIR
writes STUDENT.md for each: what passed, what failed and why, and the hint.
--submission-timeout SECS bounds one submission's grading (default 1800);
then its grader, builds and tests are killed and its row says so. As root,
SUBMISSIONS_DIR must be private (chmod 700): tests run as other users.
Example: cargo xtask grade-all ../class --template . --csv grades.csv",
    },
    Command {
        audience: Audience::Instructor,
        name: "gradescope",
        summary: "write a Gradescope autograder package to DIR",
        help: "\
Writes DIR (new or empty): autograder.zip to upload to Gradescope, and what it
holds: setup.sh (installs the pinned toolchain and builds everything once),
run_autograder (grades /autograder/submission's exercise files with the
pristine handout in /autograder/source and writes results/results.json), and
workbook/, that handout. `grade --format gradescope` writes the same JSON
anywhere.",
    },
    Command {
        audience: Audience::Instructor,
        name: "classroom50",
        summary: "write a Classroom 50 grader to DIR",
        help: "\
Writes DIR (new or empty): autograder.py for the assignment's configuration
repository, and workbook/, the pristine handout it grades with. Classroom 50
runs autograder.py in the student's checkout; it writes result.json
(classroom50/result/v1) and release-body.md, the summary shown with it.",
    },
    Command {
        audience: Audience::Learner,
        name: "progress",
        summary: "which exercises you have solved, one line per lesson",
        help: "\
Builds each lesson's graded tests and shows, one line per lesson, which
exercises pass (# solved, . to do), the next one to do, and the total. A
lesson whose graded tests did not change since the last run keeps that run's
results; only the others are graded again. Exits 1 until every exercise
passes. `cargo xtask hint LESSON` then gives a nudge for the next one.",
    },
    Command {
        audience: Audience::Learner,
        name: "hint",
        summary: "the hint for your next unsolved exercise",
        help: "\
Grades LESSON's exercises and prints the hint of the first one that does not
pass yet, from its doc comment: a nudge, never the solution. Name EXERCISE
(its function, e.g. store_at, or its number, e.g. 3.2) for that one's hint.",
    },
    Command {
        audience: Audience::Author,
        name: "handout",
        summary: "write the student copy to DIR",
        help: "\
Copies the files git tracks to DIR (new or empty, outside the workbook), with
every solution region replaced by its stub, a README for students, a manifest
of the graded tests and files (.workbook/manifest), and a GitHub workflow that
grades each push and needs no service. --lessons a,b hands out only those
lessons (by name or number), with their chapters; the maximum follows.
The copy appears whole or not at all.",
    },
    Command {
        audience: Audience::Author,
        name: "new-lesson",
        summary: "scaffold the next lesson, ready to fill",
        help: "\
Writes lessons/NN-NAME/ (NN: the next number) in the one lesson shape: the
crate, whose description is QUESTION; a walkthrough with one step; its story
snapshot; tests (walkthrough, bad input, hostile, interrupt, graded); two
exercises; and book/src/NN-NAME.md, listed in SUMMARY.md. Then runs the
new crate's tests as CI does. NAME is kebab-case (page-cache). Nothing is
left behind on failure.
Example: cargo xtask new-lesson page-cache \"What does the page cache keep?\"",
    },
    Command {
        audience: Audience::Instructor,
        name: "verify",
        summary: "prove the grader honest",
        help: "\
Checks that every graded test passes on the reference solutions (full marks,
each test run alone as a student's is), then writes a handout to a temporary
directory and checks that it is clean under clippy -D warnings, that every
graded test fails there (score 0), and that stubs which loop forever or fake
libtest's verdict and exit also score 0.",
    },
    Command {
        audience: Audience::Author,
        name: "timings",
        summary: "time each lesson's walkthrough",
        help: "\
Builds every lesson (release profile) and runs each walkthrough RUNS times
(default 20) with its output discarded, then prints the median and the
slowest run. This is how the run times in the README were measured.",
    },
    Command {
        audience: Audience::Learner,
        name: "book",
        summary: "serve (default), build or check the book in a browser",
        help: "\
Builds the book into target/book with mdBook's library (nothing to install),
then serves it on 127.0.0.1 (default port 3000) under its site path. Saving
a chapter or a lesson's file rebuilds it, and the open pages reload.

--check opens every page in headless Chromium (Debian: apt-get install
chromium; or set CHROMIUM) at a 1280-pixel window and fails on: a status
other than 200, a console error or dialog, an unresolved {{# directive, an
ANCHOR line or an empty code block (an include's anchor missing), an image
that does not load, a link to a missing page or anchor, a code block
wider than a lesson chapter's column, or a search for SIGBUS that misses the
sigbus chapter. Failing pages are saved as screenshots in target/book-check/;
--screenshots DIR saves every page there instead.",
    },
];

/// The table's entry for `name`.
pub fn named(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// What runs a command: its arguments (after its name) in, an exit code or
/// an error (printed as `error: MESSAGE`, exit code 2) out.
pub type Run = fn(Vec<std::ffi::OsString>) -> crate::Result<std::process::ExitCode>;
