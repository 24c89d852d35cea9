//! The N-API binding: `#[napi]` items only. Each call maps onto the core's `Primary`;
//! failures come back as negative errno values, which the JavaScript facade turns into
//! Node's own error objects (`ErrnoException`, with `code`, `errno`, `syscall`).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use rust_cluster_core::{
    reactor, signals, Event, EventSink, Policy, Primary, Serialization, SpawnOptions, StdioSpec,
};
use std::io;
use std::os::fd::IntoRawFd;

/// One event for JavaScript, flattened so a batch crosses the boundary as one array.
#[napi(object)]
pub struct ClusterEvent {
    /// internal | message | disconnect | exit | written | error
    pub kind: String,
    pub worker: u32,
    pub act: Option<String>,
    /// A JSON-mode frame.
    pub text: Option<String>,
    /// An advanced-mode frame.
    pub bytes: Option<Buffer>,
    /// A descriptor that came with a message; JavaScript now owns it.
    pub fd: Option<i32>,
    pub handle_type: Option<String>,
    pub code: Option<i32>,
    pub signal: Option<String>,
    pub write_ids: Option<Vec<f64>>,
    pub message: Option<String>,
    /// For `open`: the server that needs a listener.
    pub server: Option<u32>,
}

impl ClusterEvent {
    fn new(kind: &str, worker: u32) -> ClusterEvent {
        ClusterEvent {
            kind: kind.to_string(),
            worker,
            act: None,
            text: None,
            bytes: None,
            fd: None,
            handle_type: None,
            code: None,
            signal: None,
            write_ids: None,
            message: None,
            server: None,
        }
    }

    fn with_frame(mut self, frame: Vec<u8>, json: bool) -> ClusterEvent {
        if json {
            self.text = Some(
                String::from_utf8(frame)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            );
        } else {
            self.bytes = Some(frame.into());
        }
        self
    }
}

fn convert(event: Event, json_workers: &dyn Fn(u32) -> bool) -> ClusterEvent {
    match event {
        Event::Internal { worker, act, frame } => {
            let mut e =
                ClusterEvent::new("internal", worker).with_frame(frame, json_workers(worker));
            e.act = Some(act);
            e
        }
        Event::Message {
            worker,
            frame,
            handle,
        } => {
            let mut e =
                ClusterEvent::new("message", worker).with_frame(frame, json_workers(worker));
            if let Some(handle) = handle {
                e.fd = Some(handle.fd.into_raw_fd());
                e.handle_type = Some(handle.handle_type);
            }
            e
        }
        Event::Disconnect { worker } => ClusterEvent::new("disconnect", worker),
        Event::Exit { worker, exit } => {
            let mut e = ClusterEvent::new("exit", worker);
            e.code = exit.code;
            e.signal = exit.signal.map(str::to_string);
            e
        }
        Event::Written { worker, write_ids } => {
            let mut e = ClusterEvent::new("written", worker);
            e.write_ids = Some(write_ids.into_iter().map(|id| id as f64).collect());
            e
        }
        Event::OpenListener { server, request } => {
            let mut e = ClusterEvent::new("open", 0);
            e.server = Some(server);
            e.text = Some(request.to_string());
            e
        }
        Event::ProtocolError { worker, message } => {
            let mut e = ClusterEvent::new("error", worker);
            e.message = Some(message);
            e
        }
    }
}

type EventCallback =
    ThreadsafeFunction<Vec<ClusterEvent>, (), Vec<ClusterEvent>, Status, false, true>;

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
        let batch: Vec<ClusterEvent> = events
            .into_iter()
            .map(|e| convert(e, &|w| json.contains(&w)))
            .collect();
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

#[napi(object)]
pub struct SendResult {
    pub errno: i32,
    pub written: bool,
    pub queued_bytes: f64,
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
    pub fn new(on_events: Function<Vec<ClusterEvent>, ()>) -> Result<Self> {
        let callback = on_events
            .build_threadsafe_function::<Vec<ClusterEvent>>()
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
    pub fn send(&self, id: u32, frame: Buffer, fd: i32, write_id: f64) -> SendResult {
        let fd = (fd >= 0).then_some(fd);
        match self.primary.send(id, frame.to_vec(), fd, write_id as u64) {
            Ok(sent) => SendResult {
                errno: 0,
                written: sent.written,
                queued_bytes: sent.queued_bytes as f64,
            },
            Err(e) => SendResult {
                errno: errno(&e),
                written: false,
                queued_bytes: 0.0,
            },
        }
    }

    #[napi]
    pub fn send_string(&self, id: u32, frame: String, write_id: f64) -> SendResult {
        match self
            .primary
            .send(id, frame.into_bytes(), None, write_id as u64)
        {
            Ok(sent) => SendResult {
                errno: 0,
                written: sent.written,
                queued_bytes: sent.queued_bytes as f64,
            },
            Err(e) => SendResult {
                errno: errno(&e),
                written: false,
                queued_bytes: 0.0,
            },
        }
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

    #[napi]
    pub fn server_count(&self) -> u32 {
        self.primary.server_count() as u32
    }
}

/// Signal number by name (`SIGTERM` → 15), or -1.
#[napi]
pub fn signal_number(name: String) -> i32 {
    signals::number(&name).unwrap_or(-1)
}
