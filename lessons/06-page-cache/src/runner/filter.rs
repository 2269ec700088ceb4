//! The runner's seccomp filter: while your code runs, the system calls that
//! would move a file's bytes without a mapping, or ask the page cache about
//! a file without one, fail with `EOPNOTSUPP` ("Operation not supported").
//! So "through a mapping" is checked by the kernel, not taken on trust.
//!
//! Refused outright: the `read` family, the in-kernel copies
//! (`copy_file_range`, `sendfile`, `splice`, `tee`), asynchronous I/O
//! (`io_uring`, `io_submit`), `cachestat`, `execve` (a program started now
//! would run under this filter anyway), and the calls that could give a new
//! file an old descriptor's number (`dup2`, `dup3`, `close_range`). The `write` family and `ioctl` (reflink
//! copies) work only on the descriptors that were open before the filter
//! (stdout, stderr, the replies), and `close` only on the others. A filter
//! cannot be removed, and every process this one starts inherits it.

use std::os::fd::RawFd;
use std::sync::OnceLock;

/// The errno a refused call returns: rare enough to name the filter.
const REFUSED: u32 = libc::EOPNOTSUPP as u32;

/// `cachestat(2)`: the same number on every architecture (Linux 6.5).
const SYS_CACHESTAT: libc::c_long = 451;

/// The architecture the filter was written for, as seccomp names it; on
/// another, the runner refuses to run exercises rather than trust them.
#[cfg(target_arch = "x86_64")]
const ARCH: Option<u32> = Some(0xc000_003e); // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const ARCH: Option<u32> = Some(0xc000_00b7); // AUDIT_ARCH_AARCH64
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCH: Option<u32> = None;

/// Calls refused whatever their arguments.
const REFUSED_CALLS: &[libc::c_long] = &[
    libc::SYS_read,
    libc::SYS_pread64,
    libc::SYS_readv,
    libc::SYS_preadv,
    libc::SYS_preadv2,
    libc::SYS_copy_file_range,
    libc::SYS_sendfile,
    libc::SYS_splice,
    libc::SYS_tee,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_io_setup,
    libc::SYS_io_submit,
    SYS_CACHESTAT,
    libc::SYS_execve,
    libc::SYS_execveat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_close_range,
];

/// Calls allowed only on a descriptor that was open before the filter.
const ONLY_OLD_FDS: &[libc::c_long] = &[
    libc::SYS_write,
    libc::SYS_pwrite64,
    libc::SYS_writev,
    libc::SYS_pwritev,
    libc::SYS_pwritev2,
    libc::SYS_ioctl,
];

/// Calls allowed only on a descriptor opened after the filter.
const ONLY_NEW_FDS: &[libc::c_long] = &[libc::SYS_close];

/// Installs the filter, once per runner, before the first exercise runs.
pub fn install() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let arch =
            ARCH.ok_or("the runner has no seccomp filter for this architecture")?;
        load(&program(arch, &open_fds()?))
            .map_err(|e| format!("the runner cannot install its seccomp filter: {e}"))
    })
    .clone()
}

/// The descriptors open now (read from /proc/self/fd, whose own descriptor
/// is closed again before this returns, and so not counted).
fn open_fds() -> Result<Vec<RawFd>, String> {
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("cannot list /proc/self/fd: {e}"))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let still_open = |fd: RawFd| {
        // SAFETY: F_GETFD only reads a descriptor's flags; a closed number
        // gives EBADF, which is how the directory's own descriptor drops out.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    };
    Ok(listed.into_iter().filter(|&fd| still_open(fd)).collect())
}

/// Where a jump goes.
#[derive(Clone, Copy, PartialEq)]
enum To {
    Next,
    Allow,
    Refuse,
    OnlyOld,
    OnlyNew,
}

/// One instruction before its jumps are resolved.
enum Op {
    /// Load the 32-bit word at this offset of `struct seccomp_data`.
    Load(u32),
    /// If the word equals `k`, go to the first place, else to the second.
    Equal(u32, To, To),
    /// If the word is at least `k`, go to the first place, else the second.
    AtLeast(u32, To, To),
    /// Return this action.
    Return(u32),
    /// A place jumps can go to.
    Label(To),
}

