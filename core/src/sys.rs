//! The syscall boundary: each function is a thin wrapper that turns a libc call into an
//! `io::Result` over owned file descriptors. Every `unsafe` block of the core lives here,
//! but for code that runs in a child between fork and exec or exit, where only
//! async-signal-safe calls are allowed: `spawn`'s `pre_exec` (which calls back into here)
//! and the `watchdog`'s whole life; each of those blocks has its own SAFETY comment.

use libc;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Most file descriptors a single `recvmsg` may carry; Node sends one per message.
const MAX_FDS_PER_READ: usize = 16;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Takes ownership of a descriptor a syscall just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass only a descriptor that a successful syscall has just created
    // and that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// An AF_UNIX stream socketpair, both ends close-on-exec, like libuv's IPC pipes.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid two-element array for the kernel to fill.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// The file status flags (`O_NONBLOCK`, the access mode, ...), shared by every descriptor
/// of the same open file, in this process or in a worker it was passed to.
pub fn status_flags(fd: RawFd) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL on a descriptor touches no memory.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    let flags = status_flags(fd)?;
    // SAFETY: fcntl on a descriptor we hold; F_SETFL touches no memory.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

pub fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor and touches no memory.
    Ok(owned(cvt(unsafe {
        libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0)
    })?))
}

/// Writes `data` with `fd` (if any) attached as SCM_RIGHTS, without blocking. Never
/// raises SIGPIPE.
pub fn send_with_fd(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> io::Result<usize> {
    send_fd_with_flags(sock, data, fd, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
}

/// Like `send_with_fd`, but waits for room: for the watchdog's control socket, where a
/// descriptor must never be dropped.
pub fn send_blocking_with_fd(sock: RawFd, data: &[u8], fd: RawFd) -> io::Result<()> {
    loop {
        match send_fd_with_flags(sock, data, Some(fd), libc::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

fn send_fd_with_flags(
    sock: RawFd,
    data: &[u8],
    fd: Option<RawFd>,
    flags: libc::c_int,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // A u64 array keeps the control buffer aligned for cmsghdr.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain data; zeroed is a valid "no name, no control" value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE is a pure size computation.
        let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space;
        // SAFETY: msg_control points at `control`, which is larger than `space`, so the first
        // header and its data lie inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
        }
    }
    // SAFETY: msg points at live iovec/control buffers for the duration of the call.
    cvt_size(unsafe { libc::sendmsg(sock, &msg, flags) })
}

/// Blocking read of one small message and at most one descriptor (into `fd`, else -1),
/// using only the stack: safe to call in a forked child that must not allocate.
pub fn recv_one_fd_blocking(sock: RawFd, fd: &mut RawFd) -> io::Result<usize> {
    let mut byte = [0u8; 16];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut libc::c_void,
        iov_len: byte.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: as in recv_with_fds, with buffers on this stack frame.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = size_of::<[u64; 8]>();
    *fd = -1;
    let n = loop {
        // SAFETY: msg points at live buffers; the kernel writes at most their lengths.
        let ret = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret >= 0 {
            break ret as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    // SAFETY: reading the control message the kernel just wrote.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if !cmsg.is_null()
            && (*cmsg).cmsg_level == libc::SOL_SOCKET
            && (*cmsg).cmsg_type == libc::SCM_RIGHTS
        {
            *fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
        }
    }
    Ok(n)
}

/// Reads into `buf`; descriptors that arrive are appended to `fds` (close-on-exec).
/// Returns 0 at end of stream.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut control = [0u64; (MAX_FDS_PER_READ * size_of::<RawFd>() + 64) / 8];
    // SAFETY: see send_with_fd.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = size_of::<[u64; (MAX_FDS_PER_READ * size_of::<RawFd>() + 64) / 8]>();
    // SAFETY: msg points at live buffers; the kernel writes at most their stated lengths.
    let n = cvt_size(unsafe {
        libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT)
    })?;
    // SAFETY: walking the control messages the kernel just wrote, within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..bytes / size_of::<RawFd>() {
                    fds.push(owned(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(n)
}

pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(ret as RawFd))
}

/// How a reaped child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

/// Reaps `pid` if it has exited. Only ever called with pids we spawned, so Node's own
/// child processes are never reaped behind libuv's back.
pub fn try_reap(pid: i32) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: waitpid writes one int through a valid pointer.
    let ret = cvt(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) })?;
    if ret == 0 {
        return Ok(None);
    }
    if libc::WIFSIGNALED(status) {
        Ok(Some(ExitStatus::Signal(libc::WTERMSIG(status))))
    } else {
        Ok(Some(ExitStatus::Code(libc::WEXITSTATUS(status))))
    }
}

