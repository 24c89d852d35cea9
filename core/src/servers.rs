//! Listening sockets the primary opens for workers, created the way Node's
//! `net._createServerHandle` / `dgram._createSocketHandle` / RoundRobinHandle create them,
//! and the table of them keyed like Node (`address:port:addressType:fd:index`).

use crate::channel::SharedFd;
use crate::errno::Errno;
use crate::int_map::IntMap;
use crate::scheduler::{RoundRobin, WorkerId};
use crate::sys;
use libc;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// libuv's UV_TCP_IPV6ONLY / UV_UDP_IPV6ONLY.
const FLAG_IPV6ONLY: i64 = 1;
/// libuv's UV_UDP_REUSEADDR.
const FLAG_UDP_REUSEADDR: i64 = 4;
/// Node's default listen backlog.
const DEFAULT_BACKLOG: i32 = 511;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Unix,
    Udp { v6: bool },
}

/// What a worker's `queryServer` asks for.
#[derive(Debug, Clone)]
pub struct BindRequest {
    pub address: Option<String>,
    pub port: i64,
    pub transport: Transport,
    pub address_type: Value,
    pub fd: Option<i64>,
    pub flags: i64,
    pub backlog: Option<i32>,
    pub readable_all: bool,
    pub writable_all: bool,
}

impl BindRequest {
    pub fn from_message(msg: &Map<String, Value>) -> BindRequest {
        let address_type = msg.get("addressType").cloned().unwrap_or(Value::Null);
        let port = msg.get("port").and_then(Value::as_i64).unwrap_or(0);
        let transport = match address_type.as_str() {
            Some("udp4") => Transport::Udp { v6: false },
            Some("udp6") => Transport::Udp { v6: true },
            _ if port < 0 || address_type.as_i64() == Some(-1) => Transport::Unix,
            _ => Transport::Tcp,
        };
        BindRequest {
            address: msg
                .get("address")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            port,
            transport,
            address_type,
            fd: msg.get("fd").and_then(Value::as_i64).filter(|fd| *fd >= 0),
            flags: msg.get("flags").and_then(Value::as_i64).unwrap_or(0),
            backlog: msg
                .get("backlog")
                .and_then(Value::as_i64)
                .filter(|b| *b > 0)
                .map(|b| b.min(i32::MAX as i64) as i32),
            readable_all: msg.get("readableAll").and_then(Value::as_bool) == Some(true),
            writable_all: msg.get("writableAll").and_then(Value::as_bool) == Some(true),
        }
    }

    pub fn is_udp(&self) -> bool {
        matches!(self.transport, Transport::Udp { .. })
    }

    /// The options for `net.Server#listen` that open this request's TCP listener, as
    /// Node's RoundRobinHandle passes them.
    pub fn listen_options(&self) -> Value {
        json!({
            "port": self.port,
            "host": self.address,
            "ipv6Only": self.flags & FLAG_IPV6ONLY != 0,
            "backlog": self.backlog,
        })
    }
}

/// A socket the primary holds, and the path to remove when it closes (Unix sockets).
pub struct Listener {
    pub fd: OwnedFd,
    unix_path: Option<PathBuf>,
}

