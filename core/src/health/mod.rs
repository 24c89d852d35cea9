//! Watching workers' health, as pure logic over a clock the caller passes in (the
//! reactor's milliseconds): heartbeat deadlines, the memory limit (two samples in a row
//! over it), and recycling after a number of connections or an uptime, each threshold
//! moved up by a random amount up to its jitter. The reactor's I/O thread owns one
//! `Health`, sleeps until `next_due`, samples `/proc` when told to and acts on the
//! findings, so a blocked JavaScript thread changes nothing; the tests drive it on a
//! fake clock. With nothing configured it watches nothing and sets no timer.

use crate::int_map::IntMap;
use crate::scheduler::WorkerId;
use crate::supervisor::{Millis, Random};

#[cfg(test)]
mod tests;

/// `heartbeat: { interval, timeout }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    pub interval: Millis,
    pub timeout: Millis,
    /// Sent first to an unresponsive worker so it leaves evidence of where it was stuck
    /// (0: none); SIGKILL follows `grace` ms later.
    pub evidence_signal: i32,
    pub grace: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMetric {
    Rss,
    Pss,
}

/// `maxMemory` and `memoryMetric`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryLimit {
    pub limit: u64,
    pub metric: MemoryMetric,
}

/// `recycle: { connections, uptime, jitter }`; `jitter` is in each limit's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Recycle {
    pub connections: Option<u64>,
    pub uptime: Option<Millis>,
    pub jitter: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HealthSettings {
    pub heartbeat: Option<Heartbeat>,
    pub memory: Option<MemoryLimit>,
    pub sample_interval: Millis,
    pub recycle: Option<Recycle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecycleReason {
    Connections,
    Uptime,
}

/// What the watching found; each is reported once per worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// No beat for `timeout`: stop routing to it and send the evidence signal.
    Unresponsive {
        worker: WorkerId,
        /// When its last beat came, if it ever beat.
        last_beat: Option<Millis>,
        /// The event-loop delay its last beat reported (ms).
        delay: Option<f64>,
    },
    /// The evidence grace of an unresponsive worker is over: SIGKILL.
    Kill { worker: WorkerId },
    /// Over the memory limit for two samples in a row.
    Memory {
        worker: WorkerId,
        value: u64,
        limit: u64,
    },
    Recycle {
        worker: WorkerId,
        reason: RecycleReason,
        connections: u64,
        uptime: Millis,
    },
}

#[derive(Debug, Default)]
struct Watched {
    started: Millis,
    last_beat: Option<Millis>,
    delay: Option<f64>,
    unresponsive: bool,
    kill_at: Option<Millis>,
    over_limit: u32,
    memory_reported: bool,
    recycle_connections: Option<u64>,
    recycle_at: Option<Millis>,
    recycled: bool,
}

impl Watched {
    fn deadline(&self, heartbeat: Option<&Heartbeat>) -> Option<Millis> {
        let kill = self.kill_at;
        let beat = match heartbeat {
            Some(hb) if !self.unresponsive => {
                Some(self.last_beat.unwrap_or(self.started) + hb.timeout)
            }
            _ => None,
        };
        let recycle = self.recycle_at.filter(|_| !self.recycled);
        [kill, beat, recycle].into_iter().flatten().min()
    }
}

#[derive(Default)]
pub struct Health {
    settings: HealthSettings,
    workers: IntMap<WorkerId, Watched>,
    next_sample: Option<Millis>,
    /// The earliest deadline of any worker, or earlier (a beat only moves one later, so
    /// this is recomputed when it passes, not on every beat).
    next_check: Option<Millis>,
}