/// Waits for `pid` (a child of ours) to exit and reaps it.
pub fn reap_blocking(pid: i32) -> io::Result<ExitStatus> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int through a valid pointer.
        match cvt(unsafe { libc::waitpid(pid, &mut status, 0) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) if libc::WIFSIGNALED(status) => {
                return Ok(ExitStatus::Signal(libc::WTERMSIG(status)))
            }
            Ok(_) => return Ok(ExitStatus::Code(libc::WEXITSTATUS(status))),
        }
    }
}

pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    cvt(unsafe { libc::kill(pid, signal) }).map(|_| ())
}

pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd returns a new descriptor.
    Ok(owned(cvt(unsafe {
        libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)
    })?))
}

pub fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN) still wakes the reader.
    unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
}

pub fn eventfd_drain(fd: RawFd) {
    let mut value: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64.
    unsafe { libc::read(fd, &mut value as *mut u64 as *mut libc::c_void, 8) };
}

pub struct Epoll {
    fd: OwnedFd,
}

pub const EPOLLIN: u32 = libc::EPOLLIN as u32;
pub const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
pub const EPOLLET: u32 = libc::EPOLLET as u32;

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 returns a new descriptor.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll { fd: owned(fd) })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a live epoll_event; epoll_ctl is thread-safe.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) }).map(|_| ())
    }

    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    pub fn delete(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// The epoll descriptor itself, for watching this set from another poller.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Waits for readiness; returns (token, events) pairs.
    pub fn wait(&self, out: &mut Vec<(u64, u32)>, timeout_ms: i32) -> io::Result<()> {
        out.clear();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: the kernel writes at most 64 entries into `events`.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), 64, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(err);
        }
        out.extend(events[..n as usize].iter().map(|e| (e.u64, e.events)));
        Ok(())
    }
}

/// A socket address as the kernel sees it, for bind/getsockname/accept.
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    pub fn from_std(addr: &std::net::SocketAddr) -> SockAddr {
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let len = match addr {
            std::net::SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
                unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
                size_of::<libc::sockaddr_in>()
            }
            std::net::SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
                size_of::<libc::sockaddr_in6>()
            }
        };
        SockAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    /// An AF_UNIX address in the abstract namespace (`name` without the leading NUL).
    pub fn unix_abstract(name: &[u8]) -> io::Result<SockAddr> {
        // SAFETY: all-zero sockaddr_storage is valid.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        // SAFETY: sockaddr_un fits in sockaddr_storage.
        let sun = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_un) };
        if name.len() + 1 > sun.sun_path.len() {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in sun.sun_path[1..].iter_mut().zip(name) {
            *dst = *src as libc::c_char;
        }
        let len = size_of::<libc::sa_family_t>() + 1 + name.len();
        Ok(SockAddr {
            storage,
            len: len as libc::socklen_t,
        })
    }

    pub fn unix(path: &[u8]) -> io::Result<SockAddr> {
        // SAFETY: all-zero sockaddr_storage is valid.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        // SAFETY: sockaddr_un fits in sockaddr_storage.
        let sun = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_un) };
        if path.len() >= sun.sun_path.len() {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in sun.sun_path.iter_mut().zip(path) {
            *dst = *src as libc::c_char;
        }
        let len = size_of::<libc::sa_family_t>() + path.len() + 1;
        Ok(SockAddr {
            storage,
            len: len as libc::socklen_t,
        })
    }

    /// The path of a bound AF_UNIX address (None for other families, unnamed and
    /// abstract sockets).
    pub fn unix_path(&self) -> Option<std::path::PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        if self.storage.ss_family as libc::c_int != libc::AF_UNIX {
            return None;
        }
        // SAFETY: the family says the storage holds a sockaddr_un.
        let sun = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_un) };
        let len = (self.len as usize)
            .saturating_sub(size_of::<libc::sa_family_t>())
            .min(sun.sun_path.len());
        let bytes: Vec<u8> = sun.sun_path[..len].iter().map(|c| *c as u8).collect();
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        if end == 0 {
            return None;
        }
        Some(std::ffi::OsStr::from_bytes(&bytes[..end]).into())
    }

    pub fn to_std(&self) -> Option<std::net::SocketAddr> {
        match self.storage.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(std::net::SocketAddr::new(
                    ip.into(),
                    u16::from_be(sin.sin_port),
                ))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(std::net::SocketAddr::new(
                    ip.into(),
                    u16::from_be(sin6.sin6_port),
                ))
            }
            _ => None,
        }
    }
}

