//! The reactor's side of the health watch (see `crate::health` for the decisions): it
//! takes heartbeats off the channels, counts the connections workers accept, samples
//! `/proc` when a sample is due (outside the state lock), acts on what the watch finds
//! (stop routing to an unresponsive worker, signal it, kill it), and answers `stats()`.

use super::{Event, Inner, Primary, State, READS_PER_WAKEUP};
use crate::health::{Finding, HealthSettings, MemoryMetric, RecycleReason};
use crate::procfs::{self, Sample};
use crate::scheduler::WorkerId;
use crate::signals;
use crate::supervisor::Millis;
use crate::sys;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::HashMap;
use std::os::fd::AsRawFd;

/// cpuPercent is measured over at least this long (CPU times come in 10 ms ticks).
const MIN_CPU_WINDOW_MS: Millis = 200;

/// Per worker: what `stats()` reports beyond a `/proc` reading.
#[derive(Debug)]
pub(super) struct Figures {
    started: Millis,
    /// Connections the primary handed it and it accepted: the one count of them.
    pub(super) connections: u64,
    /// The reading cpuPercent is measured from: (when, user + system µs).
    cpu_at: Option<(Millis, u64)>,
    cpu_percent: f64,
}

impl Figures {
    pub(super) fn new(now: Millis) -> Figures {
        Figures {
            started: now,
            connections: 0,
            cpu_at: None,
            cpu_percent: 0.0,
        }
    }

    /// The CPU share (100 = one core) since the previous reading at least
    /// `MIN_CPU_WINDOW_MS` old (the first: since the start); a reading sooner than that
    /// keeps the last figure.
    fn cpu_percent(&mut self, now: Millis, cpu_us: u64) -> f64 {
        let (at, before) = self.cpu_at.unwrap_or((self.started, 0));
        let elapsed = now.saturating_sub(at);
        if elapsed >= MIN_CPU_WINDOW_MS {
            self.cpu_percent = cpu_us.saturating_sub(before) as f64 / (elapsed as f64 * 10.0);
            self.cpu_at = Some((now, cpu_us));
        }
        self.cpu_percent
    }
}

/// `worker.stats()`'s figures from the core.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    pub pid: i32,
    pub uptime: Millis,
    pub sample: Sample,
    pub cpu_percent: f64,
    pub connections: u64,
    pub event_loop_delay: Option<f64>,
}

/// The primary's own figures for `cluster.stats()`.
#[derive(Debug, Clone)]
pub struct PrimaryStats {
    pub pid: i32,
    pub sample: Sample,
    pub cpu_percent: f64,
}

fn cpu_us(sample: &Sample) -> u64 {
    sample.user_us + sample.system_us
}

/// Samples the workers due (pid, with PSS) without the lock, then applies the readings.
pub(super) fn sample_and_apply(inner: &Inner, due: Vec<(WorkerId, i32, bool)>) {
    let samples: Vec<(WorkerId, i32, Sample)> = due
        .into_iter()
        .filter_map(|(id, pid, pss)| procfs::sample(pid, pss).ok().map(|s| (id, pid, s)))
        .collect();
    let now = inner.now();
    let mut st = inner.state.lock();
    for (id, pid, sample) in samples {
        st.apply_sample(id, pid, sample, now);
    }
    let events = std::mem::take(&mut st.events);
    if !events.is_empty() {
        inner.sink.deliver(events);
    }
}

impl State {
    pub(super) fn now(&self) -> Millis {
        self.origin.elapsed().as_millis() as Millis
    }

    pub(super) fn on_beat(&mut self, id: WorkerId, delay: Option<f64>) {
        let now = self.now();
        self.health.beat(id, now, delay);
    }

