//! The primary's I/O thread: one epoll loop over every worker channel, every pidfd and
//! every round-robin listener. It answers the cluster protocol on its own (servers,
//! connection handoff, acknowledgements) and hands JavaScript only what JavaScript must
//! see, in batches, through an `EventSink`.
//!
//! State is shared with the JavaScript thread under one mutex: JS-side calls (send, kill,
//! disconnect) write straight to the socket without waking this thread.
//!
//! Where the JavaScript thread has an event loop that can watch a descriptor
//! (`Primary::set_loop_polling`), a worker's channel is read there instead, by the same
//! code, whenever the worker has no connection in flight: a message then costs no hop
//! between threads. While the primary has handed the worker a connection it has not yet
//! answered, the channel belongs to the I/O thread, so connection acknowledgements never
//! wait on JavaScript.

use crate::activation;
use crate::channel::{Flush, FrameDecoder, FrameKind, OutFrame, Serialization, Writer};
use crate::health::Health;
use crate::int_map::IntMap;
use crate::protocol::{self, Incoming, ServerKeys};
use crate::reaper::{self, Exit, Leaving};
use crate::scheduler::{RoundRobin, WorkerId};
use crate::servers::{self, BindRequest, Conn, Distribution, Server, ServerTable};
use crate::spawn::{self, SpawnOptions};
use crate::supervisor::{
    Decision, Due, KillReason, Millis, RestartPolicy, Slot, Supervisor, XorShift,
};
use crate::sys::{self, Epoll, EPOLLET, EPOLLIN, EPOLLOUT};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::Instant;

mod serving;
#[cfg(test)]
mod tests;
mod watching;
#[cfg(test)]
mod watching_tests;

/// Frames larger than this from a worker are a protocol error (Node has no limit; this is
/// generous, and configurable).
pub const DEFAULT_MAX_FRAME: usize = 256 * 1024 * 1024;
/// One read's worth; the buffer is reused across reads (zeroing a fresh one per wakeup
/// would cost more than the read).
const READ_CHUNK: usize = 256 * 1024;
/// Reads per channel per wakeup, so one chatty worker cannot starve the others.
const READS_PER_WAKEUP: usize = 16;
/// `max_reads` for reading everything there is, up to end of stream.
const DRAIN: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// SCHED_NONE: each worker gets the listening socket.
    None,
    /// SCHED_RR: the primary accepts and hands connections out.
    RoundRobin,
    /// SCHED_STICKY: like round-robin, but each client address keeps its worker.
    Sticky,
    /// SCHED_REUSEPORT: each worker listens on its own SO_REUSEPORT socket.
    ReusePort,
}

impl Policy {
    fn accepts_in_primary(self) -> bool {
        matches!(self, Policy::RoundRobin | Policy::Sticky)
    }

    fn scheduler(self) -> RoundRobin<Conn> {
        match self {
            Policy::Sticky => RoundRobin::new_sticky(),
            _ => RoundRobin::new(),
        }
    }
}

/// A descriptor a worker sent along with a message.
#[derive(Debug)]
pub struct ReceivedHandle {
    pub fd: OwnedFd,
    pub handle_type: String,
}

