//! The N-API binding: `#[napi]` items only. Each call maps onto the core's `Primary`;
//! failures come back as negative errno values, which the JavaScript facade turns into
//! Node's own error objects (`ErrnoException`, with `code`, `errno`, `syscall`).

use delivery::{Cell, JsSink, Pending};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use rust_cluster_core::errno::Errno;
use rust_cluster_core::supervisor::{Decision, KillReason};
use rust_cluster_core::{Primary, Serialization, SpawnOptions, StdioSpec};
use std::cell::RefCell;
use std::ffi::c_void;
use std::io;
use std::os::fd::IntoRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

mod delivery;
mod loop_watch;
mod settings;

use settings::PrimarySettings;

/// The negative errno JavaScript receives for an error (see `Errno`).
fn errno(e: &io::Error) -> i32 {
    Errno::from(e).negative()
}

/// A channel's serialization, as `child_process` names it.
#[napi(string_enum = "lowercase")]
pub enum SerializationName {
    Json,
    Advanced,
}

/// A stdio slot that is no descriptor number of the primary's.
#[napi(string_enum = "lowercase")]
pub enum StdioName {
    Inherit,
    Ignore,
    Pipe,
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
    /// By child descriptor: a name, or a descriptor of the primary's to give the child
    /// there (the channel's slot is ignored).
    pub stdio: Vec<Either<StdioName, i32>>,
    pub channel_fd: i32,
    pub serialization: SerializationName,
    /// "prefix" | "json": the worker's stdout and stderr (piped) are read by the core line
    /// by line and written to the primary's own (see the core's `logs`).
    pub log_format: Option<String>,
    /// Supervision's slot (sticky slot and reuseport socket a replacement inherits).
    pub slot: Option<u32>,
    /// CPUs to pin the worker to before exec (`cpuAffinity`).
    pub cpu_affinity: Option<Vec<u32>>,
}

/// A worker's (or the primary's) figures from `/proc`: CPU times in µs, memory in bytes.
#[napi(object)]
pub struct ProcStats {
    pub pid: i32,
    pub uptime: f64,
    pub cpu_user: f64,
    pub cpu_system: f64,
    pub cpu_percent: f64,
    pub rss: f64,
    pub pss: Option<f64>,
    pub fds: f64,
    pub threads: f64,
    pub connections: f64,
    pub event_loop_delay: Option<f64>,
}

fn proc_stats(
    pid: i32,
    uptime: u64,
    sample: &rust_cluster_core::procfs::Sample,
    cpu_percent: f64,
) -> ProcStats {
    ProcStats {
        pid,
        uptime: uptime as f64,
        cpu_user: sample.user_us as f64,
        cpu_system: sample.system_us as f64,
        cpu_percent,
        rss: sample.rss as f64,
        pss: sample.pss.map(|p| p as f64),
        fds: sample.fds as f64,
        threads: sample.threads as f64,
        connections: 0.0,
        event_loop_delay: None,
    }
}

/// The CPUs this process may run on (its affinity mask).
#[napi]
pub fn allowed_cpus() -> Vec<u32> {
    rust_cluster_core::procfs::allowed_cpus()
        .map(|cpus| cpus.into_iter().map(|c| c as u32).collect())
        .unwrap_or_default()
}

/// How many CPUs this process may really use: its mask and the cgroup v2 quota.
#[napi]
pub fn available_parallelism() -> u32 {
    rust_cluster_core::procfs::available_parallelism() as u32
}

#[napi(object)]
pub struct SpawnResult {
    pub pid: i32,
    /// 0 on success, else a negative errno.
    pub errno: i32,
    /// The primary's ends of piped stdio (-1 where not piped).
    pub stdio: Vec<i32>,
}

/// What the core decided about a slot whose worker exited unexpectedly.
#[napi(object)]
pub struct RestartDecision {
    pub give_up: bool,
    /// Restart: the attempt (from 1) and its delay in ms.
    pub attempt: u32,
    pub delay: f64,
    /// Give-up: how many unexpected exits within `window` ms.
    pub restarts: u32,
    pub window: f64,
}

fn kill_reason(startup: bool) -> KillReason {
    if startup {
        KillReason::StartupTimeout
    } else {
        KillReason::Deadline
    }
}

