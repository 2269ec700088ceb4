//! The walkthrough for lesson 1: run it with `cargo xtask run-lesson file-mapping`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use file_mapping::{
    SEED_LEN, SEED_WORDS, create_data_file, errno_name, size_by_writing_past_the_end,
    store_inside_page_past_len, store_words_through_shared_mapping, store_words_with_memmap2,
    what_mmap_refuses,
};
use support::cli::Cli;
use support::hexdump;

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
    let options = parse_args();
    let kept = options.keep.map(|dir| KeptFile::open(&dir, options.force));
    let result = support::scratch_dir().and_then(|scratch| walkthrough(scratch.path()));
    // The scratch directory is gone by now, even on failure: exit skips destructors.
    match (result, kept) {
        (Ok(seed_bytes), Some(kept)) => kept.write(&seed_bytes),
        (Ok(_), None) => {}
        (Err(error), kept) => {
            if let Some(kept) = kept {
                kept.discard();
            }
            CLI.fail(format_args!("the walkthrough stopped: {error}"));
        }
    }
}

/// Prints the story; returns the bytes the seed's program left in its file.
fn walkthrough(scratch: &Path) -> io::Result<Vec<u8>> {
    println!("file-mapping: how do I map a file into memory?");
    println!(
        "Working in {}, a fresh temporary directory.",
        scratch.display()
    );

    // ANCHOR: step1
    println!("\nStep 1. The seed's program");
    let data_path = scratch.join("data");
    let mut data = create_data_file(&data_path)?;
    println!(
        "  opened {} read+write, created with mode 0600, truncated",
        data_path.display()
    );
    size_by_writing_past_the_end(&mut data, SEED_LEN as u64)?;
    println!(
        "  seeked to byte {SEED_LEN} and wrote \"A\": the file is {} bytes",
        file_len(&data)?
    );
    let address = store_words_through_shared_mapping(&data, SEED_LEN, &SEED_WORDS)?;
    println!("  mapped {SEED_LEN} bytes MAP_SHARED at {address:#x}");
    println!(
        "  stored {:#010x} and {:#010x} as u32, then unmapped",
        SEED_WORDS[0], SEED_WORDS[1]
    );
    let seed_bytes = fs::read(&data_path)?;
    println!(
        "  the file now holds {} bytes (hexdump -C):\n",
        seed_bytes.len()
    );
    print_indented(&hexdump::canonical(&seed_bytes));
    // ANCHOR_END: step1

    // ANCHOR: step2
    println!("\nStep 2. What you just saw");
    let first = SEED_WORDS[0];
    println!(
        "  {first:#010x} went to the file as {}: low byte first.",
        hex_bytes(&seed_bytes[..4])
    );
    println!(
        "  This CPU is {}-endian; a big-endian one would store {}.",
        if cfg!(target_endian = "little") {
            "little"
        } else {
            "big"
        },
        hex_bytes(&first.to_be_bytes())
    );
    println!(
        "  Byte {SEED_LEN} is {:#04x} ('{}'): the sizing step wrote it, so the file is one byte too long.",
        seed_bytes[SEED_LEN],
        char::from(seed_bytes[SEED_LEN])
    );
    let page = support::page_size();
    println!(
        "  The page size is {page} bytes. mmap asked for {SEED_LEN}, but the kernel maps whole pages,"
    );
    println!("  so bytes {SEED_LEN}..{page} are mapped too.");
    let past = 100;
    store_inside_page_past_len(&data, SEED_LEN, past, b'!')?;
    let after = fs::read(&data_path)?;
    println!("  Stored '!' at byte {past} through a new {SEED_LEN}-byte mapping: no fault.");
    println!(
        "  After unmapping, the file is still {} bytes and unchanged: {}.",
        after.len(),
        yes_no(after == seed_bytes)
    );
    println!("  A mapping never makes a file longer; bytes past its end live only in memory.");
    // ANCHOR_END: step2

    // ANCHOR: step3
    println!("\nStep 3. The better way");
    let exact_path = scratch.join("exact");
    let exact = create_data_file(&exact_path)?;
    exact.set_len(SEED_LEN as u64)?;
    store_words_through_shared_mapping(&exact, SEED_LEN, &SEED_WORDS)?;
    println!(
        "  set_len({SEED_LEN}) (ftruncate), then the same mmap: {} bytes",
        file_len(&exact)?
    );
    let idiomatic_path = scratch.join("idiomatic");
    let idiomatic = create_data_file(&idiomatic_path)?;
    store_words_with_memmap2(&idiomatic, SEED_LEN as u64, &SEED_WORDS)?;
    println!(
        "  set_len + memmap2::MmapMut: {} bytes",
        file_len(&idiomatic)?
    );
    println!(
        "  Both hold the same bytes as the seed's file, minus its 'A': {}",
        yes_no(
            fs::read(&exact_path)? == seed_bytes[..SEED_LEN]
                && fs::read(&idiomatic_path)? == seed_bytes[..SEED_LEN]
        )
    );
    println!("  MmapMut::map_mut is unsafe because any process may truncate or rewrite the file");
    println!(
        "  while it is mapped, changing or unmapping bytes that safe Rust borrowed as a &mut [u8]."
    );
    // ANCHOR_END: step3

    // ANCHOR: step4
    println!("\nStep 4. What mmap refuses (real calls, real errno)");
    let refusals = what_mmap_refuses(&data_path)?;
    println!("  {:<44} {:<7} why", "call", "errno");
    for refusal in &refusals {
        println!(
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

/// The learner's copy of the seed's file, opened before the walkthrough runs
/// so that a bad `--keep` fails at once, and removed again if the walkthrough
/// fails: either way nothing half-done is left behind.
struct KeptFile {
    path: PathBuf,
    file: File,
    /// The directory `--keep` created, if it did not exist.
    created_dir: Option<PathBuf>,
}

impl KeptFile {
    fn open(dir: &Path, force: bool) -> KeptFile {
        if dir.exists() && !dir.is_dir() {
            CLI.fail(format_args!(
                "--keep {}: this is a file, not a directory. Name a directory (it is created if missing).",
                dir.display()
            ));
        }
        let created_dir = (!dir.exists()).then(|| dir.to_path_buf());
        if let Err(e) = fs::create_dir_all(dir) {
            CLI.fail(format_args!(
                "--keep {}: cannot create this directory: {e}. Choose a directory you can write to.",
                dir.display()
            ));
        }
        let path = dir.join("data");
        let mut open = OpenOptions::new();
        open.write(true);
        if force {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        let error = match open.open(&path) {
            Ok(file) => {
                return KeptFile {
                    path,
                    file,
                    created_dir,
                };
            }
            Err(error) => error,
        };
        if let Some(created) = &created_dir {
            let _ = fs::remove_dir_all(created);
        }
        if error.kind() == io::ErrorKind::AlreadyExists {
            CLI.fail(format_args!(
                "--keep {}: {} already exists. Add --force to replace it, or choose another directory.",
                dir.display(),
                path.display()
            ))
        }
        CLI.fail(format_args!(
            "--keep {}: cannot write {}: {error}. Choose a directory you can write to.",
            dir.display(),
            path.display()
        ))
    }

    fn write(mut self, bytes: &[u8]) {
        if let Err(error) = self.file.write_all(bytes) {
            let path = self.path.clone();
            self.discard();
            CLI.fail(format_args!("cannot write {}: {error}", path.display()));
        }
        println!(
            "\nKept the seed's file as {} ({} bytes).",
            self.path.display(),
            bytes.len()
        );
        println!(
            "Compare with the dump above: hexdump -C {}",
            self.path.display()
        );
    }

    /// Removes what `open` created.
    fn discard(self) {
        let _ = fs::remove_file(&self.path);
        if let Some(created) = self.created_dir {
            let _ = fs::remove_dir_all(created);
        }
    }
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
        println!("    {line}");
    }
}
