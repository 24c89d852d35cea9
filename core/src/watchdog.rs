//! No orphans: a small watchdog process outlives the primary just long enough to make
//! sure its workers do not.
//!
//! Node's own primary leaves a worker behind when the primary is SIGKILLed while that
//! worker's event loop is stuck (it never reads the channel's end). PR_SET_PDEATHSIG would
//! fix that but also kills every worker the instant the primary exits normally, where Node
//! lets workers see the channel close and exit 0. The watchdog gives both: it holds a pidfd
//! of every worker and one end of a control socket; when the primary is gone (however it
//! died, the kernel closes the other end) it waits a grace period for workers to leave on
//! their own, then SIGKILLs the rest, and exits. It ignores terminal signals and runs in a
//! session of its own, so Ctrl-C reaches the primary's handlers and the workers, never
//! the guarantee, and nothing of it is left in the primary's process group.
//!
//! The watchdog is forked from a multithreaded process without exec, so after fork it runs
//! only async-signal-safe syscalls on memory allocated before the fork.

use crate::sys;
use libc;
use parking_lot::Mutex;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// How long workers get to exit by themselves once the primary is gone.
pub const GRACE_MS: i32 = 500;
/// Most workers tracked at once; exited ones are dropped when the table fills.
const CAPACITY: usize = 4096;

/// The primary's end of the control socket, once the watchdog runs.
static CONTROL: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// Starts the watchdog if it is not running. Call from the thread that spawns workers.
pub fn ensure_started() -> io::Result<()> {
    let mut control = CONTROL.lock();
    if control.is_some() {
        return Ok(());
    }
    let (ours, theirs) = sys::socketpair()?;
    // Everything the child uses is allocated here, before fork.
    let mut table = vec![-1 as RawFd; CAPACITY].into_boxed_slice();
    let mut polls = vec![
        libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        };
        CAPACITY
    ]
    .into_boxed_slice();
    // The watchdog is started through an intermediate child that exits at once, in a
    // session of its own: it is then nobody's child but init's, and outside the primary's
    // process group, so when it ends after the primary (normal exit or not) it is neither
    // a zombie of ours nor a leftover member of the group that supervisors, test runners
    // and `timeout` wait on to empty.
    // SAFETY: fork in a multithreaded process; the intermediate only calls setsid, fork
    // and _exit, and the watchdog only `watch`, which makes async-signal-safe syscalls on
    // the buffers above and ends in _exit.
    let intermediate = unsafe { libc::fork() };
    if intermediate < 0 {
        return Err(io::Error::last_os_error());
    }
    if intermediate == 0 {
        unsafe {
            libc::setsid();
            match libc::fork() {
                0 => watch(theirs.as_raw_fd(), &mut table, &mut polls),
                pid => libc::_exit(if pid < 0 { 1 } else { 0 }),
            }
        }
    }
    drop(theirs);
    if sys::reap_blocking(intermediate)? != sys::ExitStatus::Code(0) {
        return Err(io::Error::other("the watchdog could not be forked"));
    }
    *control = Some(ours);
    Ok(())
}

/// Hands the watchdog a pidfd of a new worker (the watchdog gets its own copy).
pub fn track(pidfd: RawFd) -> io::Result<()> {
    let control = CONTROL.lock();
    let Some(control) = control.as_ref() else {
        return Err(io::Error::from_raw_os_error(libc::ENOTCONN));
    };
    sys::send_blocking_with_fd(control.as_raw_fd(), b"w", pidfd)
}

/// The watchdog's whole life. Never returns.
fn watch(control: RawFd, table: &mut [RawFd], polls: &mut [libc::pollfd]) -> ! {
    // SAFETY (whole function): only async-signal-safe syscalls on plain integers and on
    // buffers allocated before fork; no allocation, no locks, no unwinding.
    unsafe {
        for signal in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
        ] {
            libc::signal(signal, libc::SIG_IGN);
        }
        libc::prctl(
            libc::PR_SET_NAME,
            c"rc-watchdog".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
        // Keep nothing of the primary's open (least of all its stdout, which someone may
        // be waiting to see closed) but the control socket.
        if control > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (control - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (control + 1) as u32, u32::MAX, 0u32);
        let mut count = 0usize;
        loop {
            let mut received = -1;
            match sys::recv_one_fd_blocking(control, &mut received) {
                Ok(0) => break, // the primary is gone
                Ok(_) => {}
                Err(_) => break,
            }
            if received < 0 {
                continue;
            }
            if count == table.len() {
                count = drop_exited(table, polls, count);
            }
            if count < table.len() {
                table[count] = received;
                count += 1;
            } else {
                libc::close(received);
            }
        }
        wait_then_kill(table, polls, count);
        libc::_exit(0);
    }
}

/// Closes the pidfds of workers that already exited; returns how many remain (compacted).
fn drop_exited(table: &mut [RawFd], polls: &mut [libc::pollfd], count: usize) -> usize {
    for (poll, &fd) in polls.iter_mut().zip(table.iter()).take(count) {
        *poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
    }
    // SAFETY: polls holds `count` initialized entries.
    unsafe { libc::poll(polls.as_mut_ptr(), count as libc::nfds_t, 0) };
    let mut kept = 0;
    for i in 0..count {
        if polls[i].revents & libc::POLLIN != 0 {
            // SAFETY: closing a pidfd this process owns.
            unsafe { libc::close(table[i]) };
        } else {
            table[kept] = table[i];
            kept += 1;
        }
    }
    kept
}

/// Gives the workers the grace period, then SIGKILLs whoever is still running.
fn wait_then_kill(table: &mut [RawFd], polls: &mut [libc::pollfd], mut count: usize) {
    let mut left = GRACE_MS;
    while count > 0 && left > 0 {
        count = drop_exited(table, polls, count);
        if count == 0 {
            break;
        }
        let step = left.min(20);
        // SAFETY: a plain sleep between checks.
        unsafe { libc::poll(std::ptr::null_mut(), 0, step) };
        left -= step;
    }
    for &pidfd in table.iter().take(count) {
        // SAFETY: pidfd_send_signal on a pidfd we own; a pidfd cannot name a reused pid.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd,
                libc::SIGKILL,
                0usize,
                0u32,
            );
        }
    }
}