/// A new socket, close-on-exec and non-blocking as libuv's `uv__socket` makes every one:
/// a worker that receives it shares its file status flags, and libuv's loop in the worker
/// relies on accept and read failing with EAGAIN rather than blocking.
pub fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket returns a new descriptor.
    Ok(owned(cvt(unsafe {
        libc::socket(domain, ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0)
    })?))
}

pub fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live int with its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// An integer socket option (SO_TYPE, SO_ACCEPTCONN, ...).
pub fn int_option(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a pointer to a live int and its size; the kernel writes at most `len`.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            &mut value as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok(value)
}

/// Sets FD_CLOEXEC on a descriptor this process inherited (no child started from now on
/// gets it).
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD on a descriptor number touches no memory.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: as above, F_SETFD.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
    Ok(())
}

/// Takes ownership of a descriptor this process was given at exec (systemd's sockets).
/// The caller must be the only one to claim that number.
pub fn claim_inherited(fd: RawFd) -> OwnedFd {
    owned(fd)
}

/// A datagram sent without blocking to `addr` (sd_notify's messages).
pub fn send_to(fd: RawFd, data: &[u8], addr: &SockAddr) -> io::Result<usize> {
    // SAFETY: `data` is valid for its length and addr.storage for addr.len bytes.
    cvt_size(unsafe {
        libc::sendto(
            fd,
            data.as_ptr() as *const libc::c_void,
            data.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            &addr.storage as *const _ as *const libc::sockaddr,
            addr.len,
        )
    })
}

/// CLOCK_MONOTONIC in microseconds (sd_notify's MONOTONIC_USEC).
pub fn monotonic_usec() -> u64 {
    // SAFETY: all-zero timespec is valid; clock_gettime writes into it.
    let mut ts: libc::timespec = unsafe { zeroed() };
    // SAFETY: a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

pub fn bind(fd: RawFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: addr.storage is valid for addr.len bytes.
    cvt(unsafe {
        libc::bind(
            fd,
            &addr.storage as *const _ as *const libc::sockaddr,
            addr.len,
        )
    })
    .map(|_| ())
}

pub fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain integers.
    cvt(unsafe { libc::listen(fd, backlog) }).map(|_| ())
}

pub fn getsockname(fd: RawFd) -> io::Result<SockAddr> {
    // SAFETY: all-zero storage is valid; the kernel writes at most `len` bytes.
    let mut addr = SockAddr {
        storage: unsafe { zeroed() },
        len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
    };
    cvt(unsafe {
        libc::getsockname(
            fd,
            &mut addr.storage as *mut _ as *mut libc::sockaddr,
            &mut addr.len,
        )
    })?;
    Ok(addr)
}

/// Accepts one pending connection, close-on-exec and non-blocking as libuv's `uv__accept`
/// accepts (the worker it is handed to shares those flags), `None` when none is waiting.
pub fn accept(fd: RawFd) -> io::Result<Option<(OwnedFd, SockAddr)>> {
    // SAFETY: as getsockname: the kernel fills at most `len` bytes of storage.
    let mut addr = SockAddr {
        storage: unsafe { zeroed() },
        len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
    };
    let ret = unsafe {
        libc::accept4(
            fd,
            &mut addr.storage as *mut _ as *mut libc::sockaddr,
            &mut addr.len,
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::EAGAIN) => Ok(None),
            // As libuv's uv__server_io: a connection reset while it waited is skipped, and
            // the queue may hold more.
            Some(libc::ECONNABORTED) | Some(libc::EINTR) => accept(fd),
            _ => Err(err),
        };
    }
    Ok(Some((owned(ret), addr)))
}

/// How many connections wait in a TCP listener's accept queue (`TCP_INFO`'s
/// `tcpi_unacked`, which for a listening socket is its accept backlog). Asking is much
/// cheaper than an `accept4` that fails with EAGAIN: the kernel allocates, then frees, a
/// socket file for that. Fails (ENOPROTOOPT / EOPNOTSUPP) for a Unix socket.
pub fn accept_queue_len(fd: RawFd) -> io::Result<u32> {
    // SAFETY: tcp_info is plain integers, for which all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: passes a pointer to a live tcp_info and its size; the kernel writes at most
    // `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut libc::tcp_info as *mut libc::c_void,
            &mut len,
        )
    })?;
    // TCP_LISTEN in the kernel's tcp_states.h (libc does not name it).
    const TCP_LISTEN: u8 = 10;
    if info.tcpi_state != TCP_LISTEN {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(info.tcpi_unacked)
}

