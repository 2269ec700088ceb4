//! The second process: this lesson's own binary, started again in a helper
//! mode, and the control socket the two talk over.
//!
//! Nothing here is the lesson; it is how the lesson stays honest: the helper
//! is a fresh program (not a fork), so it inherits no memory and has to meet
//! the parent through a name or a descriptor. Every wait is bounded, the
//! helper dies with the parent (`PR_SET_PDEATHSIG`), and a helper still
//! running when its [`Peer`] is dropped is killed and reaped.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg,
};
use support::ChildOutcome;

/// One end of a connected Unix stream socket, carrying lines of text and,
/// attached to a line, descriptors (`SCM_RIGHTS`).
#[derive(Debug)]
pub struct Channel {
    socket: UnixStream,
}

/// A line that arrived, with the descriptors that came with it.
#[derive(Debug)]
pub struct Message {
    /// The text, without its newline.
    pub line: String,
    /// Descriptors passed with it, now open in this process.
    pub fds: Vec<OwnedFd>,
}

impl Channel {
    /// A connected pair: one end for each process.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = UnixStream::pair()?;
        Ok((Channel { socket: a }, Channel { socket: b }))
    }

    /// The helper's end: the parent hands it over as standard input.
    pub fn from_stdin() -> io::Result<Channel> {
        let fd = io::stdin().as_fd().try_clone_to_owned()?;
        Ok(Channel {
            socket: UnixStream::from(fd),
        })
    }

    /// Sends `line`.
    pub fn send(&self, line: &str) -> io::Result<()> {
        self.send_with_fds(line, &[])
    }

    // ANCHOR: send_fds
    /// Sends `line` with `fds` attached: the kernel installs copies of the
    /// descriptors in the receiving process (`SCM_RIGHTS`).
    pub fn send_with_fds(&self, line: &str, fds: &[RawFd]) -> io::Result<()> {
        let text = format!("{line}\n");
        let rights = [ControlMessage::ScmRights(fds)];
        let control: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(text.as_bytes())];
        let sent = sendmsg::<()>(
            self.socket.as_raw_fd(),
            &iov,
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        if sent != text.len() {
            return Err(io::Error::other("the control socket took part of a line"));
        }
        Ok(())
    }
    // ANCHOR_END: send_fds

    /// Receives one line and any descriptors sent with it, waiting at most
    /// `limit`. A closed socket (the other process is gone) is an error.
    pub fn recv(&self, limit: Duration) -> io::Result<Message> {
        let deadline = Instant::now() + limit;
        let mut line = Vec::new();
        let mut fds = Vec::new();
        // One byte at a time: a buffered read could swallow the byte that
        // carries the descriptors, and the kernel would close them.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            let mut poll_fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
            if poll(&mut poll_fds, timeout)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the other process sent nothing for {} ms",
                        limit.as_millis()
                    ),
                ));
            }
            let mut byte = [0u8; 1];
            let mut space = nix::cmsg_space!([RawFd; 4]);
            let mut iov = [IoSliceMut::new(&mut byte)];
            let received = recvmsg::<()>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )?;
            for message in received.cmsgs()? {
                if let ControlMessageOwned::ScmRights(raw) = message {
                    for fd in raw {
                        // SAFETY: the kernel just installed this descriptor
                        // in our table for us; nothing else owns it.
                        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                }
            }
            if received.bytes == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the other process closed the control socket",
                ));
            }
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        Ok(Message {
            line: String::from_utf8_lossy(&line).into_owned(),
            fds,
        })
    }

    /// Receives a line and checks that it is `expected`.
    pub fn expect(&self, expected: &str, limit: Duration) -> io::Result<Message> {
        let message = self.recv(limit)?;
        if message.line.split(' ').next() != Some(expected) {
            return Err(io::Error::other(format!(
                "expected '{expected}' from the other process, got '{}'",
                message.line
            )));
        }
        Ok(message)
    }
}

