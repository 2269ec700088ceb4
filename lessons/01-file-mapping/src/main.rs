//! The walkthrough for lesson 1: run it with `cargo xtask run-lesson file-mapping`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use file_mapping::{
    SEED_LEN, SEED_WORDS, create_data_file, errno_name, size_by_writing_past_the_end,
    store_inside_page_past_len, store_words_through_shared_mapping,
    store_words_with_memmap2, what_mmap_refuses,
};
use support::cli::Cli;
use support::errors::AtPath;
use support::keep::Keeper;
use support::out::yes_no;
use support::{Result, hexdump, say};

const CLI: Cli = Cli {
    lesson: "file-mapping",
    usage: "\
file-mapping: how do I map a file into memory?

Usage: cargo xtask run-lesson file-mapping [-- FLAGS]

Flags:
  --keep DIR   also write the seed program's data file to DIR/data (DIR is
               created if missing), so you can run `hexdump -C` on it
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
    CLI.begin();
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

/// Tells the story; with `--keep DIR`, also leaves the seed's file in DIR.
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
    let (data, seed_bytes) = the_seeds_program(&data_path)?;
    what_you_just_saw(&data, &data_path, &seed_bytes)?;
    the_better_way(scratch, &seed_bytes)?;
    what_mmap_refuses_for_real(&data_path)?;
    match kept {
        Some(kept) => keep_the_seeds_file(kept, &seed_bytes),
        None => Ok(()),
    }
}

// ANCHOR: step1
/// Returns the seed's file and the bytes its program left there.
fn the_seeds_program(data_path: &Path) -> Result<(File, Vec<u8>)> {
    say!("\nStep 1. The seed's program");
    let mut data = create_data_file(data_path).at(data_path)?;
    say!(
        "  opened {} read+write, created with mode 0600, truncated",
        data_path.display()
    );
    size_by_writing_past_the_end(&mut data, SEED_LEN as u64).at(data_path)?;
    say!(
        "  seeked to byte {SEED_LEN} and wrote \"A\": the file is {} bytes",
        data.metadata()?.len()
    );
    let address = store_words_through_shared_mapping(&data, SEED_LEN, &SEED_WORDS)
        .at(data_path)?;
    say!("  mapped {SEED_LEN} bytes MAP_SHARED at {address:#x}");
    say!(
        "  stored {:#010x} and {:#010x} as u32, then unmapped",
        SEED_WORDS[0],
        SEED_WORDS[1]
    );
    let seed_bytes = fs::read(data_path).at(data_path)?;
    say!(
        "  the file now holds {} bytes (hexdump -C):\n",
        seed_bytes.len()
    );
    for line in hexdump::canonical(&seed_bytes).lines() {
        say!("    {line}");
    }
    Ok((data, seed_bytes))
}
// ANCHOR_END: step1

// ANCHOR: step2
fn what_you_just_saw(data: &File, data_path: &Path, seed_bytes: &[u8]) -> Result {
    say!("\nStep 2. What you just saw");
    let first = SEED_WORDS[0];
    say!(
        "  {first:#010x} went to the file as {}: low byte first.",
        hex_bytes(&seed_bytes[..4])
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
        "  Byte {SEED_LEN} is {:#04x} ('{}'): the sizing step wrote it, so the file is one byte too long.",
        seed_bytes[SEED_LEN],
        char::from(seed_bytes[SEED_LEN])
    );
    let page = support::page_size();
    say!(
        "  The page size is {page} bytes. mmap asked for {SEED_LEN}, but the kernel maps whole pages,"
    );
    say!("  so bytes {SEED_LEN}..{page} are mapped too.");
    let past = 100;
    store_inside_page_past_len(data, SEED_LEN, past, b'!').at(data_path)?;
    let after = fs::read(data_path).at(data_path)?;
    say!(
        "  Stored '!' at byte {past} through a new {SEED_LEN}-byte mapping: no fault."
    );
    say!(
        "  After unmapping, the file is still {} bytes and unchanged: {}.",
        after.len(),
        yes_no(after == seed_bytes)
    );
    say!(
        "  A mapping never makes a file longer; bytes past its end live only in memory."
    );
    Ok(())
}
// ANCHOR_END: step2

// ANCHOR: step3
fn the_better_way(scratch: &Path, seed_bytes: &[u8]) -> Result {
    say!("\nStep 3. The better way");
    let exact_path = scratch.join("exact");
    let exact = create_data_file(&exact_path).at(&exact_path)?;
    exact.set_len(SEED_LEN as u64).at(&exact_path)?;
    // A file sized by set_len is sparse: give it real blocks before storing
    // through the mapping, or a full disk would kill the lesson with SIGBUS.
    support::space::reserve(&exact, SEED_LEN as u64, &exact_path)?;
    store_words_through_shared_mapping(&exact, SEED_LEN, &SEED_WORDS)
        .at(&exact_path)?;
    say!(
        "  set_len({SEED_LEN}) (ftruncate), then the same mmap: {} bytes",
        exact.metadata()?.len()
    );
    let idiomatic_path = scratch.join("idiomatic");
    let idiomatic = create_data_file(&idiomatic_path).at(&idiomatic_path)?;
    store_words_with_memmap2(&idiomatic, SEED_LEN as u64, &SEED_WORDS)
        .at(&idiomatic_path)?;
    say!(
        "  set_len + memmap2::MmapMut: {} bytes",
        idiomatic.metadata()?.len()
    );
    say!(
        "  Both hold the same bytes as the seed's file, minus its 'A': {}",
        yes_no(
            fs::read(&exact_path).at(&exact_path)? == seed_bytes[..SEED_LEN]
                && fs::read(&idiomatic_path).at(&idiomatic_path)?
                    == seed_bytes[..SEED_LEN]
        )
    );
    say!(
        "  MmapMut::map_mut is unsafe because any process may truncate or rewrite the file"
    );
    say!(
        "  while it is mapped, changing or unmapping bytes that safe Rust borrowed as a &mut [u8]."
    );
    Ok(())
}
// ANCHOR_END: step3

// ANCHOR: step4
fn what_mmap_refuses_for_real(data_path: &Path) -> Result {
    say!("\nStep 4. What mmap refuses (real calls, real errno)");
    let refusals = what_mmap_refuses(data_path).at(data_path)?;
    say!("  {:<44} {:<7} why", "call", "errno");
    for refusal in &refusals {
        say!(
            "  {:<44} {:<7} {}",
            refusal.call,
            errno_name(refusal.errno),
            refusal.reason
        );
    }
    Ok(())
}
// ANCHOR_END: step4

/// Renames the learner's copy into place: the old file or the whole new one.
fn keep_the_seeds_file(kept: Keeper, bytes: &[u8]) -> Result {
    let dir = kept
        .target()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = kept.write(bytes).map_err(|why| refused_keep(&dir, why))?;
    say!(
        "\nKept the seed's file as {} ({} bytes).",
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