fn millis(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        ms.ceil() as u64
    } else {
        0
    }
}

/// A send's outcome (`sendFrame`, `sendString`), one number so the hot path builds no
/// object: a negative errno (the send failed), or the bytes still queued for the worker,
/// where 0 means the frame was written before the call returned (see the core's `Sent`).
/// As `writableLength` after Node's write: JavaScript's `send()` returns false past its
/// threshold, and runs the callback now when 0, else on the `written` event.
fn send_outcome(result: io::Result<rust_cluster_core::Sent>) -> f64 {
    match result {
        Ok(sent) => sent.queued_bytes as f64,
        Err(e) => errno(&e) as f64,
    }
}

fn stdio_spec(slot: &Either<StdioName, i32>) -> StdioSpec {
    match slot {
        Either::A(StdioName::Inherit) => StdioSpec::Inherit,
        Either::A(StdioName::Ignore) => StdioSpec::Ignore,
        Either::A(StdioName::Pipe) => StdioSpec::Pipe,
        Either::B(fd) => StdioSpec::Fd(*fd),
    }
}

/// The event contract: each kind's name and the names of the fields its cells `a` and
/// `b` fill, by kind number (see `delivery::EVENT_LAYOUT`), and the cells per event.
#[napi(object)]
pub struct EventLayout {
    pub cells_per_event: u32,
    pub kinds: Vec<String>,
    pub a: Vec<Option<String>>,
    pub b: Vec<Option<String>>,
}

#[napi]
pub fn event_layout() -> EventLayout {
    let layout = &delivery::EVENT_LAYOUT;
    let owned = |name: Option<&str>| name.map(str::to_string);
    EventLayout {
        cells_per_event: delivery::CELLS_PER_EVENT,
        kinds: layout.iter().map(|kind| kind.0.to_string()).collect(),
        a: layout.iter().map(|kind| owned(kind.1)).collect(),
        b: layout.iter().map(|kind| owned(kind.2)).collect(),
    }
}

/// Every primary of this process (one per JavaScript environment using the module), by
/// index. The per-message calls (`sendString`, `sendFrame`) are free functions taking this
/// index rather than methods: napi-rs tracks a borrow of `this` on every method call, which
/// cost more than the rest of a small send. A slot is emptied when its `NativePrimary` is
/// ended (see `Live::end`).
static PRIMARIES: parking_lot::RwLock<Vec<Option<Primary>>> = parking_lot::const_rwlock(Vec::new());

fn with_primary(index: u32, f: impl FnOnce(&Primary) -> f64) -> f64 {
    match PRIMARIES
        .read()
        .get(index as usize)
        .and_then(Option::as_ref)
    {
        Some(primary) => f(primary),
        None => Errno::EINVAL.negative() as f64,
    }
}

/// Queues a serialized frame for worker `id` of primary `primary`; `fd` (or -1) is a
/// descriptor to pass with it, which is duplicated (the caller keeps its own). Returns a
/// negative errno, or the bytes still queued for the worker: 0 when the frame is written.
#[napi]
pub fn send_frame(primary: u32, id: u32, frame: Buffer, fd: i32, write_id: f64) -> f64 {
    let fd = (fd >= 0).then_some(fd);
    with_primary(primary, |p| {
        send_outcome(p.send(id, frame.to_vec(), fd, write_id as u64))
    })
}

/// `sendFrame` for a JSON frame (no descriptor); the same outcome.
#[napi]
pub fn send_string(primary: u32, id: u32, frame: String, write_id: f64) -> f64 {
    with_primary(primary, |p| {
        send_outcome(p.send(id, frame.into_bytes(), None, write_id as u64))
    })
}

/// What a running primary holds. Taken exactly once, by whichever comes first: `shutdown`
/// (the facade has no worker left), the environment's teardown, or finalization (which
/// only finds it if the object became unreachable while running).
struct Live {
    primary: Primary,
    pending: Arc<Pending>,
    index: u32,
    watch: Option<loop_watch::LoopWatch>,
}

/// What the object and its environment's cleanup hook share.
struct Shared {
    live: RefCell<Option<Live>>,
    main_thread: bool,
}

