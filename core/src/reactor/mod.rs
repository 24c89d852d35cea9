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
//! code: a message then costs no hop between threads. While the primary has handed the
//! worker a connection it has not yet answered, the channel belongs to the I/O thread, so
//! connection acknowledgements never wait on JavaScript; it stays there after the answer
//! (a worker that only takes connections never moves again) until the worker sends
//! JavaScript something with nothing in flight.
//!
//! The files: `primary` is the public API (`Primary`, called from JavaScript's thread);
//! `events` what it tells JavaScript; this file the state, the I/O thread's loop and
//! dispatch by `token`; `channels` the channels' registration, writing and reading;
//! `messages` what a worker's frames mean; `serving` servers and connection handoff;
//! `watching` stats and the health watch; `trace` the `NODE_DEBUG=cluster` log.

use crate::activation;
use crate::channel::{Flush, FrameDecoder, FrameKind, OutFrame, Serialization, SharedFd, Writer};
use crate::errno::Errno;
use crate::health::Health;
use crate::int_map::IntMap;
use crate::protocol::{self, Incoming, ServerKeys};
use crate::reaper::{self, Exit, Leaving};
use crate::scheduler::{RoundRobin, WorkerId};
use crate::servers::{self, Backlog, BindRequest, Conn, Distribution, Server, ServerTable};
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
use token::Token;
use trace::{trace_enabled, trace_frame};

mod channels;
mod events;
#[cfg(test)]
mod handoff_tests;
mod messages;
mod primary;
mod serving;
#[cfg(test)]
mod tests;
mod token;
mod trace;
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

pub use events::{Event, EventSink, Frame, ReceivedHandle, Sent, TimerEvent};
pub use primary::Primary;
pub use watching::{PrimaryStats, WorkerStats};

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

/// The two epoll sets a descriptor can be watched by.
struct Pollers {
    /// The I/O thread's (the same as `Inner::io_poller`).
    io: Arc<Epoll>,
    /// The one the JavaScript thread's event loop watches (see the module doc).
    event_loop: Epoll,
}

impl Pollers {
    /// Where a channel is registered: `on_loop`, the event loop's set.
    fn of(&self, on_loop: bool) -> &Epoll {
        if on_loop {
            &self.event_loop
        } else {
            &self.io
        }
    }
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
    pollers: Pollers,
    /// New channels start on `pollers.event_loop` (set once something services it).
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
    /// The connections of the workers whose slots are gone (with the live slots' counts,
    /// the primary's total: see `Inner::connections`).
    departed_connections: u64,
}

struct Inner {
    state: Mutex<State>,
    /// Waited on by the I/O thread without the lock (epoll_ctl from another thread while
    /// it waits is safe).
    io_poller: Arc<Epoll>,
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

fn run(inner: Arc<Inner>) {
    let mut ready = Vec::new();
    // Until the first timer is set, sleep until something happens (setting one wakes us).
    let mut timeout = -1;
    loop {
        if inner.io_poller.wait(&mut ready, timeout).is_err() {
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
    pub(super) fn deliver_later(&self, inner: &Inner) {
        if !self.events.is_empty() {
            sys::eventfd_signal(inner.wake.as_raw_fd());
        }
    }

    /// Acts on the supervision timers that are due; returns how long the I/O thread may
    /// sleep before the next one (-1: no timer).
    pub(super) fn fire_timers(&mut self, inner: &Inner) -> i32 {
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

    pub(super) fn dispatch_all(&mut self, inner: &Inner, ready: &[(u64, u32)]) {
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

    pub(super) fn dispatch(&mut self, inner: &Inner, token: u64, flags: u32) {
        let Some(token) = Token::decode(token) else {
            return;
        };
        match token {
            Token::Wake => sys::eventfd_drain(inner.wake.as_raw_fd()),
            Token::Channel(id) => {
                if flags & EPOLLOUT != 0 {
                    let mut done = Vec::new();
                    self.flush(id, &mut done);
                    if !done.is_empty() {
                        self.events.push(Event::Written {
                            worker: id,
                            write_ids: done,
                        });
                    }
                }
                if flags & !EPOLLOUT != 0 {
                    let told = self.events.len();
                    self.read_channel(id, READS_PER_WAKEUP);
                    if self.events.len() > told {
                        self.move_channel_to_loop_if_talking(id);
                    }
                }
            }
            Token::Pidfd(id) => self.on_exit(id),
            Token::Listener(id) => {
                if let Some(server) = self.servers.get_mut(id) {
                    server.backlog = Backlog::Unknown;
                }
                self.accept_connections(id)
            }
            Token::Orphan(uid) => self.accept_from_orphan(uid),
        }
    }

    pub(super) fn on_exit(&mut self, id: WorkerId) {
        let Some(slot) = self.workers.get(&id) else {
            return;
        };
        let pid = slot.pid;
        // Whatever the worker wrote before dying is delivered before its exit.
        if slot.channel.is_some() {
            self.read_channel(id, DRAIN);
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
                self.pollers.io.delete(pidfd.as_raw_fd());
            }
        }
        self.remove_worker_from_servers(id);
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

    pub(super) fn forget_if_done(&mut self, id: WorkerId) {
        if let Some(slot) = self.workers.get(&id) {
            if slot.channel.is_none() && slot.pidfd.is_none() {
                self.departed_connections += slot.figures.connections;
                self.workers.remove(&id);
                sys::release_free_memory();
            }
        }
    }
}
