//! The local terminal of `leasebox shell`: raw mode for the length of a
//! session (restored when dropped, also on a panic's unwinding), its window
//! size, and its changes (SIGWINCH), read on a thread of their own.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;

use crate::contract::WindowSize;

/// The terminal in raw mode: every byte typed (Ctrl-C as `\x03`, Ctrl-Z,
/// Ctrl-\) goes to the program reading stdin instead of becoming a signal
/// for this process, nothing is echoed or buffered by line, output is
/// passed as it is. Dropping it restores the mode found.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts the terminal of `input` in raw mode.
    pub fn enable(input: &impl AsRawFd) -> std::io::Result<RawMode> {
        let fd = input.as_raw_fd();
        // SAFETY: `termios` is plain data; tcgetattr fills it or fails.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open for the life of `input`; `saved` is valid.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: `raw` is a valid termios.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: as above.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(RawMode { fd, saved })
    }
}

impl RawMode {
    /// Restores the mode found, for a path that leaves the process without
    /// dropping this (a second signal's `exit`).
    pub fn restorer(&self) -> impl Fn() + Send + 'static {
        let (fd, saved) = (self.fd, self.saved);
        move || {
            // SAFETY: restores the settings read from the same descriptor.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// The window size of the terminal of `output`; none when it is not a
/// terminal or reports no size.
pub fn window_size(output: &impl AsRawFd) -> Option<WindowSize> {
    // SAFETY: `winsize` is plain data; TIOCGWINSZ fills it or fails.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open; `size` is valid for the ioctl.
    let read = unsafe { libc::ioctl(output.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (read == 0 && size.ws_row > 0 && size.ws_col > 0).then_some(WindowSize {
        rows: size.ws_row,
        cols: size.ws_col,
    })
}

/// The window sizes of the terminal of `fd` as they change: each SIGWINCH
/// reads the size again and sends it when it differs from the last one
/// sent (`start`). The thread ends when the receiver is dropped and the
/// next change comes.
pub fn window_changes(fd: RawFd, start: WindowSize) -> std::io::Result<mpsc::Receiver<WindowSize>> {
    let (sizes, changes) = mpsc::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut signals = {
        let _entered = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?
    };
    std::thread::Builder::new()
        .name("leasebox-sigwinch".into())
        .spawn(move || {
            let mut last = start;
            while runtime.block_on(signals.recv()).is_some() {
                let Some(size) = window_size(&Fd(fd)) else {
                    continue;
                };
                if size != last {
                    last = size;
                    if sizes.send(size).is_err() {
                        return;
                    }
                }
            }
        })?;
    Ok(changes)
}

/// A raw descriptor borrowed for one ioctl.
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}
