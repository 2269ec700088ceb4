//! A warm start for the scratch trees the tests grade in (a handout, a
//! template, a package): the registry crates that `cargo xtask grade`
//! builds (xtask's and lesson 1's) are built once per `Cargo.lock` and
//! toolchain, kept under `CARGO_TARGET_TMPDIR`, and copied into each
//! scratch tree's `target/` before its first build. Without it, every
//! scratch tree built clap, syn, serde and the rest from nothing: about
//! 27 s each.
//!
//! The copy holds nothing of the workspace's own crates (xtask, support,
//! the lessons): their fingerprints are removed when the copy is kept, so
//! cargo builds them from the scratch tree's own sources, as in a fresh
//! checkout. What a test proves about a tree's build (a moved checkout, a
//! shared target directory, a submission's confined build) is proved on
//! that tree's own compilation; only the compiled registry crates are
//! shared, and cargo reuses those only where their fingerprints match.

#![allow(dead_code)] // each test program uses part of it

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use support::spawn::output_bounded;

/// Gives the scratch workspace `tree` a `target/` that already holds the
/// compiled registry crates (see the module's comment).
pub fn target_of(tree: &Path) {
    target_dir(&tree.join("target"));
}

/// Gives the template `tree` a build cache for the submissions it grades
/// (`grade --template`, `grade-all`), where the grader builds them:
/// `target/workbook-grade/tree/target` (tooling/grader/src/submission.rs).
pub fn submissions_of(tree: &Path) {
    target_dir(&tree.join("target/workbook-grade/tree/target"));
}

/// Copies the kept registry crates into the target directory `dir`
/// (made if missing); does nothing, after saying why on stderr, where no
/// copy could be kept (the tests then build from nothing, as before).
pub fn target_dir(dir: &Path) {
    let Some(seed) = seed() else { return };
    fs::create_dir_all(dir).unwrap();
    let copied = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(seed.join("."))
        .arg(dir)
        .status()
        .unwrap();
    assert!(
        copied.success(),
        "cannot copy {} to {}",
        seed.display(),
        dir.display()
    );
}

/// The kept target directory, built on first use in this or an earlier
/// run; `None` if it could not be built.
fn seed() -> Option<&'static Path> {
    static SEED: OnceLock<Option<PathBuf>> = OnceLock::new();
    SEED.get_or_init(|| {
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap();
        // Kept per lock file, manifest (its profiles) and toolchain: another
        // of any would find little to reuse in it.
        let mut key = fs::read(root.join("Cargo.lock")).unwrap_or_default();
        key.extend(fs::read(root.join("Cargo.toml")).unwrap_or_default());
        if let Ok(version) = Command::new(env!("CARGO")).arg("-vV").output() {
            key.extend(version.stdout);
        }
        let key = short_hash(&key);
        let seed = kept.join(format!("scratch-target-{key}"));
        if seed.is_dir() {
            return Some(seed);
        }
        match build_seed(kept, &seed) {
            Ok(()) => Some(seed),
            Err(why) => {
                eprintln!("note: scratch trees build from nothing: {why}");
                None
            }
        }
    })
    .as_deref()
}

