//! The N-API binding: `#[napi]` items only. Each call maps onto the core's `Primary`;
//! failures come back as negative errno values, which the JavaScript facade turns into
//! Node's own error objects (`ErrnoException`, with `code`, `errno`, `syscall`).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use rust_cluster_core::{
    reactor, Event, EventSink, Policy, Primary, Serialization, SpawnOptions, StdioSpec,
};
use std::io;
use std::os::fd::IntoRawFd;

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

/// [kind, worker, payload, a, b] per event; the kinds, in order, as lib/native.js reads them.
const KIND_INTERNAL: f64 = 0.0;
const KIND_MESSAGE: f64 = 1.0;
const KIND_DISCONNECT: f64 = 2.0;
const KIND_EXIT: f64 = 3.0;
const KIND_WRITTEN: f64 = 4.0;
const KIND_ERROR: f64 = 5.0;
const KIND_OPEN: f64 = 6.0;

fn frame_cell(frame: Vec<u8>, json: bool) -> Cell {
    if json {
        Cell::Str(
            String::from_utf8(frame)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    } else {
        Cell::Buf(frame.into())
    }
}

fn opt_num(n: Option<i32>) -> Cell {
    n.map_or(Cell::Undefined, |n| Cell::Num(n as f64))
}

fn opt_str(s: Option<String>) -> Cell {
    s.map_or(Cell::Undefined, Cell::Str)
}

fn push_event(out: &mut Vec<Cell>, event: Event, json_workers: &dyn Fn(u32) -> bool) {
    let mut push = |kind: f64, worker: u32, payload: Cell, a: Cell, b: Cell| {
        out.extend([Cell::Num(kind), Cell::Num(worker as f64), payload, a, b]);
    };
    match event {
        Event::Internal { worker, act, frame } => push(
            KIND_INTERNAL,
            worker,
            frame_cell(frame, json_workers(worker)),
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
                frame_cell(frame, json_workers(worker)),
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
    }
}

type EventCallback = ThreadsafeFunction<Vec<Cell>, (), Vec<Cell>, Status, false, true>;

/// Delivers batches to JavaScript. The function is weak (unref'd): the facade keeps the
/// event loop alive itself while workers live, as Node's ChildProcess handles do.
struct JsSink {
    callback: EventCallback,
    json_workers: parking_lot::RwLock<std::collections::HashSet<u32>>,
}

/// The core owns its sink; the binding keeps a second reference to update `json_workers`.
struct SharedSink(std::sync::Arc<JsSink>);

impl EventSink for SharedSink {
    fn deliver(&self, events: Vec<Event>) {
        let json = self.0.json_workers.read();
        let mut batch = Vec::with_capacity(events.len() * 5);
        for event in events {
            push_event(&mut batch, event, &|w| json.contains(&w));
        }
        drop(json);
        self.0
            .callback
            .call(batch, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

fn errno(e: &io::Error) -> i32 {
    -e.raw_os_error().unwrap_or(nix_einval())
}

fn nix_einval() -> i32 {
    22
}

#[napi(object)]
pub struct SpawnRequest {
    pub id: u32,
    pub exec_path: String,
    pub args: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// By child descriptor: "inherit" | "ignore" | "pipe" | a descriptor number as a string
    /// (the channel's slot is ignored).
    pub stdio: Vec<String>,
    pub channel_fd: i32,
    /// "json" | "advanced"
    pub serialization: String,
}

#[napi(object)]
pub struct SpawnResult {
    pub pid: i32,
    /// 0 on success, else a negative errno.
    pub errno: i32,
    /// The primary's ends of piped stdio (-1 where not piped).
    pub stdio: Vec<i32>,
}

/// A send's outcome in one number, so the hot path builds no object: a negative errno,
/// or `queued_bytes * 2 + written` (written: the frame reached the kernel before returning).
fn send_outcome(result: io::Result<rust_cluster_core::Sent>) -> f64 {
    match result {
        Ok(sent) => sent.queued_bytes as f64 * 2.0 + if sent.written { 1.0 } else { 0.0 },
        Err(e) => errno(&e) as f64,
    }
}

fn stdio_spec(s: &str) -> StdioSpec {
    match s {
        "ignore" => StdioSpec::Ignore,
        "pipe" => StdioSpec::Pipe,
        other => match other.parse::<i32>() {
            Ok(fd) => StdioSpec::Fd(fd),
            Err(_) => StdioSpec::Inherit,
        },
    }
}

#[napi]
pub struct NativePrimary {
    primary: Primary,
    sink: std::sync::Arc<JsSink>,
}

#[napi]
impl NativePrimary {
    #[napi(constructor)]
    pub fn new(on_events: Function<Vec<Cell>, ()>) -> Result<Self> {
        let callback = on_events
            .build_threadsafe_function::<Vec<Cell>>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let sink = std::sync::Arc::new(JsSink {
            callback,
            json_workers: Default::default(),
        });
        let primary = Primary::start(Box::new(SharedSink(sink.clone())))
            .map_err(|e| Error::from_reason(format!("cannot start the primary: {e}")))?;
        Ok(NativePrimary { primary, sink })
    }

    /// "rr", "none", "sticky" or "reuseport".
    #[napi]
    pub fn set_policy(&self, policy: String) {
        self.primary.set_policy(match policy.as_str() {
            "none" => Policy::None,
            "sticky" => Policy::Sticky,
            "reuseport" => Policy::ReusePort,
            _ => Policy::RoundRobin,
        });
    }

    #[napi]
    pub fn set_max_frame(&self, bytes: f64) {
        let bytes = if bytes.is_finite() && bytes > 0.0 {
            bytes as usize
        } else {
            reactor::DEFAULT_MAX_FRAME
        };
        self.primary.set_max_frame(bytes);
    }

    #[napi]
    pub fn spawn(&self, req: SpawnRequest) -> SpawnResult {
        let json = req.serialization != "advanced";
        let mode = if json {
            Serialization::Json
        } else {
            Serialization::Advanced
        };
        let options = SpawnOptions {
            program: req.exec_path,
            args: req.args,
            env: req
                .env
                .iter()
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (pair.clone(), String::new()),
                })
                .collect(),
            cwd: req.cwd,
            uid: req.uid,
            gid: req.gid,
            stdio: req.stdio.iter().map(|s| stdio_spec(s)).collect(),
            channel_fd: req.channel_fd,
        };
        if json {
            self.sink.json_workers.write().insert(req.id);
        }
        match self.primary.spawn(req.id, options, mode) {
            Ok((pid, stdio)) => SpawnResult {
                pid,
                errno: 0,
                stdio: stdio
                    .into_iter()
                    .map(|fd| fd.map_or(-1, |fd| fd.into_raw_fd()))
                    .collect(),
            },
            Err(e) => SpawnResult {
                pid: 0,
                errno: errno(&e),
                stdio: vec![],
            },
        }
    }

    /// Queues a serialized frame; `fd` (or -1) is a descriptor to pass with it, which is
    /// duplicated (the caller keeps its own).
    #[napi]
    pub fn send(&self, id: u32, frame: Buffer, fd: i32, write_id: f64) -> f64 {
        let fd = (fd >= 0).then_some(fd);
        send_outcome(self.primary.send(id, frame.to_vec(), fd, write_id as u64))
    }

    /// `send` for a JSON frame (no descriptor).
    #[napi]
    pub fn send_string(&self, id: u32, frame: String, write_id: f64) -> f64 {
        send_outcome(
            self.primary
                .send(id, frame.into_bytes(), None, write_id as u64),
        )
    }

    /// The listener an `open` event asked for is listening on `fd` (duplicated).
    #[napi]
    pub fn listener_opened(&self, server: u32, fd: i32) {
        self.primary.listener_opened(server, fd);
    }

    /// Opening it failed with `errno` (negative).
    #[napi]
    pub fn listener_failed(&self, server: u32, errno: i32) {
        self.primary.listener_failed(server, errno);
    }

    #[napi]
    pub fn disconnect_worker(&self, id: u32) {
        self.primary.disconnect_worker(id);
    }

    #[napi]
    pub fn close_channel(&self, id: u32) {
        self.primary.close_channel(id);
    }

    /// 0, or a negative errno (ESRCH when the worker is already gone).
    #[napi]
    pub fn kill(&self, id: u32, signal: i32) -> i32 {
        match self.primary.kill(id, signal) {
            Ok(()) => 0,
            Err(e) => errno(&e),
        }
    }

    #[napi]
    pub fn forget(&self, id: u32) {
        self.sink.json_workers.write().remove(&id);
    }
}
