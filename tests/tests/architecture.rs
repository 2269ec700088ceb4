//! ARCHITECTURE.md is a stable map: short enough to read (at most 1,500
//! words), and true to the tree: every path it names exists, and it names
//! every module of `support`, `test-support` and xtask, so a new one cannot
//! go unmapped.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn map() -> String {
    fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap()
}

/// The text between backticks, each once.
fn code_spans(text: &str) -> Vec<String> {
    let mut spans: Vec<String> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    spans.sort();
    spans.dedup();
    spans
}

#[test]
fn the_map_is_short() {
    let words = map().split_whitespace().count();
    assert!(
        words <= 1500,
        "ARCHITECTURE.md has {words} words; the map is at most 1,500"
    );
}

/// Whether `span` is a path in the workbook, or in a lesson (the map names
/// a lesson's files from its directory: `src/runner.rs`).
fn exists(span: &str) -> bool {
    let lessons = test_support::layout::discover(&root()).unwrap();
    root().join(span).exists() || lessons.iter().any(|l| l.dir.join(span).exists())
}

#[test]
fn every_path_it_names_exists() {
    let prefixes = ["lessons/", "xtask/", "book/", "tests/", "src/", ".ci/"];
    let missing: Vec<String> = code_spans(&map())
        .into_iter()
        .filter(|span| prefixes.iter().any(|p| span.starts_with(p)) && !span.contains("NN"))
        .filter(|span| !exists(span))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn every_module_of_support_and_the_tooling_is_on_the_map() {
    let spans = code_spans(&map());
    let named = |name: &str| {
        spans
            .iter()
            .any(|s| s == name || s.starts_with(&format!("{name} ")))
    };
    let mut unmapped = Vec::new();
    for (dir, files) in [
        ("lessons/support/src", true),
        ("lessons/test-support/src", true),
        ("xtask/src", false),
        ("tooling/core/src", false),
        ("tooling/grader/src", false),
        ("tooling/book/src", false),
        ("tooling/scan/src", false),
    ] {
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if ["lib.rs", "main.rs", "tests.rs"].contains(&name.as_str()) {
                continue;
            }
            // support's and test-support's modules are named as modules
            // (`spawn`); the tooling's as files and folders (`verify.rs`, `grade/`).
            let shown = match (files, name.strip_suffix(".rs")) {
                (true, Some(module)) => module.to_owned(),
                (true, None) => name.clone(),
                (false, Some(_)) => name.clone(),
                (false, None) => format!("{name}/"),
            };
            if !named(&shown) {
                unmapped.push(format!("{dir}/{name} (as `{shown}`)"));
            }
        }
    }
    assert!(
        unmapped.is_empty(),
        "ARCHITECTURE.md does not name: {unmapped:?}"
    );
}

#[test]
fn the_learners_commands_build_neither_the_grader_nor_the_book() {
    // xtask's [dependencies], by name: the grader and the book's tooling
    // are programs xtask runs, never crates it links.
    let manifest = fs::read_to_string(root().join("xtask/Cargo.toml")).unwrap();
    let dependencies: Vec<&str> = manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split(['=', '.', ' ']).next())
        .filter(|name| !name.is_empty())
        .collect();
    assert!(
        dependencies.contains(&"workbook-tooling"),
        "{dependencies:?}"
    );
    for product in ["workbook-grader", "workbook-book", "mdbook-driver"] {
        assert!(
            !dependencies.contains(&product),
            "xtask depends on {product}"
        );
    }
}

