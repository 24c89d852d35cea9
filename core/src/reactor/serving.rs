//! The server side of the I/O thread: `queryServer` and `close` from workers, the
//! listening sockets they share, and round-robin / sticky / reuseport-orphan handoff of
//! accepted connections as `newconn`, with the worker's answer deciding what comes next.

use super::primary::port_of;
use super::*;

impl State {
    pub(super) fn on_query_server(&mut self, id: WorkerId, msg: &Map<String, Value>) {
        let leaving = self.workers.get(&id).is_none_or(|s| s.leaving);
        if leaving {
            return;
        }
        let seq = msg.get("seq").cloned().unwrap_or(Value::Null);
        let data = msg.get("data").cloned().unwrap_or(Value::Null);
        let key = protocol::server_key(msg, self.server_keys);
        let cached = self.servers.id_of(&key);
        // Node 22 and later: a worker that already has the keyed handle gets a new one.
        let replacing = self.server_keys == ServerKeys::IndexForPortZero
            && cached.is_some_and(|sid| self.servers.get(sid).is_some_and(|s| s.has(id)));
        let sid = match cached.filter(|_| !replacing) {
            Some(sid) => sid,
            None => match self.open_server(&key, msg) {
                Ok(sid) => {
                    // A replacement takes the key once it opened (for round-robin
                    // listeners, which JavaScript opens, in on_listener_opened).
                    if !replacing || self.servers.get(sid).is_some_and(|s| !s.opening) {
                        self.servers.claim_key(sid);
                    }
                    sid
                }
                Err(errno) => return self.reply_error(id, &key, seq, data, errno),
            },
        };
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        if server.data.is_null() {
            server.data = data;
        }
        if server.opening {
            // Still being opened by JavaScript: answered once it is.
            server.waiting.push((id, seq));
            return;
        }
        self.join_server(sid, id, seq);
    }

    pub(super) fn reply_error(
        &mut self,
        id: WorkerId,
        key: &str,
        seq: Value,
        data: Value,
        errno: Errno,
    ) {
        let mut reply = Map::new();
        reply.insert("errno".into(), Value::from(errno.negative()));
        reply.insert("key".into(), Value::from(key));
        reply.insert("ack".into(), seq);
        reply.insert("data".into(), data);
        self.send_internal(id, reply, None);
    }

    /// Adds a worker to an open server and answers its `queryServer`.
    pub(super) fn join_server(&mut self, sid: u32, id: WorkerId, seq: Value) {
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        let mut reply = Map::new();
        reply.insert("key".into(), Value::from(server.key.clone()));
        reply.insert("ack".into(), seq);
        reply.insert("data".into(), server.data.clone());
        let (slot, ready) = self
            .workers
            .get(&id)
            .map_or((None, true), |w| (w.slot, w.ready));
        match &mut server.distribution {
            Distribution::ReusePort(group) => {
                let socket = match group.claim(id, slot, &mut self.next_socket_uid) {
                    Ok(socket) => socket,
                    Err(errno) => {
                        let key = server.key.clone();
                        let data = server.data.clone();
                        let seq = reply.remove("ack").unwrap_or(Value::Null);
                        return self.reply_error(id, &key, seq, data, errno);
                    }
                };
                // Taken over: the primary stops accepting on it.
                if socket.watched {
                    socket.watched = false;
                    self.pollers.io.delete(socket.listener.fd.as_raw_fd());
                    self.orphans.remove(&socket.uid);
                }
                let Ok(fd) = sys::dup_cloexec(socket.listener.fd.as_raw_fd()) else {
                    return;
                };
                let first = group.forward.add(id);
                reply.insert("errno".into(), Value::from(0));
                self.send_internal(id, reply, Some((Arc::new(fd), "net.Native")));
                match first {
                    Some(conn) => self.hand_off(sid, id, conn),
                    None => self.update_accepting(sid),
                }
            }
            Distribution::Shared { workers } => {
                let Some(listener) = server.listener.as_ref() else {
                    return;
                };
                workers.insert(id);
                reply.insert("errno".into(), Value::from(0));
                let handle_type = if server.is_udp {
                    "dgram.Native"
                } else {
                    "net.Native"
                };
                let Ok(fd) = sys::dup_cloexec(listener.fd.as_raw_fd()) else {
                    return;
                };
                self.send_internal(id, reply, Some((Arc::new(fd), handle_type)));
            }
            Distribution::RoundRobin(rr) => {
                let first = if ready {
                    rr.add_in_slot(id, slot)
                } else {
                    // Not ready yet: it holds the server but gets nothing (`worker_ready`).
                    rr.add_gated(id, slot);
                    None
                };
                reply.insert("errno".into(), Value::Null);
                if let Some(name) = &server.sockname {
                    reply.insert("sockname".into(), name.clone());
                }
                self.send_internal(id, reply, None);
                match first {
                    Some(conn) => self.hand_off(sid, id, conn),
                    None => self.update_accepting(sid),
                }
            }
        }
    }

