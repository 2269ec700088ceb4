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
    for (dir, wanted, prefix) in [
        (".fingerprint", &names, ""),
        ("build", &names, ""),
        ("deps", &crates, "lib"),
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
        let copy = support::spawn::output_bounded(&mut copy, Duration::from_secs(300))
            .map_err(|e| format!("cannot start cp: {e}"))?;
        if !copy.outcome.is_success() {
            return Err(format!(
                "cannot copy the registry's builds into {} (cp {}): {}",
                into.display(),
                copy.outcome,
                copy.stderr
            ));
        }
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

    /// Removes each copied entry that no build since used (its unit is not
    /// among `used`), so that the directory keeps only what its builds
    /// need. Returns how many went.
    pub fn keep_only(&self, used: &Units) -> Result<usize> {
        let mut removed = 0;
        for entry in &self.entries {
            // (`libNAME-HASH.rlib`: the prefix changes the name, not HASH.)
            let name = entry.file_name().unwrap_or_default().to_string_lossy();
            if unit_of(&name).is_some_and(|(_, hash)| used.hashes.contains(hash)) {
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

/// The units cargo's JSON messages (`--message-format=json`) name: each
/// unit's HASH (as in `NAME-HASH`), fresh or compiled.
#[derive(Debug, Default)]
pub struct Units {
    hashes: std::collections::HashSet<String>,
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
                for name in [file.file_name(), file.parent().and_then(Path::file_name)] {
                    let name = name.unwrap_or_default().to_string_lossy();
                    if let Some((_, hash)) = unit_of(&name) {
                        self.hashes.insert(hash.to_owned());
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
