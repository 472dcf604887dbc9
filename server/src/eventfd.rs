//! A Linux eventfd used as a shard's wake-up bell.
//!
//! A shard sleeps in its event loop (epoll through mio, later also io_uring completions)
//! with this descriptor registered for readability; another shard that puts work in its
//! mailbox and gets [`Doorbell::Ring`](crate::mailbox::Doorbell::Ring) calls
//! [`EventFd::notify`]. The sleeper wakes, calls [`EventFd::drain`] to reset it, and
//! processes its mailboxes.
//!
//! Promises: the descriptor is non-blocking and close-on-exec, owned (closed on drop), and
//! both operations are safe to call from any thread through `&self`. `notify` never blocks
//! and never fails because wake-ups are already pending; `drain` never blocks.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// An owned, non-blocking eventfd counter.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// Creates an eventfd with a zero counter (not readable until notified).
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd, is valid, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Adds one to the counter, making the descriptor readable and waking a poller.
    ///
    /// If the counter is already at its maximum (`EAGAIN` on a non-blocking eventfd) a
    /// wake-up is pending anyway, so that is success.
    pub fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        loop {
            // SAFETY: the buffer is the 8 bytes of `one`, valid for reads for the whole
            // call; an eventfd write takes exactly 8 bytes.
            let n = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    (&raw const one).cast::<libc::c_void>(),
                    size_of::<u64>(),
                )
            };
            if n == size_of::<u64>() as isize {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => {} // a signal came first: retry
                io::ErrorKind::WouldBlock => return Ok(()),
                _ => return Err(err),
            }
        }
    }

    /// Resets the counter to zero; returns how many notifications it held (0 if none, in
    /// which case it did not block).
    pub fn drain(&self) -> io::Result<u64> {
        let mut count: u64 = 0;
        loop {
            // SAFETY: the buffer is the 8 bytes of `count`, valid for writes for the whole
            // call; an eventfd read fills exactly 8 bytes.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&raw mut count).cast::<libc::c_void>(),
                    size_of::<u64>(),
                )
            };
            if n == size_of::<u64>() as isize {
                return Ok(count);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => {} // a signal came first: retry
                io::ErrorKind::WouldBlock => return Ok(0),
                _ => return Err(err),
            }
        }
    }

    /// The descriptor, to register with a poller (mio's `SourceFd`, epoll, io_uring).
    /// It stays owned by this `EventFd`.
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `fd` is readable now (poll with a zero timeout).
    fn readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd that outlives the call.
        let n = unsafe { libc::poll(&raw mut pfd, 1, 0) };
        assert!(n >= 0, "poll: {}", io::Error::last_os_error());
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    #[test]
    fn notify_then_drain() {
        let efd = EventFd::new().unwrap();
        assert!(!readable(efd.as_raw_fd()));
        assert_eq!(efd.drain().unwrap(), 0, "empty drain does not block");
        efd.notify().unwrap();
        efd.notify().unwrap();
        assert!(readable(efd.as_raw_fd()));
        assert_eq!(efd.drain().unwrap(), 2);
        assert!(!readable(efd.as_raw_fd()));
        assert_eq!(efd.drain().unwrap(), 0);
    }

    #[test]
    fn wakes_a_poller_on_another_thread() {
        let efd = std::sync::Arc::new(EventFd::new().unwrap());
        let bell = efd.clone();
        let waiter = std::thread::spawn(move || {
            let mut pfd = libc::pollfd {
                fd: efd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd that outlives the call.
            let n = unsafe { libc::poll(&raw mut pfd, 1, 10_000) };
            assert_eq!(n, 1, "woken, not timed out");
            efd.drain().unwrap()
        });
        bell.notify().unwrap();
        assert_eq!(waiter.join().unwrap(), 1);
    }

    #[test]
    fn descriptor_is_nonblocking_and_cloexec() {
        let efd = EventFd::new().unwrap();
        // SAFETY: F_GETFL/F_GETFD on a valid descriptor take no further arguments.
        let (fl, fd_flags) = unsafe {
            (
                libc::fcntl(efd.as_raw_fd(), libc::F_GETFL),
                libc::fcntl(efd.as_raw_fd(), libc::F_GETFD),
            )
        };
        assert!(fl & libc::O_NONBLOCK != 0);
        assert!(fd_flags & libc::FD_CLOEXEC != 0);
        assert_eq!(AsFd::as_fd(&efd).as_raw_fd(), efd.as_raw_fd());
    }
}
