//! The walkthrough as a subprocess: its story snapshotted, its facts asserted
//! from the same run.

use test_support::testing::line;

const LESSON: &str = env!("CARGO_BIN_EXE_shared-memory-ipc");

/// What varies from run to run, on top of the shared filters: random
/// names, uids, counts that depend on scheduling, and every measurement.
const FILTERS: &[(&str, &str)] = &[
    (
        r"shared-memory-ipc-[0-9a-f]{16}",
        "shared-memory-ipc-[RANDOM]",
    ),
    (r"\buid \d+", "uid [UID]"),
    (
        r"(\(Relaxed\) +)\d+ of (\d+), lost \d+",
        "$1[COUNT] of $2, lost [LOST]",
    ),
    (
        r"CPU \S+ here, CPU \S+ in the helper; the loops overlapped \d+% \(try \d+\)",
        "CPU [CPU] here, CPU [CPU] in the helper; the loops overlapped [N]% (try [N])",
    ),
    // Printed only when the loops did not run on two CPUs at once (one
    // usable CPU, or a busy machine), saying why: the chapter explains it.
    (
        r"(?ms)^    \((nothing lost|one CPU, yet|the loops ran at once for less).*?\)\n",
        "",
    ),
    // What vm.memfd_noexec is here decides the seals a new memfd starts
    // with (EXEC at 1 or 2); the facts check them against the value.
    (
        r"vm\.memfd_noexec [^:]+: (.*) starts with [A-Z|]+",
        "vm.memfd_noexec [FOUND]: $1 starts with [SEALS]",
    ),
    (r"\(its seals: [A-Z_|0-9x]+\)", "(its seals: [SEALS])"),
    (
        r"seals SHRINK\|GROW\|(EXEC\|)?SEAL,",
        "seals SHRINK|GROW|[EXEC|]SEAL,",
    ),
    (
        r"sched_yield \d+ times and the helper \d+ times",
        "sched_yield [N] times and the helper [N] times",
    ),
    (
        r"after \d+ futex waits \(\d+ slept\)",
        "after [N] futex waits ([N] slept)",
    ),
    (r"after \d+ spins", "after [N] spins"),
    (r"usable CPUs: \d+", "usable CPUs: [CPUS]"),
    // Printed only with one usable CPU, or only with two or more: the
    // snapshot reads the same either way (the chapter explains both).
    (r"(?m)^  \(one usable CPU.*\n.*\n", ""),
    (r"(?m)^  Pinned for spinning: .*\n", ""),
    (r"\d+\.\d+ GB/s", "[RATE] GB/s"),
    (r"\d+\.\dx", "[RATIO]x"),
    (r"\d+ ns\b", "[TIME] ns"),
];

#[test]
fn the_story_and_the_facts_behind_it() {
    let out = test_support::testing::story(LESSON);
    the_facts_behind(&out);
    test_support::story_snapshots!(out, FILTERS);
}

