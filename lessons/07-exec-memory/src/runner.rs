//! `exec-memory --exercises`: the grader's runner for this lesson's
//! exercises. It reads each request's inputs, calls your function, and says
//! what it returned; the graded tests (`tests/graded.rs`) judge that in a
//! process of their own (see `support::exercise`).
//!
//! A `JitFn` cannot cross a process boundary, so the runner calls the one
//! your `jit_add_constant` returns, on the inputs the test sends, and
//! replies with the results. Before any of your code runs, every handler
//! installs [`wx_filter`]: from then on this process can never have a page
//! writable and executable at once (see that module for why the rule is
//! enforced here, not checked from the test).

use exec_memory::{
    JitFn, make_executable, map_read_write, map_read_write_exec, write_code,
};
use nix::sys::signal::Signal;
use support::exercise::{Args, Handler, returned, stop_for_checker};

use crate::exercises;

mod wx_filter;

/// Each exercise by name, with how its inputs are read. The entries after
/// the exercises are for `tests/wx_filter.rs`, which proves that a JIT
/// breaking W^X fails here: they are no part of any grade.
pub const EXERCISES: &[(&str, Handler)] = &[
    ("jit_add_constant", |args| {
        wx_filter::install()?;
        serve_jit(exercises::jit_add_constant, args)
    }),
    ("classify_fault", |args| {
        wx_filter::install()?;
        let (signal, code) = (args.num::<i32>()?, args.num()?);
        let signal = Signal::try_from(signal)
            .map_err(|_| format!("classify_fault: {signal} is not a signal"))?;
        returned(exercises::classify_fault(signal, code))
    }),
    ("jit_add_constant:mapped_rwx", |args| {
        wx_filter::install()?;
        serve_jit(jit_mapped_rwx, args)
    }),
    ("wx_probe", |args| {
        wx_filter::install()?;
        returned(wx_probe(&args.text()?))
    }),
];

/// `jit_add_constant(K, [X, …], call|inspect)`: builds the function with
/// `build(K)`, calls it on each X, and replies `Ok([results])`, or
/// `Err(ERRNO)` if building failed. In `inspect` mode it also stops twice
/// for the test to read this process's maps: with the function's address
/// while it lives, and once more after dropping it (`dropped`); or once,
/// with `no function`, if building failed or panicked.
fn serve_jit(
    build: fn(u32) -> nix::Result<JitFn>,
    args: &mut Args,
) -> Result<String, String> {
    let (k, xs, mode) = (args.num()?, args.list::<u32>()?, args.text()?);
    let inspect = match mode.as_str() {
        "call" => false,
        "inspect" => true,
        other => {
            return Err(format!("mode {other:?}: the modes are call and inspect"));
        }
    };
    let stop = |note: &str| {
        if !inspect {
            return Ok(());
        }
        stop_for_checker(note).map_err(|e| format!("cannot stop for the test: {e}"))
    };
    let function = match std::panic::catch_unwind(|| build(k)) {
        Ok(Ok(function)) => function,
        Ok(Err(errno)) => {
            stop("no function")?;
            return Ok(format!("Err({errno:?})"));
        }
        Err(panic) => {
            stop("no function")?;
            std::panic::resume_unwind(panic)
        }
    };
    let sums: Vec<u32> = xs.iter().map(|&x| function.call(x)).collect();
    stop(&format!("{:#x}", function.address()))?;
    drop(function);
    stop("dropped")?;
    Ok(format!("Ok({sums:?})"))
}

/// A JIT that breaks the rule: its page is writable and executable at once.
/// What the filter must refuse (`tests/wx_filter.rs`); not an exercise.
fn jit_mapped_rwx(_k: u32) -> nix::Result<JitFn> {
    let page = map_read_write_exec(support::page_size())?;
    write_code(&page, &[0x31, 0xc0, 0xc3]); // xor eax, eax; ret
    // SAFETY: never reached under the filter (the mapping fails); without
    // it, the page is executable and holds a complete function returning 0.
    Ok(unsafe { JitFn::from_code(page) })
}

/// One way to a page that is writable and executable (`mmap`, `mprotect`,
/// `pkey_mprotect`, `shmat`, `personality`), or the W^X flip done right
/// (`w_then_x`); `Ok(())` if the kernel allowed it, else its errno.
fn wx_probe(how: &str) -> Result<(), String> {
    use nix::sys::mman::ProtFlags;
    let page = support::page_size();
    let rwx = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE | ProtFlags::PROT_EXEC;
    let errno = |r: i64| match r {
        -1 => Err(format!("{:?}", nix::errno::Errno::last())),
        _ => Ok(()),
    };
    match how {
        "mmap" => map_read_write_exec(page)
            .map(drop)
            .map_err(|e| format!("{e:?}")),
        "w_then_x" => {
            let region = map_read_write(page).map_err(|e| format!("{e:?}"))?;
            make_executable(&region).map_err(|e| format!("{e:?}"))
        }
        "mprotect" | "pkey_mprotect" => {
            let region = map_read_write(page).map_err(|e| format!("{e:?}"))?;
            let base = region.as_ptr().cast::<libc::c_void>();
            // SAFETY: asks to change the protection of one page this
            // function owns (`region`, unmapped on return); no Rust
            // reference points into it.
            errno(unsafe {
                if how == "mprotect" {
                    i64::from(libc::mprotect(base, page, rwx.bits()))
                } else {
                    libc::syscall(libc::SYS_pkey_mprotect, base, page, rwx.bits(), -1)
                }
            })
        }
        "shmat" => {
            // SAFETY: shmget takes integers and touches no memory of ours.
            let id = unsafe {
                libc::shmget(libc::IPC_PRIVATE, page, libc::IPC_CREAT | 0o600)
            };
            errno(i64::from(id))?;
            // SAFETY: attaches the new segment where the kernel picks.
            let at = unsafe { libc::shmat(id, std::ptr::null(), libc::SHM_EXEC) };
            let attached = errno(if at as isize == -1 { -1 } else { 0 });
            // SAFETY: removes the segment (once detached) and detaches it:
            // nothing of it outlives this function, and nothing refers to
            // the attachment.
            unsafe {
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
                if attached.is_ok() {
                    libc::shmdt(at);
                }
            }
            attached
        }
        "personality" => {
            // SAFETY: personality(2) reads one integer and touches no memory.
            let persona = unsafe { libc::personality(0xffff_ffff) };
            let with =
                persona as libc::c_ulong | libc::READ_IMPLIES_EXEC as libc::c_ulong;
            // SAFETY: as above; under the filter the change is refused.
            errno(i64::from(unsafe { libc::personality(with) }))
        }
        other => Err(format!("no probe {other:?}")),
    }
}
