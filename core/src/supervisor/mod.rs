//! Supervision's decisions and timers, as pure logic over a clock the caller passes in
//! (milliseconds on any monotonic scale): restart backoff with jitter, the sliding restart
//! window, the `stableAfter` reset, and deadlines (kill worker W at time T). The reactor's
//! I/O thread owns one `Supervisor` and sleeps until `next_due`, so a deadline fires even
//! while JavaScript is busy; the tests drive it on a fake clock.

use crate::int_map::IntMap;
use crate::scheduler::WorkerId;
use std::collections::{BTreeMap, VecDeque};

#[cfg(test)]
mod tests;

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// A worker's place in the cluster: a replacement takes its predecessor's slot (its env,
/// its sticky clients, its reuseport socket, and its restart history).
pub type Slot = u32;

/// Uniform draws for jitter, injected so tests are deterministic.
pub trait Random {
    /// A value in [0, 1).
    fn unit(&mut self) -> f64;
}

/// `restart: { delay, maxDelay, factor, jitter, stableAfter, maxRestarts, window }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    pub delay: f64,
    pub max_delay: f64,
    pub factor: f64,
    /// 0 to 1: each delay is drawn from [d·(1−jitter), d].
    pub jitter: f64,
    /// A worker that ran this long resets its slot's backoff.
    pub stable_after: Millis,
    /// More unexpected exits than this within `window`: the slot gives up.
    pub max_restarts: u32,
    pub window: Millis,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            delay: 100.0,
            max_delay: 10_000.0,
            factor: 2.0,
            jitter: 0.0,
            stable_after: 30_000,
            max_restarts: 10,
            window: 60_000,
        }
    }
}

impl RestartPolicy {
    /// The delay after `n` consecutive unexpected exits before this one, before jitter:
    /// `delay × factor^n`, capped at `max_delay`.
    pub fn backoff(&self, n: u32) -> f64 {
        let exponent = i32::try_from(n).unwrap_or(i32::MAX);
        (self.delay * self.factor.powi(exponent)).min(self.max_delay)
    }

    fn jittered(&self, d: f64, rng: &mut dyn Random) -> f64 {
        if self.jitter <= 0.0 {
            return d;
        }
        d * (1.0 - self.jitter) + rng.unit() * d * self.jitter
    }
}

/// What to do about a slot whose worker exited unexpectedly.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Fork a replacement after `delay` ms; `attempt` counts from 1 since the slot was
    /// last stable.
    Restart { attempt: u32, delay: Millis },
    /// Too many unexpected exits: `restarts` of them within `window` ms.
    GiveUp { restarts: u32, window: Millis },
}

/// Why the supervisor kills a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// `disconnect({ timeout })` and its relatives: the stop's deadline passed.
    Deadline,
    /// Not ready within `startupTimeout`.
    StartupTimeout,
}

/// A timer that came due.
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    /// Fork the replacement for this slot now.
    Restart { slot: Slot },
    Kill {
        worker: WorkerId,
        signal: i32,
        reason: KillReason,
    },
}

#[derive(Debug, Default)]
struct SlotHistory {
    /// Unexpected exits since the slot was last stable (the backoff exponent).
    consecutive: u32,
    /// When the slot's unexpected exits happened, oldest first, within the window.
    exits: VecDeque<Millis>,
    /// When the slot's current worker started.
    started: Millis,
}

#[derive(Default)]
pub struct Supervisor {
    policy: Option<RestartPolicy>,
    slots: IntMap<Slot, SlotHistory>,
    /// By (due time, insertion order): the earliest first, ties in the order they were set.
    timers: BTreeMap<(Millis, u64), Due>,
    next_timer: u64,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns restarts on (or off, with None).
    pub fn set_policy(&mut self, policy: Option<RestartPolicy>) {
        self.policy = policy;
    }

    pub fn policy(&self) -> Option<&RestartPolicy> {
        self.policy.as_ref()
    }

    /// A worker of `slot` started at `now`.
    pub fn started(&mut self, slot: Slot, now: Millis) {
        self.slots.entry(slot).or_default().started = now;
    }

