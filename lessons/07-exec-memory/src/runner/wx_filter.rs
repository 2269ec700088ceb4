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

use std::sync::OnceLock;

use support::seccomp::{self, NEXT, Op};

const WRITE_EXEC: u32 = (libc::PROT_WRITE | libc::PROT_EXEC) as u32;
const SHM_EXEC_RW: u32 = (libc::SHM_EXEC | libc::SHM_RDONLY) as u32;
/// `personality(0xffffffff)` only asks for the current persona.
const QUERY: u32 = 0xffff_ffff;

/// The filter, in order.
fn program(arch: u32) -> Vec<Op> {
    use Op::*;
    let mut ops = vec![
        // A system call made for another architecture (int 0x80 on x86-64,
        // say) has other numbers: it kills the process.
        Load(seccomp::ARCH),
        JumpEq(arch, NEXT, "kill"),
        Load(seccomp::NR),
    ];
    if cfg!(target_arch = "x86_64") {
        ops.push(JumpGe(seccomp::X32_SYSCALL_BIT, "kill", NEXT));
    }
    ops.extend([
        JumpEq(libc::SYS_mmap as u32, "prot", NEXT),
        JumpEq(libc::SYS_mprotect as u32, "prot", NEXT),
        JumpEq(libc::SYS_pkey_mprotect as u32, "prot", NEXT),
        JumpEq(libc::SYS_shmat as u32, "shm", NEXT),
        JumpEq(libc::SYS_personality as u32, "persona", "allow"),
        // All three take `prot` as their third argument.
        Here("prot"),
        Load(seccomp::arg(2)),
        And(WRITE_EXEC),
        JumpEq(WRITE_EXEC, "refuse", "allow"),
        // shmat's flags are its third argument.
        Here("shm"),
        Load(seccomp::arg(2)),
        And(SHM_EXEC_RW),
        JumpEq(libc::SHM_EXEC as u32, "refuse", "allow"),
        Here("persona"),
        Load(seccomp::arg(0)),
        JumpEq(QUERY, "allow", NEXT),
        JumpSet(libc::READ_IMPLIES_EXEC as u32, "refuse", "allow"),
        Here("allow"),
        Return(libc::SECCOMP_RET_ALLOW),
        Here("refuse"),
        Return(libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        Here("kill"),
        Return(libc::SECCOMP_RET_KILL_PROCESS),
    ]);
    ops
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

fn install_now() -> std::io::Result<()> {
    let arch = seccomp::AUDIT_ARCH.ok_or_else(|| {
        std::io::Error::other("this filter knows x86-64 and aarch64 only")
    })?;
    seccomp::install(&seccomp::assemble(&program(arch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_forward_inside_the_program() {
        let code = seccomp::assemble(&program(0xc000_003e));
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
