//! The walkthrough as a subprocess: its story snapshotted, its facts asserted
//! from the same run, and each `--fault` checked to make the fault it names.

use std::sync::OnceLock;

const LESSON: &str = env!("CARGO_BIN_EXE_exec-memory");

/// One run of the walkthrough, shared by the snapshot and the fact tests.
fn story() -> &'static str {
    static STORY: OnceLock<String> = OnceLock::new();
    STORY.get_or_init(|| test_support::testing::story(LESSON))
}

/// True when the kernel refused PR_SET_MDWE (before Linux 6.3).
fn kernel_lacks_mdwe(out: &str) -> bool {
    out.contains("prctl -> EINVAL: this kernel has no MDWE")
}

/// The recorded story is from a kernel with MDWE (Linux 6.3+). On a kernel
/// without it, the three lines that differ read as they did there; the
/// fact test checks what this kernel really did.
const WITHOUT_MDWE_AS_RECORDED: [(&str, &str); 3] = [
    (
        r"prctl -> EINVAL: this kernel has no MDWE \(it came in Linux 6\.3\)",
        "prctl -> ok: memory-deny-write-execute is on for good",
    ),
    (
        r"(mprotect\(PROT_READ \| PROT_EXEC\) of a written page) -> ok",
        "$1 -> EACCES (Permission denied)",
    ),
    (
        r"(    mmap\(PROT_READ \| PROT_WRITE \| PROT_EXEC\)) -> granted",
        "$1 -> EACCES",
    ),
];

// The snapshot is the x86-64 story; other CPUs skip step 1 (the facts say so).
#[cfg_attr(not(target_arch = "x86_64"), ignore)]
#[test]
fn the_story() {
    let out = story();
    let filters: &[(&str, &str)] = if kernel_lacks_mdwe(out) {
        &WITHOUT_MDWE_AS_RECORDED
    } else {
        &[]
    };
    test_support::story_snapshots!(out, filters);
}

/// The line that starts with `what`, trimmed.
fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(what))
        .unwrap_or_else(|| panic!("no {what:?} in\n{out}"))
}

/// The lines a child step printed: from `  {what}:` to its `-> child` line.
fn child_step<'a>(out: &'a str, what: &str) -> Vec<&'a str> {
    let header = format!("  {what}:");
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no {header:?} in\n{out}"));
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("  -> child"))
            .unwrap_or_else(|| panic!("{header:?} has no ending in\n{out}"));
    lines[start + 1..=end].iter().map(|l| l.trim()).collect()
}

/// Asserts that a child step's handler reported `handler` and that the
/// child ended as `ending`.
fn faulted(out: &str, what: &str, handler: &str, ending: &str) {
    let step = child_step(out, what);
    assert_eq!(step, [handler, ending], "{what}");
}

const SEGV: &str = "-> child killed by SIGSEGV (signal 11)";
const BUS: &str = "-> child killed by SIGBUS (signal 7)";

