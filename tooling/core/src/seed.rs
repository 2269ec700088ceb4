//! A warm start for a new target directory: the compiled crates from the
//! registry, copied from the workbook's own builds. `init` seeds the
//! learner's copy with it, `verify` its scratch handout, the tests their
//! scratch trees; what the builds then did not use can go again.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Result;

/// Seeds the new target directory `into` (a handout's, a scratch tree's)
/// with what the builds in the target directory `from` (the workbook's own)
/// compiled of the registry crates that the workspace `tree` uses, so that
/// `tree`'s builds need not compile them again: cargo names each such build
/// by a hash of its crate, version, features, profile and compiler, the
/// same in both trees, and compiles again whatever does not fit. Nothing of
/// a workspace member is copied (so no solution): only third-party code,
/// compiled by the workbook's own builds. Returns what was copied.
pub fn registry_builds(tree: &Path, from: &Path, into: &Path) -> Result<Seeded> {
    use serde_json::Value;
    // Only this machine's packages: offline, cargo cannot read the others'
    // (another platform's crates, never downloaded here).
    let host = host()?;
    let mut metadata = crate::cargo();
    metadata
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host, "--manifest-path"])
        .arg(tree.join("Cargo.toml"));
    let metadata = support::spawn::output_bounded(&mut metadata, Duration::from_secs(60))
        .map_err(|e| format!("cannot start cargo metadata: {e}"))?;
    if !metadata.outcome.is_success() {
        return Err(format!(
            "cargo metadata {}:\n{}",
            metadata.outcome, metadata.stderr
        ));
    }
    let metadata: Value = serde_json::from_str(&metadata.stdout)
        .map_err(|e| format!("cargo metadata gave no JSON: {e}"))?;
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let from_registry = |p: &Value| {
        p["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("registry+"))
    };
    // Names a workspace member also has are never copied.
    let local: Vec<&str> = packages
        .iter()
        .filter(|p| !from_registry(p))
        .flat_map(|p| {
            let targets = p["targets"].as_array().into_iter().flatten();
            std::iter::once(p["name"].as_str()).chain(targets.map(|t| t["name"].as_str()))
        })
        .flatten()
        .collect();
    let mut names: Vec<String> = Vec::new(); // packages: .fingerprint/, build/
    let mut crates: Vec<String> = Vec::new(); // their libraries: deps/
    for package in packages.iter().filter(|p| from_registry(p)) {
        if let Some(name) = package["name"].as_str() {
            names.push(name.to_owned());
        }
        for t in package["targets"].as_array().into_iter().flatten() {
            if let Some(name) = t["name"].as_str() {
                crates.push(name.replace('-', "_"));
            }
        }
    }
    names.retain(|n| !local.contains(&n.as_str()));
    crates.retain(|c| !local.iter().any(|l| l.replace('-', "_") == *c));
    let from = from.join("debug");
    let mut copied = Seeded::default();
    // The fingerprints last: cargo takes a unit whose fingerprint is there
    // for built, so it must not come before the unit's files are whole (an
    // interrupted copy then leaves only files cargo overwrites).
    for (dir, wanted, prefix) in [
        ("deps", &crates, "lib"),
        ("build", &names, ""),
        (".fingerprint", &names, ""),
    ] {
        let Ok(entries) = fs::read_dir(from.join(dir)) else {
            continue;
        };
        let picked: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| {
                let file = entry.file_name().to_string_lossy().into_owned();
                // A library is `libNAME-HASH.rlib`, its dep-info `NAME-HASH.d`.
                let file = match file.strip_prefix(prefix) {
                    Some(rest) if !file.ends_with(".d") => rest,
                    _ => &file,
                };
                unit_of(file).is_some_and(|(name, _)| wanted.iter().any(|w| w == name))
            })
            .map(|entry| entry.path())
            .collect();
        if picked.is_empty() {
            continue;
        }
        let into = into.join("debug").join(dir);
        copied.entries.extend(
            picked
                .iter()
                .filter_map(|p| Some(into.join(p.file_name()?))),
        );
        fs::create_dir_all(&into).map_err(|e| format!("cannot create {}: {e}", into.display()))?;
        // `cp -a` keeps the times cargo compares.
        let mut copy = std::process::Command::new("cp");
        copy.args(["-a", "--reflink=auto"]).args(&picked).arg(&into);
        let failed = match support::spawn::output_bounded(&mut copy, Duration::from_secs(300)) {
            Ok(copy) if copy.outcome.is_success() => continue,
            Ok(copy) => format!("cp {}: {}", copy.outcome, copy.stderr.trim()),
            Err(e) => format!("cannot start cp: {e}"),
        };
        // Nothing half-copied stays.
        let _ = copied.remove_if(|_, _, _| true);
        return Err(format!(
            "cannot copy the registry's builds into {} ({failed})",
            into.display()
        ));
    }
    Ok(copied)
}