/// The numbers in `text`, in order.
fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The facts behind the story, asserted on the run the snapshot is of.
fn the_facts_behind(out: &str) {
    assert!(
        out.lines().all(|l| l.chars().count() <= 86),
        "a line is too wide:\n{out}"
    );

    // Step 1: the helper found the object by name, checked it, read our text.
    let ours = line(out, "mapped it at ");
    let pid = numbers(ours).pop().unwrap();
    assert!(out.contains(&format!("helper: read \"hello from pid {pid}\"")));
    assert!(out.contains("mode 0600: accepted"));
    assert!(out.contains("/dev/shm still lists it: no"));
    assert!(out.contains("helper: read \"still here after the unlink\""));
    assert!(out.contains("read \"and back\": the object lives on"));
    // Same object, different addresses: the pointer is useless there, the offset works.
    assert!(out.contains("is outside my mapping"), "{out}");
    assert!(
        out.contains("offset 24 from my start finds \"still here after the unlink\"")
    );
    // Squatting: the careless open was read by the squatter; O_EXCL refused.
    assert!(out.contains("the squatter reads \"my secret\""));
    assert!(out.contains("with O_EXCL: EEXIST"));
    assert!(out.contains("open_checked: refusing /dev/shm/"));
    // No name of this run is left in /dev/shm.
    for word in out.split_whitespace() {
        if let Some(at) = word.find("/dev/shm/shared-memory-ipc-") {
            let path = word[at..].trim_end_matches([':', ',']);
            assert!(
                !std::path::Path::new(path).exists(),
                "{path} was left behind"
            );
        }
    }

    // Step 2: a sealed memfd is accepted, an unsealed one refused; no name.
    // The seals a new memfd starts with are those vm.memfd_noexec says.
    let noexec = std::fs::read_to_string("/proc/sys/vm/memfd_noexec").ok();
    let found = match noexec.as_deref().map(str::trim) {
        Some(level) => format!("vm.memfd_noexec is {level}:"),
        None => "vm.memfd_noexec absent (Linux before 6.3):".to_owned(),
    };
    assert!(out.contains(&found), "expected {found:?} in\n{out}");
    let exec = matches!(noexec.as_deref().map(str::trim), Some("1" | "2"));
    let (sealed, fresh) = if exec {
        ("SHRINK|GROW|EXEC|SEAL", "EXEC")
    } else {
        ("SHRINK|GROW|SEAL", "SEAL")
    };
    assert!(
        out.contains(&format!("seals {sealed}, size 4096 bytes")),
        "{out}"
    );
    assert!(
        out.contains(&format!("without MFD_ALLOW_SEALING starts with {fresh}\n"))
    );
    assert!(out.contains(&format!("(its seals: {fresh})")));
    assert!(out.contains("helper: read \"sent by descriptor\""));
    assert!(out.contains("/dev/shm/shared-memory-ipc exists: no"));
    assert!(out.contains("helper: refusing the memfd"));

    // Step 3: racy <= 2N, atomic == 2N, and the lost count adds up.
    let racy = numbers(line(out, "load, then store (Relaxed)"));
    let atomic = numbers(line(out, "fetch_add "));
    let (total, two_n, lost) = (racy[0], racy[1], racy[2]);
    assert!(total <= two_n && total + lost == two_n, "{racy:?}");
    assert_eq!(atomic, vec![two_n, two_n, 0]);
    // Where and when the racy loops ran: with two usable CPUs the lesson
    // pinned them apart; loops that overlapped on two CPUs lost updates.
    let placed = line(out, "CPU ");
    let words: Vec<&str> = placed.split_whitespace().collect();
    let (ours, theirs) = (words[1], words[4].trim_end_matches(','));
    let overlap = numbers(placed)[2];
    let usable = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .count()
        })
        .unwrap_or(1);
    if usable > 1 {
        assert_ne!(ours, theirs, "pinned apart: {placed}");
    }
    let raced = ours != theirs
        && !ours.contains('-')
        && !theirs.contains('-')
        && overlap >= 50;
    if raced {
        assert!(
            lost > 0,
            "the loops overlapped {overlap}% on two CPUs: {racy:?}"
        );
    } else if lost == 0 {
        assert!(out.contains("    (nothing lost: "), "{out}");
    } else if ours == theirs {
        assert!(
            out.contains("    (one CPU, yet updates were lost: "),
            "{out}"
        );
    } else {
        assert!(
            out.contains("    (the loops ran at once for less than half"),
            "{out}"
        );
    }

    // Step 4: the shared robust mutex loses nothing; dead owners are reported.
    let locked = numbers(line(out, "each adds 1"));
    assert_eq!(locked[2], locked[3], "{locked:?}");
    assert_eq!(
        out.matches("how the helper ended: killed by SIGKILL")
            .count(),
        2
    );
    assert_eq!(
        out.matches("pthread_mutex_timedlock: EOWNERDEAD").count(),
        2
    );
    assert!(out.contains("the next pthread_mutex_timedlock: locked, clean"));
    assert!(out.contains("the next pthread_mutex_timedlock: ENOTRECOVERABLE"));
    // A private wake from another process finds nobody; a shared one does.
    assert!(out.contains("FUTEX_WAKE_PRIVATE from this process woke 0 waiter(s)"));
    assert!(out.contains("nobody woke me: ETIMEDOUT"));
    assert!(out.contains("FUTEX_WAKE from this process woke 1 waiter(s)"));
    assert!(out.contains("helper: woken"));

    // Step 5: the futex reader cost a wake per message; the spinner none.
    assert!(out.contains("this process made 20 FUTEX_WAKE calls"));
    assert!(out.contains("reached message 20 with 0 system calls"));

    // Step 6: every transport delivered every byte, in order.
    for transport in [
        "pipe, as it comes",
        "pipe, F_SETPIPE_SZ",
        "Unix stream",
        "SPSC ring",
    ] {
        let row = line(out, transport);
        assert!(row.contains("8388608 bytes, checksum ok"), "{row}");
    }
    assert!(!out.contains("WRONG"));
    // The ring's only system calls while it moved the data: sched_yield.
    let yields = numbers(line(out, "process called sched_yield"));
    assert_eq!(yields.len(), 2, "{yields:?}");
}

#[test]
fn the_bench_reports_every_transport_in_json() {
    // Correctness only: every byte arrived (the lesson fails otherwise) and
    // each line has its fields. Speed is never asserted.
    let cwd = tempfile::tempdir().unwrap();
    let run = test_support::testing::run(
        LESSON,
        &["--bench", "--mib", "2", "--json"],
        cwd.path(),
    );
    assert_eq!(
        run.outcome,
        support::ChildOutcome::Exited(0),
        "{}",
        run.stderr
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", run.stdout);
    for (line, transport) in lines.iter().zip(["pipe", "pipe-1m", "unix", "ring"]) {
        let start = format!(
            "{{\"transport\": \"{transport}\", \"chunk\": 65536, \"bytes\": 2097152, \"seconds\": "
        );
        assert!(line.starts_with(&start), "{line}");
        assert!(
            line.contains(", \"gbps\": ")
                && line.contains(", \"place\": \"free\"")
                && line.ends_with('}'),
            "{line}"
        );
    }
    for (line, rtt) in lines[4..].iter().zip(["pipe", "futex", "spin"]) {
        let start = format!(
            "{{\"rtt\": \"{rtt}\", \"round_trips\": 10000, \"ns_per_round_trip\": "
        );
        assert!(line.starts_with(&start) && line.ends_with('}'), "{line}");
    }
    assert!(test_support::testing::entries(cwd.path()).is_empty());
}