/// As when the whole primary process ends (see the core's `watchdog`).
const GRACE: Duration = Duration::from_millis(rust_cluster_core::watchdog::GRACE_MS as u64);

impl Live {
    /// Frees everything: the registry slot, the I/O thread, the workers (ended and
    /// reaped), the loop watch; dropping the last handle to the core primary closes its
    /// descriptors and releases the wake-up function.
    fn end(self) {
        if let Some(slot) = PRIMARIES.write().get_mut(self.index as usize) {
            *slot = None;
        }
        self.primary.shutdown(GRACE);
        self.pending.clear();
        if let Some(watch) = self.watch {
            watch.close();
        }
    }
}

/// The environment is being torn down. A worker thread ending: end its primary, as
/// Node's would end with it. The main thread: the process is ending, which ends the
/// workers as it does Node's (their channels close; the core's `watchdog` SIGKILLs any
/// still running after the grace), so the exit is neither delayed nor changed.
unsafe extern "C" fn on_env_teardown(data: *mut c_void) {
    // SAFETY: `data` is the `Rc<Shared>` leaked by `NativePrimary::new`; it is reclaimed
    // only after this hook is removed, so it is live here.
    let shared = unsafe { &*data.cast::<Shared>() };
    let live = shared.live.borrow_mut().take();
    if shared.main_thread {
        return;
    }
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| live.map(Live::end))).is_err() {
        eprintln!("rust-cluster: internal error while shutting the primary down");
    }
}

/// Hands a worker's piped stdout and stderr to the core's line reader (they never reach
/// JavaScript).
fn read_logs(
    id: u32,
    pid: i32,
    stdio: &mut [Option<std::os::fd::OwnedFd>],
    format: rust_cluster_core::logs::Format,
) {
    use rust_cluster_core::logs::{self, Stream};
    for (slot, stream) in [(1, Stream::Stdout), (2, Stream::Stderr)] {
        if let Some(fd) = stdio.get_mut(slot).and_then(Option::take) {
            if let Err(e) = logs::attach(id, pid, stream, fd, format) {
                eprintln!("rust-cluster: cannot read worker {id}'s {stream:?}: {e}");
            }
        }
    }
}

/// Writes what worker `id` wrote so far (before its exit is reported).
#[napi]
pub fn logs_drain(id: u32) {
    rust_cluster_core::logs::drain(id);
}

#[napi(custom_finalize)]
pub struct NativePrimary {
    live: Rc<Shared>,
    index: u32,
    /// The pointer given to `napi_add_env_cleanup_hook`, while the hook is registered.
    teardown_hook: Option<*const Shared>,
}

impl NativePrimary {
    fn with<R>(&self, f: impl FnOnce(&Live) -> R) -> Option<R> {
        self.live.live.borrow().as_ref().map(f)
    }

    fn release(&mut self, env: &Env) {
        if let Some(hook) = self.teardown_hook.take() {
            // SAFETY: `hook` is the pointer registered with this env in `new`; removing a
            // hook that already ran is a no-op. Once removed, nothing else holds it.
            unsafe {
                sys::napi_remove_env_cleanup_hook(env.raw(), Some(on_env_teardown), hook as *mut _);
                drop(Rc::from_raw(hook));
            }
        }
        let live = self.live.live.borrow_mut().take();
        if let Some(live) = live {
            live.end();
        }
    }
}

impl ObjectFinalize for NativePrimary {
    fn finalize(mut self, env: Env) -> Result<()> {
        self.release(&env);
        Ok(())
    }
}

