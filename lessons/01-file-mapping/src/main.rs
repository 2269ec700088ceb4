//! The walkthrough for lesson 1: run it with `cargo xtask run-lesson file-mapping`.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use file_mapping::{
    SEED_LEN, SEED_WORDS, create_data_file, errno_name, size_by_writing_past_the_end,
    store_inside_page_past_len, store_words_through_shared_mapping, store_words_with_memmap2,
    what_mmap_refuses,
};
use support::cli::Cli;
use support::errors::AtPath;
use support::keep::Keeper;
use support::{hexdump, say};

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

fn main() {
    CLI.begin();
    let options = parse_args();
    // Prepared before the walkthrough runs, so that a bad --keep fails at once.
    let kept = options.keep.map(|dir| {
        Keeper::prepare(&dir, "data", options.force).unwrap_or_else(|why| {
            CLI.fail(format_args!(
                "--keep {}: {why}",
                support::errors::shown(&dir)
            ))
        })
    });
    let result = support::scratch_dir().and_then(|scratch| walkthrough(scratch.path()));
    match (result, kept) {
        (Ok(seed_bytes), Some(kept)) => keep(kept, &seed_bytes),
        (Ok(_), None) => {}
        (Err(error), kept) => {
            // Remove the half-prepared copy; an old DIR/data stays as it was.
            drop(kept);
            CLI.fail(format_args!(
                "the walkthrough stopped: {}",
                support::errors::explain_any(&error)
            ));
        }
    }
}

/// Renames the learner's copy into place: the old file or the whole new one.
fn keep(kept: Keeper, bytes: &[u8]) {
    let dir = kept
        .target()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match kept.write(bytes) {
        Ok(path) => {
            say!(
                "\nKept the seed's file as {} ({} bytes).",
                path.display(),
                bytes.len()
            );
            say!("Compare with the dump above: hexdump -C {}", path.display());
        }
        Err(why) => CLI.fail(format_args!(
            "--keep {}: {why}",
            support::errors::shown(&dir)
        )),
    }
}

/// Prints the story; returns the bytes the seed's program left in its file.
fn walkthrough(scratch: &Path) -> io::Result<Vec<u8>> {
    say!("file-mapping: how do I map a file into memory?");
    say!(
        "Working in {}, a fresh temporary directory.",
        scratch.display()
    );

    // ANCHOR: step1
    say!("\nStep 1. The seed's program");
    let data_path = scratch.join("data");
    let mut data = create_data_file(&data_path).at(&data_path)?;
    say!(
        "  opened {} read+write, created with mode 0600, truncated",
        data_path.display()
    );
    size_by_writing_past_the_end(&mut data, SEED_LEN as u64).at(&data_path)?;
    say!(
        "  seeked to byte {SEED_LEN} and wrote \"A\": the file is {} bytes",
        file_len(&data)?
    );
    let address =
        store_words_through_shared_mapping(&data, SEED_LEN, &SEED_WORDS).at(&data_path)?;
    say!("  mapped {SEED_LEN} bytes MAP_SHARED at {address:#x}");
    say!(
        "  stored {:#010x} and {:#010x} as u32, then unmapped",
        SEED_WORDS[0],
        SEED_WORDS[1]
    );
    let seed_bytes = fs::read(&data_path)?;
    say!(
        "  the file now holds {} bytes (hexdump -C):\n",
        seed_bytes.len()
    );
    print_indented(&hexdump::canonical(&seed_bytes));
    // ANCHOR_END: step1

    // ANCHOR: step2
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
    store_inside_page_past_len(&data, SEED_LEN, past, b'!').at(&data_path)?;
    let after = fs::read(&data_path)?;
    say!("  Stored '!' at byte {past} through a new {SEED_LEN}-byte mapping: no fault.");
    say!(
        "  After unmapping, the file is still {} bytes and unchanged: {}.",
        after.len(),
        yes_no(after == seed_bytes)
    );
    say!("  A mapping never makes a file longer; bytes past its end live only in memory.");
    // ANCHOR_END: step2

    // ANCHOR: step3
    say!("\nStep 3. The better way");
    let exact_path = scratch.join("exact");
    let exact = create_data_file(&exact_path).at(&exact_path)?;
    exact.set_len(SEED_LEN as u64).at(&exact_path)?;
    // A file sized by set_len is sparse: give it real blocks before storing
    // through the mapping, or a full disk would kill the lesson with SIGBUS.
    support::space::reserve(&exact, SEED_LEN as u64, &exact_path)?;
    store_words_through_shared_mapping(&exact, SEED_LEN, &SEED_WORDS).at(&exact_path)?;
    say!(
        "  set_len({SEED_LEN}) (ftruncate), then the same mmap: {} bytes",
        file_len(&exact)?
    );
    let idiomatic_path = scratch.join("idiomatic");
    let idiomatic = create_data_file(&idiomatic_path).at(&idiomatic_path)?;
    store_words_with_memmap2(&idiomatic, SEED_LEN as u64, &SEED_WORDS).at(&idiomatic_path)?;
    say!(
        "  set_len + memmap2::MmapMut: {} bytes",
        file_len(&idiomatic)?
    );
    say!(
        "  Both hold the same bytes as the seed's file, minus its 'A': {}",
        yes_no(
            fs::read(&exact_path)? == seed_bytes[..SEED_LEN]
                && fs::read(&idiomatic_path)? == seed_bytes[..SEED_LEN]
        )
    );
    say!("  MmapMut::map_mut is unsafe because any process may truncate or rewrite the file");
    say!(
        "  while it is mapped, changing or unmapping bytes that safe Rust borrowed as a &mut [u8]."
    );
    // ANCHOR_END: step3

    // ANCHOR: step4
    say!("\nStep 4. What mmap refuses (real calls, real errno)");
    let refusals = what_mmap_refuses(&data_path).at(&data_path)?;
    say!("  {:<44} {:<7} why", "call", "errno");
    for refusal in &refusals {
        say!(
            "  {:<44} {:<7} {}",
            refusal.call,
            errno_name(refusal.errno),
            refusal.reason
        );
    }
    // ANCHOR_END: step4

    Ok(seed_bytes)
}

struct Options {
    keep: Option<PathBuf>,
    force: bool,
}

fn parse_args() -> Options {
    let mut options = Options {
        keep: None,
        force: false,
    };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => CLI.print_help_and_exit(),
            Some("--keep") => options.keep = Some(CLI.value_for("--keep", args.next()).into()),
            Some("--force") => options.force = true,
            _ => CLI.unknown_argument(&arg),
        }
    }
    if options.force && options.keep.is_none() {
        CLI.fail("--force only makes sense with --keep DIR: it allows replacing DIR/data");
    }
    options
}

fn file_len(file: &File) -> io::Result<u64> {
    Ok(file.metadata()?.len())
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn yes_no(condition: bool) -> &'static str {
    if condition {
        "yes"
    } else {
        "NO (unexpected: please report it)"
    }
}

fn print_indented(text: &str) {
    for line in text.lines() {
        say!("    {line}");
    }
}
