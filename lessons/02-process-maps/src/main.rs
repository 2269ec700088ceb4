//! The walkthrough for lesson 2: run it with `cargo xtask run-lesson process-maps`.

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use process_maps::maps::{self, Kind, Mapping};
use process_maps::{
    Specimens, Target, executable_path, group_by_kind, libc_code, place_segments,
    program_headers, read_maps, read_smaps, relro_range, run_helper, segment_role,
};
use support::cli::Cli;
use support::out::yes_no;
use support::{Result, say};

mod exercises;
mod runner;

const CLI: Cli = support::lesson_cli! {
    usage: "\
Flags:
  --pid PID    show another process's map instead of this one's (steps 1-2)
  --svg FILE   also draw this run's address space as an SVG picture in FILE
               (- for standard output: then the picture, without the story)
  --force      with --svg, replace an existing FILE
  --helper     (used by the lesson itself) print this process's libc code
               mapping, then wait for stdin to close
  -h, --help   print this help
",
    flags: &["--pid", "--svg", "--force", "--helper", "--help"],
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
    CLI.begin(runner::EXERCISES);
    let result = parse_args().and_then(|(mode, svg)| match mode {
        Mode::Help => CLI.help(),
        Mode::Walkthrough => {
            support::svg::with_picture(&CLI, svg, walkthrough, || {
                process_maps::picture::live_picture(Target::This)
            })
        }
        Mode::OtherProcess(pid) => support::svg::with_picture(
            &CLI,
            svg,
            || other_process(pid),
            || process_maps::picture::live_picture(Target::Pid(pid)),
        ),
        Mode::Helper => {
            run_helper().map_err(|e| CLI.refuse(format_args!("helper: {e}")))
        }
    });
    CLI.finish(result);
}

type Picture = Option<(std::ffi::OsString, bool)>;

fn parse_args() -> Result<(Mode, Picture)> {
    let mut mode = Mode::Walkthrough;
    let (mut svg, mut force) = (None, false);
    let mut args = CLI.args();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            _ if CLI.is_help(&arg) => return Ok((Mode::Help, None)),
            Some("--helper") => return Ok((Mode::Helper, None)),
            Some("--svg") => svg = Some(CLI.value_for("--svg", args.next())?),
            Some("--force") => force = true,
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
    Ok((mode, support::svg::requested(&CLI, svg, force)?))
}

fn walkthrough() -> Result {
    say!("process-maps: how does the OS load my process and libraries into memory?");
    let mappings = this_processs_map()?;
    let exe = executable_path(Target::This);
    from_segments_to_mappings(Target::This, &mappings, exe.as_deref());
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
    say!("\n  The four specimens, as /proc/self/maps names them, and what they are:");
    for address in specimens.addresses() {
        if let Some(m) = mappings.iter().find(|m| m.start == address) {
            say!("    {} {}", m.perms, fit(&m.pathname, 76));
            say!("         {}", specimen_note(m.kind(exe.as_deref())));
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
    say!("  {name}'s code mapping (r-xp) in each:");
    say!(
        "    {:<14}{:<20}{:<12}{:<8}inode",
        "",
        "address",
        "offset",
        "device"
    );
    for (who, m) in [("this process", ours), ("the helper", &theirs)] {
        let device = format!("{:02x}:{:02x}", m.device.major, m.device.minor);
        let (start, offset) = (format!("{:#x}", m.start), format!("{:#x}", m.offset));
        say!("    {who:<14}{start:<20}{offset:<12}{device:<8}{}", m.inode);
    }
    say!(
        "  Same device, inode and offset: {}.",
        yes_no(ours.same_file_pages(&theirs))
    );
    say!(
        "  Same address: {}.",
        if ours.start == theirs.start {
            "yes (is ASLR off?)"
        } else {
            "no, each process has its own random layout (ASLR)"
        }
    );
    say!(
        "  Both map the same page-cache pages of {name}'s code, which nobody writes:"
    );
    say!("  one copy in RAM, however many processes.");
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
        ("Rss", "resident: its pages in RAM, mapped here"),
        ("Pss", "each page split among the processes that map it"),
        ("Shared_Clean", "resident, mapped by others too, unmodified"),
        (
            "Private_Clean",
            "resident, mapped by this process only, unmodified",
        ),
    ] {
        say!("    {:>7} kB  {key:<15}{meaning}", field(key));
    }
    let (rss, pss) = (field("Rss"), field("Pss"));
    say!(
        "  Pss < Rss: {}. Rss counts every page in full; Pss splits each among its",
        yes_no(pss < rss)
    );
    say!("  sharers, so Pss summed over all processes counts each page once.");
    if pss > 0 {
        say!(
            "  Rss / Pss = {:.1}: the harmonic mean of how many processes map each of its",
            rss as f64 / pss as f64
        );
        say!(
            "  pages, not their plain average: pages few processes map weigh the most."
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
            "  (its executable's path is not readable, so its mappings count as other files)"
        );
    }
    from_segments_to_mappings(target, &mappings, exe.as_deref());
    say!(
        "\nSteps 3 and 4 compare the lesson with a helper it starts: run it without --pid."
    );
    Ok(())
}

// ANCHOR: print_groups
fn print_groups(source: &str, mappings: &[Mapping], exe: Option<&str>) {
    say!("  {source} has {} lines. By kind:", mappings.len());
    for group in group_by_kind(mappings, exe) {
        let plural = if group.count == 1 { "" } else { "s" };
        say!(
            "    {:<22} {} mapping{plural}, {}",
            group.kind.label(),
            group.count,
            human_size(group.bytes)
        );
        let named = !matches!(
            group.kind,
            Kind::Heap
                | Kind::Stack
                | Kind::Anonymous
                | Kind::Executable
                | Kind::File
        );
        if named {
            for line in wrap(&group.names, 86 - 27) {
                say!("{:27}{line}", "");
            }
        }
    }
}
// ANCHOR_END: print_groups

fn specimen_note(kind: Kind) -> &'static str {
    match kind {
        Kind::SharedAnonymous => {
            "shared anonymous memory: an internal tmpfs inode, /dev/zero in name only"
        }
        Kind::Memfd => "a memfd: a file with a name but no directory",
        Kind::SharedMemory => "a POSIX shm object: a file on the tmpfs at /dev/shm",
        Kind::DeletedFile => "a deleted file: its pages live on while mapped",
        _ => "",
    }
}

