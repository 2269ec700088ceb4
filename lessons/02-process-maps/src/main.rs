//! The walkthrough for lesson 2: run it with `cargo xtask run-lesson process-maps`.

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use process_maps::maps::{self, Kind, Mapping};
use process_maps::{
    Specimens, Target, executable_path, executable_segments, group_by_kind,
    libc_code, read_maps, read_smaps, run_helper, segment_role,
};
use support::cli::Cli;
use support::out::yes_no;
use support::{Result, say};

const CLI: Cli = Cli {
    lesson: "process-maps",
    usage: "\
process-maps: how does the OS load my process and libraries into memory?

Usage: cargo xtask run-lesson process-maps [-- FLAGS]

Flags:
  --pid PID    show another process's map instead of this one's (steps 1-2)
  --helper     (used by the lesson itself) print this process's libc code
               mapping, then wait for stdin to close
  -h, --help   print this help
",
    flags: &["--pid", "--helper", "--help"],
};

/// How long the helper process may take to report, and to exit.
const HELPER_LIMIT: Duration = Duration::from_secs(10);

/// What the command line asks for.
enum Mode {
    Help,
    Walkthrough,
    /// `--pid PID`: steps 1 and 2 for another process.
    OtherProcess(u32),
    /// `--helper`: the second process of step 3.
    Helper,
}

fn main() {
    CLI.begin();
    let result = parse_args().and_then(|mode| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => walkthrough(),
        Mode::OtherProcess(pid) => other_process(pid),
        Mode::Helper => {
            run_helper().map_err(|e| CLI.refuse(format_args!("helper: {e}")))
        }
    });
    CLI.finish(result);
}

fn parse_args() -> Result<Mode> {
    let mut mode = Mode::Walkthrough;
    let mut args = CLI.args();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok(Mode::Help),
            Some("--helper") => return Ok(Mode::Helper),
            Some("--pid") => {
                let value = CLI.value_for("--pid", args.next())?;
                let text = value.to_string_lossy();
                match text.parse::<u32>() {
                    Ok(pid) if pid > 0 => mode = Mode::OtherProcess(pid),
                    _ => {
                        return Err(CLI.refuse(format_args!(
                            "--pid {text}: not a process id. Give a positive whole number, \
                             such as the pid `pgrep bash` prints."
                        )));
                    }
                }
            }
            _ => return Err(CLI.unknown_argument(&arg)),
        }
    }
    Ok(mode)
}

fn walkthrough() -> Result {
    say!("process-maps: how does the OS load my process and libraries into memory?");
    let mappings = this_processs_map()?;
    let exe = executable_path(Target::This);
    the_executables_segments(&mappings, exe.as_deref());
    let Some((ours, mut helper)) = a_second_process_maps_the_same_pages(&mappings)?
    else {
        return Ok(());
    };
    counting_shared_pages(ours)?;
    drop(helper.stdin.take()); // EOF: the helper exits.
    let outcome = support::spawn::wait_bounded(&mut helper, HELPER_LIMIT)?;
    say!("\n  The helper {outcome}.");
    Ok(())
}

// ANCHOR: step1
fn this_processs_map() -> Result<Vec<Mapping>> {
    say!("\nStep 1. This process's map, grouped by kind");
    say!("  First the lesson maps one of each kind a program can make for itself:");
    say!(
        "  shared anonymous memory, a memfd, a POSIX shm object, and a file it then deletes."
    );
    let scratch = support::scratch_dir()?;
    let specimens = Specimens::create(scratch.path())?;
    let mappings = read_maps(Target::This)?;
    let exe = executable_path(Target::This);
    print_groups("/proc/self/maps", &mappings, exe.as_deref());
    say!("\n  The four specimens, as /proc/self/maps lists them:");
    for address in specimens.addresses() {
        if let Some(m) = mappings.iter().find(|m| m.start == address) {
            let note = specimen_note(m.kind(exe.as_deref()));
            say!("    {}  {note:<48}  {}", m.perms, m.pathname);
        }
    }
    Ok(mappings)
}
// ANCHOR_END: step1