    /// JavaScript opened the listener for `sid`: start serving the workers that waited.
    pub(super) fn on_listener_opened(&mut self, sid: u32, fd: OwnedFd) {
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        let raw = fd.as_raw_fd();
        let registered = sys::set_nonblocking(raw).and_then(|_| {
            self.pollers
                .io
                .add(raw, EPOLLIN | EPOLLET, Token::Listener(sid).into())
        });
        if let Err(e) = registered {
            return self.on_listener_failed(sid, Errno::from(e));
        }
        server.sockname = servers::sockname(&fd);
        server.listener = Some(servers::Listener::adopt(fd));
        server.opening = false;
        self.servers.claim_key(sid);
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        let waiting = std::mem::take(&mut server.waiting);
        for (id, seq) in waiting {
            if self
                .workers
                .get(&id)
                .is_some_and(|w| !w.leaving && w.channel.is_some())
            {
                self.join_server(sid, id, seq);
            }
        }
        if self.servers.get_mut(sid).is_some_and(|s| s.is_idle()) {
            self.close_server(sid);
        }
    }

    pub(super) fn on_listener_failed(&mut self, sid: u32, errno: Errno) {
        let Some(server) = self.servers.remove(sid) else {
            return;
        };
        for (id, seq) in server.waiting {
            self.reply_error(id, &server.key, seq, server.data.clone(), errno);
        }
    }

    pub(super) fn open_server(
        &mut self,
        key: &str,
        msg: &Map<String, Value>,
    ) -> Result<u32, Errno> {
        let req = BindRequest::from_message(msg);
        // UDP is connectionless: always shared, as in Node.
        let round_robin = self.policy.accepts_in_primary() && !req.is_udp();
        if let Some(adopted) = activation::find(&req) {
            let fd = adopted?;
            return self.serve_adopted(key, &req, fd, round_robin);
        }
        if round_robin && req.transport == servers::Transport::Tcp && req.fd.is_none() {
            let sid = self.servers.insert_unkeyed(Server {
                opening: true,
                ..Server::new(key, Distribution::RoundRobin(self.policy.scheduler()))
            });
            self.events.push(Event::OpenListener {
                server: sid,
                request: req.listen_options(),
            });
            return Ok(sid);
        }
        if self.policy == Policy::ReusePort
            && req.transport == servers::Transport::Tcp
            && req.fd.is_none()
        {
            // Every socket of ours carries SO_REUSEPORT, so the kernel would let a second
            // server join a port another server of the cluster holds: refuse it as Node's
            // cluster does (EADDRINUSE).
            let taken = self
                .servers
                .servers()
                .any(|server| match &server.distribution {
                    Distribution::ReusePort(group) => {
                        req.port != 0
                            && i64::from(group.port) == req.port
                            && servers::addresses_overlap(&group.request.address, &req.address)
                    }
                    _ => false,
                });
            if taken {
                return Err(Errno::EADDRINUSE);
            }
            let first = servers::open_reuseport(&req, port_of(&req)?)?;
            let port = servers::sockname(&first.fd)
                .and_then(|n| n["port"].as_u64())
                .unwrap_or(0) as u16;
            self.next_socket_uid = self.next_socket_uid.wrapping_add(1);
            let group = servers::ReusePortGroup {
                request: req,
                port,
                sockets: vec![servers::ReuseSocket {
                    uid: self.next_socket_uid,
                    listener: first,
                    owner: None,
                    slot: None,
                    watched: false,
                }],
                forward: RoundRobin::new(),
            };
            return Ok(self
                .servers
                .insert_unkeyed(Server::new(key, Distribution::ReusePort(group))));
        }
        let listener = servers::open(&req, round_robin)?;
        self.serve_listener(key, &req, listener, round_robin)
    }