#[test]
fn ci_runs_the_tests_of_every_tooling_crate() {
    // `cargo test` covers the default members only; the tooling's crates
    // are named in .ci/run, and a new one must be too.
    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    let mut crates = vec!["xtask".to_owned()];
    for entry in fs::read_dir(root().join("tooling")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let text = fs::read_to_string(&manifest).unwrap();
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no package name in {}", manifest.display()));
        crates.push(name.to_owned());
    }
    // `-p NAME` as two words of the script (in a command or a variable).
    let words: Vec<&str> = ci
        .split(|c: char| c.is_whitespace() || c == '"')
        .filter(|w| !w.is_empty())
        .collect();
    for name in crates {
        assert!(
            words.windows(2).any(|w| w == ["-p", name.as_str()]),
            ".ci/run does not test {name}"
        );
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_library_has_doc_tests_to_skip() {
    // Each library turns doc tests off (rustdoc spent seconds per crate
    // finding none), so no doc comment may show Rust that would then go
    // untested: a fenced block in a doc comment is `text`.
    let mut crates: Vec<PathBuf> = ["lessons", "tooling"]
        .iter()
        .flat_map(|dir| fs::read_dir(root().join(dir)).unwrap())
        .map(|entry| entry.unwrap().path())
        .collect();
    crates.extend([root().join("tests"), root().join("xtask")]);
    let mut libraries = 0;
    for dir in crates {
        if !dir.join("src/lib.rs").is_file() {
            continue;
        }
        libraries += 1;
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.lines().any(|l| l.trim() == "doctest = false"),
            "{} does not set `doctest = false` under [lib]",
            dir.display()
        );
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let mut open = false;
            for (number, line) in fs::read_to_string(&file).unwrap().lines().enumerate() {
                let line = line.trim_start();
                let Some(doc) = line
                    .strip_prefix("///")
                    .or_else(|| line.strip_prefix("//!"))
                else {
                    continue;
                };
                let Some(info) = doc.trim().strip_prefix("```") else {
                    continue;
                };
                assert!(
                    open || info == "text",
                    "{}:{}: a doc comment shows a ```{info} block, which would not be \
                     tested: make it ```text, or turn doc tests on for this crate",
                    file.display(),
                    number + 1
                );
                open = !open;
            }
        }
    }
    assert!(libraries >= 10, "found only {libraries} libraries");
}

/// Each registry package `cargo tree` shows for `packages` (the default
/// members if none), by name and version, with the feature sets it is
/// compiled with there (a crate the compiler runs may differ from the same
/// crate linked).
fn compiled_features(
    packages: &[&str],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut tree = std::process::Command::new(env!("CARGO"));
    tree.args(["tree", "--offline", "--edges", "normal,build,dev"])
        .args([
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
            "--manifest-path",
        ])
        .arg(root().join("Cargo.toml"));
    for package in packages {
        tree.args(["--package", package]);
    }
    let out = support::spawn::output_bounded(&mut tree, std::time::Duration::from_secs(120))
        .expect("cannot start cargo tree");
    assert!(out.outcome.is_success(), "cargo tree: {}", out.stderr);
    let mut found = std::collections::BTreeMap::<_, std::collections::BTreeSet<_>>::new();
    for line in out.stdout.lines() {
        // `name vX.Y.Z [features]`, maybe with ` (*)` or ` (proc-macro)`.
        let line = line.replace(" (*)", "").replace(" (proc-macro)", "");
        let Some((package, features)) = line.split_once(" [") else {
            continue;
        };
        // From the registry: a workspace member shows its path.
        if !package.contains(" (") {
            let features = features.strip_suffix(']').unwrap_or(features);
            found
                .entry(package.to_owned())
                .or_default()
                .insert(features.to_owned());
        }
    }
    found
}

#[test]
fn the_readmes_tests_compile_the_registry_crates_as_the_toolings_do() {
    // CI builds the tooling's tests, then the README's `cargo test`; cargo
    // compiles again each crate the second build wants with other features
    // (and all that depends on it: once, all of mdBook, about 20 s). Each
    // way the README's build compiles a crate, the tooling's does too
    // (tests/Cargo.toml's [build-dependencies] see to syn's).
    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    let tooling: Vec<&str> = ci
        .lines()
        .find_map(|l| l.strip_prefix("tooling=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect(".ci/run names the tooling's crates in tooling=\"-p ...\"")
        .split_whitespace()
        .filter(|w| *w != "-p")
        .collect();
    let readme = compiled_features(&[]);
    let tooling = compiled_features(&tooling);
    let mut differ = Vec::new();
    for (package, ways) in &readme {
        if let Some(theirs) = tooling.get(package) {
            differ.extend(
                ways.difference(theirs)
                    .map(|way| format!("{package} [{way}] (the tooling's: {theirs:?})")),
            );
        }
    }
    assert!(
        differ.is_empty(),
        "compiled with other features than in the tooling's build:\n{}",
        differ.join("\n")
    );
}
