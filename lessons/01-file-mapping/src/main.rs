//! The walkthrough for lesson 1: run it with `cargo xtask run-lesson file-mapping`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use file_mapping::{
    Attempt, CLASSIC_LEN, CLASSIC_WORDS, as_hexdump_words, bad_arguments,
    create_data_file, only_some_files_can_be_mapped, size_by_writing_past_the_end,
    store_inside_page_past_len, store_words_through_shared_mapping,
    store_words_with_memmap2, the_open_mode_decides,
};
use support::cli::Cli;
use support::errors::AtPath;
use support::keep::Keeper;
use support::out::yes_no;
use support::{Result, hexdump, say};

mod exercises;
mod runner;

const CLI: Cli = support::lesson_cli! {
    usage: "\
Flags:
  --keep DIR   also write the classic program's data file to DIR/data (DIR
               is created if missing), so you can run `hexdump -C` on it
  --force      with --keep, replace an existing DIR/data
  -h, --help   print this help

Everything else happens in a fresh temporary directory that is removed at exit.
",
    flags: &["--keep", "--force", "--help"],
};

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough { keep: Option<PathBuf>, force: bool },
}

fn main() {
    CLI.begin(runner::EXERCISES);
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough { keep, force } => walkthrough(keep.as_deref(), force),
    });
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    let (mut keep, mut force) = (None, false);
    let mut args = CLI.args();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok(Mode::Help),
            Some("--keep") => {
                keep = Some(CLI.value_for("--keep", args.next())?.into())
            }
            Some("--force") => force = true,
            _ => return Err(CLI.unknown_argument(&arg)),
        }
    }
    if force && keep.is_none() {
        return Err(CLI.refuse(
            "--force only makes sense with --keep DIR: it allows replacing DIR/data",
        ));
    }
    Ok(Mode::Walkthrough { keep, force })
}

/// Tells the story; with `--keep DIR`, also leaves the classic program's
/// file in DIR.
fn walkthrough(keep: Option<&Path>, force: bool) -> Result {
    // Prepared before the story runs, so that a bad --keep fails at once; on
    // an error, dropping it removes the half-prepared copy (an old DIR/data
    // stays as it was).
    let kept = keep
        .map(|dir| {
            Keeper::prepare(dir, "data", force).map_err(|why| refused_keep(dir, why))
        })
        .transpose()?;
    let scratch = support::scratch_dir()?;
    let scratch = scratch.path();
    say!("file-mapping: how do I map a file into memory?");
    say!(
        "Working in {}, a fresh temporary directory.",
        scratch.display()
    );
    let data_path = scratch.join("data");
    let (data, classic_bytes) = the_classic_program(&data_path)?;
    reading_the_dump(&classic_bytes);
    a_store_past_the_end(&data, &data_path, &classic_bytes)?;
    the_better_way(scratch, &classic_bytes)?;
    the_open_mode_decides_for_real(&data_path)?;
    what_cannot_be_mapped(&data_path)?;
    match kept {
        Some(kept) => keep_the_classic_file(kept, &classic_bytes),
        None => Ok(()),
    }
}

// ANCHOR: step1
/// Runs the classic C program from course notes, step by step; returns its
/// file and the bytes it left there.
fn the_classic_program(data_path: &Path) -> Result<(File, Vec<u8>)> {
    say!("\nStep 1. The classic program");
    let mut data = create_data_file(data_path).at(data_path)?;
    say!(
        "  opened {} read+write, created with mode 0600, truncated",
        data_path.display()
    );
    size_by_writing_past_the_end(&mut data, CLASSIC_LEN as u64).at(data_path)?;
    say!(
        "  seeked to byte {CLASSIC_LEN} and wrote \"A\": the file is {} bytes",
        data.metadata()?.len()
    );
    let address =
        store_words_through_shared_mapping(&data, CLASSIC_LEN, &CLASSIC_WORDS)
            .at(data_path)?;
    say!("  mapped {CLASSIC_LEN} bytes MAP_SHARED at {address:#x}");
    say!(
        "  stored {:#010x} and {:#010x} as u32, then unmapped",
        CLASSIC_WORDS[0],
        CLASSIC_WORDS[1]
    );
    let bytes = fs::read(data_path).at(data_path)?;
    say!("  the file now holds {} bytes (hexdump -C):\n", bytes.len());
    for line in hexdump::canonical(&bytes).lines() {
        say!("    {line}");
    }
    Ok((data, bytes))
}
// ANCHOR_END: step1

// ANCHOR: step2
fn reading_the_dump(bytes: &[u8]) {
    say!("\nStep 2. Reading the dump");
    let first = CLASSIC_WORDS[0];
    say!(
        "  {first:#010x} went to the file as {}: low byte first.",
        hex_bytes(&bytes[..4])
    );
    say!(
        "  This CPU is {}-endian; a big-endian one would store {}.",
        if cfg!(target_endian = "little") {
            "little"
        } else {
            "big"
        },
        hex_bytes(&first.to_be_bytes())
    );
    say!(
        "  Plain `hexdump` (no -C) shows 2-byte words in this CPU's order: {}",
        as_hexdump_words(&bytes[..8])
    );
    say!("  Only -C shows the bytes as they lie in the file.");
    say!(
        "  Byte {CLASSIC_LEN} is {:#04x} ('{}'): the sizing step wrote it there,",
        bytes[CLASSIC_LEN],
        char::from(bytes[CLASSIC_LEN])
    );
    say!(
        "  so the file is {} bytes, one more than the {CLASSIC_LEN} the program maps.",
        bytes.len()
    );
}
// ANCHOR_END: step2