/// A running helper: this lesson's binary, started with `--helper ROLE`.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    /// The control socket to the helper.
    pub channel: Channel,
    waited: bool,
}

impl Peer {
    /// Starts `exe --helper PID` (this process's pid), its standard input
    /// a control socket.
    pub fn spawn(exe: &std::path::Path) -> io::Result<Peer> {
        let (ours, theirs) = Channel::pair()?;
        let child = Command::new(exe)
            .arg("--helper")
            .arg(std::process::id().to_string())
            .stdin(Stdio::from(OwnedFd::from(theirs.socket)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(Peer {
            child,
            channel: ours,
            waited: false,
        })
    }

    /// The helper's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the helper with SIGKILL (it may be holding a lock: that is the point).
    pub fn kill(&mut self) -> io::Result<()> {
        self.child.kill()
    }

    /// Waits at most `limit` for the helper to end; kills and reaps it after.
    pub fn wait(mut self, limit: Duration) -> io::Result<ChildOutcome> {
        self.waited = true;
        support::spawn::wait_bounded(&mut self.child, limit)
    }

    /// A watchdog that kills the helper if `limit` passes before the
    /// returned guard is dropped: it bounds the blocking reads and writes
    /// of a pipe or socket, which have no timeout of their own.
    pub fn watchdog(&self, limit: Duration) -> Watchdog {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let (cancel, cancelled) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) =
                cancelled.recv_timeout(limit)
            {
                // The helper dies, its ends of every pipe close, and our
                // blocked read or write returns: EOF or EPIPE.
                let _ =
                    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        Watchdog { _cancel: cancel }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if !self.waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Cancels its watchdog when dropped.
#[derive(Debug)]
pub struct Watchdog {
    _cancel: mpsc::Sender<()>,
}

/// In a helper: die with the parent, so that no helper outlives the lesson
/// (`PR_SET_PDEATHSIG`), and stop at once if the parent is already gone.
///
/// `parent` is the pid the parent passed in. A parent that died before the
/// `prctl` sends no signal, and the helper has been handed to another
/// process (init, or a subreaper): `getppid` then no longer names the
/// parent, which only its pid, passed in, can show. Without it (the graded
/// tests start `--exercise-helper` without one), the helper can only
/// compare `getppid` before and after the `prctl`, which misses a parent
/// that died before the helper ran at all.
///
/// A parent that is gone is an error of kind `NotConnected`: nobody is left
/// to serve or to tell, so the helper ends quietly. A `parent` that is alive
/// but not the helper's parent is a mistake worth a message.
pub fn die_with_parent(parent: Option<u32>) -> io::Result<()> {
    use nix::unistd::{Pid, getppid};
    let before = getppid();
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    let expected = parent.map_or(before, |pid| Pid::from_raw(pid as i32));
    let now = getppid();
    if now == expected {
        return Ok(());
    }
    // A parent in the middle of exiting hands its children on a moment
    // before it shows as a zombie: look a few times.
    let parent_gone = (0..10).any(|_| {
        gone(expected) || {
            std::thread::sleep(Duration::from_millis(1));
            false
        }
    });
    if parent_gone {
        return Err(io::Error::new(
            io::ErrorKind::NotConnected,
            format!("the lesson (pid {expected}) exited before its helper started"),
        ));
    }
    Err(io::Error::other(format!(
        "pid {expected} is not this helper's parent (pid {now} is). The lesson starts \
         its helper itself, with its own pid: run the lesson without --helper"
    )))
}

/// True if process `pid` has exited: no such process, or a zombie that its
/// own parent has not reaped yet (its state in `/proc/PID/stat` is Z or X).
fn gone(pid: nix::unistd::Pid) -> bool {
    if nix::sys::signal::kill(pid, None) == Err(nix::errno::Errno::ESRCH) {
        return true;
    }
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X']))
}
