//! Every command's `--help` (clap's, from the command table and the
//! arguments' own lines) fits an 80-column terminal, and asks for nothing
//! else: it prints, and exits 0.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::spawn::output_bounded;

fn xtask(args: &[&str]) -> support::spawn::Captured {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .current_dir(workspace)
        .env("CARGO_MANIFEST_DIR", workspace.join("xtask"));
    output_bounded(&mut command, Duration::from_secs(60)).unwrap()
}

#[test]
fn every_commands_help_fits_80_columns() {
    let usage = xtask(&["--help"]);
    assert!(usage.outcome.is_success(), "{usage:?}");
    // The command table's lines: `  NAME  summary`, under a heading.
    let names: Vec<&str> = usage
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        for flag in ["--help", "-h"] {
            let help = xtask(&[name, flag]);
            assert!(help.outcome.is_success(), "{name} {flag}: {help:?}");
            assert!(
                help.stdout.contains(&format!("Usage: cargo xtask {name}")),
                "{name} {flag}: {}",
                help.stdout
            );
            for line in help.stdout.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{name} {flag}: a line of {} columns:\n{line}",
                    line.chars().count()
                );
            }
        }
    }
}