pub fn fchmod(fd: RawFd, mode: u32) -> io::Result<()> {
    // SAFETY: plain integers.
    cvt(unsafe { libc::fchmod(fd, mode as libc::mode_t) }).map(|_| ())
}

pub fn chmod(path: &std::ffi::CStr, mode: u32) -> io::Result<()> {
    // SAFETY: path is a valid NUL-terminated string.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) }).map(|_| ())
}

/// In a forked child: keep stdio across exec (Node opens its own 0-2 close-on-exec; libuv
/// clears the flag the same way for inherited stdio), mark every other descriptor
/// close-on-exec so the worker inherits nothing else, then place each `(source, target)`
/// (the channel, extra stdio) at its number. Sources are first moved above every target
/// so no placement clobbers a source still to be placed. `moved` has one slot per pair.
pub fn child_place_fds(mapping: &[(RawFd, RawFd)], moved: &mut [RawFd]) -> io::Result<()> {
    let above = mapping.iter().map(|&(_, t)| t).max().unwrap_or(2) + 1;
    // SAFETY: fcntl/dup2/close_range are async-signal-safe syscalls on integers.
    unsafe {
        for stdio in 0..3 {
            let flags = libc::fcntl(stdio, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                libc::fcntl(stdio, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
        }
        let cloexec = 1u32 << 2; // CLOSE_RANGE_CLOEXEC
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, cloexec);
        for (slot, &(source, _)) in moved.iter_mut().zip(mapping) {
            *slot = cvt(libc::fcntl(source, libc::F_DUPFD_CLOEXEC, above))?;
        }
        for (&copy, &(_, target)) in moved.iter().zip(mapping) {
            // dup2 leaves the new descriptor without close-on-exec: it survives exec.
            cvt(libc::dup2(copy, target))?;
        }
    }
    Ok(())
}

/// Gives freed heap memory back to the system (glibc keeps it per thread arena otherwise,
/// which shows as RSS that never comes back after workers come and go).
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `sysconf(_SC_CLK_TCK)`: the unit of CPU times in `/proc/<pid>/stat`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes an integer and touches no memory.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        match cvt_size(n as libc::ssize_t) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Writes all of `data`, waiting for room when the descriptor is non-blocking (the
/// primary's stdout may be a pipe libuv made non-blocking). Never raises SIGPIPE for
/// sockets; a pipe with no reader fails with EPIPE (Node ignores SIGPIPE).
pub fn write_all(fd: RawFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for reads of its length.
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        match cvt_size(n as libc::ssize_t) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one live pollfd.
                unsafe { libc::poll(&mut pfd, 1, 1000) };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The peer of a connected Unix socket: (pid, uid, gid), from SO_PEERCRED.
pub fn peer_credentials(fd: RawFd) -> io::Result<(i32, u32, u32)> {
    // SAFETY: ucred is plain data; all-zero is valid.
    let mut cred: libc::ucred = unsafe { zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: passes a live ucred and its size; the kernel writes at most `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok((cred.pid, cred.uid, cred.gid))
}

/// A CPU mask for `sched_setaffinity`, built before fork so the child only makes the
/// syscall.
#[derive(Clone, Copy)]
pub struct CpuSet(libc::cpu_set_t);

impl std::fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.cpus()).finish()
    }
}

impl CpuSet {
    /// The mask of `cpus`; EINVAL for an empty list or a CPU beyond `CPU_SETSIZE`.
    pub fn of(cpus: &[usize]) -> io::Result<CpuSet> {
        // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
        let mut set: libc::cpu_set_t = unsafe { zeroed() };
        if cpus.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            // SAFETY: `cpu` is below CPU_SETSIZE, so the bit lies inside `set`.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        Ok(CpuSet(set))
    }

    pub fn cpus(&self) -> Vec<usize> {
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: every `cpu` is below CPU_SETSIZE, inside the set.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &self.0) })
            .collect()
    }
}

/// The CPUs the calling thread may run on.
pub fn sched_getaffinity() -> io::Result<Vec<usize>> {
    // SAFETY: all-zero is a valid cpu_set_t; the kernel writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    cvt(unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) })?;
    Ok(CpuSet(set).cpus())
}

/// In a forked child: pin it to `set` (async-signal-safe: one syscall, no allocation).
pub fn child_set_affinity(set: &CpuSet) -> io::Result<()> {
    // SAFETY: passes a pointer to a live cpu_set_t with its size.
    cvt(unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set.0) }).map(|_| ())
}
