//! systemd socket activation: the listening sockets a primary is started with
//! (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`, descriptors 3 and up, as sd_listen_fds(3)
//! describes them). They are adopted once per process, close-on-exec so no child inherits
//! them, and kept for the life of the process: a worker's `listen()` on the address of one
//! is served from a copy of it (shared or round-robin as the policy says) instead of a new
//! bind, so a privileged port works without root and the socket, with the connections
//! queued on it, outlives every worker.

use crate::servers::{BindRequest, Transport};
use crate::sys;
use parking_lot::Mutex;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// sd_listen_fds(3): the first passed descriptor.
pub const LISTEN_FDS_START: RawFd = 3;

/// What an adopted socket is bound to, from its getsockname and SO_TYPE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
    /// Anything else (a FIFO, an abstract or unnamed Unix socket, a netlink socket...):
    /// kept and never matched.
    Other,
}

pub struct Adopted {
    pub fd: OwnedFd,
    /// Its entry of LISTEN_FDNAMES ("unknown" where none is given, as systemd names them).
    pub name: String,
    pub bound: Bound,
}

/// Every socket this process adopted; `None` until `adopt` ran.
static ADOPTED: Mutex<Option<Vec<Adopted>>> = Mutex::new(None);

/// The descriptors the variables pass to process `pid`, with their names; none when
/// `LISTEN_PID` names another process (the variables were meant for an ancestor) or the
/// values are malformed.
pub fn parse(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    fd_names: Option<&str>,
    pid: u32,
) -> Vec<(RawFd, String)> {
    let for_us = listen_pid.and_then(|p| p.trim().parse::<u32>().ok()) == Some(pid);
    let count = listen_fds.and_then(|n| n.trim().parse::<u32>().ok());
    let (true, Some(count)) = (for_us, count) else {
        return Vec::new();
    };
    // More than any real unit passes; a bogus count must not make us claim every number.
    let count = count.min(4096) as RawFd;
    let names: Vec<&str> = fd_names.map(|n| n.split(':').collect()).unwrap_or_default();
    (0..count)
        .map(|i| {
            let name = names
                .get(i as usize)
                .filter(|n| !n.is_empty())
                .unwrap_or(&"unknown");
            (LISTEN_FDS_START + i, name.to_string())
        })
        .collect()
}

fn describe(fd: RawFd) -> Bound {
    let Ok(addr) = sys::getsockname(fd) else {
        return Bound::Other;
    };
    let ty = sys::int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE).unwrap_or(-1);
    if let Some(path) = addr.unix_path() {
        return if ty == libc::SOCK_STREAM {
            Bound::Unix(path)
        } else {
            Bound::Other
        };
    }
    match (addr.to_std(), ty) {
        (Some(a), libc::SOCK_STREAM) => Bound::Tcp(a),
        (Some(a), libc::SOCK_DGRAM) => Bound::Udp(a),
        _ => Bound::Other,
    }
}

/// Adopts the descriptors `parse` found (once per process: later calls return what the
/// first adopted). Each is made close-on-exec at once. Returns how many there are.
pub fn adopt(passed: Vec<(RawFd, String)>) -> usize {
    let mut adopted = ADOPTED.lock();
    if let Some(list) = adopted.as_ref() {
        return list.len();
    }
    let mut list = Vec::new();
    for (fd, name) in passed {
        // A number that is not open is skipped (and never claimed).
        if sys::set_cloexec(fd).is_err() {
            continue;
        }
        let bound = describe(fd);
        list.push(Adopted {
            fd: sys::claim_inherited(fd),
            name,
            bound,
        });
    }
    let count = list.len();
    *adopted = Some(list);
    count
}

