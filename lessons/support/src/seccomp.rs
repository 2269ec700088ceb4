//! Seccomp filters for the runners: a classic-BPF program written as a list
//! of [`Op`]s with named jump targets, assembled, and installed for every
//! thread of the process. A lesson's runner says *what* it refuses (page
//! cache: reading a file without a mapping; exec memory: a page writable and
//! executable at once); this module only turns that into what the kernel
//! reads. A filter cannot be removed, and every thread and child inherits
//! it, so it binds the learner's code from the moment it is installed.

use std::io;

mod mapping_only;

pub use mapping_only::install as install_mapping_only;

/// The architecture this program's system calls are made for, as seccomp
/// reports it (`<linux/audit.h>`; the libc crate does not define these);
/// `None` where no filter here knows the system call numbers.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: Option<u32> = Some(0xc000_003e); // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: Option<u32> = Some(0xc000_00b7); // AUDIT_ARCH_AARCH64
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const AUDIT_ARCH: Option<u32> = None;

/// x86-64's x32 system calls carry this bit in their number, under the same
/// architecture; a filter refuses them, as no runner makes them.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`: the call's number and architecture.
pub const NR: u32 = 0;
pub const ARCH: u32 = 4;

/// The offset of the low 32 bits of argument `n` in `struct seccomp_data`.
pub const fn arg(n: u32) -> u32 {
    let at = 16 + 8 * n;
    if cfg!(target_endian = "little") {
        at
    } else {
        at + 4
    }
}

/// A jump to the next instruction.
pub const NEXT: &str = "";

/// One instruction, its jumps still named.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// Loads the 32-bit word at this offset of `seccomp_data`.
    Load(u32),
    /// ANDs the loaded word with a constant.
    And(u32),
    /// If the word equals `k`, jump to the first name, else to the second.
    JumpEq(u32, &'static str, &'static str),
    /// If the word is at least `k`, jump to the first name, else the second.
    JumpGe(u32, &'static str, &'static str),
    /// If the word has any bit of `k`, jump to the first name, else the second.
    JumpSet(u32, &'static str, &'static str),
    /// Ends the filter with this action (`SECCOMP_RET_*`).
    Return(u32),
    /// Names the place of the next instruction; emits nothing.
    Here(&'static str),
}

/// The program as the kernel reads it: names become forward offsets.
///
/// # Panics
/// On a jump to a name never placed, backwards, or further than 255
/// instructions: mistakes in the filter's source, never in its input.
pub fn assemble(ops: &[Op]) -> Vec<libc::sock_filter> {
    let mut places: Vec<(&str, usize)> = Vec::new();
    let mut index = 0;
    for op in ops {
        match op {
            Op::Here(name) => places.push((*name, index)),
            _ => index += 1,
        }
    }
    let offset = |from: usize, to: &str| -> u8 {
        if to == NEXT {
            return 0;
        }
        let target = places
            .iter()
            .find(|(name, _)| *name == to)
            .map(|&(_, at)| at)
            .unwrap_or_else(|| {
                panic!("the filter jumps to {to:?}, which it never places")
            });
        u8::try_from(target.checked_sub(from + 1).expect("a forward jump"))
            .expect("a jump of at most 255 instructions")
    };
    let one = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let mut code = Vec::new();
    for op in ops {
        let here = code.len();
        let jump = |kind: u32, k: u32, yes: &str, no: &str| libc::sock_filter {
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

/// Sets no_new_privs (which lets a process without privilege install a
/// filter) and installs `program` for every thread of this process.
pub fn install(program: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: libc::c_ushort::try_from(program.len())
            .map_err(|_| io::Error::other("the filter is too long"))?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) reads integers and no memory; it is
    // what lets a process without CAP_SYS_ADMIN install a filter (execve can
    // then grant no privilege the filter could be used against).
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `fprog` and the
    // instructions it points to (never writing them); the kernel copies both
    // before it returns, and both live until then. TSYNC applies the filter
    // to every thread, and fails (returning a thread id) rather than leave
    // one out.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
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
    fn names_become_forward_offsets_and_places_emit_nothing() {
        let code = assemble(&[
            Op::Load(NR),
            Op::JumpEq(7, "no", NEXT),
            Op::Return(libc::SECCOMP_RET_ALLOW),
            Op::Here("no"),
            Op::Return(libc::SECCOMP_RET_ERRNO | 1),
        ]);
        assert_eq!(code.len(), 4);
        assert_eq!((code[1].jt, code[1].jf, code[1].k), (1, 0, 7));
        assert_eq!(code[3].k, libc::SECCOMP_RET_ERRNO | 1);
        assert_eq!(arg(2) & !4, 32);
    }

    #[test]
    #[should_panic(expected = "never places")]
    fn a_jump_to_nowhere_is_a_mistake() {
        assemble(&[Op::JumpEq(1, "nowhere", NEXT)]);
    }
}
