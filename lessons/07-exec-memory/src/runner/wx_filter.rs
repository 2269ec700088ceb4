//! A seccomp filter that refuses any page writable and executable at once:
//! from the moment it is installed, `mmap`, `mprotect` and `pkey_mprotect`
//! fail with `EACCES` when asked for `PROT_WRITE | PROT_EXEC` together;
//! `shmat` may not attach System V shared memory executable and writable
//! (`SHM_EXEC` without `SHM_RDONLY`); and `personality` may not turn on
//! `READ_IMPLIES_EXEC` (which would make every readable mapping executable
//! behind the filter's back).
//!
//! Why here, in the runner, and not in the graded test: the test can read
//! the runner's `/proc/PID/maps` only at the moments it chooses. A JIT that
//! maps its page `rwx`, writes the code and then drops write permission is
//! `r-x` by the time anyone looks: the W+X moment is invisible from outside.
//! Only the kernel sees every `mmap` and `mprotect` as it is made, so the
//! rule is the kernel's to enforce, in the process that runs your code.
//! A filter cannot be removed, and every thread and child inherits it.

use std::io;
use std::sync::OnceLock;

/// `<linux/audit.h>`: the architecture a system call was made for, as
/// seccomp reports it (the libc crate does not define these).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
/// Elsewhere this filter knows no system call numbers: it is not installed,
/// and the runner refuses to run the JIT.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: u32 = 0;

/// x86-64's x32 system calls carry this bit in their number, under the same
/// architecture: refused, as no part of this program makes them.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `struct seccomp_data`: where the filter finds the number, the
/// architecture and the low 32 bits of the first and third arguments
/// (little-endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0: u32 = 16;
const ARG2: u32 = 16 + 2 * 8;

const WRITE_EXEC: u32 = (libc::PROT_WRITE | libc::PROT_EXEC) as u32;
const SHM_EXEC_RW: u32 = (libc::SHM_EXEC | libc::SHM_RDONLY) as u32;
/// `personality(0xffffffff)` only asks for the current persona.
const QUERY: u32 = 0xffff_ffff;

/// Where a jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    Prot,
    Shm,
    Persona,
    Allow,
    Refuse,
    Kill,
}

/// One classic-BPF instruction, with its jumps still named.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// Loads 32 bits at this offset of `seccomp_data`.
    Load(u32),
    And(u32),
    JumpEq(u32, To, To),
    JumpGe(u32, To, To),
    JumpSet(u32, To, To),
    Return(u32),
    /// Where `To` points; emits nothing.
    Here(To),
}

/// The filter, in order.
fn program() -> Vec<Op> {
    use Op::*;
    let mut ops = vec![
        // A system call made for another architecture (int 0x80 on x86-64,
        // say) has other numbers: it kills the process.
        Load(ARCH),
        JumpEq(AUDIT_ARCH, To::Next, To::Kill),
        Load(NR),
    ];
    if cfg!(target_arch = "x86_64") {
        ops.push(JumpGe(X32_SYSCALL_BIT, To::Kill, To::Next));
    }
    ops.extend([
        JumpEq(libc::SYS_mmap as u32, To::Prot, To::Next),
        JumpEq(libc::SYS_mprotect as u32, To::Prot, To::Next),
        JumpEq(libc::SYS_pkey_mprotect as u32, To::Prot, To::Next),
        JumpEq(libc::SYS_shmat as u32, To::Shm, To::Next),
        JumpEq(libc::SYS_personality as u32, To::Persona, To::Allow),
        // All three take `prot` as their third argument.
        Here(To::Prot),
        Load(ARG2),
        And(WRITE_EXEC),
        JumpEq(WRITE_EXEC, To::Refuse, To::Allow),
        // shmat's flags are its third argument.
        Here(To::Shm),
        Load(ARG2),
        And(SHM_EXEC_RW),
        JumpEq(libc::SHM_EXEC as u32, To::Refuse, To::Allow),
        Here(To::Persona),
        Load(ARG0),
        JumpEq(QUERY, To::Allow, To::Next),
        JumpSet(libc::READ_IMPLIES_EXEC as u32, To::Refuse, To::Allow),
        Here(To::Allow),
        Return(libc::SECCOMP_RET_ALLOW),
        Here(To::Refuse),
        Return(libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        Here(To::Kill),
        Return(libc::SECCOMP_RET_KILL_PROCESS),
    ]);
    ops
}

/// The program as the kernel reads it: jumps become forward offsets.
fn assemble(ops: &[Op]) -> Vec<libc::sock_filter> {
    let mut at = Vec::new();
    let mut index = 0;
    for op in ops {
        match op {
            Op::Here(to) => at.push((*to, index)),
            _ => index += 1,
        }
    }
    let mut code = Vec::new();
    let offset = |from: usize, to: To| -> u8 {
        if to == To::Next {
            return 0;
        }
        let target = at.iter().find(|(t, _)| *t == to).map(|(_, i)| *i);
        let target = target.expect("every jump target is placed");
        u8::try_from(target - from - 1).expect("the filter is short")
    };
    let one = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    for op in ops {
        let here = code.len();
        let jump = |kind: u32, k: u32, yes: To, no: To| libc::sock_filter {
            code: (libc::BPF_JMP | kind | libc::BPF_K) as u16,
            jt: offset(here, yes),
            jf: offset(here, no),
            k,
        };
        code.push(match *op {
            Op::Load(at) => one(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, at),
            Op::And(k) => one(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, k),
            Op::JumpEq(k, yes, no) => jump(libc::BPF_JEQ, k, yes, no),
            Op::JumpGe(k, yes, no) => jump(libc::BPF_JGE, k, yes, no),
            Op::JumpSet(k, yes, no) => jump(libc::BPF_JSET, k, yes, no),
            Op::Return(k) => one(libc::BPF_RET | libc::BPF_K, k),
            Op::Here(_) => continue,
        });
    }
    code
}

/// Installs the filter in this process, once; later calls only say whether
/// that worked.
pub fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            install_now().map_err(|e| {
                format!(
                    "cannot install the seccomp filter that refuses W+X pages: {e}"
                )
            })
        })
        .clone()
}

fn install_now() -> io::Result<()> {
    if AUDIT_ARCH == 0 {
        return Err(io::Error::other(
            "this filter knows x86-64 and aarch64 only",
        ));
    }
    let mut filter = assemble(&program());
    let program = libc::sock_fprog {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_mut_ptr(),
    };
    let one: libc::c_ulong = 1;
    let zero: libc::c_ulong = 0;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) reads four integers and no memory;
    // it is what lets a process without CAP_SYS_ADMIN install a filter
    // (execve can then grant no privilege the filter could be used against).
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `program`, which points
    // at `filter`; the kernel copies both before it returns, and both live
    // on until then. TSYNC applies it to every thread of the process, and
    // fails (returning a thread id) rather than leave one out.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &program as *const libc::sock_fprog,
        )
    };
    match result {
        0 => Ok(()),
        -1 => Err(io::Error::last_os_error()),
        thread => Err(io::Error::other(format!(
            "thread {thread} could not take the filter"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_forward_inside_the_program() {
        let code = assemble(&program());
        for (i, op) in code.iter().enumerate() {
            if op.code as u32 & 0x07 == libc::BPF_JMP {
                assert!(i + 1 + (op.jt as usize) < code.len());
                assert!(i + 1 + (op.jf as usize) < code.len());
            }
        }
        let last = code.last().unwrap();
        assert_eq!(last.k, libc::SECCOMP_RET_KILL_PROCESS);
    }
}
