//! Text a signal handler may write: built in a fixed buffer, no allocation,
//! sent with write(2). The sigbus and exec-memory lessons report `si_code`
//! and `si_addr` from their SA_SIGINFO handlers with it.

/// A line built in a fixed buffer, with no allocation: all a signal handler
/// may do. Text past the buffer's end is dropped.
#[derive(Debug)]
pub struct SignalSafeLine {
    bytes: [u8; 160],
    len: usize,
}

impl Default for SignalSafeLine {
    fn default() -> Self {
        SignalSafeLine::new()
    }
}

impl SignalSafeLine {
    pub fn new() -> Self {
        SignalSafeLine {
            bytes: [0; 160],
            len: 0,
        }
    }

    pub fn push(&mut self, text: &[u8]) {
        for &byte in text {
            if self.len < self.bytes.len() {
                self.bytes[self.len] = byte;
                self.len += 1;
            }
        }
    }

    pub fn push_number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    pub fn write_to_stdout(&self) {
        // SAFETY: write(2) is async-signal-safe; the buffer is valid for `len` bytes.
        let _ = unsafe {
            libc::write(libc::STDOUT_FILENO, self.bytes.as_ptr().cast(), self.len)
        };
    }
}