    /// The worker of `slot` exited unexpectedly at `now`. Without a restart policy there
    /// is nothing to decide. A restart's timer is set here (see `take_due`).
    pub fn exited(&mut self, slot: Slot, now: Millis, rng: &mut dyn Random) -> Option<Decision> {
        let policy = self.policy.clone()?;
        let history = self.slots.entry(slot).or_default();
        if now.saturating_sub(history.started) >= policy.stable_after {
            history.consecutive = 0;
        }
        history.exits.push_back(now);
        while history
            .exits
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= policy.window)
        {
            history.exits.pop_front();
        }
        let in_window = history.exits.len() as u32;
        if in_window > policy.max_restarts {
            // Gone for good: a worker forked into this slot later starts afresh.
            self.slots.remove(&slot);
            return Some(Decision::GiveUp {
                restarts: in_window,
                window: policy.window,
            });
        }
        let n = history.consecutive;
        history.consecutive = n.saturating_add(1);
        let delay = policy.jittered(policy.backoff(n), rng).round().max(0.0) as Millis;
        self.set_timer(now + delay, Due::Restart { slot });
        Some(Decision::Restart {
            attempt: n + 1,
            delay,
        })
    }

    /// The slot is no longer kept (scaled down, or its worker stopped on purpose).
    pub fn forget_slot(&mut self, slot: Slot) {
        self.slots.remove(&slot);
        self.timers
            .retain(|_, due| !matches!(due, Due::Restart { slot: s } if *s == slot));
    }

    /// Drops every pending restart (shutdown, or restarts turned off).
    pub fn cancel_restarts(&mut self) {
        self.timers
            .retain(|_, due| !matches!(due, Due::Restart { .. }));
    }

    pub fn pending_restarts(&self) -> usize {
        self.timers
            .values()
            .filter(|due| matches!(due, Due::Restart { .. }))
            .count()
    }

    /// Kill `worker` with `signal` at `at`, unless cancelled first. A second deadline of
    /// the same reason replaces the first only if it is earlier.
    pub fn kill_at(&mut self, worker: WorkerId, at: Millis, signal: i32, reason: KillReason) {
        let existing = self.timers.iter().find_map(|(&key, due)| match due {
            Due::Kill {
                worker: w,
                reason: r,
                ..
            } if *w == worker && *r == reason => Some(key),
            _ => None,
        });
        if let Some(key) = existing {
            if key.0 <= at {
                return;
            }
            self.timers.remove(&key);
        }
        self.set_timer(
            at,
            Due::Kill {
                worker,
                signal,
                reason,
            },
        );
    }

    /// Cancels `worker`'s kill timers of `reason` (all of them with None: it exited).
    pub fn cancel_kill(&mut self, worker: WorkerId, reason: Option<KillReason>) {
        self.timers.retain(|_, due| match due {
            Due::Kill {
                worker: w,
                reason: r,
                ..
            } => *w != worker || reason.is_some_and(|reason| reason != *r),
            _ => true,
        });
    }

    /// When the earliest timer is due, if any.
    pub fn next_due(&self) -> Option<Millis> {
        self.timers.keys().next().map(|&(at, _)| at)
    }

    /// Removes and returns every timer due at `now`, earliest first.
    pub fn take_due(&mut self, now: Millis) -> Vec<Due> {
        let later = self.timers.split_off(&(now + 1, 0));
        std::mem::replace(&mut self.timers, later)
            .into_values()
            .collect()
    }

    fn set_timer(&mut self, at: Millis, due: Due) {
        self.next_timer += 1;
        self.timers.insert((at, self.next_timer), due);
    }
}

/// The jitter source of the running primary: xorshift64* seeded from the clock and pid
/// (nothing here needs to be unpredictable, only spread).
pub struct XorShift(u64);

impl XorShift {
    pub fn seeded() -> XorShift {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        XorShift((nanos ^ ((std::process::id() as u64) << 32)) | 1)
    }
}

impl Random for XorShift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