fn draw(jitter: u64, rng: &mut dyn Random) -> u64 {
    if jitter == 0 {
        return 0;
    }
    ((rng.unit() * (jitter as f64 + 1.0)) as u64).min(jitter)
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// New settings; workers already watched keep their thresholds, and get a heartbeat
    /// deadline from now if the heartbeat was just turned on.
    pub fn configure(&mut self, settings: HealthSettings, now: Millis) {
        let heartbeat_was_on = self.settings.heartbeat.is_some();
        self.settings = settings;
        if settings.heartbeat.is_some() && !heartbeat_was_on {
            for w in self.workers.values_mut() {
                w.last_beat.get_or_insert(now);
            }
        }
        self.next_sample = self
            .sampling()
            .then(|| now + settings.sample_interval.max(1));
        self.recompute_check();
    }

    /// Whether the memory limit needs periodic samples.
    pub fn sampling(&self) -> bool {
        self.settings.memory.is_some()
    }

    fn active(&self) -> bool {
        let s = &self.settings;
        s.heartbeat.is_some() || s.memory.is_some() || s.recycle.is_some()
    }

    /// A worker was spawned at `now`: its recycle thresholds are drawn here.
    pub fn watch(&mut self, worker: WorkerId, now: Millis, rng: &mut dyn Random) {
        if !self.active() {
            return;
        }
        let recycle = self.settings.recycle.unwrap_or_default();
        let watched = Watched {
            started: now,
            recycle_connections: recycle.connections.map(|n| n + draw(recycle.jitter, rng)),
            recycle_at: recycle
                .uptime
                .map(|ms| now + ms + draw(recycle.jitter, rng)),
            ..Watched::default()
        };
        let deadline = watched.deadline(self.settings.heartbeat.as_ref());
        self.workers.insert(worker, watched);
        self.next_check = match (self.next_check, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn forget(&mut self, worker: WorkerId) {
        self.workers.remove(&worker);
    }

    /// A heartbeat from `worker` carrying its event-loop delay (ms).
    pub fn beat(&mut self, worker: WorkerId, now: Millis, delay: Option<f64>) {
        if let Some(w) = self.workers.get_mut(&worker) {
            w.last_beat = Some(now);
            if delay.is_some() {
                w.delay = delay;
            }
        }
    }

    /// The last event-loop delay `worker` reported.
    pub fn delay(&self, worker: WorkerId) -> Option<f64> {
        self.workers.get(&worker).and_then(|w| w.delay)
    }

    /// The primary handed `worker` a connection it accepted, its `connections`th (the
    /// reactor counts them: `stats()` reports the same figure).
    pub fn connection(
        &mut self,
        worker: WorkerId,
        connections: u64,
        now: Millis,
    ) -> Option<Finding> {
        let w = self.workers.get_mut(&worker)?;
        let limit = w.recycle_connections?;
        if w.recycled || w.unresponsive || connections < limit {
            return None;
        }
        w.recycled = true;
        Some(Finding::Recycle {
            worker,
            reason: RecycleReason::Connections,
            connections,
            uptime: now.saturating_sub(w.started),
        })
    }

    /// A memory sample of `worker` (the metric's value in bytes).
    pub fn memory_sample(&mut self, worker: WorkerId, value: u64) -> Option<Finding> {
        let limit = self.settings.memory?.limit;
        let w = self.workers.get_mut(&worker)?;
        if value <= limit {
            w.over_limit = 0;
            return None;
        }
        w.over_limit += 1;
        if w.over_limit < 2 || w.memory_reported || w.unresponsive {
            return None;
        }
        w.memory_reported = true;
        Some(Finding::Memory {
            worker,
            value,
            limit,
        })
    }

    /// The workers to sample now, if a sample is due (and when the next one is).
    pub fn take_sample_due(&mut self, now: Millis) -> Option<Vec<WorkerId>> {
        let due = self.next_sample.filter(|&at| at <= now)?;
        let interval = self.settings.sample_interval.max(1);
        // Keep the cadence, but never queue up missed samples.
        let mut next = due + interval;
        if next <= now {
            next = now + interval;
        }
        self.next_sample = Some(next);
        Some(self.workers.keys().copied().collect())
    }

    /// When something is next due, if anything is.
    pub fn next_due(&self) -> Option<Millis> {
        match (self.next_sample, self.next_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Deadlines that passed by `now`: unresponsive workers, kills after their grace,
    /// recycling by uptime (reported with the worker's `connections` so far, as the
    /// reactor counts them).
    pub fn take_due(&mut self, now: Millis, connections: &dyn Fn(WorkerId) -> u64) -> Vec<Finding> {
        let mut found = Vec::new();
        if self.next_check.is_none_or(|at| at > now) {
            return found;
        }
        let heartbeat = self.settings.heartbeat;
        for (&worker, w) in self.workers.iter_mut() {
            if w.kill_at.is_some_and(|at| at <= now) {
                w.kill_at = None;
                found.push(Finding::Kill { worker });
            }
            if let Some(hb) = heartbeat {
                let last = w.last_beat.unwrap_or(w.started);
                if !w.unresponsive && last + hb.timeout <= now {
                    w.unresponsive = true;
                    w.kill_at = Some(now + hb.grace);
                    found.push(Finding::Unresponsive {
                        worker,
                        last_beat: w.last_beat,
                        delay: w.delay,
                    });
                }
            }
            if !w.recycled && !w.unresponsive && w.recycle_at.is_some_and(|at| at <= now) {
                w.recycled = true;
                found.push(Finding::Recycle {
                    worker,
                    reason: RecycleReason::Uptime,
                    connections: connections(worker),
                    uptime: now.saturating_sub(w.started),
                });
            }
        }
        self.recompute_check();
        found
    }

    fn recompute_check(&mut self) {
        let heartbeat = self.settings.heartbeat;
        self.next_check = self
            .workers
            .values()
            .filter_map(|w| w.deadline(heartbeat.as_ref()))
            .min();
    }
}