/// `NAME-HASH`, maybe with a suffix (`.rlib`, `.d`): NAME and HASH, the
/// unit's name in a target directory (in `.fingerprint/`, `build/`,
/// `deps/`), or None.
fn unit_of(entry: &str) -> Option<(&str, &str)> {
    let stem = entry.split('.').next()?;
    let (name, hash) = stem.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some((name, hash))
}

/// What [`registry_builds`] copied into a target directory.
#[derive(Debug, Default)]
pub struct Seeded {
    entries: Vec<PathBuf>,
}

impl Seeded {
    /// How many entries were copied.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes each copied entry the builds since did not use: of the
    /// crates they used, the units they used stay (not the crate's other
    /// builds: other features, another profile); the crates they did not
    /// use at all stay whole if `unused` says [`Unused::Keep`] (for a later
    /// build to find: the book's, the grader's). Returns how many entries
    /// went.
    pub fn prune(&self, used: &Units, unused: Unused) -> Result<usize> {
        self.remove_if(|entry, name, hash| {
            !used.hashes.contains(hash)
                && (matches!(unused, Unused::Remove)
                    || used.names.contains(&crate_name(entry, name)))
        })
    }

    /// Removes every copied entry (`NAME-HASH`) for which `gone` holds.
    fn remove_if(&self, gone: impl Fn(&Path, &str, &str) -> bool) -> Result<usize> {
        let mut removed = 0;
        for entry in &self.entries {
            let file = entry.file_name().unwrap_or_default().to_string_lossy();
            if !unit_of(&file).is_some_and(|(name, hash)| gone(entry, name, hash)) {
                continue;
            }
            let gone = match fs::symlink_metadata(entry) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(entry),
                Ok(_) => fs::remove_file(entry),
                Err(_) => continue,
            };
            gone.map_err(|e| format!("cannot remove {}: {e}", entry.display()))?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// What [`Seeded::prune`] does with the crates no build used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unused {
    /// They stay, for a later build.
    Keep,
    /// They go.
    Remove,
}

/// The crate `name` in the entry `path` of a target directory names, as
/// `deps/` spells it: `serde_json` for `deps/libserde_json-HASH.rlib` and
/// `.fingerprint/serde_json-HASH` alike, `proc_macro2` for
/// `build/proc-macro2-HASH`.
fn crate_name(path: &Path, name: &str) -> String {
    let in_deps = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "deps");
    let is_dep_info = path.extension().is_some_and(|e| e == "d");
    let name = match name.strip_prefix("lib") {
        Some(rest) if in_deps && !is_dep_info => rest,
        _ => name,
    };
    name.replace('-', "_")
}

/// The units cargo's JSON messages (`--message-format=json`) name: each
/// unit's HASH (as in `NAME-HASH`), fresh or compiled, and its crate.
#[derive(Debug, Default)]
pub struct Units {
    hashes: std::collections::HashSet<String>,
    names: std::collections::HashSet<String>,
    /// Whether any unit was compiled (not fresh).
    pub compiled: bool,
}