impl Listener {
    /// A listening socket opened elsewhere (by JavaScript's `net.Server`).
    pub fn adopt(fd: OwnedFd) -> Listener {
        Listener {
            fd,
            unix_path: None,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // libuv unlinks a bound pipe's path when the handle closes; so do we.
        if let Some(path) = &self.unix_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Opens the socket a request asks for; `listen` is true for round-robin (the primary
/// accepts), false for shared handles (each worker calls listen itself, as in Node).
/// The error goes to the worker as a negative errno, which it turns into Node's error.
pub fn open(req: &BindRequest, listen: bool) -> Result<Listener, Errno> {
    if let Some(fd) = req.fd {
        // Node opens the descriptor number as the primary sees it, and libuv's
        // uv_tcp_open / uv_pipe_open make it non-blocking.
        let fd = sys::dup_cloexec(fd as i32).map_err(|_| Errno::EINVAL)?;
        sys::set_nonblocking(fd.as_raw_fd())?;
        if listen {
            sys::listen(fd.as_raw_fd(), req.backlog.unwrap_or(DEFAULT_BACKLOG))?;
        }
        return Ok(Listener {
            fd,
            unix_path: None,
        });
    }
    match &req.transport {
        Transport::Tcp => open_tcp(req, listen),
        Transport::Unix => open_unix(req, listen),
        Transport::Udp { v6 } => open_udp(req, *v6),
    }
    .map_err(Errno::from)
}

fn parse_ip(address: &str, v6: bool) -> io::Result<IpAddr> {
    let bad = || io::Error::from_raw_os_error(libc::EINVAL);
    if v6 {
        let plain = address.split('%').next().unwrap_or(address);
        plain.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad())
    } else {
        address
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| bad())
    }
}

/// A TCP socket bound (not listening) the way libuv binds: SO_REUSEADDR, and IPV6_V6ONLY
/// set either way for IPv6; SO_REUSEPORT too for reuseport groups.
fn bind_tcp(ip: IpAddr, port: u16, ipv6only: bool, reuseport: bool) -> io::Result<OwnedFd> {
    let domain = if ip.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let fd = sys::socket(domain, libc::SOCK_STREAM)?;
    sys::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if reuseport {
        sys::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    if ip.is_ipv6() {
        sys::set_int_option(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            ipv6only as i32,
        )?;
    }
    sys::bind(
        fd.as_raw_fd(),
        &sys::SockAddr::from_std(&SocketAddr::new(ip, port)),
    )?;
    Ok(fd)
}

/// Binds a request's TCP address: with no address, the IPv6 wildcard (dual stack) first
/// and IPv4 if that fails, as Node.
fn bind_request(req: &BindRequest, port: u16, reuseport: bool) -> io::Result<OwnedFd> {
    let ipv6only = req.flags & FLAG_IPV6ONLY != 0;
    match &req.address {
        None => bind_tcp(Ipv6Addr::UNSPECIFIED.into(), port, ipv6only, reuseport)
            .or_else(|_| bind_tcp(Ipv4Addr::UNSPECIFIED.into(), port, false, reuseport)),
        Some(address) => {
            let v6 = req.address_type.as_i64() == Some(6);
            bind_tcp(parse_ip(address, v6)?, port, ipv6only, reuseport)
        }
    }
}

fn port_of(req: &BindRequest) -> io::Result<u16> {
    u16::try_from(req.port).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn open_tcp(req: &BindRequest, listen: bool) -> io::Result<Listener> {
    let fd = bind_request(req, port_of(req)?, false)?;
    if listen {
        sys::listen(fd.as_raw_fd(), req.backlog.unwrap_or(DEFAULT_BACKLOG))?;
    }
    Ok(Listener {
        fd,
        unix_path: None,
    })
}

/// Node binds the shortest spelling of a socket path (the limit is ~108 bytes).
fn shortest_path(address: &str, cwd: &Path) -> PathBuf {
    let absolute = Path::new(address);
    match relative_to(absolute, cwd) {
        Some(rel) if rel.as_os_str().len() < address.len() => rel,
        _ => absolute.to_path_buf(),
    }
}

fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    if !path.is_absolute() || !base.is_absolute() {
        return None;
    }
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..base.len() {
        rel.push("..");
    }
    for part in &path[common..] {
        rel.push(part);
    }
    Some(rel)
}

fn open_unix(req: &BindRequest, listen: bool) -> io::Result<Listener> {
    // Relative to the primary's working directory now, which bind() resolves against.
    let cwd = std::env::current_dir()?;
    let address = req
        .address
        .as_deref()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let path = shortest_path(address, &cwd);
    let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
    let bytes = path.as_os_str().as_encoded_bytes();
    sys::bind(fd.as_raw_fd(), &sys::SockAddr::unix(bytes)?)?;
    let listener = Listener {
        fd,
        unix_path: Some(Path::new(address).to_path_buf()),
    };
    if listen {
        sys::listen(
            listener.fd.as_raw_fd(),
            req.backlog.unwrap_or(DEFAULT_BACKLOG),
        )?;
        make_accessible(Path::new(address), req.readable_all, req.writable_all)?;
    }
    Ok(listener)
}

/// `readableAll` / `writableAll`, as libuv's uv_pipe_chmod: add the bits for everyone.
pub fn make_accessible(path: &Path, readable: bool, writable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut wanted = 0;
    if readable {
        wanted |= 0o444;
    }
    if writable {
        wanted |= 0o222;
    }
    if wanted == 0 {
        return Ok(());
    }
    let mode = std::fs::metadata(path)?.permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | wanted))
}

fn open_udp(req: &BindRequest, v6: bool) -> io::Result<Listener> {
    let port = port_of(req)?;
    let address = req
        .address
        .clone()
        .unwrap_or_else(|| if v6 { "::" } else { "0.0.0.0" }.to_string());
    let ip = parse_ip(&address, v6)?;
    let domain = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    let fd = sys::socket(domain, libc::SOCK_DGRAM)?;
    if req.flags & FLAG_UDP_REUSEADDR != 0 {
        sys::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    }
    if v6 {
        let only = req.flags & FLAG_IPV6ONLY != 0;
        sys::set_int_option(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            only as i32,
        )?;
    }
    sys::bind(
        fd.as_raw_fd(),
        &sys::SockAddr::from_std(&SocketAddr::new(ip, port)),
    )?;
    Ok(Listener {
        fd,
        unix_path: None,
    })
}

/// `{address, family, port}` as Node's getsockname reports a TCP socket.
pub fn sockname(fd: &OwnedFd) -> Option<Value> {
    let addr = sys::getsockname(fd.as_raw_fd()).ok()?.to_std()?;
    let family = if addr.is_ipv6() { "IPv6" } else { "IPv4" };
    Some(json!({ "address": addr.ip().to_string(), "family": family, "port": addr.port() }))
}

/// An accepted connection waiting for a worker, with the hash of its client's address
/// (what sticky scheduling keys on).
pub struct Conn {
    /// Shared with the `newconn` frame that passes it (see `SharedFd`).
    pub fd: SharedFd,
    pub affinity: u64,
}

/// FNV-1a over the client's IP (not its port): one client, one affinity.
pub fn affinity_of(peer: Option<SocketAddr>) -> u64 {
    let bytes: Vec<u8> = match peer.map(|p| p.ip()) {
        Some(IpAddr::V4(ip)) => ip.to_ipv6_mapped().octets().to_vec(),
        Some(IpAddr::V6(ip)) => ip.octets().to_vec(),
        None => Vec::new(),
    };
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One worker's SO_REUSEPORT socket in a group; the primary keeps a copy of each.
pub struct ReuseSocket {
    /// Identifies the socket to the I/O thread when the primary accepts on it.
    pub uid: u32,
    pub listener: Listener,
    /// The worker listening on it; None when it is an orphan waiting for a replacement.
    pub owner: Option<WorkerId>,
    /// The supervision slot it belongs to: a replacement in that slot shares it with its
    /// draining predecessor, then keeps it.
    pub slot: Option<u32>,
    /// Registered with the I/O thread (only orphans are).
    pub watched: bool,
}

/// SCHED_REUSEPORT: one socket per worker, all bound to the same address and port with
/// SO_REUSEPORT, so the kernel spreads connections with no hop through the primary. A
/// socket whose worker left stays open: the primary accepts on it and forwards to the
/// remaining workers (nothing queued on it is reset), and the next worker to ask for the
/// same server takes it over.
pub struct ReusePortGroup {
    pub request: BindRequest,
    pub port: u16,
    pub sockets: Vec<ReuseSocket>,
    /// Round-robin over the owners, for connections accepted from orphans.
    pub forward: RoundRobin<Conn>,
}

impl ReusePortGroup {
    /// The socket for a joining worker: its slot's if it has one, else an orphan if there
    /// is one, else a new member.
    pub fn claim(
        &mut self,
        worker: WorkerId,
        slot: Option<u32>,
        next_uid: &mut u32,
    ) -> Result<&mut ReuseSocket, Errno> {
        let of_slot = slot.and_then(|slot| self.sockets.iter().position(|s| s.slot == Some(slot)));
        let orphan = || {
            self.sockets
                .iter()
                .position(|s| s.owner.is_none() && (slot.is_none() || s.slot.is_none()))
        };
        let index = match of_slot.or_else(orphan) {
            Some(index) => index,
            None => {
                let listener = open_reuseport(&self.request, self.port)?;
                *next_uid = next_uid.wrapping_add(1);
                self.sockets.push(ReuseSocket {
                    uid: *next_uid,
                    listener,
                    owner: None,
                    slot,
                    watched: false,
                });
                self.sockets.len() - 1
            }
        };
        let socket = &mut self.sockets[index];
        socket.owner = Some(worker);
        if slot.is_some() {
            socket.slot = slot;
        }
        Ok(socket)
    }

    /// A worker left: its socket becomes an orphan. True when no worker is left.
    pub fn release(&mut self, worker: WorkerId) -> bool {
        for socket in self.sockets.iter_mut().filter(|s| s.owner == Some(worker)) {
            socket.owner = None;
        }
        self.forward.remove(worker);
        self.sockets.iter().all(|s| s.owner.is_none())
    }

    /// Owns a socket, or shares one it has handed over to its replacement.
    pub fn holds(&self, worker: WorkerId) -> bool {
        self.sockets.iter().any(|s| s.owner == Some(worker)) || self.forward.has(worker)
    }
}

/// Whether two binds to the same port would collide (a wildcard address collides with
/// every address of its family, and `::` without ipv6Only with IPv4 too).
pub fn addresses_overlap(a: &Option<String>, b: &Option<String>) -> bool {
    let wildcard = |x: &Option<String>| x.as_deref().is_none_or(|x| x == "0.0.0.0" || x == "::");
    wildcard(a) || wildcard(b) || a == b
}

/// A TCP socket bound with SO_REUSEPORT (not listening: its worker listens, as with a
/// shared handle).
pub fn open_reuseport(req: &BindRequest, port: u16) -> io::Result<Listener> {
    Ok(Listener {
        fd: bind_request(req, port, true)?,
        unix_path: None,
    })
}

/// How connections reach workers for one server.
pub enum Distribution {
    /// Every worker gets the listening descriptor (SCHED_NONE, and UDP always).
    Shared { workers: BTreeSet<WorkerId> },
    /// The primary accepts and hands each connection on (SCHED_RR, SCHED_STICKY).
    RoundRobin(RoundRobin<Conn>),
    /// One SO_REUSEPORT socket per worker (SCHED_REUSEPORT).
    ReusePort(ReusePortGroup),
}

impl Distribution {
    /// The round-robin state that hands out connections the primary accepted, if any.
    pub fn scheduler_mut(&mut self) -> Option<&mut RoundRobin<Conn>> {
        match self {
            Distribution::RoundRobin(rr) => Some(rr),
            Distribution::ReusePort(group) => Some(&mut group.forward),
            Distribution::Shared { .. } => None,
        }
    }
}

pub struct Server {
    pub key: String,
    /// The socket the primary holds (None for reuseport groups, which hold several).
    pub listener: Option<Listener>,
    /// JavaScript is still opening the listener.
    pub opening: bool,
    /// Workers whose `queryServer` waits for the listener to open: (worker, seq).
    pub waiting: Vec<(WorkerId, Value)>,
    pub distribution: Distribution,
    pub data: Value,
    /// For round-robin TCP servers: what the worker's fake handle reports.
    pub sockname: Option<Value>,
    pub is_udp: bool,
    /// What the primary knows of a round-robin listener's accept queue.
    pub backlog: Backlog,
    /// The listener is out of the I/O thread's epoll set (events 0): connections wait and
    /// every worker is busy, so their arrival need not wake it (see `accept_connections`).
    pub parked: bool,
    /// `sys::accept_queue_len` works on the listener (TCP, not a Unix socket).
    pub countable: bool,
}

/// A round-robin listener's accept queue, as far as the primary knows. The listener is
/// edge-triggered: from the moment the queue is known to be empty, each connection that
/// arrives brings a readiness edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// Until the next readiness edge there is nothing to accept.
    Empty,
    /// An edge came, or connections were left waiting while no worker was free.
    Unknown,
    /// At least this many wait (counted with `sys::accept_queue_len`).
    Waiting(u32),
}

impl Server {
    /// A server for `key` with no socket of its own yet, nobody waiting and no data.
    pub fn new(key: &str, distribution: Distribution) -> Server {
        Server {
            key: key.to_string(),
            listener: None,
            opening: false,
            waiting: Vec::new(),
            distribution,
            data: Value::Null,
            sockname: None,
            is_udp: false,
            backlog: Backlog::Unknown,
            parked: false,
            countable: true,
        }
    }

