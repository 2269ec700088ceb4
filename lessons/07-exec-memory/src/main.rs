//! The walkthrough for lesson 7: run it with `cargo xtask run-lesson exec-memory`.
//!
//! Every access that may fault runs in a child (`run_in_child`); the child's
//! handler says what the kernel reported, and the parent how the child ended.

use std::fs;
use std::path::Path;
use std::time::Duration;

use exec_memory::{
    ADD_CODE, Fault, FaultWitness, call_add, make_executable, map_file_read_only,
    map_guard_page, map_read_write, map_read_write_exec, memfd_two_views, perms_at,
    read_after_munmap, refuse_exec_gain, write_code,
};
use nix::errno::Errno;
use support::ChildOutcome;
use support::cli::Cli;
use support::errors::AtPath;
use support::fork::run_in_child;
use support::region::Region;
use support::{Result, say};

mod exercises;
mod runner;

const CLI: Cli = support::lesson_cli! {
    usage: "\
Flags:
  --fault KIND   make one fault in a child and report it, instead of the story.
                 KIND is one of: run-writable, write-code, guard-page,
                 after-munmap, past-eof
  -h, --help     print this help

Every access that may fault happens in a child process; the lesson reports
how each child ended. Its files live in a temporary directory removed at exit.
",
    flags: &["--fault", "--help"],
};

/// No child of this lesson should take more than a moment.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// The faults the lesson makes, by the name `--fault` takes.
#[derive(Debug, Clone, Copy)]
enum Experiment {
    RunWritable,
    WriteCode,
    GuardPage,
    AfterMunmap,
    PastEof,
}

const EXPERIMENTS: [(&str, Experiment); 5] = [
    ("run-writable", Experiment::RunWritable),
    ("write-code", Experiment::WriteCode),
    ("guard-page", Experiment::GuardPage),
    ("after-munmap", Experiment::AfterMunmap),
    ("past-eof", Experiment::PastEof),
];

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough,
    OneFault(Experiment),
}

fn main() {
    CLI.begin(runner::EXERCISES);
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => support::in_scratch_dir(walkthrough),
        Mode::OneFault(experiment) => {
            support::in_scratch_dir(|dir| one_fault(experiment, dir))
        }
    });
    CLI.finish(result);
}

/// A child's work, kept from unwinding: a panic in the child (a print to a
/// closed stdout) must end the child there, never run the parent's
/// destructors (its scratch directory) in the child.
fn contained(work: impl FnOnce() -> i32) -> impl FnOnce() -> i32 {
    move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(101)
    }
}

/// `None` for the story, or the one fault `--fault KIND` asks for.
fn parse_args() -> Result<Mode> {
    let mut args = CLI.args();
    let mut fault = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok(Mode::Help),
            Some("--fault") => {
                let names: Vec<&str> =
                    EXPERIMENTS.iter().map(|(name, _)| *name).collect();
                let kind = args.next().map(|k| k.to_string_lossy().into_owned());
                let found = kind.as_deref().and_then(|kind| {
                    EXPERIMENTS.iter().find(|(name, _)| *name == kind)
                });
                match (found, kind) {
                    (Some(_), _) if fault.is_some() => {
                        return Err(CLI.refuse(
                            "--fault given twice; a run makes one fault, so give it once",
                        ));
                    }
                    (Some((_, experiment)), _) => fault = Some(*experiment),
                    (None, Some(kind))
                        if !kind.is_empty() && !kind.starts_with('-') =>
                    {
                        let closest = names.iter().find(|name| {
                            name.starts_with(kind.as_str())
                                || support::cli::edit_distance(name, &kind) <= 2
                        });
                        return Err(match closest {
                            Some(name) => CLI.refuse(format_args!(
                                "--fault {kind}: no such fault; did you mean '{name}'?"
                            )),
                            None => CLI.refuse(format_args!(
                                "--fault {kind}: no such fault; choose one of {}",
                                names.join(", ")
                            )),
                        });
                    }
                    (None, _) => {
                        return Err(CLI.refuse(format_args!(
                            "--fault needs a KIND after it, one of {}",
                            names.join(", ")
                        )));
                    }
                }
            }
            _ => return Err(CLI.unknown_argument(&arg)),
        }
    }
    Ok(fault.map_or(Mode::Walkthrough, Mode::OneFault))
}

