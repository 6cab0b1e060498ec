//! A pseudo-terminal of the bench's own, with a program on its slave side
//! as a user's terminal would run it: the slave is the program's stdin,
//! stdout and stderr and its controlling terminal (a new session,
//! `TIOCSCTTY`); the bench types into the master and reads it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// A program on a pseudo-terminal; what it writes comes out of
/// `output`, each read stamped with the instant it returned.
pub struct OnPty {
    pub child: Child,
    master: File,
    pub output: mpsc::Receiver<(Instant, Vec<u8>)>,
}

impl OnPty {
    /// Opens a pseudo-terminal of `rows` x `cols` whose slave is in raw mode
    /// (so the local line discipline never echoes a byte itself, whatever
    /// the program does with the terminal's modes), and starts `command`
    /// on it.
    pub fn spawn(mut command: Command, rows: u16, cols: u16) -> OnPty {
        let mut master: libc::c_int = -1;
        let mut slave: libc::c_int = -1;
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: out-pointers to live locals; no name buffer, default
        // termios, a valid window size.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two fresh descriptors that nothing else
        // owns.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        make_raw(&slave);
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty's slave"));
        command
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        // SAFETY: only async-signal-safe calls between fork and exec; by
        // then std has made the slave fd 0.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let what = format!("{command:?}");
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} on a pty: {e}"));
        // The program holds the slave now; with our copies closed, a read
        // of the master fails (EIO) once the program and its children
        // have closed it.
        drop(command);
        drop(slave);
        let master = File::from(master);
        let mut reader = master.try_clone().expect("dup the pty's master");
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut block = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut block) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let at = Instant::now();
                        if sender.send((at, block[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        OnPty {
            child,
            master,
            output,
        }
    }

    /// Types `bytes`; the instant just before the write.
    pub fn type_bytes(&mut self, bytes: &[u8]) -> Instant {
        let at = Instant::now();
        self.master.write_all(bytes).expect("write to the pty");
        at
    }
}

/// Puts the terminal of `fd` in raw mode (`cfmakeraw`).
fn make_raw(fd: &OwnedFd) {
    // SAFETY: an all-zero termios is a valid value to be overwritten by
    // tcgetattr; `fd` is an open terminal.
    unsafe {
        let mut modes: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd.as_raw_fd(), &mut modes), 0, "tcgetattr");
        libc::cfmakeraw(&mut modes);
        assert_eq!(
            libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &modes),
            0,
            "tcsetattr"
        );
    }
}
