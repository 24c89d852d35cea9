//! How events reach JavaScript: one queue, in the order they were read (by the I/O thread
//! or on the event loop), taken by the JavaScript thread as one flat array of cells.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use parking_lot::Mutex;
use rust_cluster_core::{Event, EventSink, Frame, TimerEvent};
use std::os::fd::IntoRawFd;
use std::sync::Arc;

/// One value of an event batch. A batch crosses to JavaScript as one flat array of
/// `CELLS_PER_EVENT` cells per event, because building an object per event through N-API
/// (a property name string per field) costs more than the rest of the delivery.
pub enum Cell {
    Undefined,
    Num(f64),
    Str(String),
    Buf(Buffer),
}

impl ToNapiValue for Cell {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        // SAFETY: delegates to napi-rs's own conversions with the same env.
        unsafe {
            match val {
                Cell::Undefined => <()>::to_napi_value(env, ()),
                Cell::Num(n) => f64::to_napi_value(env, n),
                Cell::Str(s) => String::to_napi_value(env, s),
                Cell::Buf(b) => Buffer::to_napi_value(env, b),
            }
        }
    }
}

/// [kind, worker, payload, a, b] per event.
pub const CELLS_PER_EVENT: u32 = 5;

/// The kinds of event, by their number in a batch, and the names of the event fields
/// JavaScript puts cells `a` and `b` (and, for `error`, the payload) in: the one definition
/// of the contract, which lib/native.js reads at load (`eventLayout()`). The payload of
/// `internal` and `message` is the frame, typed by the core (`Frame`): a string for JSON
/// text, a Buffer for V8-serialized bytes (`frame_cell`); JavaScript reads it as the
/// event's `text` or `bytes`, and decodes the one that is there.
pub const EVENT_LAYOUT: [(&str, Option<&str>, Option<&str>); 9] = [
    ("internal", Some("act"), None),
    ("message", Some("fd"), Some("handleType")),
    ("disconnect", None, None),
    ("exit", Some("code"), Some("signal")),
    ("written", Some("writeId"), None),
    ("error", None, None),
    ("open", Some("server"), None),
    ("timer", None, None),
    ("health", Some("act"), None),
];

/// A kind's number: its index in `EVENT_LAYOUT` (checked by a test).
const KIND_INTERNAL: f64 = 0.0;
const KIND_MESSAGE: f64 = 1.0;
const KIND_DISCONNECT: f64 = 2.0;
const KIND_EXIT: f64 = 3.0;
const KIND_WRITTEN: f64 = 4.0;
const KIND_ERROR: f64 = 5.0;
const KIND_OPEN: f64 = 6.0;
const KIND_TIMER: f64 = 7.0;
const KIND_HEALTH: f64 = 8.0;

/// A message frame's cell: a string for JSON text, a Buffer for V8 bytes (the core
/// decided which, by the channel's serialization), so JavaScript decodes the frame by the
/// type of the cell.
fn frame_cell(frame: Frame) -> Cell {
    match frame {
        Frame::Json(text) => Cell::Str(text),
        Frame::V8(bytes) => Cell::Buf(bytes.into()),
    }
}

fn opt_num(n: Option<i32>) -> Cell {
    n.map_or(Cell::Undefined, |n| Cell::Num(n as f64))
}

fn opt_str(s: Option<String>) -> Cell {
    s.map_or(Cell::Undefined, Cell::Str)
}