fn walkthrough(scratch: &Path) -> Result {
    let page = support::page_size();
    say!("exec-memory: can a program run code it just wrote?");
    say!(
        "(Each access that may fault runs in a child process; pages are {page} bytes.)"
    );
    let witness = FaultWitness::new()?;
    let mut seen = Vec::new();
    write_then_run(page, &witness, &mut seen)?;
    w_xor_x_is_a_policy(page)?;
    segv_or_bus(scratch, page, &witness, &mut seen)?;
    what_each_means(&seen);
    Ok(())
}

/// A fault the story saw: what the child did, how it ended, what it reported.
struct Seen {
    what: &'static str,
    outcome: ChildOutcome,
    fault: Option<Fault>,
}

/// Runs `work` in a child that reports its fault as an offset into the
/// mapping at `base`; prints what it did and how it ended.
fn in_child(
    what: &'static str,
    witness: &FaultWitness,
    base: usize,
    work: impl FnOnce() -> i32,
) -> Result<Seen> {
    say!("  {what}:");
    let outcome = run_in_child(
        CHILD_LIMIT,
        contained(|| {
            if witness.arm(base).is_err() {
                return 3;
            }
            work()
        }),
    )?;
    say!("  -> child {outcome}");
    Ok(Seen {
        what,
        outcome,
        fault: witness.take(),
    })
}

fn perms(region: &Region) -> Result<String> {
    let perms = perms_at(region.address()).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot read /proc/self/maps, where the kernel lists this process's \
                 mappings: {}. Mount /proc (mount -t proc proc /proc) and run again.",
                support::errors::reason(&e)
            ),
        )
    })?;
    Ok(perms.unwrap_or_else(|| "(not mapped)".to_owned()))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ANCHOR: step1
fn write_then_run(
    page: usize,
    witness: &FaultWitness,
    seen: &mut Vec<Seen>,
) -> Result {
    say!("\nStep 1. Write machine code into memory, then run it");
    let Some(add) = ADD_CODE else {
        say!("  This lesson has machine code for x86-64 only, so on this CPU");
        say!("  ({}) step 1 is skipped.", std::env::consts::ARCH);
        return Ok(());
    };
    let code = map_read_write(page)?;
    say!(
        "  mapped a read-write page at {:#x}: /proc/self/maps says {}",
        code.address(),
        perms(&code)?
    );
    write_code(&code, add);
    say!(
        "  wrote {}: x86-64 for `lea eax, [rdi + rsi]; ret`",
        hex(add)
    );
    seen.push(in_child(
        "call add(40, 2) in the rw- page",
        witness,
        code.address(),
        || {
            // SAFETY: the page holds the add code; it is not executable yet, so
            // the call faults, in this child, as the lesson means it to.
            let sum = unsafe { call_add(&code, 40, 2) };
            say!("    add(40, 2) = {sum} (no fault: unexpected)");
            0
        },
    )?);
    if let Err(errno) = make_executable(&code) {
        say!(
            "  mprotect(PROT_READ | PROT_EXEC) -> {errno:?} ({})",
            errno.desc()
        );
        say!("  something here enforces W^X even for the flip; see step 2");
        return Ok(());
    }
    say!(
        "  mprotect(PROT_READ | PROT_EXEC): /proc/self/maps now says {}",
        perms(&code)?
    );
    // SAFETY: the page holds the add code and is now read+execute.
    let sum = unsafe { call_add(&code, 40, 2) };
    say!("  called it from the walkthrough itself: add(40, 2) = {sum}");
    seen.push(in_child(
        "store 0x90 into the r-x page",
        witness,
        code.address(),
        || {
            code.write(0, 0x90);
            say!("    stored (no fault: unexpected)");
            0
        },
    )?);
    say!(
        "  The same {} bytes were data, then code: the page's permissions decide",
        add.len()
    );
    say!("  whether the CPU may fetch instructions from it, or store into it.");
    Ok(())
}
// ANCHOR_END: step1