/// The first 16 hex digits of the SHA-256 of `data`.
fn short_hash(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Grades a one-lesson handout once (the build a test's first grading
/// makes), starting from the registry crates this workspace's own builds
/// compiled; keeps of its target only the units that grading used, less the
/// workspace's own crates, as `seed`. Another test program may do the same at the same time:
/// the first to finish keeps its copy.
fn build_seed(kept: &Path, seed: &Path) -> Result<(), String> {
    const LIMIT: Duration = Duration::from_secs(1200);
    fs::create_dir_all(kept).map_err(|e| e.to_string())?;
    // A handout may not be written inside the workbook: in TMPDIR, then.
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let handout = work.path().join("handout");
    let written = output_bounded(
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .arg("handout")
            .arg(&handout)
            .args(["--lessons", "file-mapping"]),
        LIMIT,
    )
    .map_err(|e| e.to_string())?;
    if !written.outcome.is_success() {
        return Err(format!("handout failed: {}", written.stderr));
    }
    // What this workspace's own builds (in the target directory that holds
    // `kept`) compiled of the registry crates the handout uses: the grading
    // below compiles only what they lack.
    let outer = kept.parent().ok_or("CARGO_TARGET_TMPDIR has no parent")?;
    let seeded = tooling::seed::registry_builds(&handout, outer, &handout.join("target"))
        .unwrap_or_else(|why| {
            eprintln!("note: the scratch trees' seed builds every registry crate: {why}");
            Default::default()
        });
    let graded = output_bounded(
        Command::new(env!("CARGO"))
            .args(["xtask", "grade", "file-mapping", "--timeout", "2"])
            .current_dir(&handout)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR"),
        LIMIT,
    )
    .map_err(|e| e.to_string())?;
    if !graded.stdout.contains("Score: ") {
        return Err(format!("grading failed: {}", graded.stderr));
    }
    let target = handout.join("target");
    // Only what the grading used goes into the seed (each scratch tree
    // copies it): the workspace's builds hold other variants too.
    let used = units_used(&handout)?;
    if used.compiled {
        eprintln!("note: the seed keeps every registry build copied in");
    } else {
        seeded.prune(&used, tooling::seed::Unused::Remove)?;
    }
    strip_workspace_crates(&handout, &target)?;
    let partial = tempfile::tempdir_in(kept).map_err(|e| e.to_string())?;
    let copied = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&target)
        .arg(partial.path().join("target"))
        .status()
        .map_err(|e| e.to_string())?;
    if !copied.success() {
        return Err(format!(
            "cannot copy {} into {}",
            target.display(),
            kept.display()
        ));
    }
    // Renaming onto a directory that exists fails: the one kept first stays.
    if fs::rename(partial.path().join("target"), seed).is_ok() {
        // Older copies (of another Cargo.lock) go.
        let current = seed.file_name().unwrap();
        for entry in fs::read_dir(kept).into_iter().flatten().flatten() {
            let name = entry.file_name();
            if name != current && name.to_string_lossy().starts_with("scratch-target-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

/// The units the seed's grading built or used: its three builds (`cargo
/// xtask`'s; the grader's, which xtask hands `grade` to, as xtask's
/// `build_program` makes it; the graded tests', as
/// tooling/core/src/grade/build.rs makes them), made again with cargo's
/// JSON messages, which name each unit, fresh or not. If these builds
/// compiled anything, they were not the grading's, and name other units
/// (`compiled` says so).
fn units_used(handout: &Path) -> Result<tooling::seed::Units, String> {
    let rustc = tooling::rustc_beside_cargo();
    let builds: [&[&str]; 3] = [
        &["build", "--package", "xtask"],
        &["build", "--package", "workbook-grader", "--bin", "grader"],
        &[
            "test",
            "--no-run",
            "--package",
            "file-mapping",
            "--test",
            "graded",
            "--locked",
        ],
    ];
    let mut used = tooling::seed::Units::default();
    for (index, args) in builds.into_iter().enumerate() {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(args)
            .args(["--message-format=json", "--manifest-path"])
            .arg(handout.join("Cargo.toml"))
            .current_dir(handout)
            .env("CARGO_TARGET_DIR", handout.join("target"))
            .env_remove("CARGO_MANIFEST_DIR");
        if let (2, Some(rustc)) = (index, &rustc) {
            cargo.env("RUSTC", rustc);
        }
        let built = output_bounded(&mut cargo, Duration::from_secs(600))
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        if !built.outcome.is_success() {
            return Err(format!(
                "cargo {args:?} {}: {}",
                built.outcome, built.stderr
            ));
        }
        used.read(&built.stdout);
    }
    Ok(used)
}

/// Removes what cargo built of `tree`'s own packages from `target`: their
/// fingerprints (so cargo must build them again wherever the copy goes),
/// what they compiled to, and their incremental state.
fn strip_workspace_crates(tree: &Path, target: &Path) -> Result<(), String> {
    let metadata = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(tree.join("Cargo.toml"))
        .output()
        .map_err(|e| e.to_string())?;
    if !metadata.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&metadata.stderr)
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).map_err(|e| e.to_string())?;
    // Each package's name, and its targets' (a test program is named
    // after its file), as files spell them: `file-mapping`, `file_mapping`.
    let mut names: Vec<String> = Vec::new();
    for package in value["packages"]
        .as_array()
        .ok_or("cargo metadata named no packages")?
    {
        let targets = package["targets"].as_array().into_iter().flatten();
        for name in std::iter::once(&package["name"]).chain(targets.map(|t| &t["name"])) {
            if let Some(name) = name.as_str() {
                names.push(name.to_owned());
                names.push(name.replace('-', "_"));
            }
        }
    }
    // `NAME`, `NAME-HASH`, `libNAME-HASH.rlib`, `NAME-HASH.d`, ...
    let ours = |file: &str| {
        let file = file.split('.').next().unwrap_or(file);
        names.iter().any(|name| {
            [file, file.strip_prefix("lib").unwrap_or(file)]
                .iter()
                .any(|file| {
                    *file == name.as_str()
                        || file.strip_prefix(name.as_str()).is_some_and(|rest| {
                            rest.strip_prefix('-').is_some_and(|hash| {
                                !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit())
                            })
                        })
                })
        })
    };
    let debug = target.join("debug");
    let mut removed = 0;
    for dir in [".fingerprint", "deps", "build", "examples", ""] {
        let Ok(entries) = fs::read_dir(debug.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            if !ours(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(&path).map_err(|e| e.to_string())?;
            } else {
                fs::remove_file(&path).map_err(|e| e.to_string())?;
            }
            removed += usize::from(dir == ".fingerprint");
        }
    }
    if removed == 0 {
        return Err("no fingerprint of the workspace's crates was found".into());
    }
    let _ = fs::remove_dir_all(debug.join("incremental"));
    Ok(())
}
