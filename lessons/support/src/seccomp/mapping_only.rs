//! "Through a mapping", checked by the kernel: once installed, the system
//! calls that would move a file's bytes without a mapping, or ask the page
//! cache about a file without one, fail with `EOPNOTSUPP` ("Operation not
//! supported"). The runners of file-mapping and page-cache install it
//! before the learner's code first runs.
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

use super::{self as seccomp, NEXT, Op};

/// The errno a refused call returns: rare enough to name the filter.
const REFUSED: u32 = libc::EOPNOTSUPP as u32;

/// `cachestat(2)`: the same number on every architecture (Linux 6.5).
const SYS_CACHESTAT: libc::c_long = 451;

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
    // No descriptor or byte leaves through a socket, to a process without
    // this filter (another test's runner, say), and no other process of
    // this user may take a descriptor or read memory from here.
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendmmsg,
    libc::SYS_recvmmsg,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
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
        let arch = seccomp::AUDIT_ARCH
            .ok_or("the runner has no seccomp filter for this architecture")?;
        // No other process of this user may take this one's descriptors
        // (pidfd_getfd, /proc/PID/fd) or memory; the filter keeps it so.
        nix::sys::prctl::set_dumpable(false).map_err(|e| {
            format!("the runner cannot make itself non-dumpable: {e}")
        })?;
        seccomp::install(&seccomp::assemble(&program(arch, &open_fds()?)))
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

fn program(arch: u32, old_fds: &[RawFd]) -> Vec<Op> {
    let allow = libc::SECCOMP_RET_ALLOW;
    let refuse = libc::SECCOMP_RET_ERRNO | REFUSED;
    let fd = seccomp::arg(0);
    let mut ops = vec![
        Op::Load(seccomp::ARCH),
        // Another calling convention (i386 on x86_64): refuse it all.
        Op::JumpEq(arch, NEXT, "refuse"),
        Op::Load(seccomp::NR),
    ];
    if cfg!(target_arch = "x86_64") {
        ops.push(Op::JumpGe(seccomp::X32_SYSCALL_BIT, "refuse", NEXT));
    }
    for &nr in REFUSED_CALLS {
        ops.push(Op::JumpEq(nr as u32, "refuse", NEXT));
    }
    for &nr in ONLY_OLD_FDS {
        ops.push(Op::JumpEq(nr as u32, "only-old", NEXT));
    }
    for &nr in ONLY_NEW_FDS {
        ops.push(Op::JumpEq(nr as u32, "only-new", NEXT));
    }
    // prctl may not make this process dumpable again, nor name a tracer.
    ops.push(Op::JumpEq(libc::SYS_prctl as u32, "prctl", NEXT));
    ops.extend([Op::Return(allow), Op::Here("only-old"), Op::Load(fd)]);
    for &old in old_fds {
        ops.push(Op::JumpEq(old as u32, "allow", NEXT));
    }
    ops.extend([Op::Return(refuse), Op::Here("only-new"), Op::Load(fd)]);
    for &old in old_fds {
        ops.push(Op::JumpEq(old as u32, "refuse", NEXT));
    }
    ops.extend([
        Op::Return(allow),
        Op::Here("prctl"),
        Op::Load(seccomp::arg(0)),
        Op::JumpEq(libc::PR_SET_DUMPABLE as u32, "refuse", NEXT),
        Op::JumpEq(libc::PR_SET_PTRACER as u32, "refuse", "allow"),
    ]);
    ops.extend([
        Op::Return(allow),
        Op::Here("allow"),
        Op::Return(allow),
        Op::Here("refuse"),
        Op::Return(refuse),
    ]);
    ops
}