// ANCHOR: step3
/// Returns this process's libc code mapping and the helper, still running
/// (it exits when its stdin closes); nothing for a static build.
fn a_second_process_maps_the_same_pages(
    mappings: &[Mapping],
) -> Result<Option<(&Mapping, std::process::Child)>> {
    say!("\nStep 3. A second process maps the same libc pages");
    let Some(ours) = libc_code(mappings) else {
        say!(
            "  This program has no libc mapping: it is statically linked, so its C library"
        );
        say!(
            "  is part of the executable. There is no shared library to compare; steps 3"
        );
        say!("  and 4 need a dynamically linked build.");
        return Ok(None);
    };
    let mut helper = Command::new(std::env::current_exe()?)
        .arg("--helper")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            support::errors::explain_spawn(
                "the helper (this lesson's binary again)",
                &e,
            )
        })?;
    say!(
        "  Started this lesson's binary again as a helper, pid {}.",
        helper.id()
    );
    let theirs = first_line_within(helper.stdout.take(), HELPER_LIMIT);
    let theirs = match theirs.as_deref().map(maps::parse_line) {
        Some(Ok(mapping)) => mapping,
        _ => {
            let _ = helper.kill();
            let outcome = support::spawn::wait_bounded(&mut helper, HELPER_LIMIT)?;
            return Err(format!(
                "the helper (this lesson's binary run with --helper) did not report its libc \
                     mapping within {} s (it {outcome}). Run it alone to see why: \
                     cargo xtask run-lesson process-maps -- --helper",
                HELPER_LIMIT.as_secs()
            )
            .into());
        }
    };
    let name = ours.file_name().unwrap_or("libc");
    say!("  {name}'s code segment (r-xp) in each:");
    for (who, m) in [("this process", ours), ("the helper", &theirs)] {
        say!(
            "    {who:<13} at {:#x}, file offset {:#x}, device {:02x}:{:02x}, inode {}",
            m.start,
            m.offset,
            m.device.major,
            m.device.minor,
            m.inode
        );
    }
    say!(
        "  Same file, offset, device and inode: {}. Same address: {}.",
        yes_no(ours.same_file_pages(&theirs)),
        if ours.start == theirs.start {
            "yes (is ASLR off?)"
        } else {
            "no, each process has its own random layout (ASLR)"
        }
    );
    say!(
        "  Both map the same page-cache pages of {name}: one copy in RAM, however many processes."
    );
    Ok(Some((ours, helper)))
}
// ANCHOR_END: step3

// ANCHOR: step4
fn counting_shared_pages(ours: &Mapping) -> Result {
    let name = ours.file_name().unwrap_or("libc");
    say!("\nStep 4. Counting shared pages: /proc/self/smaps for {name}'s code");
    let smaps = read_smaps(Target::This)?;
    let fields = maps::smaps_fields(&smaps, ours.start).unwrap_or_default();
    let field =
        |key: &str| fields.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v);
    for (key, meaning) in [
        ("Rss", "resident: pages of it in RAM and mapped here"),
        (
            "Pss",
            "proportional: each page divided among the processes mapping it",
        ),
        (
            "Shared_Clean",
            "resident pages other processes map too, unmodified",
        ),
        ("Private_Clean", "resident pages only this process maps"),
    ] {
        say!(
            "    {:<14} {meaning:<64} {} kB",
            format!("{key}:"),
            field(key)
        );
    }
    let (rss, pss) = (field("Rss"), field("Pss"));
    say!(
        "  Pss < Rss: {}. Rss counts every page fully; Pss splits each one among its",
        yes_no(pss < rss)
    );
    say!("  sharers, so summing Pss over all processes counts the RAM really used.");
    if pss > 0 {
        say!(
            "  Rss / Pss = {:.1}: each resident page here is shared on average that many ways.",
            rss as f64 / pss as f64
        );
    }
    Ok(())
}
// ANCHOR_END: step4