    /// A socket systemd passed (see `activation`) serves the request: round-robin (also
    /// for sticky) or shared, as the policy says; reuseport shares it, since a new
    /// SO_REUSEPORT socket would need the bind that activation exists to avoid.
    fn serve_adopted(
        &mut self,
        key: &str,
        req: &BindRequest,
        fd: OwnedFd,
        round_robin: bool,
    ) -> Result<u32, Errno> {
        let raw = fd.as_raw_fd();
        sys::set_nonblocking(raw)?;
        // A ListenStream= socket is listening already, with the unit's Backlog=.
        let listening =
            sys::int_option(raw, libc::SOL_SOCKET, libc::SO_ACCEPTCONN).is_ok_and(|on| on != 0);
        if round_robin && !listening {
            sys::listen(raw, req.backlog.unwrap_or(511))?;
        }
        self.serve_listener(key, req, servers::Listener::adopt(fd), round_robin)
    }

    /// Registers an open listener as a server (watched by the I/O thread for round-robin).
    fn serve_listener(
        &mut self,
        key: &str,
        req: &BindRequest,
        listener: servers::Listener,
        round_robin: bool,
    ) -> Result<u32, Errno> {
        let sockname = if round_robin && req.transport == servers::Transport::Tcp {
            servers::sockname(&listener.fd)
        } else {
            None
        };
        let distribution = if round_robin {
            Distribution::RoundRobin(self.policy.scheduler())
        } else {
            Distribution::Shared {
                workers: Default::default(),
            }
        };
        let fd = listener.fd.as_raw_fd();
        if round_robin {
            // The accept loop must never block the I/O thread.
            sys::set_nonblocking(fd)?;
        }
        let sid = self.servers.insert_unkeyed(Server {
            listener: Some(listener),
            sockname,
            is_udp: req.is_udp(),
            ..Server::new(key, distribution)
        });
        if round_robin {
            // Edge-triggered: each readiness edge runs the accept loop once a worker is free.
            self.pollers
                .io
                .add(fd, EPOLLIN | EPOLLET, Token::Listener(sid).into())?;
        }
        Ok(sid)
    }

    /// Accept only while some worker is free: otherwise connections wait in the kernel's
    /// backlog rather than in our memory.
    pub(super) fn update_accepting(&mut self, sid: u32) {
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        if let Distribution::ReusePort(group) = &mut server.distribution {
            let want = group.forward.wants_connections();
            for socket in group.sockets.iter_mut().filter(|s| s.owner.is_none()) {
                let fd = socket.listener.fd.as_raw_fd();
                let events = if want { EPOLLIN } else { 0 };
                if !socket.watched {
                    if sys::set_nonblocking(fd).is_err()
                        || self
                            .pollers
                            .io
                            .add(fd, events, Token::Orphan(socket.uid).into())
                            .is_err()
                    {
                        continue;
                    }
                    socket.watched = true;
                    self.orphans.insert(socket.uid, sid);
                } else {
                    let _ = self
                        .pollers
                        .io
                        .modify(fd, events, Token::Orphan(socket.uid).into());
                }
            }
            return;
        }
        let Distribution::RoundRobin(rr) = &server.distribution else {
            return;
        };
        // When a worker frees up and connections were left in the backlog, carry on now
        // (the listener is edge-triggered, or parked: nothing will say so later).
        if rr.wants_connections() && server.backlog != Backlog::Empty && server.listener.is_some() {
            self.accept_connections(sid);
        }
    }