#[napi]
impl NativePrimary {
    /// `on_main_thread`: whether this environment is the process's main thread (see
    /// `on_env_teardown`).
    #[napi(constructor)]
    pub fn new(env: Env, on_events: Function<Vec<Cell>, ()>, on_main_thread: bool) -> Result<Self> {
        let pending = Arc::new(Pending::default());
        let sink = JsSink::new(&on_events, pending.clone())?;
        let primary = Primary::start(Box::new(sink))
            .map_err(|e| Error::from_reason(format!("cannot start the primary: {e}")))?;
        // Without Node's loop watching it, the I/O thread reads every channel instead.
        let watch = if std::env::var_os("RUST_CLUSTER_LOOP_POLL").is_none_or(|v| v != "0") {
            loop_watch::watch(&env, &on_events, primary.clone(), pending.clone()).ok()
        } else {
            None
        };
        primary.set_loop_polling(watch.is_some());
        let index = {
            let mut all = PRIMARIES.write();
            // Reuse a slot freed by a primary that ended: one process may start many.
            match all.iter().position(Option::is_none) {
                Some(free) => {
                    all[free] = Some(primary.clone());
                    free as u32
                }
                None => {
                    all.push(Some(primary.clone()));
                    all.len() as u32 - 1
                }
            }
        };
        let live = Rc::new(Shared {
            live: RefCell::new(Some(Live {
                primary,
                pending,
                index,
                watch,
            })),
            main_thread: on_main_thread,
        });
        let hook = Rc::into_raw(live.clone());
        // SAFETY: `hook` stays valid until `release` removes the hook and reclaims it.
        let status = unsafe {
            sys::napi_add_env_cleanup_hook(env.raw(), Some(on_env_teardown), hook as *mut _)
        };
        let teardown_hook = if status == sys::Status::napi_ok {
            Some(hook)
        } else {
            // SAFETY: not registered, so ours again.
            drop(unsafe { Rc::from_raw(hook) });
            None
        };
        Ok(NativePrimary {
            live,
            index,
            teardown_hook,
        })
    }

    /// Ends this primary now (the facade calls it once no worker is alive): nothing of it
    /// is left, no thread, descriptor, open handle or registry slot. Idempotent.
    #[napi]
    pub fn shutdown(&mut self, env: Env) {
        self.release(&env);
    }

    /// This primary's index, for `sendFrame` and `sendString`.
    #[napi(getter)]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Applies the settings present in `settings` (see src/settings.rs); all or, when one
    /// is refused (a JavaScript error as Node's: `ERR_OUT_OF_RANGE`, ...), none.
    #[napi]
    pub fn configure(&self, env: Env, settings: PrimarySettings) -> Result<()> {
        match settings.check() {
            Ok(checked) => {
                self.with(|live| checked.apply(&live.primary));
                Ok(())
            }
            Err(refused) => refused.throw(&env),
        }
    }

    #[napi]
    pub fn spawn(&self, req: SpawnRequest) -> SpawnResult {
        let mode = match req.serialization {
            SerializationName::Json => Serialization::Json,
            SerializationName::Advanced => Serialization::Advanced,
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
            stdio: req.stdio.iter().map(stdio_spec).collect(),
            channel_fd: req.channel_fd,
            cpu_affinity: req
                .cpu_affinity
                .map(|cpus| cpus.into_iter().map(|c| c as usize).collect()),
        };
        let spawned = self.with(|live| live.primary.spawn_in_slot(req.id, options, mode, req.slot));
        let log_format = req
            .log_format
            .as_deref()
            .and_then(rust_cluster_core::logs::Format::parse);
        match spawned.unwrap_or_else(|| Err(Errno::ECANCELED.io_error())) {
            Ok((pid, mut stdio)) => {
                if let Some(format) = log_format {
                    read_logs(req.id, pid, &mut stdio, format);
                }
                SpawnResult {
                    pid,
                    errno: 0,
                    stdio: stdio
                        .into_iter()
                        .map(|fd| fd.map_or(-1, |fd| fd.into_raw_fd()))
                        .collect(),
                }
            }
            Err(e) => SpawnResult {
                pid: 0,
                errno: errno(&e),
                stdio: vec![],
            },
        }
    }

    /// The listener an `open` event asked for is listening on `fd` (duplicated).
    #[napi]
    pub fn listener_opened(&self, server: u32, fd: i32) {
        self.with(|live| live.primary.listener_opened(server, fd));
    }

    /// Opening it failed with `errno` (negative).
    #[napi]
    pub fn listener_failed(&self, server: u32, errno: i32) {
        self.with(|live| {
            live.primary
                .listener_failed(server, Errno::from_negative(errno))
        });
    }

    #[napi]
    pub fn disconnect_worker(&self, id: u32) {
        self.with(|live| live.primary.disconnect_worker(id));
    }

    /// No new connection for worker `id` (a graceful stop begins).
    #[napi]
    pub fn stop_routing(&self, id: u32) {
        self.with(|live| live.primary.stop_routing(id));
    }