fn push_event(out: &mut Vec<Cell>, event: Event) {
    let mut push = |kind: f64, worker: u32, payload: Cell, a: Cell, b: Cell| {
        out.extend([Cell::Num(kind), Cell::Num(worker as f64), payload, a, b]);
    };
    match event {
        Event::Internal { worker, act, frame } => push(
            KIND_INTERNAL,
            worker,
            frame_cell(frame),
            Cell::Str(act),
            Cell::Undefined,
        ),
        Event::Message {
            worker,
            frame,
            handle,
        } => {
            let (fd, handle_type) = match handle {
                Some(h) => (Some(h.fd.into_raw_fd()), Some(h.handle_type)),
                None => (None, None),
            };
            push(
                KIND_MESSAGE,
                worker,
                frame_cell(frame),
                opt_num(fd),
                opt_str(handle_type),
            )
        }
        Event::Disconnect { worker } => push(
            KIND_DISCONNECT,
            worker,
            Cell::Undefined,
            Cell::Undefined,
            Cell::Undefined,
        ),
        Event::Exit { worker, exit } => push(
            KIND_EXIT,
            worker,
            Cell::Undefined,
            opt_num(exit.code),
            opt_str(exit.signal.map(str::to_string)),
        ),
        Event::Written { worker, write_ids } => {
            for id in write_ids {
                push(
                    KIND_WRITTEN,
                    worker,
                    Cell::Undefined,
                    Cell::Num(id as f64),
                    Cell::Undefined,
                );
            }
        }
        Event::ProtocolError { worker, message } => push(
            KIND_ERROR,
            worker,
            Cell::Str(message),
            Cell::Undefined,
            Cell::Undefined,
        ),
        Event::OpenListener { server, request } => push(
            KIND_OPEN,
            0,
            Cell::Str(request.to_string()),
            Cell::Num(server as f64),
            Cell::Undefined,
        ),
        Event::Health {
            worker,
            kind,
            detail,
        } => push(
            KIND_HEALTH,
            worker,
            Cell::Str(detail.to_string()),
            Cell::Str(kind.to_string()),
            Cell::Undefined,
        ),
        Event::Timer { kind, id } => push(
            KIND_TIMER,
            id,
            Cell::Str(
                match kind {
                    TimerEvent::Restart => "restart",
                    TimerEvent::StartupTimeout => "startupTimeout",
                }
                .to_string(),
            ),
            Cell::Undefined,
            Cell::Undefined,
        ),
    }
}

/// Events read but not yet given to JavaScript.
#[derive(Default)]
pub struct Pending {
    events: Mutex<Vec<Event>>,
}

impl Pending {
    /// Appends; true when the queue was empty (nobody has been woken for it yet).
    fn push(&self, events: Vec<Event>) -> bool {
        let mut queue = self.events.lock();
        let was_empty = queue.is_empty();
        queue.extend(events);
        was_empty
    }

    /// Everything queued, as the flat array `lib/native.js` reads.
    pub fn take_cells(&self) -> Vec<Cell> {
        let events = std::mem::take(&mut *self.events.lock());
        let mut cells = Vec::with_capacity(events.len() * CELLS_PER_EVENT as usize);
        for event in events {
            push_event(&mut cells, event);
        }
        cells
    }

    /// Drops what was never delivered (and any descriptors it carried).
    pub fn clear(&self) {
        self.events.lock().clear();
    }
}

/// Wakes the JavaScript thread to take the queue; carries nothing itself.
type WakeCallback = ThreadsafeFunction<(), (), Vec<Cell>, Status, false, true>;

/// The core's sink. The wake-up function is weak (unref'd): the facade keeps the event
/// loop alive itself while workers live, as Node's ChildProcess handles do.
pub struct JsSink {
    pending: Arc<Pending>,
    wake: WakeCallback,
}

impl JsSink {
    pub fn new(on_events: &Function<Vec<Cell>, ()>, pending: Arc<Pending>) -> Result<JsSink> {
        let taken = pending.clone();
        let wake = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |_| Ok(taken.take_cells()))?;
        Ok(JsSink { pending, wake })
    }
}

impl EventSink for JsSink {
    fn deliver(&self, events: Vec<Event>) {
        // One wake-up per non-empty queue: later batches ride along with it.
        if self.pending.push(events) {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    fn deliver_on_loop(&self, events: Vec<Event>) {
        self.pending.push(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_numbers_are_their_index_in_the_layout() {
        let numbered = [
            ("internal", KIND_INTERNAL),
            ("message", KIND_MESSAGE),
            ("disconnect", KIND_DISCONNECT),
            ("exit", KIND_EXIT),
            ("written", KIND_WRITTEN),
            ("error", KIND_ERROR),
            ("open", KIND_OPEN),
            ("timer", KIND_TIMER),
            ("health", KIND_HEALTH),
        ];
        assert_eq!(numbered.len(), EVENT_LAYOUT.len());
        for (name, number) in numbered {
            assert_eq!(EVENT_LAYOUT[number as usize].0, name);
        }
    }
}
