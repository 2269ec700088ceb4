//! A copy of the workbook with every solution region replaced by its stub
//! (see `test_support::layout::solutions`): what `handout` writes for a class and
//! `init` for one learner, through the one routine [`write_copy`].

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::grade::GradedTest;
use crate::manifest::{MANIFEST, Manifest};
use crate::{Result, files};
use support::cleanup;
use test_support::layout::solutions::strip_solutions;
use test_support::layout::{self as lessons, is_exercise_file};

/// `DIR [--lessons a,b]`, the arguments of `handout`, `gradescope` and
/// `classroom50`.
/// `None` when they asked for `--help` (printed), or without a directory
/// (`init`'s default).
pub fn parse_dir_and_lessons(
    args: Vec<OsString>,
    command: &'static str,
) -> Result<Option<(Option<PathBuf>, Option<String>)>> {
    /// `DIR [--lessons a,b]`.
    #[derive(Debug, clap::Parser)]
    struct DirAndLessons {
        /// The directory to write: new or empty.
        dir: Option<PathBuf>,
        /// Only these lessons, by name or number.
        #[arg(long, value_name = "a,b")]
        lessons: Option<String>,
    }
    Ok(crate::args::parse::<DirAndLessons>(command, args)?.map(|a| (a.dir, a.lessons)))
}

/// [`parse_dir_and_lessons`] for a command whose directory is required.
pub fn dir_and_lessons(
    args: Vec<OsString>,
    command: &'static str,
) -> Result<Option<(PathBuf, Option<String>)>> {
    let Some((dir, only)) = parse_dir_and_lessons(args, command)? else {
        return Ok(None);
    };
    let dir = dir.ok_or_else(|| {
        format!("{command} needs the directory to write: cargo xtask {command} DIR")
    })?;
    Ok(Some((dir, only)))
}

/// The lessons named in `list` (names or numbers, comma-separated), after
/// checking that every lesson one of them builds on is named too.
pub fn choose_lessons(root: &Path, list: &str) -> Result<Vec<lessons::Lesson>> {
    let all = lessons::discover(root)?;
    let mut chosen = Vec::new();
    for wanted in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let lesson = lessons::find(root, wanted)?;
        if !chosen
            .iter()
            .any(|l: &lessons::Lesson| l.name == lesson.name)
        {
            chosen.push(lesson);
        }
    }
    if chosen.is_empty() {
        return Err("--lessons names no lesson; for example: --lessons file-mapping,sigbus".into());
    }
    for lesson in &chosen {
        let manifest = fs::read_to_string(lesson.dir.join("Cargo.toml")).unwrap_or_default();
        for other in &all {
            let depends = manifest
                .lines()
                .any(|l| l.trim().starts_with(&format!("{}.workspace", other.name)));
            if depends && !chosen.iter().any(|c| c.name == other.name) {
                return Err(format!(
                    "{} builds on {} (its Cargo.toml depends on it): add {} to --lessons",
                    lesson.name, other.name, other.name
                ));
            }
        }
    }
    chosen.sort_by_key(|l| l.number);
    Ok(chosen)
}

/// What a handout holds.
#[derive(Debug)]
pub struct Written {
    /// Where it is, as a real path.
    pub dest: PathBuf,
    pub files: usize,
    pub stripped: usize,
}

/// Who a copy of the workbook is for, and what it adds to the copy. Both
/// recipients (a class's `handout`, a learner's `init`) get every exercise
/// stubbed and a manifest, through the one routine [`write_copy`].
pub struct Recipient<'a> {
    /// What the copy is called in messages: "handout", "copy".
    pub noun: &'static str,
    /// The directory name suggested instead of a refused one (beside the
    /// workbook).
    pub suggested: &'static str,
    /// Tracked paths (and everything under them) the copy leaves out.
    pub left_out: &'a [&'a str],
    /// Drop the book's chapters of lessons left out, and let cargo drop
    /// their crates from Cargo.lock, even when every lesson is copied.
    pub always_trim: bool,
    /// What the recipient adds to the copy, written into it.
    pub add: &'a dyn Fn(&Path) -> Result,
    /// The copy's README, from its lessons and graded tests.
    pub readme: &'a dyn Fn(&[lessons::Lesson], &[GradedTest]) -> String,
}

