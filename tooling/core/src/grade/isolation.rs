//! The one seam between the grading core and the instructor's sandbox.
//!
//! The core builds, runs and judges; it never decides how to confine code
//! someone else wrote. The instructor's grader (`workbook-grader`'s
//! `sandbox`) implements [`Isolation`]: Landlock for builds, a throwaway
//! user per job for tests. A learner's own commands pass none: their code
//! is theirs, and runs as they do.

use std::path::Path;
use std::process::Command;

/// What a sandbox does around code the grader did not write.
pub trait Isolation: Sync {
    /// Before a tree that is not the grader's own is built: gives `build`
    /// a minimal environment and whatever confinement the child applies
    /// before exec (with `pre_exec`). `target` is the one place the build
    /// may write; `rustc` the compiler it must be able to run.
    fn confine_build(
        &self,
        build: &mut Command,
        target: &Path,
        rustc: Option<&Path>,
    ) -> Result<(), String>;

    /// The throwaway user (and group) id job `job`'s tests run as, or
    /// `None` to run them as this process's user (not root).
    fn user(&self, job: usize) -> Option<u32>;

    /// Before the first test, when [`Isolation::user`] gives users: makes
    /// sure they can run the tests of `lessons` (name, directory), built in
    /// `target` of `root`, or says why not. Grading stops on an error:
    /// learner code never runs as root.
    fn prepare(&self, root: &Path, target: &Path, lessons: &[(&str, &Path)]) -> Result<(), String>;

    /// For a test process of job `job` in `cwd` that runs as a throwaway
    /// user: adds (with `pre_exec`) what the child does after the core's
    /// own setup (its session, descriptors, limits) and before exec: its
    /// namespaces, its view of the tree, its limits, and `setuid`.
    fn confine_test(&self, job: usize, command: &mut Command, cwd: &Path);
}
