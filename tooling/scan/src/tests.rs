//! The scanner's own tests: what passes, what is refused, and why.

use super::*;

fn refused(source: &str) -> bool {
    !problems(source).is_empty()
}

#[test]
fn ordinary_exercise_code_passes() {
    let fine = "use std::io;\n\
        #[derive(Debug, Clone, PartialEq)]\npub struct X { a: u8 }\n\
        /// Exercise 9.9: docs.\n#[must_use]\npub fn f(x: &[u8]) -> io::Result<u64> {\n\
        let v = vec![1u8, 2];\nassert!(matches!(v.len(), 2));\n\
        todo!(\"sum {} bytes\", x.len())\n}\n\
        pub extern \"C\" fn handler(_: i32) {}\n\
        mod helpers { pub fn x() {} }\n\
        #[allow(clippy::needless_range_loop)]\nfn g() { let s = format!(\"{}\", 1); }\n";
    assert_eq!(problems(fine), Vec::<String>::new());
}

#[test]
fn code_that_runs_before_main_is_refused_however_it_is_spelled() {
    let evil = "#[used]\n#[unsafe(link_section = \".init_array\")]\nstatic X: fn() = f;\n";
    let found = problems(evil);
    assert!(
        found[0].starts_with("line 1: the attribute `used`"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("line 2: the attribute `link_section`"),
        "{found:?}"
    );
    for evil in [
        "#[unsafe(no_mangle)] pub extern \"C\" fn main() {}",
        "#[unsafe(export_name = \"main\")] fn m() {}",
        "#[no_mangle] fn m() {}",
        "#[r#used] static X: u8 = 0;",
        "#[global_allocator] static A: std::alloc::System = std::alloc::System;",
        "#[link(name = \"evil\")] unsafe extern \"C\" {}",
        "unsafe extern \"C\" { fn getpid() -> i32; }",
        "extern crate core as c;",
        "#[path = \"../x.rs\"] mod early;",
        "mod\n early\n;",
        "#[debugger_visualizer(natvis_file = \"/etc/shadow\")] mod m {}",
        "#[cfg_attr(all(), no_mangle)] fn m() {}",
        "#![allow(long_running_const_eval)]",
        "macro_rules! m { () => {} }",
        "fn f() { core::arch::asm!(\"nop\"); }",
        "std::arch::global_asm!(\"nop\");",
        "const S: &str = include_str!(\"/etc/shadow\");",
        "const S: &[u8] = ::core::include_bytes!(\"/etc/shadow\");",
        "const S: &str = env!(\"HOME\");",
        "const S: Option<&str> = option_env!(\"HOME\");",
        "#[doc = include_str!(\"/etc/shadow\")] fn f() {}",
        "use std::arch::asm as a;",
        "use core::include_str as format;",
        "use core::{arch::{asm as nop}};",
        "fn f() { r#include!(\"x.rs\"); }",
        "#[derive(serde::Serialize)] struct X;",
    ] {
        assert!(refused(evil), "not refused: {evil}");
    }
}

#[test]
fn literals_cannot_put_the_scanner_out_of_step() {
    // A raw byte string, a C string and a char literal that a word
    // scanner reads as opening a string or comment.
    for evil in [
        "const A: &[u8] = br\"\\\"; #[used] #[unsafe(link_section = \".init_array\")] \
         static X: extern \"C\" fn() = f; extern \"C\" fn f() {}",
        "const A: &std::ffi::CStr = cr\"\\\"; #[used] static X: u8 = 0;",
        "fn f() { let _ = vec!['\"']; } #[used] static X: u8 = 0;",
        "fn f() { let _ = vec![b'\"', b'/']; } /* */ #[unsafe(no_mangle)] fn g() {}",
    ] {
        assert!(refused(evil), "not refused: {evil}");
    }
}

#[test]
fn what_hides_inside_a_macro_call_is_found() {
    for evil in [
        "fn f() { let _ = vec![{ #[used] static X: u8 = 0; 0 }]; }",
        "fn f() { let _ = vec![{ #[unsafe(link_section = \".init_array\")] static X: u8 = 0; 0 }]; }",
        "fn f() { let _ = format!(\"{}\", include_str!(\"/etc/shadow\")); }",
        "fn f() { assert!({ use std::arch::asm as a; true }); }",
        "fn f() { let _ = vec![{ unsafe extern \"C\" { fn g(); } 0 }]; }",
        "fn f() { let _ = vec![{ mod m; 0 }]; }",
        "fn f() { let _ = vec![{ macro_rules! m { () => {} } 0 }]; }",
        "fn f() { let _ = vec![{ #![allow(long_running_const_eval)] 0 }]; }",
        "fn f() { let _ = vec![{ fn g() { env!(\"HOME\"); } 0 }]; }",
        "fn f() { let _ = vec![{ #[r#unsafe(r#no_mangle)] fn g() {} 0 }]; }",
        "fn f() { let _ = vec![if !x { r#include_bytes!(\"/etc/shadow\") } else { 0 }]; }",
        "fn f() { let _ = vec![r#if!(x)]; }",
    ] {
        assert!(refused(evil), "not refused: {evil}");
    }
    // What is not a macro call is not refused as one.
    for fine in [
        "fn f(x: bool) { assert!(x != false && !x || if !x { true } else { !x }); }",
        "fn f(x: u8) -> Vec<bool> { vec![match !x { _ => return vec![] }] }",
        "fn f() { assert!({ let e = std::env::var(\"X\"); e.is_ok() }); }",
    ] {
        assert_eq!(problems(fine), Vec::<String>::new(), "{fine}");
    }
}

#[test]
fn every_exercise_file_of_the_workbook_passes_as_solved_and_as_stubbed() {
    let root = test_support::layout::workbook_root();
    let lessons = test_support::layout::discover(&root).unwrap();
    assert!(!lessons.is_empty());
    for lesson in lessons {
        let source = fs::read_to_string(lesson.dir.join(EXERCISES)).unwrap();
        assert_eq!(problems(&source), Vec::<String>::new(), "{}", lesson.name);
        let stubs = test_support::layout::solutions::strip_solutions(&source).unwrap();
        assert_eq!(problems(&stubs), Vec::<String>::new(), "{}", lesson.name);
    }
}

#[test]
fn a_lesson_compiles_the_exercises_of_the_lessons_it_builds_on() {
    let root = test_support::layout::workbook_root();
    let anonymous = test_support::layout::find(&root, "anonymous-sharing").unwrap();
    let closure = exercise_closure(&root, &anonymous).unwrap();
    let names: Vec<String> = closure
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "lessons/04-anonymous-sharing/src/exercises.rs",
            "lessons/02-process-maps/src/exercises.rs"
        ]
    );
    let first = test_support::layout::find(&root, "file-mapping").unwrap();
    assert_eq!(exercise_closure(&root, &first).unwrap().len(), 1);
}