/// `(name, bound)` of every adopted socket, in the order they were passed.
pub fn list() -> Vec<(String, Bound)> {
    ADOPTED
        .lock()
        .as_ref()
        .map(|l| {
            l.iter()
                .map(|a| (a.name.clone(), a.bound.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The request's IP address matches the socket's: the same address, or both wildcards
/// (a worker's `listen(port)` without a host asks for no address; Node's primary would
/// bind `::` or `0.0.0.0`).
fn ip_matches(bound: IpAddr, requested: Option<&str>) -> bool {
    let Some(requested) = requested else {
        return bound.is_unspecified();
    };
    let plain = requested.split('%').next().unwrap_or(requested);
    match plain.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => bound.is_unspecified(),
        Ok(ip) => ip == bound,
        Err(_) => false,
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Whether a worker's request names this socket's address.
pub fn matches(bound: &Bound, req: &BindRequest) -> bool {
    if req.fd.is_some() {
        return false;
    }
    let port = |a: &SocketAddr| req.port != 0 && i64::from(a.port()) == req.port;
    match (bound, &req.transport) {
        (Bound::Tcp(a), Transport::Tcp) => port(a) && ip_matches(a.ip(), req.address.as_deref()),
        (Bound::Udp(a), Transport::Udp { v6 }) => {
            port(a) && a.is_ipv6() == *v6 && ip_matches(a.ip(), req.address.as_deref())
        }
        (Bound::Unix(path), Transport::Unix) => req
            .address
            .as_deref()
            .is_some_and(|p| absolute(Path::new(p)) == absolute(path)),
        _ => false,
    }
}

/// A copy of the adopted socket a request names, if any.
pub fn find(req: &BindRequest) -> Option<io::Result<OwnedFd>> {
    let adopted = ADOPTED.lock();
    let found = adopted.as_ref()?.iter().find(|a| matches(&a.bound, req))?;
    Some(sys::dup_cloexec(found.fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(msg: serde_json::Value) -> BindRequest {
        BindRequest::from_message(msg.as_object().unwrap())
    }

    #[test]
    fn variables_for_another_process_or_malformed_are_ignored() {
        assert!(parse(Some("41"), Some("2"), None, 42).is_empty());
        assert!(parse(None, Some("2"), None, 42).is_empty());
        assert!(parse(Some("42"), Some("two"), None, 42).is_empty());
        assert!(parse(Some("42"), None, None, 42).is_empty());
    }

    #[test]
    fn descriptors_start_at_three_with_their_names() {
        assert_eq!(
            parse(Some("42"), Some("3"), Some("web:admin"), 42),
            vec![
                (3, "web".to_string()),
                (4, "admin".to_string()),
                (5, "unknown".to_string())
            ]
        );
        assert_eq!(parse(Some(" 42 "), Some("0"), None, 42), vec![]);
    }

    #[test]
    fn wildcard_requests_match_wildcard_sockets_only() {
        let any6 = Bound::Tcp("[::]:80".parse().unwrap());
        let local = Bound::Tcp("127.0.0.1:80".parse().unwrap());
        let plain = request(json!({"address": null, "port": 80, "addressType": 4}));
        assert!(matches(&any6, &plain));
        assert!(!matches(&local, &plain));
        let named = request(json!({"address": "127.0.0.1", "port": 80, "addressType": 4}));
        assert!(matches(&local, &named));
        assert!(!matches(&any6, &named));
        let zeros = request(json!({"address": "0.0.0.0", "port": 80, "addressType": 4}));
        assert!(matches(&any6, &zeros));
        let other_port = request(json!({"address": null, "port": 81, "addressType": 4}));
        assert!(!matches(&any6, &other_port));
        let any_port = request(json!({"address": null, "port": 0, "addressType": 4}));
        assert!(!matches(&Bound::Tcp("[::]:0".parse().unwrap()), &any_port));
        let by_fd = request(json!({"address": null, "port": 80, "addressType": 4, "fd": 7}));
        assert!(!matches(&any6, &by_fd));
    }

    #[test]
    fn udp_and_unix_match_by_family_and_path() {
        let udp4 = Bound::Udp("0.0.0.0:53".parse().unwrap());
        assert!(matches(
            &udp4,
            &request(json!({"address": null, "port": 53, "addressType": "udp4"}))
        ));
        assert!(!matches(
            &udp4,
            &request(json!({"address": null, "port": 53, "addressType": "udp6"}))
        ));
        assert!(!matches(
            &udp4,
            &request(json!({"address": null, "port": 53, "addressType": 4}))
        ));
        let unix = Bound::Unix(PathBuf::from("/run/app.sock"));
        assert!(matches(
            &unix,
            &request(json!({"address": "/run/app.sock", "port": -1, "addressType": -1}))
        ));
        assert!(!matches(
            &unix,
            &request(json!({"address": "/run/other.sock", "port": -1, "addressType": -1}))
        ));
    }

    #[test]
    fn sockets_are_described_by_getsockname() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let Bound::Tcp(addr) = describe(tcp.as_raw_fd()) else {
            panic!("not TCP");
        };
        assert_eq!(addr, tcp.local_addr().unwrap());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            describe(udp.as_raw_fd()),
            Bound::Udp(udp.local_addr().unwrap())
        );
        let path = std::env::temp_dir().join(format!("rc-act-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(describe(unix.as_raw_fd()), Bound::Unix(path.clone()));
        drop(unix);
        std::fs::remove_file(&path).unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(describe(a.as_raw_fd()), Bound::Other);
    }
}