    #[napi]
    pub fn close_channel(&self, id: u32) {
        self.with(|live| live.primary.close_channel(id));
    }

    /// 0, or a negative errno (ESRCH when the worker is already gone).
    #[napi]
    pub fn kill(&self, id: u32, signal: i32) -> i32 {
        match self.with(|live| live.primary.kill(id, signal)) {
            Some(Ok(())) => 0,
            Some(Err(e)) => errno(&e),
            None => Errno::ESRCH.negative(),
        }
    }

    #[napi]
    pub fn worker_ready(&self, id: u32) {
        self.with(|live| live.primary.worker_ready(id));
    }

    #[napi]
    pub fn slot_started(&self, slot: u32) {
        self.with(|live| live.primary.slot_started(slot));
    }

    /// Restart (a `restart` timer event follows after the delay) or give up; undefined
    /// without a restart policy.
    #[napi]
    pub fn slot_exited(&self, slot: u32) -> Option<RestartDecision> {
        let decision = self.with(|live| live.primary.slot_exited(slot)).flatten();
        decision.map(|decision| match decision {
            Decision::Restart { attempt, delay } => RestartDecision {
                give_up: false,
                attempt,
                delay: delay as f64,
                restarts: 0,
                window: 0.0,
            },
            Decision::GiveUp { restarts, window } => RestartDecision {
                give_up: true,
                attempt: 0,
                delay: 0.0,
                restarts,
                window: window as f64,
            },
        })
    }

    #[napi]
    pub fn forget_slot(&self, slot: u32) {
        self.with(|live| live.primary.forget_slot(slot));
    }

    #[napi]
    pub fn cancel_restarts(&self) {
        self.with(|live| live.primary.cancel_restarts());
    }

    /// Kills worker `id` with `signal` in `ms` from the I/O thread; `startup`: the kill
    /// is its startup timeout (a `startupTimeout` timer event says so).
    #[napi]
    pub fn kill_after(&self, id: u32, ms: f64, signal: i32, startup: bool) {
        self.with(|live| {
            live.primary
                .kill_after(id, millis(ms), signal, kill_reason(startup))
        });
    }

    #[napi]
    pub fn cancel_kill(&self, id: u32, startup: bool) {
        self.with(|live| live.primary.cancel_kill(id, kill_reason(startup)));
    }

    /// Worker `id`'s figures now; undefined once it is reaped.
    #[napi]
    pub fn worker_stats(&self, id: u32) -> Option<ProcStats> {
        let stats = self.with(|live| live.primary.stats(id)).flatten();
        stats.map(|s| ProcStats {
            connections: s.connections as f64,
            event_loop_delay: s.event_loop_delay,
            ..proc_stats(s.pid, s.uptime, &s.sample, s.cpu_percent)
        })
    }

    /// The primary's own figures (uptime is the facade's).
    #[napi]
    pub fn primary_stats(&self) -> Option<ProcStats> {
        let stats = self.with(|live| live.primary.primary_stats()).flatten();
        stats.map(|s| proc_stats(s.pid, 0, &s.sample, s.cpu_percent))
    }
}

/// Adopts the sockets systemd passed to this process (`LISTEN_PID`, `LISTEN_FDS`,
/// `LISTEN_FDNAMES`, as read by the facade, which then removes them from the environment
/// workers get): once per process; returns how many were adopted.
#[napi]
pub fn adopt_listen_fds(
    listen_pid: Option<String>,
    listen_fds: Option<String>,
    fd_names: Option<String>,
) -> u32 {
    let passed = rust_cluster_core::activation::parse(
        listen_pid.as_deref(),
        listen_fds.as_deref(),
        fd_names.as_deref(),
        std::process::id(),
    );
    rust_cluster_core::activation::adopt(passed) as u32
}

/// Connects the process's sd_notify socket (`NOTIFY_SOCKET`'s value) and, when systemd
/// asks this process for a watchdog (`WATCHDOG_USEC`, `WATCHDOG_PID`), starts pinging it
/// while `notifyHealthy(true)`. 0, or a negative errno.
#[napi]
pub fn notify_connect(
    notify_socket: String,
    watchdog_usec: Option<String>,
    watchdog_pid: Option<String>,
) -> i32 {
    use rust_cluster_core::notify;
    let interval = notify::watchdog_interval(
        watchdog_usec.as_deref(),
        watchdog_pid.as_deref(),
        std::process::id(),
    );
    match notify::connect(&notify_socket, interval) {
        Ok(()) => 0,
        Err(e) => errno(&e),
    }
}

