//! Ctrl-C at any moment leaves nothing behind: the lesson is started many
//! times and interrupted (SIGINT or SIGTERM) after a random delay; each run
//! has its own TMPDIR and current directory, so leftovers can be counted.
//! With `--keep`, the kept file is the old one or the complete new one.

use std::path::Path;

use test_support::testing::{Interruptions, interrupt_at_random, interrupt_runs};

const LESSON: &str = env!("CARGO_BIN_EXE_file-mapping");

/// Every path under `dir`, relative, sorted (directories end with `/`).
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                found.push(format!("{name}/"));
                stack.push(path);
            } else {
                found.push(name);
            }
        }
    }
    found.sort();
    found
}

fn report(what: &str, found: &Interruptions) {
    eprintln!(
        "file-mapping {what}: {} runs, {} ended by the signal, {} leftovers",
        found.runs,
        found.signalled,
        found.leftovers.len()
    );
    assert!(found.leftovers.is_empty(), "{:#?}", found.leftovers);
}

#[test]
fn interrupted_at_random_moments_it_leaves_nothing_behind() {
    let found = interrupt_at_random(
        LESSON,
        &[],
        interrupt_runs(),
        |_| {},
        |cwd| {
            tree(cwd)
                .into_iter()
                .map(|name| format!("left {name} in its current directory"))
                .collect()
        },
    );
    report("(no flags)", &found);
}

#[test]
fn an_interrupted_keep_leaves_the_whole_file_or_nothing() {
    let found = interrupt_at_random(
        LESSON,
        &["--keep", "out/a/b"],
        interrupt_runs(),
        |_| {},
        |cwd| {
            let left = tree(cwd);
            let whole = left == ["out/", "out/a/", "out/a/b/", "out/a/b/data"]
                && std::fs::metadata(cwd.join("out/a/b/data")).unwrap().len() == 41;
            if left.is_empty() || whole {
                Vec::new()
            } else {
                vec![format!("left {left:?} in its current directory")]
            }
        },
    );
    report("--keep out/a/b", &found);
}

#[test]
fn an_interrupted_forced_keep_leaves_the_old_file_or_the_new_one() {
    let found = interrupt_at_random(
        LESSON,
        &["--keep", ".", "--force"],
        interrupt_runs(),
        |cwd| std::fs::write(cwd.join("data"), b"old").unwrap(),
        |cwd| {
            let left = tree(cwd);
            let data = std::fs::read(cwd.join("data")).unwrap_or_default();
            if left == ["data"] && (data == b"old" || data.len() == 41) {
                Vec::new()
            } else {
                vec![format!("left {left:?}, data {} bytes", data.len())]
            }
        },
    );
    report("--keep . --force", &found);
}