// ANCHOR: step2
fn w_xor_x_is_a_policy(page: usize) -> Result {
    say!("\nStep 2. W^X (write xor execute) is a policy, not a law");
    match map_read_write_exec(page) {
        Ok(rwx) => say!(
            "  mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> granted: {}",
            perms(&rwx)?
        ),
        Err(errno) => say!("  mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> {errno:?}"),
    }
    say!("  in a child, prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN):");
    let outcome = run_in_child(
        CHILD_LIMIT,
        contained(|| {
            match refuse_exec_gain() {
                Ok(()) => {
                    say!("    prctl -> ok: memory-deny-write-execute is on for good")
                }
                Err(Errno::EINVAL) => {
                    say!(
                        "    prctl -> EINVAL: this kernel has no MDWE (it came in Linux 6.3)"
                    )
                }
                Err(errno) => say!("    prctl -> {errno:?} ({})", errno.desc()),
            }
            under_mdwe(page)
        }),
    )?;
    say!("  -> child {outcome}");
    // MDWE binds the child and its future children, never its parent.
    let code = map_read_write(page)?;
    match make_executable(&code) {
        Ok(()) => say!(
            "  back in the walkthrough, the same flip still works: {}",
            perms(&code)?
        ),
        Err(errno) => say!("  back in the walkthrough, the flip -> {errno:?}"),
    }
    say!("  Another lock on the same door: SELinux's execmem permission (with");
    say!("  deny_execmem even the rw- to r-x flip of anonymous memory is refused).");
    say!("  vm.memfd_noexec (Linux 6.3) is not one: at 1 or 2, a memfd made without");
    say!(
        "  MFD_EXEC gets no exec mode bits and the seal F_SEAL_EXEC. That stops execve"
    );
    say!("  of the memfd, not mmap(PROT_EXEC) of it.");
    say!("  The discipline: write, then make executable, never both at once.");
    Ok(())
}

/// In the child, after the prctl: the flip, the RWX mapping, and two views.
fn under_mdwe(page: usize) -> i32 {
    let Ok(code) = map_read_write(page) else {
        return 1;
    };
    let add = ADD_CODE.unwrap_or(&[]);
    write_code(&code, add);
    match make_executable(&code) {
        Ok(()) => say!("    mprotect(PROT_READ | PROT_EXEC) of a written page -> ok"),
        Err(errno) => say!(
            "    mprotect(PROT_READ | PROT_EXEC) of a written page -> {errno:?} ({})",
            errno.desc()
        ),
    }
    match map_read_write_exec(page) {
        Ok(_) => say!("    mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> granted"),
        Err(errno) => {
            say!("    mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> {errno:?}")
        }
    }
    match memfd_two_views(page) {
        Ok(views) if !add.is_empty() => {
            write_code(&views.writable, add);
            // SAFETY: the executable view shows the page we just wrote the
            // add code into through the writable view.
            let sum = unsafe { call_add(&views.executable, 40, 2) };
            say!(
                "    one memfd mapped twice, rw- and r-x: add(40, 2) = {sum} through r-x"
            );
        }
        Ok(_) => {
            say!("    one memfd mapped twice, rw- and r-x: mapped (no code to run)")
        }
        Err(errno) => say!("    one memfd mapped twice, rw- and r-x -> {errno:?}"),
    }
    0
}
// ANCHOR_END: step2