    /// Nobody holds or waits for this server.
    pub fn is_idle(&self) -> bool {
        let held = match &self.distribution {
            Distribution::Shared { workers } => !workers.is_empty(),
            Distribution::RoundRobin(rr) => !rr.is_empty(),
            Distribution::ReusePort(group) => group.sockets.iter().any(|s| s.owner.is_some()),
        };
        !held && self.waiting.is_empty()
    }

    /// Holds the worker, or has it waiting for the listener to open (Node's `has`: a
    /// RoundRobinHandle counts a worker from its `add`).
    pub fn has(&self, worker: WorkerId) -> bool {
        self.holds(worker) || self.waiting.iter().any(|(w, _)| *w == worker)
    }

    pub fn holds(&self, worker: WorkerId) -> bool {
        match &self.distribution {
            Distribution::Shared { workers } => workers.contains(&worker),
            Distribution::RoundRobin(rr) => rr.has(worker),
            Distribution::ReusePort(group) => group.holds(worker),
        }
    }

    /// Removes a worker; true when the server has no holder left and must close.
    pub fn remove(&mut self, worker: WorkerId) -> bool {
        match &mut self.distribution {
            Distribution::Shared { workers } => {
                workers.remove(&worker);
                workers.is_empty()
            }
            Distribution::RoundRobin(rr) => rr.remove(worker),
            Distribution::ReusePort(group) => group.release(worker),
        }
    }
}

/// Server slots by id (the id is what epoll reports) and by Node's key. Under Node 22's
/// keying two servers can share a key: the key names the one a new worker joins.
#[derive(Default)]
pub struct ServerTable {
    by_id: IntMap<u32, Server>,
    by_key: HashMap<String, u32>,
    next_id: u32,
}

impl ServerTable {
    pub fn id_of(&self, key: &str) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    /// The server of `key` that holds `worker`: the keyed one, or one the key moved on
    /// from (Node looks only at the keyed one, and leaks the other).
    pub fn id_holding(&self, key: &str, worker: WorkerId) -> Option<u32> {
        self.id_of(key)
            .filter(|id| self.by_id[id].holds(worker))
            .or_else(|| {
                self.by_id
                    .iter()
                    .find(|(_, s)| s.key == key && s.holds(worker))
                    .map(|(id, _)| *id)
            })
    }