/// `--pid PID`: steps 1 and 2 for another process.
fn other_process(pid: u32) -> Result {
    let target = Target::Pid(pid);
    let mappings = read_maps(target)?;
    let exe = executable_path(target);
    say!("process-maps: the map of process {pid}");
    say!("\nStep 1. Its map, grouped by kind");
    print_groups(&format!("/proc/{pid}/maps"), &mappings, exe.as_deref());
    if exe.is_none() {
        say!(
            "  (its executable's path is not readable, so its segments count as files)"
        );
    }
    the_executables_segments(&mappings, exe.as_deref());
    say!(
        "\nSteps 3 and 4 compare the lesson with a helper it starts: run it without --pid."
    );
    Ok(())
}

// ANCHOR: print_groups
fn print_groups(source: &str, mappings: &[Mapping], exe: Option<&str>) {
    say!("  {source} has {} lines. By kind:", mappings.len());
    for group in group_by_kind(mappings, exe) {
        let names = match group.kind {
            Kind::Heap
            | Kind::Stack
            | Kind::Anonymous
            | Kind::Executable
            | Kind::File => String::new(),
            _ => format!(": {}", group.names.join(", ")),
        };
        let plural = if group.count == 1 { "" } else { "s" };
        say!(
            "    {:<22} {} mapping{plural}, {}{names}",
            group.kind.label(),
            group.count,
            human_size(group.bytes)
        );
    }
}
// ANCHOR_END: print_groups

fn specimen_note(kind: Kind) -> &'static str {
    match kind {
        Kind::SharedAnonymous => "shared anonymous memory: an unlinked /dev/zero",
        Kind::Memfd => "a memfd: a file with a name but no directory",
        Kind::SharedMemory => "a POSIX shm object: a file on tmpfs at /dev/shm",
        Kind::DeletedFile => "a deleted file: its pages live while mapped",
        _ => "",
    }
}

// ANCHOR: step2
fn the_executables_segments(mappings: &[Mapping], exe: Option<&str>) {
    say!("\nStep 2. The executable's segments");
    let segments = executable_segments(mappings, exe);
    if segments.is_empty() {
        say!("  No mapping names the executable's file.");
        return;
    }
    say!(
        "  The loader mapped the program's file {} times, once per segment. By role:",
        segments.len()
    );
    // How many segments share a role depends on the linker (GNU ld gives
    // RELRO a mapping of its own, rust-lld does not), so list each role once.
    let mut roles: Vec<(&Mapping, usize)> = Vec::new();
    for m in &segments {
        match roles.last_mut() {
            Some((first, count))
                if (first.perms, segment_role(first))
                    == (m.perms, segment_role(m)) =>
            {
                *count += 1
            }
            _ => roles.push((m, 1)),
        }
    }
    for (m, _) in &roles {
        say!(
            "    {}  {:<66} at file offset {:#x}",
            m.perms,
            segment_role(m),
            m.offset
        );
    }
    say!(
        "  How many segments a role takes depends on the linker that built the program."
    );
    let one_file = segments
        .iter()
        .all(|m| (m.device, m.inode) == (segments[0].device, segments[0].inode));
    say!(
        "  All from one file (same device and inode): {}.",
        yes_no(one_file)
    );
    say!(
        "  The offsets differ because each segment maps its own part of the file, starting"
    );
    say!(
        "  on a page boundary; the permissions differ so that code is never writable and"
    );
    say!("  data never executable.");
}
// ANCHOR_END: step2

/// The first line `reader` produces, if it comes within `limit`. Waits with
/// poll, not a thread: the lesson stays single-threaded.
fn first_line_within(
    reader: Option<std::process::ChildStdout>,
    limit: Duration,
) -> Option<String> {
    let mut reader = reader?;
    let started = Instant::now();
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let left = limit.checked_sub(started.elapsed())?;
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
        let mut byte = [0u8; 256];
        match reader.read(&mut byte) {
            Ok(0) | Err(_) => return None,
            Ok(n) => line.extend_from_slice(&byte[..n]),
        }
    }
    let text = String::from_utf8_lossy(&line).into_owned();
    text.lines().next().map(str::to_owned)
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b => format!("{} KiB", b / 1024),
    }
}