// ANCHOR: step3
fn segv_or_bus(
    scratch: &Path,
    page: usize,
    witness: &FaultWitness,
    seen: &mut Vec<Seen>,
) -> Result {
    say!("\nStep 3. SIGSEGV or SIGBUS? Three more faults, each in a child");
    let guard = map_guard_page(page)?;
    say!(
        "  mapped a PROT_NONE page: /proc/self/maps says {}",
        perms(&guard)?
    );
    seen.push(in_child(
        "read the PROT_NONE page",
        witness,
        guard.address(),
        || i32::from(guard.read(0)),
    )?);

    let gone = map_read_write(page)?;
    let address = gone.address();
    seen.push(in_child(
        "munmap a page, then read it",
        witness,
        address,
        || i32::from(read_after_munmap(gone)),
    )?);

    let path = scratch.join("one-byte");
    fs::write(&path, b"x").at(&path)?;
    let file = fs::File::open(&path).at(&path)?;
    let map = map_file_read_only(&file, 2 * page)?;
    say!(
        "  mapped {} pages of a {}-byte file",
        map.len() / page,
        file.metadata()?.len()
    );
    seen.push(in_child(
        "read past the end of the file",
        witness,
        map.address(),
        || i32::from(map.read(page)),
    )?);
    Ok(())
}
// ANCHOR_END: step3

// ANCHOR: table
fn what_each_means(seen: &[Seen]) {
    say!(
        "\nWhat each fault means (signal from the parent, si_code from the handler)"
    );
    say!(
        "  {:<32} {:<8} {:<12} meaning",
        "the child",
        "signal",
        "si_code"
    );
    for row in seen {
        let signal = match row.outcome {
            ChildOutcome::Signaled(signal) => signal.as_str(),
            _ => "none",
        };
        let (code, meaning) = row
            .fault
            .map_or(("-", "no fault reported"), |f| (f.code_name(), f.meaning()));
        say!("  {:<32} {signal:<8} {code:<12} {meaning}", row.what);
    }
}
// ANCHOR_END: table

/// `--fault KIND`: one fault, in a child, and the report a test can read.
fn one_fault(experiment: Experiment, scratch: &Path) -> Result {
    say!("exec-memory --fault: one fault, in a child");
    let page = support::page_size();
    let witness = FaultWitness::new()?;
    let add = ADD_CODE.unwrap_or(&[0xc3]);
    let seen = match experiment {
        Experiment::RunWritable => {
            let code = map_read_write(page)?;
            write_code(&code, add);
            in_child("call code in a rw- page", &witness, code.address(), || {
                // SAFETY: not executable: the call faults in this child.
                i32::from(unsafe { call_add(&code, 40, 2) } == 42)
            })?
        }
        Experiment::WriteCode => {
            let code = map_read_write(page)?;
            write_code(&code, add);
            make_executable(&code)?;
            in_child("store into a r-x page", &witness, code.address(), || {
                code.write(0, 0x90);
                0
            })?
        }
        Experiment::GuardPage => {
            let guard = map_guard_page(page)?;
            in_child("read a PROT_NONE page", &witness, guard.address(), || {
                i32::from(guard.read(0))
            })?
        }
        Experiment::AfterMunmap => {
            let gone = map_read_write(page)?;
            let address = gone.address();
            in_child("read a page after munmap", &witness, address, || {
                i32::from(read_after_munmap(gone))
            })?
        }
        Experiment::PastEof => {
            let path = scratch.join("one-byte");
            fs::write(&path, b"x").at(&path)?;
            let map =
                map_file_read_only(&fs::File::open(&path).at(&path)?, 2 * page)?;
            in_child(
                "read past the end of a file",
                &witness,
                map.address(),
                || i32::from(map.read(page)),
            )?
        }
    };
    match seen.fault {
        Some(fault) => say!(
            "  report: signal {} si_code {} offset {}",
            fault.signal as i32,
            fault.code,
            fault.offset
        ),
        None => say!("  report: none"),
    }
    Ok(())
}