impl std::fmt::Debug for Recipient<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipient")
            .field("noun", &self.noun)
            .field("left_out", &self.left_out)
            .finish_non_exhaustive()
    }
}

/// Writes a copy of the workbook at `root` for `recipient` into `dest`
/// (new or an empty directory, outside the workbook): the files git
/// tracks, every solution replaced by its stub. The copy is made beside
/// `dest` and renamed into place, so `dest` ends up complete or untouched.
pub fn write_copy(
    root: &Path,
    dest: &Path,
    only: Option<&[lessons::Lesson]>,
    recipient: &Recipient<'_>,
) -> Result<Written> {
    let dest = files::destination(root, dest, recipient.noun, recipient.suggested)?;
    let mut tracked = files::tracked(root)?;
    // The lessons left out of the copy: their files, chapters and profiles.
    let mut dropped: Vec<lessons::Lesson> = Vec::new();
    if let Some(chosen) = only {
        dropped = lessons::discover(root)?
            .into_iter()
            .filter(|l| !chosen.iter().any(|c| c.name == l.name))
            .collect();
        let names: Vec<String> = dropped.iter().map(|l| l.dir_name()).collect();
        tracked.retain(|path| {
            !names.iter().any(|name| {
                path.starts_with(Path::new("lessons").join(name))
                    || path == &Path::new("book/src").join(format!("{name}.md"))
            })
        });
    }
    let parent = dest.parent().ok_or("the directory has no parent")?;
    // Ctrl-C while the copy is written must not leave the staging directory
    // behind: it is registered for removal by the cleanup signal handler
    // together with its creation (signals held back in between).
    let (staging, registration) = cleanup::protected(|| -> Result<_> {
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}-", recipient.noun))
            .tempdir_in(parent)
            .map_err(|e| format!("cannot write into {}: {e}", parent.display()))?;
        let registration = cleanup::register(staging.path(), cleanup::Removal::Tree)
            .map_err(|e| format!("cannot prepare the copy's removal on Ctrl-C: {e}"))?;
        Ok((staging, registration))
    })?;
    let filled =
        fill(root, &tracked, staging.path(), only, &dropped, recipient).and_then(|written| {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("cannot set the copy's permissions: {e}"))?;
            Ok(written)
        });
    // rename(2) replaces an empty directory, and fails on a non-empty one
    // (another writer got there first): either way nothing half-written stays.
    // Removed or renamed, then unregistered, with Ctrl-C held back: it finds
    // either the staging directory to remove, or nothing left to do.
    let written = cleanup::protected(move || {
        let moved = filled.and_then(|written| match fs::rename(staging.path(), &dest) {
            Ok(()) => Ok(Written { dest, ..written }),
            Err(e) => Err(format!("cannot move the copy into {}: {e}", dest.display())),
        });
        match moved {
            Ok(_) => drop(staging.keep()),
            Err(_) => drop(staging),
        }
        drop(registration);
        moved
    })?;
    Ok(written)
}

/// Copies `tracked` from `root` into `to`, stripping the solutions from the
/// exercise files, then adds what `recipient` needs (the workflow, or the
/// learner's settings), a README and the manifest. `dropped` are the
/// lessons left out.
fn fill(
    root: &Path,
    tracked: &[PathBuf],
    to: &Path,
    only: Option<&[lessons::Lesson]>,
    dropped: &[lessons::Lesson],
    recipient: &Recipient<'_>,
) -> Result<Written> {
    let left_out = |p: &PathBuf| recipient.left_out.iter().any(|l| p.starts_with(l));
    let chosen: Vec<PathBuf> = tracked.iter().filter(|p| !left_out(p)).cloned().collect();
    files::copy(root, &chosen, to)?;
    let mut stripped = 0;
    for relative in chosen.iter().filter(|p| is_exercise_file(p)) {
        let path = to.join(relative);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let stub = strip_solutions(&text).map_err(|e| format!("{}: {e}", relative.display()))?;
        fs::write(&path, stub).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        stripped += 1;
    }
    (recipient.add)(to)?;
    if only.is_some() || recipient.always_trim {
        trim_summary(to)?;
        unlink_left_out_chapters(to)?;
        let names: Vec<String> = dropped.iter().map(|l| l.name.clone()).collect();
        drop_profiles_of(to, &names)?;
        // Fewer crates: let cargo drop the others from Cargo.lock now, so
        // the first build does not change a file the manifest watches.
        let metadata = crate::cargo()
            .args([
                "update",
                "--workspace",
                "--offline",
                "--quiet",
                "--manifest-path",
            ])
            .arg(to.join("Cargo.toml"))
            .output()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        if !metadata.status.success() {
            return Err(format!(
                "cargo cannot read the handout's workspace: {}",
                String::from_utf8_lossy(&metadata.stderr).trim()
            ));
        }
    }
    let handed_out = lessons::discover(to)?;
    let mut tests = Vec::new();
    for lesson in &handed_out {
        tests.extend(lesson.graded_tests()?);
    }
    let readme = (recipient.readme)(&handed_out, &tests);
    fs::write(to.join("README.md"), readme)
        .map_err(|e| format!("cannot write the student's README.md: {e}"))?;
    let watched: Vec<PathBuf> = files::walk(to)?
        .into_iter()
        .filter(|p| !is_exercise_file(p) && p != Path::new(MANIFEST))
        .collect();
    let manifest = Manifest::describe(to, tests, &watched)?;
    let manifest_path = to.join(MANIFEST);
    fs::create_dir_all(manifest_path.parent().unwrap_or(to))
        .and_then(|()| fs::write(&manifest_path, manifest.to_text()))
        .map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
    Ok(Written {
        dest: to.to_owned(),
        files: chosen.len(),
        stripped,
    })
}