    /// Worker `id` accepted a connection the primary handed it: the one count of it,
    /// which `stats()`, recycling and `/metrics` (`Inner::connections`) all read.
    pub(super) fn on_accepted(&mut self, id: WorkerId) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        slot.figures.connections += 1;
        let connections = slot.figures.connections;
        let now = self.now();
        if let Some(finding) = self.health.connection(id, connections, now) {
            self.report(finding, now);
        }
    }

    /// Acts on the health deadlines that passed; returns the workers to sample now.
    pub(super) fn fire_health(&mut self, inner: &Inner) -> Vec<(WorkerId, i32, bool)> {
        let now = inner.now();
        if self.health.next_due().is_none_or(|at| at > now) {
            return Vec::new();
        }
        if self.health.settings().heartbeat.is_some() {
            // Beats may sit unread on channels the (busy) JavaScript thread watches: read
            // them before judging anyone.
            let on_loop: Vec<WorkerId> = self
                .workers
                .iter()
                .filter(|(_, slot)| slot.on_loop && slot.channel.is_some())
                .map(|(&id, _)| id)
                .collect();
            for id in on_loop {
                self.read_channel(id, READS_PER_WAKEUP);
            }
        }
        let workers = &self.workers;
        let connections = |id| {
            workers
                .get(&id)
                .map_or(0, |s: &super::WorkerSlot| s.figures.connections)
        };
        for finding in self.health.take_due(now, &connections) {
            self.act(finding, now);
        }
        let with_pss = self
            .health
            .settings()
            .memory
            .is_some_and(|m| m.metric == MemoryMetric::Pss);
        self.health
            .take_sample_due(now)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| {
                let slot = self.workers.get(&id).filter(|s| s.pidfd.is_some())?;
                Some((id, slot.pid, with_pss))
            })
            .collect()
    }

    /// The I/O thread's sleep, bounded by the next health deadline.
    pub(super) fn health_timeout(&self, inner: &Inner, timeout: i32) -> i32 {
        let Some(next) = self.health.next_due() else {
            return timeout;
        };
        let wait = next.saturating_sub(inner.now()).min(i32::MAX as Millis) as i32;
        if timeout < 0 {
            wait
        } else {
            timeout.min(wait)
        }
    }

    fn apply_sample(&mut self, id: WorkerId, pid: i32, sample: Sample, now: Millis) {
        let Some(slot) = self.workers.get_mut(&id).filter(|s| s.pid == pid) else {
            return;
        };
        slot.figures.cpu_percent(now, cpu_us(&sample));
        let Some(memory) = self.health.settings().memory else {
            return;
        };
        let value = match memory.metric {
            MemoryMetric::Rss => sample.rss,
            MemoryMetric::Pss => sample.pss.unwrap_or(sample.rss),
        };
        if let Some(Finding::Memory { limit, .. }) = self.health.memory_sample(id, value) {
            let pss = sample
                .pss
                .or_else(|| procfs::sample(pid, true).ok().and_then(|s| s.pss));
            self.events.push(Event::Health {
                worker: id,
                kind: "memory",
                detail: json!({ "rss": sample.rss, "pss": pss, "limit": limit }),
            });
        }
    }

    /// Sends `signal` to worker `id` if it is not reaped yet (its pid cannot be reused).
    fn signal_live(&self, id: WorkerId, signal: i32) {
        if let Some(slot) = self.workers.get(&id).filter(|s| s.pidfd.is_some()) {
            let _ = sys::kill(slot.pid, signal);
        }
    }

    fn act(&mut self, finding: Finding, now: Millis) {
        match finding {
            Finding::Unresponsive {
                worker,
                last_beat,
                delay,
            } => {
                // No more connections for it; what it was handed and did not take goes to
                // the others.
                if let Some(slot) = self.workers.get_mut(&worker) {
                    slot.leaving = true;
                }
                self.remove_worker_from_servers(worker);
                self.requeue_inflight(worker);
                let evidence = self
                    .health
                    .settings()
                    .heartbeat
                    .map_or(0, |hb| hb.evidence_signal);
                let signal = if evidence > 0 {
                    evidence
                } else {
                    libc::SIGKILL
                };
                self.signal_live(worker, signal);
                self.events.push(Event::Health {
                    worker,
                    kind: "unresponsive",
                    detail: json!({
                        "lastBeatAgo": last_beat.map(|t| now.saturating_sub(t)),
                        "eventLoopDelay": delay,
                        "signal": signals::name(signal),
                    }),
                });
            }
            Finding::Kill { worker } => self.signal_live(worker, libc::SIGKILL),
            other => self.report(other, now),
        }
    }

    fn report(&mut self, finding: Finding, _now: Millis) {
        if let Finding::Recycle {
            worker,
            reason,
            connections,
            uptime,
        } = finding
        {
            let reason = match reason {
                RecycleReason::Connections => "connections",
                RecycleReason::Uptime => "uptime",
            };
            self.events.push(Event::Health {
                worker,
                kind: "recycle",
                detail: json!({ "reason": reason, "connections": connections, "uptime": uptime }),
            });
        }
    }
}

impl crate::metrics::ConnectionCounts for Inner {
    fn connections(&self, per_worker: &mut HashMap<WorkerId, u64>) -> u64 {
        let st = self.state.lock();
        let mut total = st.departed_connections;
        for (&id, slot) in st.workers.iter() {
            *per_worker.entry(id).or_default() += slot.figures.connections;
            total += slot.figures.connections;
        }
        total
    }
}

/// The primary process's CPU reading cpuPercent is measured from.
static OWN_FIGURES: Mutex<Option<Figures>> = parking_lot::const_mutex(None);

impl Primary {
    /// Turns the health watch on or off; it applies to workers spawned afterwards.
    pub fn configure_health(&self, settings: HealthSettings) {
        let now = self.inner.now();
        self.inner.state.lock().health.configure(settings, now);
        sys::eventfd_signal(self.inner.wake.as_raw_fd());
    }

    /// Worker `id`'s figures now, read from `/proc` (None once it is reaped).
    pub fn stats(&self, id: WorkerId) -> Option<WorkerStats> {
        let pid = {
            let st = self.inner.state.lock();
            st.workers.get(&id).filter(|s| s.pidfd.is_some())?.pid
        };
        let sample = procfs::sample(pid, true).ok()?;
        let now = self.inner.now();
        let mut st = self.inner.state.lock();
        let event_loop_delay = st.health.delay(id);
        let slot = st.workers.get_mut(&id).filter(|s| s.pid == pid)?;
        Some(WorkerStats {
            pid,
            uptime: now.saturating_sub(slot.figures.started),
            cpu_percent: slot.figures.cpu_percent(now, cpu_us(&sample)),
            connections: slot.figures.connections,
            sample,
            event_loop_delay,
        })
    }

    /// This process's own figures.
    pub fn primary_stats(&self) -> Option<PrimaryStats> {
        let pid = std::process::id() as i32;
        let sample = procfs::sample(pid, true).ok()?;
        let now = self.inner.now();
        let mut own = OWN_FIGURES.lock();
        let figures = own.get_or_insert_with(|| Figures::new(0));
        Some(PrimaryStats {
            pid,
            cpu_percent: figures.cpu_percent(now, cpu_us(&sample)),
            sample,
        })
    }
}
