//! `Primary`: the core's public API. Each call takes the state's lock, acts, and leaves
//! delivery to the I/O thread (or, for a send, writes straight to the socket).

use super::*;

pub(super) fn port_of(req: &BindRequest) -> Result<u16, Errno> {
    u16::try_from(req.port).map_err(|_| Errno::EINVAL)
}

fn closed_channel() -> io::Error {
    Errno::EPIPE.io_error()
}

/// The primary: owns the I/O thread and everything it watches.
#[derive(Clone)]
pub struct Primary {
    pub(super) inner: Arc<Inner>,
}

impl Primary {
    pub fn start(sink: Box<dyn EventSink>) -> io::Result<Primary> {
        let io_poller = Arc::new(Epoll::new()?);
        let wake = sys::eventfd()?;
        io_poller.add(wake.as_raw_fd(), EPOLLIN, Token::Wake.into())?;
        let origin = Instant::now();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                workers: IntMap::default(),
                servers: ServerTable::default(),
                orphans: IntMap::default(),
                next_socket_uid: 0,
                read_buf: vec![0u8; READ_CHUNK],
                seq: 0,
                policy: Policy::RoundRobin,
                server_keys: ServerKeys::WithIndex,
                max_frame: DEFAULT_MAX_FRAME,
                events: Vec::new(),
                trace: trace_enabled(),
                pollers: Pollers {
                    io: io_poller.clone(),
                    event_loop: Epoll::new()?,
                },
                loop_polling: false,
                supervisor: Supervisor::new(),
                rng: XorShift::seeded(),
                gate_new_workers: false,
                health: Health::new(),
                origin,
                departed_connections: 0,
            }),
            io_poller,
            wake,
            sink,
            stopping: AtomicBool::new(false),
            io_thread: Mutex::new(None),
            origin,
        });
        let thread_inner = inner.clone();
        let io_thread = std::thread::Builder::new()
            .name("rust-cluster-reactor".into())
            .spawn(move || run(thread_inner))?;
        *inner.io_thread.lock() = Some(io_thread);
        // Its connection counts are read at each scrape of the metrics endpoint.
        let counts: std::sync::Weak<Inner> = Arc::downgrade(&inner);
        crate::metrics::add_source(counts);
        Ok(Primary { inner })
    }

    /// Ends this primary as its process ending would end Node's: the I/O thread stops,
    /// every server closes, every worker's channel closes and the workers are ended and
    /// reaped (`reaper::end_all`: `grace` to leave by themselves, then SIGKILL). Returns how
    /// each worker ended; nothing more is delivered to the sink. The epoll sets and the
    /// eventfd close with the last handle to this primary (the I/O thread's is gone when
    /// this returns). Later calls do nothing; spawning after it fails.
    pub fn shutdown(&self, grace: Duration) -> Vec<(WorkerId, Exit)> {
        if self.inner.stopping.swap(true, Ordering::AcqRel) {
            return Vec::new();
        }
        sys::eventfd_signal(self.inner.wake.as_raw_fd());
        let io_thread = self.inner.io_thread.lock().take();
        if let Some(io_thread) = io_thread {
            // (Never join from the I/O thread itself, should a sink call this.)
            if io_thread.thread().id() != std::thread::current().id() {
                let _ = io_thread.join();
            }
        }
        let leaving: Vec<Leaving> = {
            let mut st = self.inner.state.lock();
            st.events.clear();
            st.servers = ServerTable::default();
            st.orphans.clear();
            let workers = std::mem::take(&mut st.workers);
            st.departed_connections += workers.values().map(|s| s.figures.connections).sum::<u64>();
            workers
                .into_iter()
                .filter_map(|(id, slot)| {
                    // Dropping the slot closes the channel, which tells a Node worker to
                    // leave.
                    let pid = slot.pid;
                    slot.pidfd.map(|pidfd| Leaving { id, pid, pidfd })
                })
                .collect()
        };
        crate::metrics::end_source(&*self.inner);
        let ended = reaper::end_all(leaving, grace);
        sys::release_free_memory();
        ended
    }

    pub fn set_policy(&self, policy: Policy) {
        self.inner.state.lock().policy = policy;
    }

    /// Key shared handles as that Node major version does (see `ServerKeys`).
    pub fn follow_node_line(&self, major: u32) {
        self.inner.state.lock().server_keys = ServerKeys::of_node_major(major);
    }

    pub fn set_max_frame(&self, bytes: usize) {
        self.inner.state.lock().max_frame = bytes;
    }

    /// The descriptor an event loop watches to read channels itself: when it is readable,
    /// call `service_loop`.
    pub fn loop_poller_fd(&self) -> RawFd {
        self.inner.state.lock().pollers.event_loop.raw_fd()
    }

    /// Whether workers spawned from now on have their channels read by `service_loop`
    /// (whenever they have no connection in flight) rather than by the I/O thread.
    pub fn set_loop_polling(&self, on: bool) {
        self.inner.state.lock().loop_polling = on;
    }

    /// Reads what is ready on the channels the event loop watches (never blocks), and
    /// delivers the resulting events.
    pub fn service_loop(&self) {
        let mut ready = Vec::new();
        let mut st = self.inner.state.lock();
        if st.pollers.event_loop.wait(&mut ready, 0).is_err() {
            return;
        }
        st.dispatch_all(&self.inner, &ready);
        let events = std::mem::take(&mut st.events);
        if !events.is_empty() {
            // Under the lock, so batches reach JavaScript in the order they were read,
            // whichever thread read them.
            self.inner.sink.deliver_on_loop(events);
        }
    }

    /// Starts worker `id` and starts watching its channel and its exit.
    pub fn spawn(
        &self,
        id: WorkerId,
        options: SpawnOptions,
        mode: Serialization,
    ) -> io::Result<(i32, Vec<Option<OwnedFd>>)> {
        self.spawn_in_slot(id, options, mode, None)
    }

    /// `spawn`, into a supervision slot (its sticky slot and reuseport socket).
    pub fn spawn_in_slot(
        &self,
        id: WorkerId,
        options: SpawnOptions,
        mode: Serialization,
        slot: Option<Slot>,
    ) -> io::Result<(i32, Vec<Option<OwnedFd>>)> {
        if self.inner.stopping.load(Ordering::Acquire) {
            return Err(Errno::ECANCELED.io_error());
        }
        let spawned = spawn::spawn(options)?;
        let mut st = self.inner.state.lock();
        let on_loop = st.loop_polling;
        st.pollers.of(on_loop).add(
            spawned.channel.as_raw_fd(),
            EPOLLIN,
            Token::Channel(id).into(),
        )?;
        st.pollers
            .io
            .add(spawned.pidfd.as_raw_fd(), EPOLLIN, Token::Pidfd(id).into())?;
        let max_frame = st.max_frame;
        let ready = !st.gate_new_workers;
        let now = self.inner.now();
        st.workers.insert(
            id,
            WorkerSlot {
                pid: spawned.pid,
                mode,
                channel: Some(spawned.channel),
                decoder: FrameDecoder::new(mode, max_frame),
                writer: Writer::new(),
                watching_writes: false,
                on_loop,
                closing: false,
                pidfd: Some(spawned.pidfd),
                leaving: false,
                inflight: IntMap::default(),
                slot,
                ready,
                figures: watching::Figures::new(now),
            },
        );
        let st = &mut *st;
        st.health.watch(id, now, &mut st.rng);
        if st.health.next_due().is_some() {
            sys::eventfd_signal(self.inner.wake.as_raw_fd());
        }
        Ok((spawned.pid, spawned.stdio))
    }

    /// Queues a frame JavaScript serialized (with a descriptor to pass, if any).
    pub fn send(
        &self,
        id: WorkerId,
        bytes: Vec<u8>,
        fd: Option<RawFd>,
        write_id: u64,
    ) -> io::Result<Sent> {
        let fd = fd.map(sys::dup_cloexec).transpose()?.map(Arc::new);
        let kind = if fd.is_some() {
            FrameKind::Handle
        } else {
            FrameKind::Plain
        };
        let mut st = self.inner.state.lock();
        let slot = st.workers.get_mut(&id).ok_or_else(closed_channel)?;
        if slot.channel.is_none() || slot.closing {
            return Err(closed_channel());
        }
        let len = bytes.len();
        slot.writer.push(OutFrame {
            bytes,
            fd,
            kind,
            write_id,
        });
        let mut done = Vec::new();
        st.flush(id, &mut done);
        // Written before returning: told by the outcome (see `Sent`), not by an event.
        let written = done.contains(&write_id);
        done.retain(|w| *w != write_id);
        if !done.is_empty() {
            st.events.push(Event::Written {
                worker: id,
                write_ids: done,
            });
        }
        let sent = Sent {
            queued_bytes: st.workers.get(&id).map_or(0, |s| s.writer.queued_bytes()),
        };
        debug_assert!(len == 0 || write_id == 0 || written == sent.written());
        let deliver_later = !st.events.is_empty();
        drop(st);
        if deliver_later {
            sys::eventfd_signal(self.inner.wake.as_raw_fd());
        }
        Ok(sent)
    }

    /// `worker.disconnect()` in the primary: tell the worker to close its servers and
    /// leave, and stop giving it anything new.
    pub fn disconnect_worker(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        if let Some(slot) = st.workers.get_mut(&id) {
            slot.leaving = true;
        }
        let mut fields = Map::new();
        fields.insert("act".into(), Value::from("disconnect"));
        st.send_internal(id, fields, None);
        st.remove_worker_from_servers(id);
    }

    /// The first half of a graceful stop: hand the worker no new connection (and no new
    /// server) while it drains; `disconnect_worker` follows.
    pub fn stop_routing(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        if let Some(slot) = st.workers.get_mut(&id) {
            slot.leaving = true;
        }
        st.remove_worker_from_servers(id);
        st.deliver_later(&self.inner);
    }

    /// `worker.process.disconnect()`: close our end once everything queued is written.
    pub fn close_channel(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        let Some(slot) = st.workers.get_mut(&id) else {
            return;
        };
        slot.closing = true;
        if slot.writer.is_idle() {
            st.drop_channel(id);
        }
    }

    /// Sends a signal while the worker is ours to signal (not yet reaped, so the pid
    /// cannot have been reused).
    pub fn kill(&self, id: WorkerId, signal: i32) -> io::Result<()> {
        let st = self.inner.state.lock();
        match st.workers.get(&id) {
            Some(slot) if slot.pidfd.is_some() => sys::kill(slot.pid, signal),
            _ => Err(Errno::ESRCH.io_error()),
        }
    }

    /// JavaScript opened the listener an `OpenListener` event asked for; `fd` is duplicated.
    pub fn listener_opened(&self, server: u32, fd: RawFd) {
        let copy = sys::dup_cloexec(fd);
        let mut st = self.inner.state.lock();
        match copy {
            Ok(copy) => st.on_listener_opened(server, copy),
            Err(e) => st.on_listener_failed(server, Errno::from(e)),
        }
    }

    /// JavaScript could not open the listener: the waiting workers get `errno`.
    pub fn listener_failed(&self, server: u32, errno: Errno) {
        let mut st = self.inner.state.lock();
        st.on_listener_failed(server, errno);
    }

    /// Whether workers spawned from now on wait for `worker_ready` before the primary hands
    /// them connections (round-robin and sticky).
    pub fn set_readiness_gate(&self, on: bool) {
        self.inner.state.lock().gate_new_workers = on;
    }

    /// Worker `id` is ready: the servers it joined start handing it connections.
    pub fn worker_ready(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        match st.workers.get_mut(&id) {
            Some(slot) if !slot.ready => slot.ready = true,
            _ => return,
        }
        for sid in st.servers.ids() {
            let first = match st.servers.get_mut(sid).map(|s| &mut s.distribution) {
                Some(Distribution::RoundRobin(rr)) if rr.is_gated(id) => rr.open(id),
                _ => continue,
            };
            match first {
                Some(conn) => st.hand_off(sid, id, conn),
                None => st.update_accepting(sid),
            }
        }
        st.deliver_later(&self.inner);
    }

    /// Turns restarts on (or off, with None).
    pub fn set_restart_policy(&self, policy: Option<RestartPolicy>) {
        self.inner.state.lock().supervisor.set_policy(policy);
    }

    /// A worker of `slot` started now (its stable time counts from here).
    pub fn slot_started(&self, slot: Slot) {
        let now = self.inner.now();
        self.inner.state.lock().supervisor.started(slot, now);
    }

    /// The worker of `slot` exited unexpectedly: restart it later (an `Event::Timer` says
    /// when) or give up. None without a restart policy.
    pub fn slot_exited(&self, slot: Slot) -> Option<Decision> {
        let now = self.inner.now();
        let decision = {
            let mut st = self.inner.state.lock();
            let st = &mut *st;
            st.supervisor.exited(slot, now, &mut st.rng)
        };
        self.wake_for_timers();
        decision
    }

    /// The slot is no longer kept: its pending restart is dropped.
    pub fn forget_slot(&self, slot: Slot) {
        self.inner.state.lock().supervisor.forget_slot(slot);
    }

    /// Drops every pending restart.
    pub fn cancel_restarts(&self) {
        self.inner.state.lock().supervisor.cancel_restarts();
    }

    /// Sends `signal` to worker `id` in `after_ms`, from the I/O thread (so it happens
    /// while JavaScript is busy), unless it exits or `cancel_kill` comes first.
    pub fn kill_after(&self, id: WorkerId, after_ms: Millis, signal: i32, reason: KillReason) {
        let at = self.inner.now() + after_ms;
        self.inner
            .state
            .lock()
            .supervisor
            .kill_at(id, at, signal, reason);
        self.wake_for_timers();
    }

    pub fn cancel_kill(&self, id: WorkerId, reason: KillReason) {
        self.inner
            .state
            .lock()
            .supervisor
            .cancel_kill(id, Some(reason));
    }

    /// The I/O thread may be asleep without a timeout: make it look at the timers again.
    fn wake_for_timers(&self) {
        sys::eventfd_signal(self.inner.wake.as_raw_fd());
    }
}