#[test]
fn code_nested_too_deeply_for_the_parser_is_refused_not_a_crash() {
    // Each construct that makes a recursive parser recurse once a token.
    let cases = |n: usize| {
        [
            format!("fn f() {{ let x = {}true; }}", "!".repeat(n)),
            format!("fn f() {{ let x = {}1{}; }}", "(".repeat(n), ")".repeat(n)),
            format!("fn f() {{ let x = {}1{}; }}", "[".repeat(n), "]".repeat(n)),
            format!("fn f() {{ {}{} }}", "{".repeat(n), "}".repeat(n)),
            format!("fn f() {{ let x = 1{}; }}", " + 1".repeat(n)),
            format!("fn f() {{ x{}; }}", " = x".repeat(n)),
            format!("fn f() {{ x{}; }}", ".f()".repeat(n)),
            format!("type T = {}u8{};", "Vec<".repeat(n), ">".repeat(n)),
            format!("type T = {}u8;", "&".repeat(n)),
            format!("fn f() {{ {}1; }}", "return ".repeat(n)),
            format!("fn f() {{ {}1; }}", "|| ".repeat(n)),
            format!("fn f() {{ x{}; }}", " as u8".repeat(n)),
            format!("fn f() {{ let {}x = 1; }}", "&".repeat(n)),
            format!(
                "const X: u8 = {}{{ 1 }}{};",
                "!".repeat(n),
                ".f()".repeat(n)
            ),
        ]
    };
    // Just under the limit, each is read (refused or not) in a quarter
    // of the scanner's stack...
    for source in cases(MAX_DEPTH / 2 - 10) {
        let depth = depth_estimate(&source.parse().unwrap());
        if depth > MAX_DEPTH {
            continue;
        }
        let read = std::thread::Builder::new()
            .stack_size(SCAN_STACK / 4)
            .spawn(move || problems(&source))
            .unwrap()
            .join();
        assert!(
            read.is_ok(),
            "depth {depth} overflowed a quarter of the stack"
        );
    }
    // ... and far over it, each is refused before it is parsed.
    for source in cases(20_000) {
        let found = problems(&source);
        assert!(found[0].contains("more than the 600"), "{found:?}");
    }
}

#[test]
fn a_file_rust_cannot_read_is_refused_with_the_reason() {
    let found = problems("fn f( {");
    assert!(found[0].contains("Rust cannot read this file"), "{found:?}");
    assert!(refused("fn f() { let s = \"unterminated; }"));
}