/// What JavaScript hears about.
#[derive(Debug)]
pub enum Event {
    /// A cluster message JavaScript acts on (`online`, `listening`, `exitedAfterDisconnect`).
    Internal {
        worker: WorkerId,
        act: String,
        frame: Vec<u8>,
    },
    /// A user message; with a handle, `frame` is the whole NODE_HANDLE wrapper.
    Message {
        worker: WorkerId,
        frame: Vec<u8>,
        handle: Option<ReceivedHandle>,
    },
    /// The channel closed from the worker's side.
    Disconnect {
        worker: WorkerId,
    },
    Exit {
        worker: WorkerId,
        exit: Exit,
    },
    /// Frames JavaScript asked to hear about are completely written.
    Written {
        worker: WorkerId,
        write_ids: Vec<u64>,
    },
    /// The worker broke the protocol; it has been killed.
    ProtocolError {
        worker: WorkerId,
        message: String,
    },
    /// A round-robin TCP listener is needed: JavaScript opens it with `net.Server#listen`
    /// (as Node's RoundRobinHandle does, so the primary's `net` hooks and errors apply) and
    /// hands the descriptor over with `Primary::listener_opened`.
    OpenListener {
        server: u32,
        request: Value,
    },
    /// A supervision timer fired: a slot's restart is due, or a worker was killed because
    /// it was not ready within its startup timeout.
    Timer {
        kind: TimerEvent,
        id: u32,
    },
    /// The health watch found something about a worker: `kind` is "unresponsive",
    /// "memory" or "recycle", `detail` its figures.
    Health {
        worker: WorkerId,
        kind: &'static str,
        detail: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerEvent {
    /// `id` is the slot to fork a replacement into.
    Restart,
    /// `id` is the worker just sent SIGKILL.
    StartupTimeout,
}

pub use watching::{PrimaryStats, WorkerStats};

pub trait EventSink: Send + Sync + 'static {
    /// Events read by the I/O thread: the sink must wake the JavaScript thread.
    fn deliver(&self, events: Vec<Event>);
    /// Events read by `Primary::service_loop`, on the JavaScript thread itself, which
    /// takes them once `service_loop` returns: no wake-up is needed.
    fn deliver_on_loop(&self, events: Vec<Event>) {
        self.deliver(events);
    }
}

/// The outcome of a send from JavaScript.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The frame went to the kernel before the call returned.
    pub written: bool,
    /// Bytes still queued for this worker, for Node-style backpressure.
    pub queued_bytes: usize,
}

const TOKEN_WAKE: u64 = 0;
const KIND_CHANNEL: u64 = 1;
const KIND_PIDFD: u64 = 2;
const KIND_LISTENER: u64 = 3;
/// A reuseport socket whose worker left, accepted on by the primary until taken over.
const KIND_ORPHAN: u64 = 4;

fn token(kind: u64, id: u32) -> u64 {
    (kind << 32) | id as u64
}

struct InFlight {
    server: u32,
    conn: Conn,
}

struct WorkerSlot {
    pid: i32,
    mode: Serialization,
    channel: Option<OwnedFd>,
    decoder: FrameDecoder,
    writer: Writer,
    watching_writes: bool,
    /// The channel is watched by the JavaScript thread's loop poller, not the I/O thread.
    on_loop: bool,
    /// JavaScript disconnected the channel: close it once the queue is written.
    closing: bool,
    pidfd: Option<OwnedFd>,
    /// The primary knows the worker is leaving on purpose: no new servers for it.
    leaving: bool,
    inflight: IntMap<u64, InFlight>,
    /// Supervision's slot: the sticky slot and reuseport socket a replacement inherits.
    slot: Option<Slot>,
    /// Routable: false from spawn until `worker_ready` when readiness is gated.
    ready: bool,
    /// What `stats()` reports beyond `/proc`: start, connections, the last CPU reading.
    figures: watching::Figures,
}

struct State {
    workers: IntMap<WorkerId, WorkerSlot>,
    servers: ServerTable,
    /// Orphaned reuseport sockets by uid → their server.
    orphans: IntMap<u32, u32>,
    next_socket_uid: u32,
    read_buf: Vec<u8>,
    seq: u64,
    policy: Policy,
    server_keys: ServerKeys,
    max_frame: usize,
    events: Vec<Event>,
    trace: bool,
    /// The descriptors the JavaScript thread's event loop watches (see the module doc).
    loop_poller: Epoll,
    /// New channels start on `loop_poller` (set once something services it).
    loop_polling: bool,
    /// Restart backoff and deadlines; its timers bound the I/O thread's sleep.
    supervisor: Supervisor,
    rng: XorShift,
    /// Workers spawned from now on receive no connection before `worker_ready`.
    gate_new_workers: bool,
    /// Heartbeats, the memory limit and recycling (nothing unless configured).
    health: Health,
    /// The clock of `health` (the same origin as `Inner::now`).
    origin: Instant,
}