#[test]
fn every_line_fits_in_86_columns() {
    for line in story().lines() {
        assert!(line.chars().count() <= 86, "too wide: {line:?}");
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn step1_the_same_bytes_are_data_then_code() {
    let out = story();
    assert!(line(out, "mapped a read-write page at").ends_with("says rw-p"));
    assert!(out.contains("wrote 8d 04 37 c3:"));
    faulted(
        out,
        "call add(40, 2) in the rw- page",
        "SIGSEGV handler: si_code SEGV_ACCERR (2), fault at offset 0 of the mapping",
        SEGV,
    );
    assert!(line(out, "mprotect(PROT_READ | PROT_EXEC):").ends_with("now says r-xp"));
    assert_eq!(
        line(out, "called it from the walkthrough itself"),
        "called it from the walkthrough itself: add(40, 2) = 42"
    );
    faulted(
        out,
        "store 0x90 into the r-x page",
        "SIGSEGV handler: si_code SEGV_ACCERR (2), fault at offset 0 of the mapping",
        SEGV,
    );
    assert!(!out.contains("unexpected"));
}

#[cfg(not(target_arch = "x86_64"))]
#[test]
fn step1_says_plainly_it_has_no_code_for_this_cpu() {
    assert!(story().contains("This lesson has machine code for x86-64 only"));
}

#[test]
fn step2_w_xor_x_is_what_the_kernel_was_asked_to_enforce() {
    let out = story();
    // This kernel grants RWX unless a policy (SELinux, ...) says otherwise;
    // the lesson names what it found.
    let rwx = line(out, "mmap(PROT_READ | PROT_WRITE | PROT_EXEC) ->");
    assert!(
        rwx == "mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> granted: rwxp"
            || rwx.contains("-> EACCES")
            || rwx.contains("-> EPERM"),
        "{rwx}"
    );
    let child = child_step(
        out,
        "in a child, prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)",
    );
    let flip = "mprotect(PROT_READ | PROT_EXEC) of a written page";
    let rwx_in_child = "mmap(PROT_READ | PROT_WRITE | PROT_EXEC)";
    if kernel_lacks_mdwe(out) {
        // Before Linux 6.3: the prctl is refused, and nothing changes.
        assert_eq!(child[1], format!("{flip} -> ok"));
        assert_eq!(child[2], format!("{rwx_in_child} -> granted"));
    } else {
        assert_eq!(
            child[0],
            "prctl -> ok: memory-deny-write-execute is on for good"
        );
        assert_eq!(child[1], format!("{flip} -> EACCES (Permission denied)"));
        assert_eq!(child[2], format!("{rwx_in_child} -> EACCES"));
    }
    if cfg!(target_arch = "x86_64") {
        // Two views of one memfd are never one writable+executable mapping.
        assert_eq!(
            child[3],
            "one memfd mapped twice, rw- and r-x: add(40, 2) = 42 through r-x"
        );
    }
    assert_eq!(child[4], "-> child exited normally (code 0)");
    // MDWE bound the child only.
    assert_eq!(
        line(out, "back in the walkthrough"),
        "back in the walkthrough, the same flip still works: r-xp"
    );
}

#[test]
fn step3_segv_and_bus_tell_different_stories() {
    let out = story();
    assert!(line(out, "mapped a PROT_NONE page").ends_with("says ---p"));
    faulted(
        out,
        "read the PROT_NONE page",
        "SIGSEGV handler: si_code SEGV_ACCERR (2), fault at offset 0 of the mapping",
        SEGV,
    );
    // SEGV_MAPERR: after munmap nothing is mapped there any more.
    faulted(
        out,
        "munmap a page, then read it",
        "SIGSEGV handler: si_code SEGV_MAPERR (1), fault at offset 0 of the mapping",
        SEGV,
    );
    faulted(
        out,
        "read past the end of the file",
        "SIGBUS handler: si_code BUS_ADRERR (2), fault at offset 4096 of the mapping",
        BUS,
    );
}

#[test]
fn the_table_agrees_with_what_the_children_reported() {
    let out = story();
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("What each fault means"))
        .skip(2)
        .map(str::trim)
        .collect();
    let mut expected = vec![
        "read the PROT_NONE page SIGSEGV SEGV_ACCERR mapped, access not allowed",
        "munmap a page, then read it SIGSEGV SEGV_MAPERR nothing mapped there",
        "read past the end of the file SIGBUS BUS_ADRERR no file behind the page",
    ];
    if cfg!(target_arch = "x86_64") {
        expected.splice(
            0..0,
            [
                "call add(40, 2) in the rw- page SIGSEGV SEGV_ACCERR mapped, access not allowed",
                "store 0x90 into the r-x page SIGSEGV SEGV_ACCERR mapped, access not allowed",
            ],
        );
    }
    let squeezed: Vec<String> = table
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(squeezed, expected);
}

/// What `--fault KIND` reported: the child's ending and the handler's report.
fn one_fault(kind: &str) -> (String, String) {
    let run = test_support::testing::run_ok(LESSON, &["--fault", kind]);
    (
        line(&run.stdout, "-> child").to_owned(),
        line(&run.stdout, "report:").to_owned(),
    )
}

#[test]
fn each_fault_mode_makes_the_fault_it_names() {
    let cases = [
        ("run-writable", SEGV, "report: signal 11 si_code 2 offset 0"),
        ("write-code", SEGV, "report: signal 11 si_code 2 offset 0"),
        ("guard-page", SEGV, "report: signal 11 si_code 2 offset 0"),
        ("after-munmap", SEGV, "report: signal 11 si_code 1 offset 0"),
        ("past-eof", BUS, "report: signal 7 si_code 2 offset 4096"),
    ];
    for (kind, ending, report) in cases {
        let (got_ending, got_report) = one_fault(kind);
        assert_eq!(got_ending, ending, "{kind}");
        assert_eq!(got_report, report, "{kind}");
    }
}

#[test]
fn a_kernel_without_mdwe_reads_as_recorded() {
    // What the child prints where prctl(PR_SET_MDWE) is EINVAL, as the
    // filters of `the_story` turn it into the recorded lines.
    let without = "    prctl -> EINVAL: this kernel has no MDWE (it came in Linux 6.3)\n\
                   \x20   mprotect(PROT_READ | PROT_EXEC) of a written page -> ok\n\
                   \x20   mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> granted\n\
                   \x20 mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> granted: rwxp";
    assert!(kernel_lacks_mdwe(without));
    test_support::testing::settings(&WITHOUT_MDWE_AS_RECORDED).bind(|| {
        // (insta strips the two spaces of indentation all four lines share.)
        insta::assert_snapshot!(without, @r"
          prctl -> ok: memory-deny-write-execute is on for good
          mprotect(PROT_READ | PROT_EXEC) of a written page -> EACCES (Permission denied)
          mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> EACCES
        mmap(PROT_READ | PROT_WRITE | PROT_EXEC) -> granted: rwxp
        ");
    });
}
