//! Ctrl-C at any moment leaves nothing behind: the lesson is started many
//! times and interrupted (SIGINT or SIGTERM) after a random delay; each run
//! has its own TMPDIR, so what it left there can be counted, and so can
//! /dev/shm names of its pid and processes that outlived it.

const LESSON: &str = env!("CARGO_BIN_EXE_process-maps");

#[test]
fn interrupted_at_random_moments_it_leaves_nothing_behind() {
    let runs = support::testing::interrupt_runs(40);
    let found = support::testing::interrupt_at_random(
        LESSON,
        &[],
        runs,
        |_| {},
        |cwd| {
            support::testing::entries(cwd)
                .into_iter()
                .map(|name| format!("left {name} in its current directory"))
                .collect()
        },
    );
    eprintln!(
        "process-maps: {} runs, {} ended by the signal, {} leftovers",
        found.runs,
        found.signalled,
        found.leftovers.len()
    );
    assert!(found.leftovers.is_empty(), "{:#?}", found.leftovers);
}