    /// Accepts while some worker wants a connection and some wait. Connections left in
    /// the kernel's backlog (no worker free) are picked up when one frees up
    /// (`update_accepting`); until then the listener is parked, so that their arrival does
    /// not wake the I/O thread for nothing. It is watched again once the backlog is empty.
    pub(super) fn accept_connections(&mut self, sid: u32) {
        loop {
            let Some(server) = self.servers.get_mut(sid) else {
                return;
            };
            let Distribution::RoundRobin(rr) = &mut server.distribution else {
                return;
            };
            let Some(listener) = &server.listener else {
                return;
            };
            let fd = listener.fd.as_raw_fd();
            if !rr.wants_connections() {
                // Empty (counted down to nothing while parked, say) must be watched, for
                // the edge of the next arrival; otherwise what waits waits for a free
                // worker (a count stays true while parked: only we take from the queue).
                let empty = server.backlog == Backlog::Empty;
                Self::park_listener(&self.pollers, server, sid, !empty);
                return;
            }
            if server.backlog == Backlog::Unknown && server.countable {
                server.backlog = match sys::accept_queue_len(fd) {
                    Ok(0) => Backlog::Empty,
                    Ok(n) => Backlog::Waiting(n),
                    Err(_) => {
                        server.countable = false;
                        Backlog::Unknown
                    }
                };
            }
            if server.backlog == Backlog::Empty {
                Self::park_listener(&self.pollers, server, sid, false);
                return;
            }
            match sys::accept(fd) {
                Ok(Some((fd, peer))) => {
                    if let Backlog::Waiting(n) = server.backlog {
                        // Those that arrived since the count bring an edge of their own
                        // (the listener is watched again, and re-polled, when it is Empty).
                        server.backlog = if n > 1 {
                            Backlog::Waiting(n - 1)
                        } else {
                            Backlog::Empty
                        };
                    }
                    let affinity = servers::affinity_of(peer.to_std());
                    let conn = Conn {
                        fd: Arc::new(fd),
                        affinity,
                    };
                    if let Some((worker, conn)) = rr.distribute(conn, affinity) {
                        self.hand_off(sid, worker, conn);
                    }
                }
                Ok(None) | Err(_) => {
                    server.backlog = Backlog::Empty;
                    Self::park_listener(&self.pollers, server, sid, false);
                    return;
                }
            }
        }
    }

    /// Takes a round-robin listener out of the I/O thread's epoll set (events 0), or puts
    /// it back; putting it back re-polls it, so connections that came while it was parked
    /// bring an event.
    fn park_listener(pollers: &Pollers, server: &mut Server, sid: u32, park: bool) {
        let Some(listener) = &server.listener else {
            return;
        };
        if server.parked == park {
            return;
        }
        let events = if park { 0 } else { EPOLLIN | EPOLLET };
        let fd = listener.fd.as_raw_fd();
        if pollers
            .io
            .modify(fd, events, Token::Listener(sid).into())
            .is_ok()
        {
            server.parked = park;
        }
    }

