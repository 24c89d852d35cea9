//! What the primary tells JavaScript: the events the I/O thread (or `Primary::service_loop`)
//! delivers through an `EventSink`, and the outcome of a send.

use crate::channel::Serialization;
use crate::reaper::Exit;
use crate::scheduler::WorkerId;
use serde_json::Value;
use std::os::fd::OwnedFd;

/// A message frame as it reached the primary, in the encoding of the worker's channel
/// (decided here, by the core, which knows each channel's serialization): JavaScript
/// decodes it by what it is, without remembering the worker's mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A JSON line (`serialization: 'json'`), without its newline. Bytes that are not
    /// UTF-8 become U+FFFD (a user message's frame is not parsed by the core).
    Json(String),
    /// V8-serialized bytes (`serialization: 'advanced'`), without the length prefix.
    V8(Vec<u8>),
}

impl Frame {
    /// The frame `bytes` read from a channel of serialization `mode`.
    pub fn new(bytes: Vec<u8>, mode: Serialization) -> Frame {
        match mode {
            Serialization::Json => Frame::Json(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
            Serialization::Advanced => Frame::V8(bytes),
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
        frame: Frame,
    },
    /// A user message; with a handle, `frame` is the whole NODE_HANDLE wrapper.
    Message {
        worker: WorkerId,
        frame: Frame,
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

pub trait EventSink: Send + Sync + 'static {
    /// Events read by the I/O thread: the sink must wake the JavaScript thread.
    fn deliver(&self, events: Vec<Event>);
    /// Events read by `Primary::service_loop`, on the JavaScript thread itself, which
    /// takes them once `service_loop` returns: no wake-up is needed.
    fn deliver_on_loop(&self, events: Vec<Event>) {
        self.deliver(events);
    }
}

/// The outcome of a send from JavaScript: the bytes still queued for this worker once the
/// call returns, for Node-style backpressure (`send()` returns false past a threshold).
///
/// 0 means exactly "the frame was written before the call returned" (and everything
/// queued before it): the frame just pushed is the last one in the writer's queue (the
/// state's lock is held from push to this count), frames are written in order, a frame
/// held behind an unacknowledged handle counts its bytes, and a handle already written
/// keeps only its descriptor (not its bytes) for a retransmission. So a written frame
/// leaves nothing queued, and a frame not yet written (or written in part) leaves its own
/// unwritten bytes, at least one: every frame has a newline or a length prefix.
/// `channel::tests::nothing_queued_is_exactly_written` checks it over random sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub queued_bytes: usize,
}

impl Sent {
    /// The frame went to the kernel before the call returned.
    pub fn written(&self) -> bool {
        self.queued_bytes == 0
    }
}
