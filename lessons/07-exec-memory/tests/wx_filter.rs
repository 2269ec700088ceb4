//! The runner's seccomp filter (`src/runner/wx_filter.rs`): a JIT that maps
//! its page writable and executable at once fails exactly where a graded
//! test would call it, while the W^X flip works. Not graded: these tests
//! ask for the runner's own entries, never for an exercise.

use test_support::judge::{Request, Runner};

fn runner() -> Runner {
    Runner::new(env!("CARGO_BIN_EXE_exec-memory"))
}

#[test]
fn a_jit_that_maps_its_page_rwx_is_refused_where_the_graded_tests_call_it() {
    let k = fastrand::u32(..);
    let reply = runner().ask(
        Request::new("jit_add_constant:mapped_rwx")
            .arg(k)
            .list(&[1, 2])
            .arg("call"),
    );
    // The graded tests expect Ok([1 + k, 2 + k]): this fails them all.
    assert_eq!(reply.returned(), "Err(EACCES)", "{}", reply.call);
}

#[test]
fn every_way_to_a_writable_executable_page_is_refused_and_the_flip_is_not() {
    let probes = [
        "mmap",
        "mprotect",
        "pkey_mprotect",
        "shmat",
        "personality",
        "w_then_x",
    ];
    let requests = probes
        .iter()
        .map(|how| Request::new("wx_probe").arg(how))
        .collect();
    let replies = runner().ask_all(requests);
    let wrong: Vec<String> = replies
        .iter()
        .zip(probes)
        .filter_map(|(reply, how)| {
            let expected = if how == "w_then_x" {
                "Ok(())"
            } else {
                "Err(\"EACCES\")"
            };
            let yours = reply.returned();
            (yours != expected)
                .then(|| format!("{}: {yours}, not {expected}", reply.call))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