/// Drops the book's table-of-contents lines whose chapter was left out,
/// and a part's heading (`# For instructors`) left with no chapter.
fn trim_summary(to: &Path) -> Result {
    let path = to.join("book/src/SUMMARY.md");
    let Ok(summary) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut kept: Vec<&str> = summary
        .lines()
        .filter(|line| {
            let Some(start) = line.find("](") else {
                return true;
            };
            let target = line[start + 2..].split(')').next().unwrap_or_default();
            to.join("book/src").join(target).exists()
        })
        .collect();
    // A part heading followed (blank lines aside) by another heading or
    // the end has lost its chapters.
    let mut index = kept.len();
    while index > 0 {
        index -= 1;
        if !kept[index].starts_with("# ") || index == 0 {
            continue;
        }
        let empty = kept[index + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_none_or(|l| l.starts_with("# "));
        if empty {
            kept.remove(index);
        }
    }
    while kept.len() > 1 && kept[kept.len() - 1].trim().is_empty() {
        kept.pop();
    }
    fs::write(&path, kept.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// In every remaining page of the book, turns a link to a chapter that was
/// left out into its plain text, so the handout's book has no broken link.
fn unlink_left_out_chapters(to: &Path) -> Result {
    let src = to.join("book/src");
    let Ok(entries) = fs::read_dir(&src) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let kept = without_links_to_missing(&text, |target| src.join(target).exists());
        if kept != text {
            fs::write(&path, kept).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Removes from the copy's `Cargo.toml` the profile settings of the lessons
/// it leaves out (`[profile.dev.package.page-cache]`): cargo would warn on
/// every command that they match no package.
fn drop_profiles_of(to: &Path, left_out: &[String]) -> Result {
    if left_out.is_empty() {
        return Ok(());
    }
    let path = to.join("Cargo.toml");
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let kept = without_profiles_of(&text, left_out)?;
    if kept != text {
        fs::write(&path, kept).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `manifest` without its tables `[profile.P.package.NAME]` for `names`:
/// each from its header to the blank line that ends it, so that the
/// comments above the next table stay. The result is read back with `toml`
/// and must be the manifest without those tables, and nothing else changed.
fn without_profiles_of(manifest: &str, names: &[String]) -> Result<String> {
    let profile_of = |header: &str| -> Option<String> {
        let inner = header.strip_prefix('[')?.split(']').next()?;
        let (_, name) = inner
            .trim()
            .strip_prefix("profile.")?
            .split_once(".package.")?;
        Some(name.trim().trim_matches('"').to_owned())
    };
    let mut kept = String::with_capacity(manifest.len());
    let mut dropping = false;
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            dropping = profile_of(trimmed).is_some_and(|name| names.contains(&name));
        }
        if dropping {
            dropping = !trimmed.is_empty();
        } else {
            kept.push_str(line);
        }
    }
    let read = |text: &str| {
        text.parse::<toml::Table>()
            .map_err(|e| format!("cannot read the copy's Cargo.toml: {e}"))
    };
    let mut expected = read(manifest)?;
    if let Some(profiles) = expected.get_mut("profile").and_then(|p| p.as_table_mut()) {
        for (_, profile) in profiles.iter_mut() {
            let Some(profile) = profile.as_table_mut() else {
                continue;
            };
            if let Some(packages) = profile.get_mut("package").and_then(|p| p.as_table_mut()) {
                packages.retain(|name, _| !names.iter().any(|n| n == name));
                if packages.is_empty() {
                    profile.remove("package");
                }
            }
        }
        profiles.retain(|_, p| p.as_table().is_none_or(|t| !t.is_empty()));
        if profiles.is_empty() {
            expected.remove("profile");
        }
    }
    if read(&kept)? != expected {
        return Err(format!(
            "cannot leave the profiles of {} out of the copy's Cargo.toml: \
             each must be a table of its own, ended by a blank line",
            names.join(", ")
        ));
    }
    Ok(kept)
}

/// `markdown` with each link `[text](page.md...)` to a local page for which
/// `exists` says no replaced by `text`. Images, web links and links to
/// pages that exist are kept.
fn without_links_to_missing(markdown: &str, exists: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(at) = rest.find("](") {
        let (before, after) = (&rest[..at], &rest[at + 2..]);
        let open = before.rfind('[');
        let close = after.find(')');
        let (Some(open), Some(close)) = (open, close) else {
            out.push_str(&rest[..at + 2]);
            rest = after;
            continue;
        };
        let target = &after[..close];
        let page = target.split('#').next().unwrap_or_default();
        let is_image = before[..open].ends_with('!');
        let local_page = page.ends_with(".md") && !page.contains("://");
        if is_image || !local_page || exists(page) {
            out.push_str(&rest[..at + 2]);
            rest = after;
            continue;
        }
        out.push_str(&before[..open]);
        out.push_str(&before[open + 1..]);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The points of `lesson`'s graded tests among `tests`.
pub fn points_of(lesson: &lessons::Lesson, tests: &[GradedTest]) -> u32 {
    tests
        .iter()
        .filter(|t| t.lesson == lesson.name)
        .map(|t| t.points)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_left_out_chapters_become_plain_text() {
        let page = "See [SIGBUS](03-sigbus.md#step-2) and [maps](02-process-maps.md), \
                    ![fig](img/a.svg), [web](https://x.org/a.md), [x] (y).";
        let kept = super::without_links_to_missing(page, |p| p == "02-process-maps.md");
        assert_eq!(
            kept,
            "See SIGBUS and [maps](02-process-maps.md), ![fig](img/a.svg), \
             [web](https://x.org/a.md), [x] (y)."
        );
    }

    #[test]
    fn a_copy_drops_the_profiles_of_the_lessons_it_leaves_out() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let manifest = fs::read_to_string(root).unwrap();
        let names = ["page-cache".to_owned(), "shared-memory-ipc".to_owned()];
        assert!(manifest.contains("[profile.dev.package.page-cache]"));
        let kept = without_profiles_of(&manifest, &names).unwrap();
        for name in &names {
            assert!(
                !kept.contains(&format!("[profile.dev.package.{name}]")),
                "{kept}"
            );
        }
        // The other tables, and the comment above the next one, stay.
        assert!(kept.contains("# The registry's crates are built without debug info"));
        assert!(kept.contains("[profile.dev.package.\"*\"]\ndebug = false\n"));
        assert_eq!(without_profiles_of(&manifest, &[]).unwrap(), manifest);

        let only =
            "[profile.dev.package.a]\nopt-level = 3\n[profile.dev.package.b]\nopt-level = 1\n";
        let kept = without_profiles_of(only, &["a".to_owned()]).unwrap();
        assert_eq!(kept, "[profile.dev.package.b]\nopt-level = 1\n");
        let all = without_profiles_of(only, &["a".to_owned(), "b".to_owned()]).unwrap();
        assert_eq!(all, "");
        // A table with a blank line in it would leave keys behind: refused.
        let gapped = "[profile.dev.package.a]\nopt-level = 3\n\ndebug = 1\n";
        let refused = without_profiles_of(gapped, &["a".to_owned()]).unwrap_err();
        assert!(refused.contains("ended by a blank line"), "{refused}");
    }
}