// ANCHOR: step2
fn from_segments_to_mappings(
    target: Target,
    mappings: &[Mapping],
    exe: Option<&str>,
) {
    say!("\nStep 2. From the executable's segments to its mappings");
    let Some(exe) = exe.filter(|path| mappings.iter().any(|m| m.pathname == *path))
    else {
        say!("  No mapping names the executable's file.");
        return;
    };
    say!(
        "  execve made the kernel map the executable, and ld.so (the dynamic loader)."
    );
    // The executable's layout is the linker's choice (rust-lld and GNU ld
    // differ), so its rows are not part of the story; libc's table is.
    segment_table(
        target,
        "The executable",
        &target.proc_path("exe"),
        exe,
        mappings,
        Rows::Hide,
    );
    say!("  (How its segments become mappings depends on the linker that built it.)");
    if let Some(libc) = libc_code(mappings) {
        say!("  Then ld.so mapped each library the program needs, libc among them.");
        let name = libc.file_name().unwrap_or("libc");
        segment_table(
            target,
            name,
            &libc.pathname,
            &libc.pathname,
            mappings,
            Rows::Show,
        );
    }
    say!(
        "  A mapping has one set of permissions: where ld.so made a RELRO part of a"
    );
    say!(
        "  segment read-only (mprotect), the rest stays writable in a second mapping."
    );
    say!("  And .bss past the end of the file gets anonymous memory of its own.");
}

/// Whether [`segment_table`] prints a row per mapping, or only the counts.
#[derive(PartialEq)]
enum Rows {
    Show,
    Hide,
}

/// One object's segments and the mappings they became, as a table.
fn segment_table(
    target: Target,
    what: &str,
    file: &str,
    path: &str,
    mappings: &[Mapping],
    rows: Rows,
) {
    let headers = match program_headers(file) {
        Ok(headers) => headers,
        Err(e) => {
            say!("  {what}: cannot read its program headers: {e}.");
            return;
        }
    };
    let placed = place_segments(&headers, mappings, path);
    let relro = relro_range(&headers, &placed);
    let count = |file_backed: bool| {
        let all = placed.iter().flat_map(|p| &p.mappings);
        all.filter(|m| (m.inode != 0) == file_backed).count()
    };
    say!(
        "  {what} has {} PT_LOAD segments (its program headers say so);",
        headers.loads.len()
    );
    say!(
        "  {} shows {} mappings of its file, and {} without a file{}",
        target.proc_path("maps"),
        count(true),
        count(false),
        if rows == Rows::Show { ":" } else { "." }
    );
    if rows == Rows::Hide {
        return;
    }
    say!("    segment  offset    mapped as  what the linker put there");
    for p in &placed {
        let s = p.segment;
        let flags = format!(
            "{}{}{}",
            pick(s.read, 'r'),
            pick(s.write, 'w'),
            pick(s.exec, 'x')
        );
        for (index, m) in p.mappings.iter().enumerate() {
            let (flags, offset) = match index {
                0 => (flags.as_str(), format!("{:#x}", s.offset)),
                _ => ("", String::new()),
            };
            let perms = m.perms.to_string();
            let role = segment_role(&s, m, relro.clone());
            say!("    {flags:<8} {offset:<9} {perms:<10} {role}");
        }
    }
}

fn pick(on: bool, letter: char) -> char {
    if on { letter } else { '-' }
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

/// `names` joined by ", " into lines of at most `width` columns.
fn wrap(names: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for name in names {
        match lines.last_mut() {
            Some(line) if line.len() + 2 + name.len() <= width => {
                line.push_str(", ");
                line.push_str(name);
            }
            Some(line) => {
                line.push(',');
                lines.push(name.clone());
            }
            None => lines.push(name.clone()),
        }
    }
    lines
}

/// `text`, or its last `width` columns behind "...", whichever fits.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    let tail: String = text.chars().skip(count - (width - 3)).collect();
    format!("...{tail}")
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b => format!("{} KiB", b / 1024),
    }
}