/// Offsets in `struct seccomp_data`: nr, arch, then args[0] as a u64 at 16.
const NR: u32 = 0;
const ARCH_AT: u32 = 4;
#[cfg(target_endian = "little")]
const FD_AT: u32 = 16;
#[cfg(target_endian = "big")]
const FD_AT: u32 = 20;

fn program(arch: u32, old_fds: &[RawFd]) -> Vec<libc::sock_filter> {
    let allow = libc::SECCOMP_RET_ALLOW;
    let refuse = libc::SECCOMP_RET_ERRNO | REFUSED;
    let mut ops = vec![
        Op::Load(ARCH_AT),
        // Another calling convention (i386 on x86_64): refuse it all.
        Op::Equal(arch, To::Next, To::Refuse),
        Op::Load(NR),
    ];
    #[cfg(target_arch = "x86_64")]
    ops.push(Op::AtLeast(0x4000_0000, To::Refuse, To::Next)); // the x32 ABI
    for &nr in REFUSED_CALLS {
        ops.push(Op::Equal(nr as u32, To::Refuse, To::Next));
    }
    for &nr in ONLY_OLD_FDS {
        ops.push(Op::Equal(nr as u32, To::OnlyOld, To::Next));
    }
    for &nr in ONLY_NEW_FDS {
        ops.push(Op::Equal(nr as u32, To::OnlyNew, To::Next));
    }
    ops.push(Op::Return(allow));
    ops.push(Op::Label(To::OnlyOld));
    ops.push(Op::Load(FD_AT));
    for &fd in old_fds {
        ops.push(Op::Equal(fd as u32, To::Allow, To::Next));
    }
    ops.push(Op::Return(refuse));
    ops.push(Op::Label(To::OnlyNew));
    ops.push(Op::Load(FD_AT));
    for &fd in old_fds {
        ops.push(Op::Equal(fd as u32, To::Refuse, To::Next));
    }
    ops.push(Op::Return(allow));
    ops.push(Op::Label(To::Allow));
    ops.push(Op::Return(allow));
    ops.push(Op::Label(To::Refuse));
    ops.push(Op::Return(refuse));
    assemble(&ops)
}

/// Resolves labels into forward jump offsets (BPF jumps only forward).
fn assemble(ops: &[Op]) -> Vec<libc::sock_filter> {
    let mut at = Vec::new(); // each label's instruction index
    let mut index = 0;
    for op in ops {
        match op {
            Op::Label(to) => at.push((*to, index)),
            _ => index += 1,
        }
    }
    let insn = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let mut out = Vec::new();
    for op in ops {
        let here = out.len();
        let offset = |to: To| -> u8 {
            if to == To::Next {
                return 0;
            }
            let (_, target) = at.iter().find(|(t, _)| *t == to).expect("a label");
            u8::try_from(target - here - 1).expect("a jump of at most 255")
        };
        match *op {
            Op::Load(k) => {
                out.push(insn(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, k))
            }
            Op::Equal(k, t, f) => out.push(insn(
                libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
                offset(t),
                offset(f),
                k,
            )),
            Op::AtLeast(k, t, f) => out.push(insn(
                libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
                offset(t),
                offset(f),
                k,
            )),
            Op::Return(k) => out.push(insn(libc::BPF_RET | libc::BPF_K, 0, 0, k)),
            Op::Label(_) => {}
        }
    }
    out
}

/// Sets no_new_privs (which lets a process without privilege install a
/// filter) and installs `program` for this process's every thread.
fn load(program: &[libc::sock_filter]) -> std::io::Result<()> {
    let check = |rc: libc::c_long| match rc {
        0 => Ok(()),
        ..0 => Err(std::io::Error::last_os_error()),
        thread => Err(std::io::Error::other(format!(
            "thread {thread} could not take the filter"
        ))),
    };
    let fprog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with integer arguments; seccomp reads `fprog` and the
    // instructions it points to, which live until the call returns (the
    // kernel copies them).
    unsafe {
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into())?;
        check(libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        ))
    }
}