/// Sends one sd_notify message (`READY=1`, `STATUS=...`); `RELOADING=1` gets the
/// monotonic clock beside it. 0, or a negative errno.
#[napi]
pub fn notify(state: String) -> i32 {
    use rust_cluster_core::notify;
    let state = if state == "RELOADING=1" {
        notify::reloading_message()
    } else {
        state
    };
    match notify::send(&state) {
        Ok(()) => 0,
        Err(e) => errno(&e),
    }
}

/// Whether the watchdog keeps pinging.
#[napi]
pub fn notify_healthy(healthy: bool) {
    rust_cluster_core::notify::set_healthy(healthy);
}

#[napi(object)]
pub struct MetricsStarted {
    /// 0, or a negative errno (the bind failed).
    pub errno: i32,
    pub address: String,
    pub port: u32,
}

/// Starts the process's metrics endpoint (see the core's `metrics`); `on_scrape(id)` asks
/// for the workers' metrics of scrape `id`, answered with `metricsAnswer`. The function is
/// weak: the endpoint never keeps the event loop alive.
#[napi]
pub fn metrics_start(
    host: String,
    port: u32,
    path: String,
    on_scrape: Function<f64, ()>,
) -> Result<MetricsStarted> {
    use napi::threadsafe_function::ThreadsafeFunctionCallMode;
    let failed = |errno: i32| MetricsStarted {
        errno,
        address: host.clone(),
        port,
    };
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return Ok(failed(Errno::EINVAL.negative()));
    };
    let Ok(port16) = u16::try_from(port) else {
        return Ok(failed(Errno::EINVAL.negative()));
    };
    let ask = on_scrape
        .build_threadsafe_function::<f64>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    let ask_js: rust_cluster_core::metrics::AskJs = Box::new(move |id| {
        ask.call(id as f64, ThreadsafeFunctionCallMode::NonBlocking);
    });
    match rust_cluster_core::metrics::start(std::net::SocketAddr::new(ip, port16), path, ask_js) {
        Ok(addr) => Ok(MetricsStarted {
            errno: 0,
            address: addr.ip().to_string(),
            port: addr.port() as u32,
        }),
        Err(e) => Ok(failed(errno(&e))),
    }
}

/// The workers' metrics of scrape `id`, as text (ignored if the scrape went out without them).
#[napi]
pub fn metrics_answer(id: f64, text: String) {
    rust_cluster_core::metrics::answer(id as u64, text);
}

/// A worker's facts as the facade knows them (set when forked, and on every change).
#[napi]
pub fn metrics_worker(id: u32, pid: i32, ready: bool, restarts: u32) {
    rust_cluster_core::metrics::update_or_insert(id, pid, ready, restarts as u64);
}

#[napi]
pub fn metrics_worker_loop_delay(id: u32, seconds: f64) {
    rust_cluster_core::metrics::update_worker(id, |w| w.loop_delay_seconds = Some(seconds));
}

/// The worker exited: its series end.
#[napi]
pub fn metrics_worker_gone(id: u32) {
    rust_cluster_core::metrics::remove_worker(id);
}

#[napi]
pub fn metrics_restart() {
    rust_cluster_core::metrics::count_restart();
}

/// `/readyz`: ready once `min_ready` workers are (every worker when absent); not ready
/// once `stopping`.
#[napi]
pub fn metrics_readiness(min_ready: Option<u32>, stopping: bool) {
    rust_cluster_core::metrics::set_readiness(min_ready, stopping);
}

#[napi(object)]
pub struct PeerCredentials {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// Who is at the other end of the connected Unix socket `fd` (SO_PEERCRED), or null.
#[napi]
pub fn peer_credentials(fd: i32) -> Option<PeerCredentials> {
    rust_cluster_core::sys::peer_credentials(fd)
        .ok()
        .map(|(pid, uid, gid)| PeerCredentials { pid, uid, gid })
}