/// `NODE_DEBUG=cluster` or `RUST_CLUSTER_DEBUG=1`: log the protocol to stderr.
fn trace_enabled() -> bool {
    let node_debug = std::env::var("NODE_DEBUG").unwrap_or_default();
    node_debug
        .split(',')
        .any(|s| s.trim().eq_ignore_ascii_case("cluster"))
        || std::env::var("RUST_CLUSTER_DEBUG").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn trace_frame(worker: WorkerId, direction: &str, bytes: &[u8], fd: bool) {
    let shown = &bytes[..bytes.len().min(300)];
    eprintln!(
        "CLUSTER {}: worker {worker} {direction} {}{}",
        std::process::id(),
        String::from_utf8_lossy(shown).trim_end(),
        if fd { " [+fd]" } else { "" }
    );
}

struct Inner {
    state: Mutex<State>,
    epoll: Epoll,
    wake: OwnedFd,
    sink: Box<dyn EventSink>,
    /// Set once by `Primary::shutdown`: the I/O thread leaves at its next wakeup.
    stopping: AtomicBool,
    io_thread: Mutex<Option<JoinHandle<()>>>,
    /// The supervisor's clock starts here.
    origin: Instant,
}

impl Inner {
    fn now(&self) -> Millis {
        self.origin.elapsed().as_millis() as Millis
    }
}

/// The primary: owns the I/O thread and everything it watches.
#[derive(Clone)]
pub struct Primary {
    inner: Arc<Inner>,
}

fn errno_of(e: &io::Error) -> i32 {
    -e.raw_os_error().unwrap_or(libc::EINVAL)
}

fn port_of(req: &BindRequest) -> Result<u16, i32> {
    u16::try_from(req.port).map_err(|_| -libc::EINVAL)
}

fn closed_channel() -> io::Error {
    io::Error::from_raw_os_error(libc::EPIPE)
}

impl Primary {
    pub fn start(sink: Box<dyn EventSink>) -> io::Result<Primary> {
        let epoll = Epoll::new()?;
        let wake = sys::eventfd()?;
        epoll.add(wake.as_raw_fd(), EPOLLIN, TOKEN_WAKE)?;
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
                loop_poller: Epoll::new()?,
                loop_polling: false,
                supervisor: Supervisor::new(),
                rng: XorShift::seeded(),
                gate_new_workers: false,
                health: Health::new(),
                origin,
            }),
            epoll,
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
            std::mem::take(&mut st.workers)
                .into_iter()
                .filter_map(|(id, slot)| {
                    // Dropping the slot closes the channel, which tells a Node worker to
                    // leave.
                    let pid = slot.pid;
                    slot.pidfd.map(|pidfd| Leaving { id, pid, pidfd })
                })
                .collect()
        };
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
        self.inner.state.lock().loop_poller.raw_fd()
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
        if st.loop_poller.wait(&mut ready, 0).is_err() {
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
            return Err(io::Error::from_raw_os_error(libc::ECANCELED));
        }
        let spawned = spawn::spawn(options)?;
        let mut st = self.inner.state.lock();
        let epoll = &self.inner.epoll;
        let on_loop = st.loop_polling;
        let channel_poller = if on_loop { &st.loop_poller } else { epoll };
        channel_poller.add(
            spawned.channel.as_raw_fd(),
            EPOLLIN,
            token(KIND_CHANNEL, id),
        )?;
        epoll.add(spawned.pidfd.as_raw_fd(), EPOLLIN, token(KIND_PIDFD, id))?;
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
        let fd = fd.map(sys::dup_cloexec).transpose()?;
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
        slot.writer.push(OutFrame {
            bytes,
            fd,
            kind,
            write_id,
        });
        let mut done = Vec::new();
        st.flush(&self.inner.epoll, id, &mut done);
        let written = done.contains(&write_id);
        done.retain(|w| *w != write_id);
        if !done.is_empty() {
            st.events.push(Event::Written {
                worker: id,
                write_ids: done,
            });
        }
        let queued_bytes = st
            .workers
            .get(&id)
            .map(|s| s.writer.queued_bytes())
            .unwrap_or(0);
        let deliver_later = !st.events.is_empty();
        drop(st);
        if deliver_later {
            sys::eventfd_signal(self.inner.wake.as_raw_fd());
        }
        Ok(Sent {
            written,
            queued_bytes,
        })
    }

    /// `worker.disconnect()` in the primary: tell the worker to close its servers and
    /// leave, and stop giving it anything new.
    pub fn disconnect_worker(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        let epoll = &self.inner.epoll;
        if let Some(slot) = st.workers.get_mut(&id) {
            slot.leaving = true;
        }
        let mut fields = Map::new();
        fields.insert("act".into(), Value::from("disconnect"));
        st.send_internal(epoll, id, fields, None);
        st.remove_worker_from_servers(epoll, id);
    }

    /// The first half of a graceful stop: hand the worker no new connection (and no new
    /// server) while it drains; `disconnect_worker` follows.
    pub fn stop_routing(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        let epoll = &self.inner.epoll;
        if let Some(slot) = st.workers.get_mut(&id) {
            slot.leaving = true;
        }
        st.remove_worker_from_servers(epoll, id);
        st.deliver_later(&self.inner);
    }

    /// `worker.process.disconnect()`: close our end once everything queued is written.
    pub fn close_channel(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        let epoll = &self.inner.epoll;
        let Some(slot) = st.workers.get_mut(&id) else {
            return;
        };
        slot.closing = true;
        if slot.writer.is_idle() {
            st.drop_channel(epoll, id);
        }
    }

    /// Sends a signal while the worker is ours to signal (not yet reaped, so the pid
    /// cannot have been reused).
    pub fn kill(&self, id: WorkerId, signal: i32) -> io::Result<()> {
        let st = self.inner.state.lock();
        match st.workers.get(&id) {
            Some(slot) if slot.pidfd.is_some() => sys::kill(slot.pid, signal),
            _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }

    /// JavaScript opened the listener an `OpenListener` event asked for; `fd` is duplicated.
    pub fn listener_opened(&self, server: u32, fd: RawFd) {
        let copy = sys::dup_cloexec(fd);
        let mut st = self.inner.state.lock();
        let epoll = &self.inner.epoll;
        match copy {
            Ok(copy) => st.on_listener_opened(epoll, server, copy),
            Err(e) => {
                st.on_listener_failed(epoll, server, -e.raw_os_error().unwrap_or(libc::EINVAL))
            }
        }
    }

    /// JavaScript could not open the listener: the waiting workers get `errno`.
    pub fn listener_failed(&self, server: u32, errno: i32) {
        let mut st = self.inner.state.lock();
        st.on_listener_failed(&self.inner.epoll, server, errno);
    }

    /// Whether workers spawned from now on wait for `worker_ready` before the primary hands
    /// them connections (round-robin and sticky).
    pub fn set_readiness_gate(&self, on: bool) {
        self.inner.state.lock().gate_new_workers = on;
    }

    /// Worker `id` is ready: the servers it joined start handing it connections.
    pub fn worker_ready(&self, id: WorkerId) {
        let mut st = self.inner.state.lock();
        let epoll = &self.inner.epoll;
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
                Some(conn) => st.hand_off(epoll, sid, id, conn),
                None => st.update_accepting(epoll, sid),
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

fn run(inner: Arc<Inner>) {
    let mut ready = Vec::new();
    // Until the first timer is set, sleep until something happens (setting one wakes us).
    let mut timeout = -1;
    loop {
        if inner.epoll.wait(&mut ready, timeout).is_err() {
            return;
        }
        if inner.stopping.load(Ordering::Acquire) {
            return;
        }
        let mut st = inner.state.lock();
        st.dispatch_all(&inner, &ready);
        timeout = st.fire_timers(&inner);
        let to_sample = st.fire_health(&inner);
        timeout = st.health_timeout(&inner, timeout);
        let events = std::mem::take(&mut st.events);
        if !events.is_empty() {
            // Under the lock: see `Primary::service_loop`.
            inner.sink.deliver(events);
        }
        drop(st);
        // `/proc` is read without the lock, so a slow read never holds up a send.
        if !to_sample.is_empty() {
            watching::sample_and_apply(&inner, to_sample);
        }
    }
}

impl State {
    /// Events produced on the JavaScript thread by a call that is not a send: the I/O
    /// thread delivers them.
    fn deliver_later(&self, inner: &Inner) {
        if !self.events.is_empty() {
            sys::eventfd_signal(inner.wake.as_raw_fd());
        }
    }

    /// Acts on the supervision timers that are due; returns how long the I/O thread may
    /// sleep before the next one (-1: no timer).
    fn fire_timers(&mut self, inner: &Inner) -> i32 {
        let Some(next) = self.supervisor.next_due() else {
            return -1;
        };
        // A timer set at t for `ms` is due at floor(t) + ms, up to 1 ms short of t + ms:
        // judged by the whole milliseconds surely passed (one less than the clock's floor),
        // a deadline never fires early, and at most a millisecond late.
        let now = inner.now().saturating_sub(1);
        if next > now {
            return (next - now).min(i32::MAX as Millis) as i32;
        }
        for due in self.supervisor.take_due(now) {
            match due {
                Due::Restart { slot } => self.events.push(Event::Timer {
                    kind: TimerEvent::Restart,
                    id: slot,
                }),
                Due::Kill {
                    worker,
                    signal,
                    reason,
                } => {
                    // Only while the worker is not reaped: its pid cannot have been reused.
                    let Some(slot) = self.workers.get(&worker).filter(|s| s.pidfd.is_some()) else {
                        continue;
                    };
                    if sys::kill(slot.pid, signal).is_ok() && reason == KillReason::StartupTimeout {
                        self.events.push(Event::Timer {
                            kind: TimerEvent::StartupTimeout,
                            id: worker,
                        });
                    }
                }
            }
        }
        self.supervisor.next_due().map_or(-1, |next| {
            next.saturating_sub(now).min(i32::MAX as Millis) as i32
        })
    }

    fn dispatch_all(&mut self, inner: &Inner, ready: &[(u64, u32)]) {
        for &(tok, flags) in ready {
            // A bug in handling one descriptor must not stop the I/O for every worker (nor
            // unwind into Node): report it and go on.
            let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.dispatch(inner, tok, flags);
            }));
            if handled.is_err() {
                eprintln!("rust-cluster: internal error while handling I/O (token {tok:#x})");
            }
        }
    }

    /// Hands the channel of a worker with no connection in flight back to the event loop,
    /// so its messages skip the hop between threads again; the next handoff takes it back
    /// (`move_channel_to_io`) before the `newconn` goes out.
    fn move_channel_to_loop(&mut self, epoll: &Epoll, id: WorkerId) {
        let idle = self
            .workers
            .get(&id)
            .is_some_and(|slot| slot.inflight.is_empty());
        if self.loop_polling && idle {
            self.move_channel(epoll, id, true);
        }
    }

    /// Hands a channel the event loop watched over to the I/O thread (see the module doc).
    fn move_channel_to_io(&mut self, epoll: &Epoll, id: WorkerId) {
        self.move_channel(epoll, id, false);
    }

    /// Moves a channel's registration (with its write interest) between the I/O thread's
    /// epoll and the loop poller; registered in the new set before leaving the old one, so
    /// readiness is never missed.
    fn move_channel(&mut self, epoll: &Epoll, id: WorkerId, to_loop: bool) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let Some(channel) = slot.channel.as_ref() else {
            return;
        };
        if slot.on_loop == to_loop {
            return;
        }
        let (from, to) = if to_loop {
            (epoll, &self.loop_poller)
        } else {
            (&self.loop_poller, epoll)
        };
        let fd = channel.as_raw_fd();
        let events = if slot.watching_writes {
            EPOLLIN | EPOLLOUT
        } else {
            EPOLLIN
        };
        if to.add(fd, events, token(KIND_CHANNEL, id)).is_ok() {
            from.delete(fd);
            slot.on_loop = to_loop;
        }
    }

    fn dispatch(&mut self, inner: &Inner, tok: u64, flags: u32) {
        let id = (tok & 0xffff_ffff) as u32;
        match tok >> 32 {
            _ if tok == TOKEN_WAKE => sys::eventfd_drain(inner.wake.as_raw_fd()),
            KIND_CHANNEL => {
                if flags & EPOLLOUT != 0 {
                    let mut done = Vec::new();
                    self.flush(&inner.epoll, id, &mut done);
                    if !done.is_empty() {
                        self.events.push(Event::Written {
                            worker: id,
                            write_ids: done,
                        });
                    }
                }
                if flags & !EPOLLOUT != 0 {
                    self.read_channel(&inner.epoll, id, READS_PER_WAKEUP);
                }
            }
            KIND_PIDFD => self.on_exit(&inner.epoll, id),
            KIND_LISTENER => {
                if let Some(server) = self.servers.get_mut(id) {
                    server.drained = false;
                }
                self.accept_connections(&inner.epoll, id)
            }
            KIND_ORPHAN => self.accept_from_orphan(&inner.epoll, id),
            _ => {}
        }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    /// Writes what the socket takes; watches for writability while anything is left.
    fn flush(&mut self, epoll: &Epoll, id: WorkerId, done: &mut Vec<u64>) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let Some(channel) = slot.channel.as_ref() else {
            return;
        };
        let fd = channel.as_raw_fd();
        let poller = if slot.on_loop {
            &self.loop_poller
        } else {
            epoll
        };
        match slot.writer.flush(fd, done) {
            Ok(Flush::Done) => {
                if slot.watching_writes {
                    slot.watching_writes = false;
                    let _ = poller.modify(fd, EPOLLIN, token(KIND_CHANNEL, id));
                }
                if slot.closing && slot.writer.is_idle() {
                    self.drop_channel(epoll, id);
                }
            }
            Ok(Flush::Blocked) => {
                if !slot.watching_writes {
                    slot.watching_writes = true;
                    let _ = poller.modify(fd, EPOLLIN | EPOLLOUT, token(KIND_CHANNEL, id));
                }
            }
            // The worker is gone; the read side reports the disconnect.
            Err(_) => {
                if slot.closing {
                    self.drop_channel(epoll, id);
                }
            }
        }
    }

    /// Queues a `NODE_CLUSTER` message (wrapped with a descriptor if given); returns its seq.
    fn send_internal(
        &mut self,
        epoll: &Epoll,
        id: WorkerId,
        fields: Map<String, Value>,
        handle: Option<(OwnedFd, &str)>,
    ) -> Option<u64> {
        let seq = self.next_seq();
        let slot = self.workers.get_mut(&id)?;
        slot.channel.as_ref()?;
        let mut msg = protocol::cluster_message(fields, seq);
        let (fd, kind) = match handle {
            Some((fd, handle_type)) => {
                msg = protocol::handle_message(handle_type, msg);
                (Some(fd), FrameKind::Handle)
            }
            None => (None, FrameKind::Plain),
        };
        let bytes = protocol::encode(&msg, slot.mode);
        if self.trace {
            trace_frame(id, "<-", &bytes, fd.is_some());
        }
        slot.writer.push(OutFrame {
            bytes,
            fd,
            kind,
            write_id: 0,
        });
        self.flush(epoll, id, &mut Vec::new());
        Some(seq)
    }

    fn send_raw(&mut self, epoll: &Epoll, id: WorkerId, msg: &Value, kind: FrameKind) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let bytes = protocol::encode(msg, slot.mode);
        if self.trace {
            trace_frame(id, "<-", &bytes, false);
        }
        slot.writer.push(OutFrame {
            bytes,
            fd: None,
            kind,
            write_id: 0,
        });
        self.flush(epoll, id, &mut Vec::new());
    }

    fn read_channel(&mut self, epoll: &Epoll, id: WorkerId, max_reads: usize) {
        let mut buf = std::mem::take(&mut self.read_buf);
        if buf.is_empty() {
            // Re-entered while the shared buffer is out: a zero-length read would look
            // like end of stream.
            buf = vec![0u8; READ_CHUNK];
        }
        self.read_into(epoll, id, max_reads, &mut buf);
        self.read_buf = buf;
    }

    fn read_into(&mut self, epoll: &Epoll, id: WorkerId, max_reads: usize, buf: &mut [u8]) {
        for _ in 0..max_reads {
            let Some(slot) = self.workers.get_mut(&id) else {
                return;
            };
            let Some(channel) = slot.channel.as_ref() else {
                return;
            };
            let mut fds = Vec::new();
            match sys::recv_with_fds(channel.as_raw_fd(), buf, &mut fds) {
                Ok(0) => {
                    self.on_channel_closed(epoll, id);
                    return;
                }
                Ok(n) => {
                    slot.decoder.feed(&buf[..n], fds);
                    self.process_frames(epoll, id);
                    // A short read took what there was (as libuv does, stop rather than
                    // spend a syscall on EAGAIN; the level-triggered poll reports more).
                    // A drain must go on: a read also stops short at passed descriptors.
                    if n < buf.len() && max_reads != DRAIN {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.on_channel_closed(epoll, id);
                    return;
                }
            }
        }
    }

    fn process_frames(&mut self, epoll: &Epoll, id: WorkerId) {
        loop {
            let Some(slot) = self.workers.get_mut(&id) else {
                return;
            };
            let frame = match slot.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => return self.protocol_error(epoll, id, e.to_string()),
            };
            let mode = slot.mode;
            let closing = slot.closing;
            if self.trace {
                trace_frame(id, "->", &frame, false);
            }
            match protocol::classify(&frame, mode) {
                Incoming::HandleAck => self.on_handle_reply(epoll, id, true),
                Incoming::HandleNack => self.on_handle_reply(epoll, id, false),
                // After JavaScript disconnected, only ACKs still matter (they release the
                // queue being flushed); Node reads nothing more either.
                _ if closing => {}
                Incoming::User => self.events.push(Event::Message {
                    worker: id,
                    frame,
                    handle: None,
                }),
                Incoming::Cluster(msg) => self.on_cluster_message(epoll, id, msg, frame),
                Incoming::Handle {
                    handle_type,
                    inner_is_user,
                } => self.on_handle(epoll, id, frame, handle_type, inner_is_user),
                // The sent-socket bookkeeping of Node's socket_list.js is kept in JavaScript,
                // next to the sockets it counts.
                Incoming::OtherInternal(cmd)
                    if cmd.starts_with("NODE_SOCKET_") || cmd.starts_with("NODE_RUST_CLUSTER_") =>
                {
                    self.events.push(Event::Internal {
                        worker: id,
                        act: cmd,
                        frame,
                    })
                }
                Incoming::Heartbeat { delay } => self.on_beat(id, delay),
                Incoming::OtherInternal(_) => {}
                Incoming::Invalid(e) => {
                    return self.protocol_error(epoll, id, format!("invalid IPC message: {e}"))
                }
            }
        }
    }

    fn on_handle_reply(&mut self, epoll: &Epoll, id: WorkerId, ack: bool) {
        if let Some(slot) = self.workers.get_mut(&id) {
            if ack {
                slot.writer.on_ack();
            } else {
                slot.writer.on_nack();
            }
        }
        self.flush(epoll, id, &mut Vec::new());
    }

    fn on_handle(
        &mut self,
        epoll: &Epoll,
        id: WorkerId,
        frame: Vec<u8>,
        handle_type: String,
        inner_is_user: bool,
    ) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let Some(fd) = slot.decoder.take_fd() else {
            // The descriptor was lost on the way (MSG_CTRUNC): ask for it again.
            return self.send_raw(epoll, id, &protocol::handle_nack(), FrameKind::Ack);
        };
        self.send_raw(epoll, id, &protocol::handle_ack(), FrameKind::Ack);
        if inner_is_user {
            self.events.push(Event::Message {
                worker: id,
                frame,
                handle: Some(ReceivedHandle { fd, handle_type }),
            });
        }
    }

    fn on_cluster_message(
        &mut self,
        epoll: &Epoll,
        id: WorkerId,
        msg: Map<String, Value>,
        frame: Vec<u8>,
    ) {
        if let Some(ack) = msg.get("ack").and_then(Value::as_u64) {
            if msg.get("act").is_none() {
                let accepted = msg.get("accepted").and_then(Value::as_bool) == Some(true);
                return self.on_newconn_reply(epoll, id, ack, accepted);
            }
        }
        let act = msg
            .get("act")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match act.as_str() {
            "queryServer" => self.on_query_server(epoll, id, &msg),
            "close" => {
                if let Some(key) = msg.get("key").and_then(Value::as_str) {
                    if let Some(sid) = self.servers.id_holding(key, id) {
                        self.remove_from_server(epoll, sid, id);
                    }
                }
            }
            "exitedAfterDisconnect" => {
                if let Some(slot) = self.workers.get_mut(&id) {
                    slot.leaving = true;
                }
                if let Some(seq) = msg.get("seq").cloned() {
                    let mut fields = Map::new();
                    fields.insert("ack".into(), seq);
                    self.send_internal(epoll, id, fields, None);
                }
                self.events.push(Event::Internal {
                    worker: id,
                    act,
                    frame,
                });
            }
            "online" | "listening" => self.events.push(Event::Internal {
                worker: id,
                act,
                frame,
            }),
            _ => {}
        }
    }

    fn drop_channel(&mut self, epoll: &Epoll, id: WorkerId) {
        if let Some(slot) = self.workers.get_mut(&id) {
            if let Some(channel) = slot.channel.take() {
                if slot.on_loop {
                    self.loop_poller.delete(channel.as_raw_fd());
                } else {
                    epoll.delete(channel.as_raw_fd());
                }
            }
            slot.writer = Writer::new();
        }
        self.remove_worker_from_servers(epoll, id);
        self.requeue_inflight(epoll, id);
        self.forget_if_done(id);
    }

    fn on_channel_closed(&mut self, epoll: &Epoll, id: WorkerId) {
        let was_open = self
            .workers
            .get(&id)
            .is_some_and(|s| s.channel.is_some() && !s.closing);
        self.drop_channel(epoll, id);
        if was_open {
            self.events.push(Event::Disconnect { worker: id });
        }
    }

    fn on_exit(&mut self, epoll: &Epoll, id: WorkerId) {
        let Some(slot) = self.workers.get(&id) else {
            return;
        };
        let pid = slot.pid;
        // Whatever the worker wrote before dying is delivered before its exit.
        if slot.channel.is_some() {
            self.read_channel(epoll, id, DRAIN);
        }
        let exit = match reaper::reap(pid) {
            Ok(Some(exit)) => exit,
            Ok(None) => return,
            Err(_) => Exit {
                code: Some(0),
                signal: None,
            },
        };
        if let Some(slot) = self.workers.get_mut(&id) {
            if let Some(pidfd) = slot.pidfd.take() {
                epoll.delete(pidfd.as_raw_fd());
            }
        }
        self.remove_worker_from_servers(epoll, id);
        self.supervisor.cancel_kill(id, None);
        self.health.forget(id);
        if self.trace {
            eprintln!(
                "CLUSTER {}: worker {id} exited {exit:?}",
                std::process::id()
            );
        }
        self.events.push(Event::Exit { worker: id, exit });
        self.forget_if_done(id);
    }

    fn forget_if_done(&mut self, id: WorkerId) {
        if let Some(slot) = self.workers.get(&id) {
            if slot.channel.is_none() && slot.pidfd.is_none() {
                self.workers.remove(&id);
                sys::release_free_memory();
            }
        }
    }

    fn protocol_error(&mut self, epoll: &Epoll, id: WorkerId, message: String) {
        if let Some(slot) = self.workers.get(&id) {
            if slot.pidfd.is_some() {
                let _ = sys::kill(slot.pid, libc::SIGKILL);
            }
        }
        self.events.push(Event::ProtocolError {
            worker: id,
            message,
        });
        self.on_channel_closed(epoll, id);
    }
}