impl Units {
    /// Adds the units named in `messages`, cargo's JSON, one per line
    /// (other lines, a build script's output say, are skipped).
    pub fn read(&mut self, messages: &str) {
        for line in messages.lines() {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let files: Vec<&str> = match message["reason"].as_str() {
                Some("compiler-artifact") => {
                    self.compiled |= message["fresh"] == false;
                    let files = message["filenames"].as_array().into_iter().flatten();
                    files.filter_map(serde_json::Value::as_str).collect()
                }
                Some("build-script-executed") => message["out_dir"].as_str().into_iter().collect(),
                _ => continue,
            };
            for file in files {
                // `deps/libNAME-HASH.rlib`, `build/NAME-HASH/out`: the
                // file's own name, or its directory's.
                let file = Path::new(file);
                let parent = file.parent().unwrap_or(file);
                for path in [file, parent] {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    if let Some((name, hash)) = unit_of(&name) {
                        self.hashes.insert(hash.to_owned());
                        self.names.insert(crate_name(path, name));
                    }
                }
            }
        }
    }
}

/// The platform this cargo builds for by default (`host:` in `cargo -vV`).
fn host() -> Result<String> {
    let mut version = crate::cargo();
    version.arg("-vV");
    let version = support::spawn::output_bounded(&mut version, Duration::from_secs(60))
        .map_err(|e| format!("cannot start cargo -vV: {e}"))?;
    version
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_owned())
        .ok_or_else(|| format!("cargo -vV named no host ({})", version.outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_the_crates_a_build_used_only_its_units_stay_and_the_others_as_asked() {
        let target = tempfile::tempdir().unwrap();
        let debug = target.path().join("debug");
        let (used, other, unused) = ("1111111111111111", "2222222222222222", "3333333333333333");
        let entries = [
            format!("deps/libproc_macro2-{used}.rlib"),
            format!("deps/libproc_macro2-{other}.rlib"),
            format!("deps/proc_macro2-{other}.d"),
            format!(".fingerprint/proc-macro2-{used}"),
            format!(".fingerprint/proc-macro2-{other}"),
            format!("build/proc-macro2-{other}"),
            format!("deps/liblibc-{unused}.rlib"),
            format!(".fingerprint/libc-{unused}"),
        ];
        let mut seeded = Seeded::default();
        for entry in &entries {
            let path = debug.join(entry);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            if entry.starts_with("deps/") {
                fs::write(&path, b"").unwrap();
            } else {
                fs::create_dir(&path).unwrap();
            }
            seeded.entries.push(path);
        }
        // As cargo says it, one message per line, among other output.
        let mut units = Units::default();
        units.read(&format!(
            "a build script's line\n{{\"reason\":\"compiler-artifact\",\"fresh\":true,\
             \"filenames\":[\"{}\"]}}\n",
            debug
                .join(format!("deps/libproc_macro2-{used}.rlib"))
                .display()
        ));
        assert!(!units.compiled);
        let left = || -> Vec<bool> { entries.iter().map(|e| debug.join(e).exists()).collect() };
        assert_eq!(seeded.prune(&units, Unused::Keep).unwrap(), 4);
        // proc-macro2's other build went (its library, dep-info, fingerprint
        // and build script); the one used stayed, and libc, unused, stayed
        // whole.
        assert_eq!(left(), [true, false, false, true, false, false, true, true]);
        assert_eq!(seeded.prune(&units, Unused::Remove).unwrap(), 2);
        assert_eq!(
            left(),
            [true, false, false, true, false, false, false, false]
        );
    }

    #[test]
    fn a_compiled_unit_is_noticed_and_build_scripts_count() {
        let mut units = Units::default();
        units.read(
            "{\"reason\":\"compiler-artifact\",\"fresh\":false,\"filenames\":[]}\n\
             {\"reason\":\"build-script-executed\",\"out_dir\":\
             \"/t/debug/build/serde-4444444444444444/out\"}\n",
        );
        assert!(units.compiled);
        assert!(units.hashes.contains("4444444444444444"));
        assert!(units.names.contains("serde"));
        assert_eq!(
            unit_of("libserde-4444444444444444.rmeta"),
            Some(("libserde", "4444444444444444"))
        );
        assert_eq!(unit_of("serde-44444444"), None);
    }
}