// ANCHOR: step3
fn a_store_past_the_end(data: &File, data_path: &Path, before: &[u8]) -> Result {
    say!("\nStep 3. A store past the end of the file");
    let page = support::page_size();
    say!("  The page size is {page} bytes, and the kernel maps whole pages:");
    say!(
        "  a {CLASSIC_LEN}-byte request covers bytes 0..{page}, the file only 0..{}.",
        before.len()
    );
    let past = 100;
    store_inside_page_past_len(data, CLASSIC_LEN, past, b'!').at(data_path)?;
    say!(
        "  Stored '!' at byte {past} through a new {CLASSIC_LEN}-byte mapping: no fault."
    );
    let after = fs::read(data_path).at(data_path)?;
    say!(
        "  After unmapping, the file is {} bytes and unchanged: {}.",
        after.len(),
        yes_no(after == before)
    );
    say!("  Byte {past} is not part of the file. Do not rely on what happens to it:");
    say!("  the sigbus lesson shows it can turn up later, or be zeroed.");
    Ok(())
}
// ANCHOR_END: step3

// ANCHOR: step4
fn the_better_way(scratch: &Path, classic_bytes: &[u8]) -> Result {
    say!("\nStep 4. The better way");
    let exact_path = scratch.join("exact");
    let exact = create_data_file(&exact_path).at(&exact_path)?;
    exact.set_len(CLASSIC_LEN as u64).at(&exact_path)?;
    // A file sized by set_len is sparse: give it real blocks before storing
    // through the mapping, or a full disk would kill the lesson with SIGBUS.
    support::space::reserve(&exact, CLASSIC_LEN as u64, &exact_path)?;
    store_words_through_shared_mapping(&exact, CLASSIC_LEN, &CLASSIC_WORDS)
        .at(&exact_path)?;
    say!(
        "  set_len({CLASSIC_LEN}) (ftruncate), then the same mmap: {} bytes",
        exact.metadata()?.len()
    );
    let idiomatic_path = scratch.join("idiomatic");
    let idiomatic = create_data_file(&idiomatic_path).at(&idiomatic_path)?;
    store_words_with_memmap2(&idiomatic, CLASSIC_LEN as u64, &CLASSIC_WORDS)
        .at(&idiomatic_path)?;
    say!(
        "  set_len + memmap2::MmapMut: {} bytes",
        idiomatic.metadata()?.len()
    );
    let wanted = &classic_bytes[..CLASSIC_LEN];
    say!(
        "  Both hold the classic program's bytes without its 'A': {}",
        yes_no(
            fs::read(&exact_path).at(&exact_path)? == wanted
                && fs::read(&idiomatic_path).at(&idiomatic_path)? == wanted
        )
    );
    say!(
        "  MmapMut::map_mut is unsafe: any process may truncate or rewrite the file"
    );
    say!("  while safe Rust holds its bytes as a &mut [u8].");
    Ok(())
}
// ANCHOR_END: step4

// ANCHOR: step5
fn the_open_mode_decides_for_real(data_path: &Path) -> Result {
    say!("\nStep 5. The open mode decides (real calls, real errno)");
    let attempts = the_open_mode_decides(data_path)?;
    say!(
        "  {:<10} {:<11} {:<8} {:<7} why",
        "data open",
        "PROT_",
        "MAP_",
        "result"
    );
    for attempt in &attempts {
        say!(
            "  {:<10} {:<11} {:<8} {:<7} {}",
            attempt.what,
            attempt.prot_names(),
            attempt.flag_names(),
            attempt.result(),
            attempt.why
        );
    }
    Ok(())
}
// ANCHOR_END: step5

// ANCHOR: step6
fn what_cannot_be_mapped(data_path: &Path) -> Result {
    say!("\nStep 6. Which files can be mapped (real calls, PROT_READ, MAP_SHARED)");
    let files = only_some_files_can_be_mapped(data_path)?;
    say!(
        "  {:<24} {:<7} its mmap operation",
        "what is mapped",
        "result"
    );
    print_attempts(&files);
    if !files.iter().any(|a| a.what.starts_with("/proc")) {
        say!("  (/proc is not mounted here, so a /proc file could not be tried.)");
    }
    say!("  Two bad arguments, on the data file:");
    print_attempts(&bad_arguments(data_path)?);
    Ok(())
}

/// One line for each attempt: what was mapped, the result, and why.
fn print_attempts(attempts: &[Attempt]) {
    for attempt in attempts {
        say!(
            "  {:<24} {:<7} {}",
            attempt.what,
            attempt.result(),
            attempt.why
        );
    }
}
// ANCHOR_END: step6

/// Renames the learner's copy into place: the old file or the whole new one.
fn keep_the_classic_file(kept: Keeper, bytes: &[u8]) -> Result {
    let dir = kept
        .target()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = kept.write(bytes).map_err(|why| refused_keep(&dir, why))?;
    say!(
        "\nKept the classic program's file as {} ({} bytes).",
        path.display(),
        bytes.len()
    );
    say!("Compare with the dump above: hexdump -C {}", path.display());
    Ok(())
}

fn refused_keep(dir: &Path, why: String) -> support::Error {
    CLI.refuse(format_args!(
        "--keep {}: {why}",
        support::errors::shown(dir)
    ))
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
