//! Exercises for lesson 7. Replace each `todo!()` with your own code, then
//! run `cargo xtask grade exec-memory` to see your score.
//!
//! A mistake in the JIT can kill the process running your code with SIGSEGV
//! (or run garbage): the graded tests run it in a process of its own and
//! report how it ended.

use std::ffi::c_int;

use nix::sys::signal::Signal;

use exec_memory::{FaultKind, JitFn};

// SOLUTION BEGIN
use exec_memory::{
    SEGV_ACCERR, SEGV_MAPERR, make_executable, map_read_write, write_code,
};
// SOLUTION END

/// Exercise 7.1: a tiny JIT. Return a function that computes `x + k`
/// (wrapping, as `u32::wrapping_add` does), built as x86-64 machine code in
/// a page of its own, following the W^X discipline: map the page read-write,
/// write the code, then make it read+execute. Never map it writable and
/// executable at once.
///
/// Hint: lesson 7's `add` was `lea eax, [rdi + rsi]; ret`. With a constant
/// instead of a second argument, x86-64 has `lea eax, [rdi + disp32]`: the
/// bytes `8d 87`, then the constant as four little-endian bytes, then `ret`
/// (`c3`). The lesson's library maps, writes and flips for you; `JitFn`
/// takes ownership of the finished page (read its safety contract).
pub fn jit_add_constant(k: u32) -> nix::Result<JitFn> {
    // STUB: todo!("write x -> x + {k} as machine code, then make it executable")
    // SOLUTION BEGIN
    let [k0, k1, k2, k3] = k.to_le_bytes();
    let code = [0x8d, 0x87, k0, k1, k2, k3, 0xc3]; // lea eax, [rdi + k]; ret
    let page = map_read_write(support::page_size())?;
    write_code(&page, &code);
    make_executable(&page)?;
    // SAFETY: the page is now read+execute, not writable, and starts with a
    // complete x86-64 function of the C calling convention: u32 in edi,
    // u32 out in eax.
    Ok(unsafe { JitFn::from_code(page) })
    // SOLUTION END
}

/// Exercise 7.2: a child died of `signal`, and its handler reported
/// `si_code`. Say what happened: nothing mapped at the address, a mapping
/// whose permissions forbid the access, or a file mapping with no file
/// behind the page. Anything else is `FaultKind::Other`.
///
/// Hint: an `si_code` means something only together with its signal: the
/// same number can stand for different reasons under SIGSEGV and SIGBUS.
/// The lesson's library names the codes the walkthrough met.
pub fn classify_fault(signal: Signal, si_code: c_int) -> FaultKind {
    // STUB: todo!("classify {signal:?} with si_code {si_code}")
    // SOLUTION BEGIN
    match (signal, si_code) {
        (Signal::SIGSEGV, SEGV_MAPERR) => FaultKind::Unmapped,
        (Signal::SIGSEGV, SEGV_ACCERR) => FaultKind::Forbidden,
        (Signal::SIGBUS, libc::BUS_ADRERR) => FaultKind::PastEndOfFile,
        _ => FaultKind::Other,
    }
    // SOLUTION END
}