    pub fn get(&self, id: u32) -> Option<&Server> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Server> {
        self.by_id.get_mut(&id)
    }

    /// Adds a server under its key.
    pub fn insert(&mut self, server: Server) -> u32 {
        let id = self.insert_unkeyed(server);
        self.claim_key(id);
        id
    }

    /// Adds a server that its key names only once `claim_key` is called (once it opened).
    pub fn insert_unkeyed(&mut self, server: Server) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        self.by_id.insert(id, server);
        id
    }

    /// Makes `id` the server its key names.
    pub fn claim_key(&mut self, id: u32) {
        if let Some(server) = self.by_id.get(&id) {
            self.by_key.insert(server.key.clone(), id);
        }
    }

    pub fn remove(&mut self, id: u32) -> Option<Server> {
        let server = self.by_id.remove(&id)?;
        if self.by_key.get(&server.key) == Some(&id) {
            self.by_key.remove(&server.key);
        }
        Some(server)
    }

    pub fn servers(&self) -> impl Iterator<Item = &Server> {
        self.by_id.values()
    }

    pub fn ids(&self) -> Vec<u32> {
        self.by_id.keys().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_request(address: Option<&str>, port: i64) -> BindRequest {
        BindRequest {
            address: address.map(str::to_string),
            port,
            transport: Transport::Tcp,
            address_type: json!(4),
            fd: None,
            flags: 0,
            backlog: None,
            readable_all: false,
            writable_all: false,
        }
    }

    #[test]
    fn port_zero_binds_a_real_port_and_reports_it() {
        let listener = open(&tcp_request(Some("127.0.0.1"), 0), true).unwrap();
        let name = sockname(&listener.fd).unwrap();
        assert_eq!(name["family"], "IPv4");
        assert_eq!(name["address"], "127.0.0.1");
        assert!(name["port"].as_u64().unwrap() > 0);
        let port = name["port"].as_u64().unwrap() as u16;
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn bind_conflict_is_a_negative_errno() {
        let first = open(&tcp_request(Some("127.0.0.1"), 0), true).unwrap();
        let port = sockname(&first.fd).unwrap()["port"].as_i64().unwrap();
        let err = open(&tcp_request(Some("127.0.0.1"), port), true)
            .err()
            .unwrap();
        assert_eq!(err, Errno::EADDRINUSE);
        assert_eq!(
            open(&tcp_request(Some("not an ip"), 0), true).err(),
            Some(Errno::EINVAL)
        );
    }

    #[test]
    fn unix_socket_path_is_removed_on_close() {
        let dir = std::env::temp_dir().join(format!("rc-servers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let req = BindRequest {
            address: Some(path.to_string_lossy().into_owned()),
            port: -1,
            transport: Transport::Unix,
            address_type: json!(-1),
            readable_all: true,
            ..tcp_request(None, -1)
        };
        let listener = open(&req, true).unwrap();
        assert!(path.exists());
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        drop(listener);
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn is_nonblocking(fd: &OwnedFd) -> bool {
        sys::status_flags(fd.as_raw_fd()).unwrap() & libc::O_NONBLOCK != 0
    }

    /// A worker shares the file status flags of every descriptor it is passed; libuv makes
    /// each socket non-blocking, and a blocking one freezes the worker's loop in accept4.
    #[test]
    fn every_socket_handed_to_workers_is_nonblocking() {
        let shared = open(&tcp_request(Some("127.0.0.1"), 0), false).unwrap();
        assert!(is_nonblocking(&shared.fd), "shared TCP");
        let reuse = open_reuseport(&tcp_request(Some("127.0.0.1"), 0), 0).unwrap();
        assert!(is_nonblocking(&reuse.fd), "reuseport");
        let udp = BindRequest {
            transport: Transport::Udp { v6: false },
            address_type: json!("udp4"),
            ..tcp_request(Some("127.0.0.1"), 0)
        };
        assert!(is_nonblocking(&open(&udp, false).unwrap().fd), "udp");
        let path = std::env::temp_dir().join(format!("rc-nb-{}.sock", std::process::id()));
        let unix = BindRequest {
            address: Some(path.to_string_lossy().into_owned()),
            transport: Transport::Unix,
            address_type: json!(-1),
            ..tcp_request(None, -1)
        };
        assert!(is_nonblocking(&open(&unix, false).unwrap().fd), "unix");

        // A descriptor the worker names by number (listen({ fd })), opened blocking.
        let (blocking, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let by_fd = BindRequest {
            fd: Some(blocking.as_raw_fd() as i64),
            ..tcp_request(None, 0)
        };
        assert!(is_nonblocking(&open(&by_fd, false).unwrap().fd), "fd");

        let listener = open(&tcp_request(Some("127.0.0.1"), 0), true).unwrap();
        // Listening with nothing queued: accept says EAGAIN at once instead of waiting.
        assert!(matches!(sys::accept(listener.fd.as_raw_fd()), Ok(None)));
        let port = sockname(&listener.fd).unwrap()["port"].as_u64().unwrap() as u16;
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (conn, _) = sys::accept(listener.fd.as_raw_fd()).unwrap().unwrap();
        assert!(is_nonblocking(&conn), "accepted connection");
    }

    fn shared_server(key: &str, workers: &[WorkerId]) -> Server {
        let workers = workers.iter().copied().collect();
        Server::new(key, Distribution::Shared { workers })
    }

    /// Node 22's keying: a replacement is keyed once it opened; the server it replaced
    /// still answers its own workers' `close`, and removing it leaves the key alone.
    #[test]
    fn a_replaced_key_stays_with_its_new_server() {
        let mut table = ServerTable::default();
        let old = table.insert(shared_server("k", &[1]));
        let new = table.insert_unkeyed(shared_server("k", &[1, 2]));
        assert_eq!(table.id_of("k"), Some(old), "not keyed before it opened");
        table.claim_key(new);
        assert_eq!(table.id_of("k"), Some(new));
        assert_eq!(table.id_holding("k", 2), Some(new));
        table.get_mut(new).unwrap().remove(1);
        assert_eq!(
            table.id_holding("k", 1),
            Some(old),
            "the old server's worker"
        );
        table.remove(old);
        assert_eq!(table.id_of("k"), Some(new));
        assert_eq!(table.id_holding("k", 1), None);
    }

    #[test]
    fn relative_paths_are_shortest() {
        assert_eq!(
            shortest_path("/a/b/c/very-long-name.sock", Path::new("/a/b/c")),
            PathBuf::from("very-long-name.sock")
        );
        assert_eq!(
            shortest_path("/x.sock", Path::new("/a/b/c/d")),
            PathBuf::from("/x.sock")
        );
    }
}
#[cfg(test)]
mod affinity_tests {
    use super::*;

    #[test]
    fn affinity_depends_on_the_address_not_the_port() {
        let a = |s: &str| affinity_of(Some(s.parse().unwrap()));
        assert_eq!(a("127.0.0.1:1000"), a("127.0.0.1:2000"));
        assert_eq!(a("127.0.0.1:1000"), a("[::ffff:127.0.0.1]:5"));
        assert_ne!(a("127.0.0.1:1000"), a("127.0.0.2:1000"));
    }

    #[test]
    fn accept_reports_the_peer() {
        let req = BindRequest::from_message(
            serde_json::json!({"address": "127.0.0.1", "port": 0, "addressType": 4})
                .as_object()
                .unwrap(),
        );
        let listener = open(&req, true).unwrap();
        let port = sockname(&listener.fd).unwrap()["port"].as_u64().unwrap() as u16;
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_conn, peer) = sys::accept(listener.fd.as_raw_fd()).unwrap().unwrap();
        assert_eq!(peer.to_std().unwrap().ip().to_string(), "127.0.0.1");
    }
}
