//! The primary's HTTP endpoint for Prometheus and Kubernetes, on threads of its own so it
//! answers while the JavaScript thread is busy: `/metrics` (text format 0.0.4: per worker,
//! labelled `worker` and `pid`, and cluster totals), `/healthz` (200 while the primary
//! runs) and `/readyz` (200 once enough workers are ready, 503 from the start of a
//! shutdown).
//!
//! What only JavaScript knows (readiness, restarts, the workers' own prom-client metrics)
//! the facade reports here; CPU time and memory are read from /proc at each scrape; the
//! connections the primary handed each worker are read at each scrape from the reactors'
//! own count (`ConnectionCounts`: the figure `stats()` reports and recycling counts), so
//! the handoff path does nothing for metrics. The workers'
//! metrics are asked of JavaScript at each scrape and waited for at most `JS_DEADLINE`:
//! the answer goes out without them if JavaScript is late.
//!
//! The server is deliberately small: GET and HEAD only, one request per connection
//! (`Connection: close`), requests up to `MAX_REQUEST` bytes, read and write timeouts, and
//! at most `MAX_IN_FLIGHT` connections at once (more are answered 503 at once).

use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long a scrape waits for the workers' metrics from JavaScript (which itself gives
/// the workers less): Prometheus's default scrape timeout is 1 s.
pub const JS_DEADLINE: Duration = Duration::from_millis(700);
const MAX_REQUEST: usize = 8192;
const MAX_IN_FLIGHT: usize = 16;
const IO_TIMEOUT: Duration = Duration::from_secs(2);
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the facade knows of a worker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerInfo {
    pub pid: i32,
    pub ready: bool,
    /// The restart attempt this worker is (0: not a restart), supervision's count.
    pub restarts: u64,
    /// The worker's event-loop delay (mean since the previous report), when known.
    pub loop_delay_seconds: Option<f64>,
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcStats {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

#[derive(Default)]
struct Cluster {
    workers: BTreeMap<u32, WorkerInfo>,
    restarts_total: u64,
    /// `/readyz` needs this many ready workers; None: every worker.
    min_ready: Option<u32>,
    stopping: bool,
    /// Answers from JavaScript by scrape id.
    answers: HashMap<u64, String>,
    next_scrape: u64,
}

/// Asks JavaScript for the workers' metrics of scrape `id` (answered with `answer`).
pub type AskJs = Box<dyn Fn(u64) + Send + Sync>;

struct Endpoint {
    path: String,
    ask_js: AskJs,
}

static CLUSTER: Mutex<Option<Cluster>> = Mutex::new(None);
static ANSWERED: Condvar = Condvar::new();
static BOUND: Mutex<Option<SocketAddr>> = Mutex::new(None);

fn with_cluster<R>(f: impl FnOnce(&mut Cluster) -> R) -> R {
    let mut guard = CLUSTER.lock();
    f(guard.get_or_insert_with(Cluster::default))
}

/// Starts the endpoint on `addr` (once per process: later calls return where the first
/// listens). Returns the bound address.
pub fn start(addr: SocketAddr, path: String, ask_js: AskJs) -> io::Result<SocketAddr> {
    let mut bound = BOUND.lock();
    if let Some(addr) = *bound {
        return Ok(addr);
    }
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let endpoint = Arc::new(Endpoint { path, ask_js });
    std::thread::Builder::new()
        .name("rust-cluster-metrics".into())
        .spawn(move || accept_loop(listener, endpoint))?;
    *bound = Some(local);
    Ok(local)
}

fn accept_loop(listener: TcpListener, endpoint: Arc<Endpoint>) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
            let _ = respond(&mut conn, 503, "text/plain", b"busy\n", false);
            continue;
        }
        let endpoint = endpoint.clone();
        let count = in_flight.clone();
        let spawned = std::thread::Builder::new()
            .name("rust-cluster-metrics-conn".into())
            .spawn(move || {
                serve(conn, &endpoint);
                count.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Reads one request head: up to the blank line, at most `MAX_REQUEST` bytes.
fn read_head(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() >= MAX_REQUEST {
            return None;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

/// The method and path of a request line (`GET /metrics?x HTTP/1.1`).
pub fn parse_request_line(head: &[u8]) -> Option<(String, String)> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or("").to_string();
    Some((method, path))
}

fn serve(mut conn: TcpStream, endpoint: &Endpoint) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
    let Some(head) = read_head(&mut conn) else {
        let _ = respond(&mut conn, 400, "text/plain", b"bad request\n", false);
        return;
    };
    let Some((method, path)) = parse_request_line(&head) else {
        let _ = respond(&mut conn, 400, "text/plain", b"bad request\n", false);
        return;
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let _ = respond(&mut conn, 405, "text/plain", b"GET or HEAD\n", false);
        return;
    }
    let (status, content_type, body) = if path == endpoint.path {
        (200, CONTENT_TYPE, scrape(endpoint).into_bytes())
    } else if path == "/healthz" {
        (200, "text/plain", b"ok\n".to_vec())
    } else if path == "/readyz" {
        let (ready, why) = readiness();
        (
            if ready { 200 } else { 503 },
            "text/plain",
            why.into_bytes(),
        )
    } else {
        (404, "text/plain", b"not found\n".to_vec())
    };
    let _ = respond(&mut conn, status, content_type, &body, head_only);
}

fn respond(
    conn: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    if !head_only {
        conn.write_all(body)?;
    }
    conn.flush()?;
    let _ = conn.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// One scrape: asks JavaScript for the workers' own metrics (which also brings their
/// event-loop delays), waits for them at most `JS_DEADLINE`, then renders ours and
/// appends theirs.
fn scrape(endpoint: &Endpoint) -> String {
    let id = with_cluster(|c| {
        c.next_scrape += 1;
        c.next_scrape
    });
    (endpoint.ask_js)(id);
    let deadline = Instant::now() + JS_DEADLINE;
    let mut guard = CLUSTER.lock();
    let theirs = loop {
        let cluster = guard.get_or_insert_with(Cluster::default);
        if let Some(text) = cluster.answers.remove(&id) {
            break text;
        }
        if ANSWERED.wait_until(&mut guard, deadline).timed_out() {
            break guard
                .as_mut()
                .and_then(|c| c.answers.remove(&id))
                .unwrap_or_default();
        }
    };
    drop(guard);
    let mut ours = String::new();
    let (connections, connections_total) = connection_counts();
    let (workers, totals) = with_cluster(|c| (c.workers.clone(), totals_of(c, connections_total)));
    render(&mut ours, &workers, &connections, &totals, &proc_stats);
    if !theirs.is_empty() {
        ours.push_str(&theirs);
        if !ours.ends_with('\n') {
            ours.push('\n');
        }
    }
    ours
}

/// JavaScript's answer to scrape `id` (ignored once the scrape went out without it).
pub fn answer(id: u64, text: String) {
    with_cluster(|c| {
        if id + 16 > c.next_scrape && id <= c.next_scrape {
            c.answers.insert(id, text);
        }
        // Answers nobody waits for any more are dropped.
        let oldest = c.next_scrape.saturating_sub(16);
        c.answers.retain(|k, _| *k > oldest);
    });
    ANSWERED.notify_all();
}

pub struct Totals {
    pub connections: u64,
    pub restarts: u64,
    pub primary: Option<ProcStats>,
}

fn totals_of(c: &Cluster, connections: u64) -> Totals {
    Totals {
        connections,
        restarts: c.restarts_total,
        primary: proc_stats(std::process::id() as i32),
    }
}

fn readiness() -> (bool, String) {
    with_cluster(|c| {
        let ready = c.workers.values().filter(|w| w.ready).count() as u32;
        let alive = c.workers.len() as u32;
        let wanted = c.min_ready.unwrap_or(alive).max(1);
        if c.stopping {
            (false, "shutting down\n".into())
        } else if ready >= wanted {
            (true, format!("ready: {ready} of {alive} workers\n"))
        } else {
            (false, format!("not ready: {ready} of {wanted} workers\n"))
        }
    })
}

/// A worker was forked (or its facts changed).
pub fn set_worker(id: u32, info: WorkerInfo) {
    with_cluster(|c| {
        c.workers.insert(id, info);
    });
}

/// Sets a worker's pid, readiness and restarts (keeping what else is known of it).
pub fn update_or_insert(id: u32, pid: i32, ready: bool, restarts: u64) {
    with_cluster(|c| {
        let w = c.workers.entry(id).or_default();
        w.pid = pid;
        w.ready = ready;
        w.restarts = restarts;
    });
}

pub fn update_worker(id: u32, f: impl FnOnce(&mut WorkerInfo)) {
    with_cluster(|c| {
        if let Some(w) = c.workers.get_mut(&id) {
            f(w);
        }
    });
}

/// A worker exited: its series end.
pub fn remove_worker(id: u32) {
    with_cluster(|c| {
        c.workers.remove(&id);
    });
}

pub fn count_restart() {
    with_cluster(|c| c.restarts_total += 1);
}

/// `/readyz`'s threshold (None: every worker) and whether a shutdown began.
pub fn set_readiness(min_ready: Option<u32>, stopping: bool) {
    with_cluster(|c| {
        c.min_ready = min_ready;
        c.stopping = stopping;
    });
}

/// Where the connection counts come from: each primary (reactor) of this process, which
/// counts the connections it handed its workers once, on its own state.
pub trait ConnectionCounts: Send + Sync {
    /// Adds each of its live workers' counts to `per_worker` and returns its total, which
    /// includes the workers gone and never decreases.
    fn connections(&self, per_worker: &mut HashMap<u32, u64>) -> u64;
}

/// The primaries counting connections, and what the ended ones counted (so the cluster's
/// total stays monotonic when one ends). Locked only at a scrape, a primary's start and
/// its end; before a primary's state (never the other way round).
struct Sources {
    live: Vec<Weak<dyn ConnectionCounts>>,
    ended: u64,
}

static SOURCES: Mutex<Sources> = parking_lot::const_mutex(Sources::new());

impl Sources {
    const fn new() -> Sources {
        Sources {
            live: Vec::new(),
            ended: 0,
        }
    }

    fn add(&mut self, source: Weak<dyn ConnectionCounts>) {
        self.live.retain(|s| s.strong_count() > 0);
        self.live.push(source);
    }

    fn end(&mut self, source: &dyn ConnectionCounts) {
        let me = source as *const dyn ConnectionCounts as *const ();
        let Some(at) = self.live.iter().position(|s| s.as_ptr() as *const () == me) else {
            return;
        };
        self.live.swap_remove(at);
        self.ended += source.connections(&mut HashMap::new());
    }

    fn counts(&self) -> (HashMap<u32, u64>, u64) {
        let mut per_worker = HashMap::new();
        let mut total = self.ended;
        for source in self.live.iter().filter_map(Weak::upgrade) {
            total += source.connections(&mut per_worker);
        }
        (per_worker, total)
    }
}

/// A primary started: its counts are read at each scrape.
pub fn add_source(source: Weak<dyn ConnectionCounts>) {
    SOURCES.lock().add(source);
}

/// A primary ended (it hands out no more connections): its total is kept, its workers'
/// series end.
pub fn end_source(source: &dyn ConnectionCounts) {
    SOURCES.lock().end(source);
}

/// The connections handed each live worker, and the cluster's total (monotonic: the
/// workers and primaries gone included), read from every primary at once.
pub fn connection_counts() -> (HashMap<u32, u64>, u64) {
    SOURCES.lock().counts()
}

/// CPU seconds (user + system) and resident memory of `pid`, from /proc (the health
/// watch's sampler, `procfs`).
pub fn proc_stats(pid: i32) -> Option<ProcStats> {
    let sample = crate::procfs::sample(pid, false).ok()?;
    Some(ProcStats {
        cpu_seconds: (sample.user_us + sample.system_us) as f64 / 1e6,
        rss_bytes: sample.rss,
    })
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A float as Prometheus's text format writes it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// The core's series in text format 0.0.4.
///
/// `connections`: per worker, as `connection_counts` reads them; a worker listed but not
/// counted (reaped, its exit not yet reported) has no sample, as for its CPU time.
pub fn render(
    out: &mut String,
    workers: &BTreeMap<u32, WorkerInfo>,
    connections: &HashMap<u32, u64>,
    totals: &Totals,
    stats: &dyn Fn(i32) -> Option<ProcStats>,
) {
    let labels = |id: &u32, w: &WorkerInfo| format!("{{worker=\"{id}\",pid=\"{}\"}}", w.pid);
    let procs: BTreeMap<u32, Option<ProcStats>> =
        workers.iter().map(|(id, w)| (*id, stats(w.pid))).collect();
    type Series<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Box<dyn Fn(&u32, &WorkerInfo) -> Option<f64> + 'a>,
    );
    let per_worker: Vec<Series> = vec![
        (
            "rust_cluster_worker_up",
            "gauge",
            "1 while the worker process runs.",
            Box::new(|_, _| Some(1.0)),
        ),
        (
            "rust_cluster_worker_ready",
            "gauge",
            "1 once the worker is ready (listening).",
            Box::new(|_, w| Some(if w.ready { 1.0 } else { 0.0 })),
        ),
        (
            "rust_cluster_worker_cpu_seconds_total",
            "counter",
            "CPU time of the worker process (user and system), in seconds.",
            Box::new(|id, _| procs.get(id).copied().flatten().map(|p| p.cpu_seconds)),
        ),
        (
            "rust_cluster_worker_resident_memory_bytes",
            "gauge",
            "Resident memory of the worker process, in bytes.",
            Box::new(|id, _| procs.get(id).copied().flatten().map(|p| p.rss_bytes as f64)),
        ),
        (
            "rust_cluster_worker_connections_total",
            "counter",
            "Connections the primary accepted and handed to the worker (round-robin and sticky).",
            Box::new(|id, _| connections.get(id).map(|&n| n as f64)),
        ),
        (
            "rust_cluster_worker_restarts",
            "gauge",
            "Consecutive restarts of the worker's slot (the restart attempt it is; 0 for a first start).",
            Box::new(|_, w| Some(w.restarts as f64)),
        ),
        (
            "rust_cluster_worker_event_loop_delay_seconds",
            "gauge",
            "Mean event-loop delay of the worker since the previous scrape, in seconds.",
            Box::new(|_, w| w.loop_delay_seconds),
        ),
    ];
    for (name, kind, help, value) in &per_worker {
        family(out, name, kind, help);
        for (id, w) in workers {
            if let Some(v) = value(id, w) {
                let _ = writeln!(out, "{name}{} {}", labels(id, w), number(v));
            }
        }
    }
    let ready = workers.values().filter(|w| w.ready).count();
    family(
        out,
        "rust_cluster_workers",
        "gauge",
        "Worker processes running.",
    );
    let _ = writeln!(out, "rust_cluster_workers {}", workers.len());
    family(out, "rust_cluster_workers_ready", "gauge", "Workers ready.");
    let _ = writeln!(out, "rust_cluster_workers_ready {ready}");
    family(
        out,
        "rust_cluster_connections_total",
        "counter",
        "Connections the primary accepted and handed to workers.",
    );
    let _ = writeln!(out, "rust_cluster_connections_total {}", totals.connections);
    family(
        out,
        "rust_cluster_restarts_total",
        "counter",
        "Workers restarted.",
    );
    let _ = writeln!(out, "rust_cluster_restarts_total {}", totals.restarts);
    if let Some(p) = totals.primary {
        family(
            out,
            "rust_cluster_primary_cpu_seconds_total",
            "counter",
            "CPU time of the primary process, in seconds.",
        );
        let _ = writeln!(
            out,
            "rust_cluster_primary_cpu_seconds_total {}",
            number(p.cpu_seconds)
        );
        family(
            out,
            "rust_cluster_primary_resident_memory_bytes",
            "gauge",
            "Resident memory of the primary process, in bytes.",
        );
        let _ = writeln!(
            out,
            "rust_cluster_primary_resident_memory_bytes {}",
            p.rss_bytes
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(addr: SocketAddr, raw: &[u8]) -> String {
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = conn.write_all(raw);
        let mut out = String::new();
        let _ = conn.read_to_string(&mut out);
        out
    }

    /// The one endpoint of this test process (`start` is once per process).
    #[test]
    fn the_endpoint_answers_what_it_must_and_refuses_the_rest() {
        // JavaScript answers odd scrapes only; even ones go out without it.
        let ask: AskJs = Box::new(|id| {
            if id % 2 == 1 {
                std::thread::spawn(move || answer(id, format!("app_scrape {id}\n")));
            }
        });
        let addr = start("127.0.0.1:0".parse().unwrap(), "/m".into(), ask).unwrap();
        assert_eq!(
            start(
                "127.0.0.1:0".parse().unwrap(),
                "/x".into(),
                Box::new(|_| {})
            )
            .unwrap(),
            addr,
            "once per process"
        );
        let ok = request(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Connection: close\r\n") && ok.ends_with("ok\n"),
            "{ok}"
        );
        let first = request(addr, b"GET /m HTTP/1.1\r\n\r\n");
        assert!(first.contains(CONTENT_TYPE), "{first}");
        assert!(first.contains("\napp_scrape 1\n"), "{first}");
        assert!(first.contains("\nrust_cluster_workers "), "{first}");
        let second = request(addr, b"GET /m HTTP/1.1\r\n\r\n");
        assert!(!second.contains("app_scrape"), "{second}");
        assert!(second.contains("\nrust_cluster_workers "), "{second}");
        let head = request(addr, b"HEAD /m HTTP/1.1\r\n\r\n");
        assert!(
            head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
            "{head}"
        );
        let post = request(addr, b"POST /m HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(
            post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET, HEAD"),
            "{post}"
        );
        assert!(request(addr, b"hello\r\n\r\n").starts_with("HTTP/1.1 400"));
        let huge = vec![b'a'; MAX_REQUEST * 2];
        assert!(request(addr, &huge).starts_with("HTTP/1.1 400"));
        assert!(request(addr, b"GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        // Readiness: nobody yet; then one of two; a shutdown.
        assert!(request(addr, b"GET /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503"));
        update_or_insert(1, 1, true, 0);
        update_or_insert(2, 2, false, 0);
        assert!(request(addr, b"GET /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503"));
        set_readiness(Some(1), false);
        assert!(request(addr, b"GET /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200"));
        set_readiness(Some(1), true);
        assert!(request(addr, b"GET /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503"));
        remove_worker(1);
        remove_worker(2);
        set_readiness(None, false);
    }

    /// A primary's counts as the reactor keeps them: its live workers', and its total.
    struct FakePrimary(Mutex<(HashMap<u32, u64>, u64)>);

    impl ConnectionCounts for FakePrimary {
        fn connections(&self, per_worker: &mut HashMap<u32, u64>) -> u64 {
            let counts = self.0.lock();
            for (id, n) in &counts.0 {
                *per_worker.entry(*id).or_default() += n;
            }
            counts.1
        }
    }

    #[test]
    fn the_total_reads_every_primary_and_keeps_what_an_ended_one_counted() {
        let a = Arc::new(FakePrimary(Mutex::new((
            HashMap::from([(1, 2), (2, 3)]),
            5,
        ))));
        let b = Arc::new(FakePrimary(Mutex::new((HashMap::from([(1, 4)]), 10))));
        let mut sources = Sources::new();
        let weak_a: Weak<FakePrimary> = Arc::downgrade(&a);
        let weak_b: Weak<FakePrimary> = Arc::downgrade(&b);
        sources.add(weak_a);
        sources.add(weak_b);
        let (per_worker, total) = sources.counts();
        // Worker ids of two primaries add up, as one count of the process did.
        assert_eq!(per_worker, HashMap::from([(1, 6), (2, 3)]));
        assert_eq!(total, 15);
        // A's worker 2 leaves (its count is in A's departed total): only its series ends.
        *a.0.lock() = (HashMap::from([(1, 2)]), 5);
        assert_eq!(sources.counts(), (HashMap::from([(1, 6)]), 15));
        // B ends: what it counted stays in the total, its workers' series end; ending it
        // again changes nothing.
        sources.end(&*b);
        sources.end(&*b);
        assert_eq!(sources.counts(), (HashMap::from([(1, 2)]), 15));
        drop(b);
        a.0.lock().0.insert(3, 1);
        a.0.lock().1 += 1;
        assert_eq!(sources.counts().1, 16);
        // A source dropped without ending is pruned when another starts.
        let c = Arc::new(FakePrimary(Mutex::new((HashMap::new(), 0))));
        let weak_c: Weak<FakePrimary> = Arc::downgrade(&c);
        drop(a);
        sources.add(weak_c);
        assert_eq!(sources.live.len(), 1);
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(("GET".into(), "/metrics".into()))
        );
        assert_eq!(
            parse_request_line(b"HEAD /readyz HTTP/1.0\n\n"),
            Some(("HEAD".into(), "/readyz".into()))
        );
        assert_eq!(parse_request_line(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(parse_request_line(b"\xff\xfe HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse_request_line(b"GET / SPDY/3\r\n\r\n"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = proc_stats(std::process::id() as i32).unwrap();
        assert!(me.rss_bytes > 0 && me.cpu_seconds >= 0.0);
        assert!(proc_stats(i32::MAX).is_none());
    }

    #[test]
    fn rendering_labels_every_worker_series() {
        let mut workers = BTreeMap::new();
        workers.insert(
            1,
            WorkerInfo {
                pid: 100,
                ready: true,
                restarts: 2,
                loop_delay_seconds: Some(0.0125),
            },
        );
        workers.insert(
            2,
            WorkerInfo {
                pid: 200,
                ..Default::default()
            },
        );
        let totals = Totals {
            connections: 5,
            restarts: 2,
            primary: None,
        };
        let stats = |pid: i32| {
            Some(ProcStats {
                cpu_seconds: pid as f64 / 100.0,
                rss_bytes: pid as u64 * 1000,
            })
        };
        // Worker 2 is reaped, its exit not yet reported: no longer counted.
        let connections = HashMap::from([(1, 3)]);
        let mut out = String::new();
        render(&mut out, &workers, &connections, &totals, &stats);
        for line in [
            "# TYPE rust_cluster_worker_cpu_seconds_total counter",
            "rust_cluster_worker_up{worker=\"1\",pid=\"100\"} 1",
            "rust_cluster_worker_ready{worker=\"2\",pid=\"200\"} 0",
            "rust_cluster_worker_cpu_seconds_total{worker=\"2\",pid=\"200\"} 2",
            "rust_cluster_worker_resident_memory_bytes{worker=\"1\",pid=\"100\"} 100000",
            "rust_cluster_worker_restarts{worker=\"1\",pid=\"100\"} 2",
            "rust_cluster_worker_event_loop_delay_seconds{worker=\"1\",pid=\"100\"} 0.0125",
            "rust_cluster_workers 2",
            "rust_cluster_workers_ready 1",
            "rust_cluster_connections_total 5",
            "rust_cluster_worker_connections_total{worker=\"1\",pid=\"100\"} 3",
            "rust_cluster_restarts_total 2",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing from\n{out}");
        }
        // No delay known for worker 2: no sample, rather than a made-up one.
        assert!(!out.contains("rust_cluster_worker_event_loop_delay_seconds{worker=\"2\""));
        assert!(!out.contains("rust_cluster_worker_connections_total{worker=\"2\""));
    }
}
