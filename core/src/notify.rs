//! sd_notify(3) without libsystemd: datagrams to the service manager's `NOTIFY_SOCKET`
//! (a path, or an abstract name written with a leading '@'), and the watchdog keep-alive:
//! `WATCHDOG=1` every `WATCHDOG_USEC / 2` from a thread of its own, so it keeps coming
//! while the JavaScript thread is busy, but only while the workers are healthy (the facade
//! says when they are). One notifier per process: the service has one main process.

use crate::sys::{self, SockAddr};
use parking_lot::{Condvar, Mutex};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Notifier {
    socket: OwnedFd,
    addr: SockAddr,
}

impl Notifier {
    /// A notifier for `NOTIFY_SOCKET`'s value.
    pub fn new(notify_socket: &str) -> io::Result<Notifier> {
        let addr = match notify_socket.strip_prefix('@') {
            Some(name) => SockAddr::unix_abstract(name.as_bytes())?,
            None if notify_socket.starts_with('/') => SockAddr::unix(notify_socket.as_bytes())?,
            // vsock addresses and relative paths are not ours to guess.
            None => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
        };
        let socket = sys::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        Ok(Notifier { socket, addr })
    }

    /// Sends one notification (newline-separated `KEY=value` assignments).
    pub fn send(&self, state: &str) -> io::Result<()> {
        sys::send_to(self.socket.as_raw_fd(), state.as_bytes(), &self.addr).map(|_| ())
    }
}

/// The watchdog interval systemd asks for, if it asks this process (sd_watchdog_enabled(3):
/// `WATCHDOG_PID`, when set, must be our pid).
pub fn watchdog_interval(
    usec: Option<&str>,
    watchdog_pid: Option<&str>,
    pid: u32,
) -> Option<Duration> {
    if let Some(for_pid) = watchdog_pid {
        if for_pid.trim().parse::<u32>().ok() != Some(pid) {
            return None;
        }
    }
    let usec = usec?.trim().parse::<u64>().ok().filter(|u| *u > 0)?;
    Some(Duration::from_micros(usec))
}

/// How often to ping: half the interval, as sd_watchdog_enabled(3) recommends.
pub fn ping_period(interval: Duration) -> Duration {
    interval / 2
}

struct Watchdog {
    healthy: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
}

struct Process {
    notifier: Arc<Notifier>,
    watchdog: Option<Arc<Watchdog>>,
}

static PROCESS: Mutex<Option<Process>> = Mutex::new(None);

/// Connects this process's notifier (once: later calls keep the first) and starts the
/// watchdog thread if an interval is given. The watchdog pings only once `set_healthy(true)`.
pub fn connect(notify_socket: &str, watchdog: Option<Duration>) -> io::Result<()> {
    let mut process = PROCESS.lock();
    if process.is_some() {
        return Ok(());
    }
    let notifier = Arc::new(Notifier::new(notify_socket)?);
    let watchdog = match watchdog {
        Some(interval) => Some(start_watchdog(notifier.clone(), ping_period(interval))?),
        None => None,
    };
    *process = Some(Process { notifier, watchdog });
    Ok(())
}

fn start_watchdog(notifier: Arc<Notifier>, period: Duration) -> io::Result<Arc<Watchdog>> {
    let watchdog = Arc::new(Watchdog {
        healthy: AtomicBool::new(false),
        stop: Mutex::new(false),
        wake: Condvar::new(),
    });
    let state = watchdog.clone();
    std::thread::Builder::new()
        .name("rust-cluster-sd-watchdog".into())
        .spawn(move || {
            let mut stop = state.stop.lock();
            while !*stop {
                // Woken early only to stop; a spurious wake-up just pings early.
                state.wake.wait_for(&mut stop, period);
                if !*stop && state.healthy.load(Ordering::Acquire) {
                    let _ = notifier.send("WATCHDOG=1");
                }
            }
        })?;
    Ok(watchdog)
}

/// Sends a notification; `ENOTCONN` when no notifier is connected.
pub fn send(state: &str) -> io::Result<()> {
    let notifier = PROCESS.lock().as_ref().map(|p| p.notifier.clone());
    match notifier {
        Some(notifier) => notifier.send(state),
        None => Err(io::Error::from_raw_os_error(libc::ENOTCONN)),
    }
}

/// Whether the watchdog keeps pinging (the workers are healthy).
pub fn set_healthy(healthy: bool) {
    if let Some(watchdog) = PROCESS.lock().as_ref().and_then(|p| p.watchdog.as_ref()) {
        watchdog.healthy.store(healthy, Ordering::Release);
    }
}

/// `RELOADING=1` with the `MONOTONIC_USEC` systemd 253+ wants beside it (Type=notify-reload).
pub fn reloading_message() -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={}", sys::monotonic_usec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn watchdog_is_for_this_pid_only() {
        let half = Duration::from_micros(500_000);
        assert_eq!(watchdog_interval(Some("1000000"), None, 7), Some(2 * half));
        assert_eq!(
            watchdog_interval(Some("1000000"), Some("7"), 7),
            Some(2 * half)
        );
        assert_eq!(watchdog_interval(Some("1000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("x"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
        assert_eq!(ping_period(2 * half), half);
    }

    #[test]
    fn notifications_reach_path_and_abstract_sockets() {
        let path = std::env::temp_dir().join(format!("rc-notify-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        Notifier::new(path.to_str().unwrap())
            .unwrap()
            .send("READY=1\nSTATUS=ok")
            .unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=ok");
        std::fs::remove_file(&path).unwrap();

        let name = format!("rc-notify-abstract-{}", std::process::id());
        let addr = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        Notifier::new(&format!("@{name}"))
            .unwrap()
            .send("STOPPING=1")
            .unwrap();
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        assert!(Notifier::new("relative/path").is_err());
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let message = reloading_message();
        let usec: u64 = message
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(usec > 0 && usec <= sys::monotonic_usec());
    }
}