    /// Connections queued on an orphaned reuseport socket go to the remaining workers.
    pub(super) fn accept_from_orphan(&mut self, uid: u32) {
        let Some(&sid) = self.orphans.get(&uid) else {
            return;
        };
        loop {
            let Some(server) = self.servers.get_mut(sid) else {
                return;
            };
            let Distribution::ReusePort(group) = &mut server.distribution else {
                return;
            };
            if !group.forward.wants_connections() {
                break;
            }
            let Some(socket) = group
                .sockets
                .iter()
                .find(|s| s.uid == uid && s.owner.is_none())
            else {
                return;
            };
            match sys::accept(socket.listener.fd.as_raw_fd()) {
                Ok(Some((fd, peer))) => {
                    let affinity = servers::affinity_of(peer.to_std());
                    if let Some((worker, conn)) = group.forward.distribute(
                        Conn {
                            fd: Arc::new(fd),
                            affinity,
                        },
                        affinity,
                    ) {
                        self.hand_off(sid, worker, conn);
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        self.update_accepting(sid);
    }

    /// Sends one accepted connection to a worker as `newconn`, keeping our copy until the
    /// worker answers (so a refusal can go elsewhere).
    pub(super) fn hand_off(&mut self, sid: u32, worker: WorkerId, conn: Conn) {
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        let key = server.key.clone();
        // The worker's answer decides the next handoff: from now on the I/O thread reads it.
        self.move_channel_to_io(worker);
        let sent = self.send_newconn(worker, &key, conn.fd.clone());
        match sent {
            Some(seq) => {
                if let Some(slot) = self.workers.get_mut(&worker) {
                    slot.inflight.insert(seq, InFlight { server: sid, conn });
                }
            }
            // That worker's channel is gone: drop it from the server and try another.
            None => {
                if let Some(rr) = self
                    .servers
                    .get_mut(sid)
                    .and_then(|s| s.distribution.scheduler_mut())
                {
                    rr.remove(worker);
                }
                self.requeue(sid, conn);
            }
        }
    }

    pub(super) fn requeue(&mut self, sid: u32, conn: Conn) {
        let Some(server) = self.servers.get_mut(sid) else {
            return; // Server closed: dropping the connection closes it.
        };
        let Some(rr) = server.distribution.scheduler_mut() else {
            return;
        };
        let affinity = conn.affinity;
        if let Some((worker, conn)) = rr.requeue(conn, affinity) {
            self.hand_off(sid, worker, conn);
        }
        self.update_accepting(sid);
    }

    pub(super) fn on_newconn_reply(&mut self, id: WorkerId, ack: u64, accepted: bool) {
        let Some(inflight) = self
            .workers
            .get_mut(&id)
            .and_then(|slot| slot.inflight.remove(&ack))
        else {
            return;
        };
        let sid = inflight.server;
        if accepted {
            self.on_accepted(id);
        } else {
            // Refused (the worker is closing or at maxConnections): a free worker takes it
            // now, or it waits at the head of the queue.
            self.requeue(sid, inflight.conn);
        }
        // Accepted: dropping our copy closes it; the worker has its own.
        let next = self
            .servers
            .get_mut(sid)
            .and_then(|server| server.distribution.scheduler_mut())
            .and_then(|rr| rr.handoff(id));
        match next {
            Some(conn) => self.hand_off(sid, id, conn),
            None => self.update_accepting(sid),
        }
    }

    pub(super) fn remove_from_server(&mut self, sid: u32, id: WorkerId) {
        let Some(server) = self.servers.get_mut(sid) else {
            return;
        };
        server.waiting.retain(|(w, _)| *w != id);
        if !server.holds(id) {
            return;
        }
        if server.remove(id) {
            self.close_server(sid);
            return;
        }
        // Sticky: connections that waited for the leaving worker go to their new owners.
        if let Some(rr) = server.distribution.scheduler_mut() {
            for (worker, conn) in rr.dispatch_waiting() {
                self.hand_off(sid, worker, conn);
            }
        }
        self.update_accepting(sid);
    }

    pub(super) fn close_server(&mut self, sid: u32) {
        if let Some(mut server) = self.servers.remove(sid) {
            if let Some(listener) = &server.listener {
                self.pollers.io.delete(listener.fd.as_raw_fd());
            }
            if let Distribution::ReusePort(group) = &server.distribution {
                for socket in group.sockets.iter().filter(|s| s.watched) {
                    self.pollers.io.delete(socket.listener.fd.as_raw_fd());
                    self.orphans.remove(&socket.uid);
                }
            }
            if let Some(rr) = server.distribution.scheduler_mut() {
                drop(rr.drain_pending());
            }
        }
    }

    /// Node's removeHandlesForWorker.
    pub(super) fn remove_worker_from_servers(&mut self, id: WorkerId) {
        for sid in self.servers.ids() {
            self.remove_from_server(sid, id);
        }
    }

    /// Connections handed to a worker that can no longer answer go to the others.
    pub(super) fn requeue_inflight(&mut self, id: WorkerId) {
        let inflight: Vec<InFlight> = match self.workers.get_mut(&id) {
            Some(slot) => slot.inflight.drain().map(|(_, f)| f).collect(),
            None => return,
        };
        for f in inflight {
            self.requeue(f.server, f.conn);
        }
    }
}
