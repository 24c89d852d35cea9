//! The primary's settings as they cross the binding: one typed object, `PrimarySettings`,
//! given whole to `NativePrimary::configure`. napi-rs refuses a value of the wrong type
//! (a string for a number, a policy name it does not know) before any of this runs;
//! `PrimarySettings::check` refuses a value of the right type the core cannot take, in one
//! place, and `SettingsError::throw` makes that a JavaScript error as Node's own
//! (`ERR_OUT_OF_RANGE`, `ERR_INVALID_ARG_VALUE`). Nothing is applied unless all of it is
//! good. The facade validates what users pass with Node's error classes first
//! (lib/primary.js, lib/supervision.js, lib/health.js): this is the boundary's net, which a
//! user never reaches.
//!
//! Every field is optional: absent (`undefined`) leaves that setting as it is, so the
//! facade gives a live primary only what changed and a new primary everything. A field
//! that is present is the whole setting (`restart` is every restart setting, or `null`
//! for no restarts; `health` is the whole health watch).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rust_cluster_core::health::{HealthSettings, Heartbeat, MemoryLimit, MemoryMetric, Recycle};
use rust_cluster_core::supervisor::RestartPolicy;
use rust_cluster_core::{Policy, Primary};
use std::fmt;

use crate::millis;

/// A scheduling policy, by the name lib/policies.js gives it; any other string is refused
/// at the boundary.
#[napi(string_enum = "lowercase")]
pub enum PolicyName {
    None,
    #[napi(value = "rr")]
    RoundRobin,
    Sticky,
    ReusePort,
}

/// What the memory limit measures.
#[napi(string_enum = "lowercase")]
pub enum MemoryMetricName {
    Rss,
    Pss,
}

/// `restart: { ... }` of `cluster.setupPrimary()`, validated by the facade (times in ms).
#[napi(object)]
pub struct RestartSettings {
    pub delay: f64,
    pub max_delay: f64,
    pub factor: f64,
    pub jitter: f64,
    pub stable_after: f64,
    /// An integer >= 0 (a count past `u32::MAX` is that many: no limit in practice).
    pub max_restarts: f64,
    pub window: f64,
}

/// The health keys of `cluster.setupPrimary()`, validated by the facade (lib/health.js).
/// All of heartbeat, memory limit and recycle absent: the watch is off.
#[napi(object)]
pub struct HealthOptions {
    /// Heartbeat interval and timeout (ms), both or neither.
    pub heartbeat_interval: Option<f64>,
    pub heartbeat_timeout: Option<f64>,
    /// Sent first to an unresponsive worker (0: none), SIGKILL `evidence_grace` ms later.
    pub evidence_signal: i32,
    pub evidence_grace: f64,
    /// Bytes, when the memory limit is on.
    pub max_memory: Option<f64>,
    pub memory_metric: MemoryMetricName,
    pub sample_interval: f64,
    pub recycle_connections: Option<f64>,
    pub recycle_uptime: Option<f64>,
    pub recycle_jitter: f64,
}

/// The settings a primary keeps: a field absent is left as it is, one present is that
/// whole setting (see src/settings.rs).
#[napi(object)]
pub struct PrimarySettings {
    pub policy: Option<PolicyName>,
    /// Key shared handles as this Node major version's primary does (the workers run it).
    pub node_major: Option<f64>,
    /// The largest frame a worker may send, in bytes (an integer >= 1); a worker that
    /// exceeds it is killed.
    pub max_frame_bytes: Option<f64>,
    /// Restarts with these settings, or `null`: none.
    pub restart: Option<Either<RestartSettings, Null>>,
    /// Workers spawned from then on get no connection before `workerReady`.
    pub readiness_gate: Option<bool>,
    /// The health watch, for workers spawned from then on.
    pub health: Option<HealthOptions>,
}

/// Why `PrimarySettings::check` refused a settings object.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingsError {
    /// A number outside what the core takes: `ERR_OUT_OF_RANGE`, a `RangeError`.
    OutOfRange {
        name: &'static str,
        range: &'static str,
        value: f64,
    },
    /// Values that do not go together: `ERR_INVALID_ARG_VALUE`, a `TypeError`.
    InvalidValue {
        name: &'static str,
        reason: &'static str,
        received: String,
    },
}

impl SettingsError {
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::OutOfRange { .. } => "ERR_OUT_OF_RANGE",
            SettingsError::InvalidValue { .. } => "ERR_INVALID_ARG_VALUE",
        }
    }

    /// Throws this as the JavaScript error Node would throw for it (class, code, message).
    pub fn throw(&self, env: &Env) -> Result<()> {
        let message = self.to_string();
        match self {
            SettingsError::OutOfRange { .. } => env.throw_range_error(&message, Some(self.code())),
            SettingsError::InvalidValue { .. } => env.throw_type_error(&message, Some(self.code())),
        }
    }
}

/// A number as JavaScript prints it.
fn js_number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        value.to_string()
    }
}

impl fmt::Display for SettingsError {
    /// Node's messages for these codes (lib/internal/errors.js).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::OutOfRange { name, range, value } => write!(
                f,
                "The value of \"{name}\" is out of range. It must be {range}. Received {}",
                js_number(*value)
            ),
            SettingsError::InvalidValue {
                name,
                reason,
                received,
            } => write!(f, "The property '{name}' {reason}. Received {received}"),
        }
    }
}

fn out_of_range(name: &'static str, range: &'static str, value: f64) -> SettingsError {
    SettingsError::OutOfRange { name, range, value }
}

/// `value` when it is finite and at least `min` (or above it, `above`).
fn number(
    value: f64,
    name: &'static str,
    min: f64,
    above: bool,
    range: &'static str,
) -> std::result::Result<f64, SettingsError> {
    let low_ok = if above { value > min } else { value >= min };
    if value.is_finite() && low_ok {
        Ok(value)
    } else {
        Err(out_of_range(name, range, value))
    }
}

/// An integer >= 1 (saturating at the type's top: no larger limit exists).
fn count(value: f64, name: &'static str) -> std::result::Result<f64, SettingsError> {
    if value >= 1.0 && value.fract() == 0.0 {
        Ok(value)
    } else {
        Err(out_of_range(name, "an integer >= 1", value))
    }
}

/// Settings `check` found good, as the core's types; `apply` gives them to a primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    policy: Option<Policy>,
    node_major: Option<u32>,
    max_frame: Option<usize>,
    restart: Option<Option<RestartPolicy>>,
    readiness_gate: Option<bool>,
    health: Option<HealthSettings>,
}

impl PrimarySettings {
    /// The one check of the settings crossing the binding (see the module doc).
    pub fn check(&self) -> std::result::Result<Checked, SettingsError> {
        let node_major = match self.node_major {
            Some(major) if major > u32::MAX as f64 => {
                return Err(out_of_range(
                    "settings.nodeMajor",
                    "an integer >= 1 and < 2 ** 32",
                    major,
                ))
            }
            Some(major) => Some(count(major, "settings.nodeMajor")? as u32),
            None => None,
        };
        let max_frame = match self.max_frame_bytes {
            Some(bytes) => Some(count(bytes, "settings.maxFrameBytes")? as usize),
            None => None,
        };
        let restart = match &self.restart {
            Some(Either::A(s)) => Some(Some(restart_policy(s)?)),
            Some(Either::B(Null)) => Some(None),
            None => None,
        };
        let health = match &self.health {
            Some(o) => Some(health_settings(o)?),
            None => None,
        };
        Ok(Checked {
            policy: self.policy.as_ref().map(|policy| match policy {
                PolicyName::None => Policy::None,
                PolicyName::RoundRobin => Policy::RoundRobin,
                PolicyName::Sticky => Policy::Sticky,
                PolicyName::ReusePort => Policy::ReusePort,
            }),
            node_major,
            max_frame,
            restart,
            readiness_gate: self.readiness_gate,
            health,
        })
    }
}

impl Checked {
    /// Each setting present, onto the core's setter for it.
    pub fn apply(self, primary: &Primary) {
        if let Some(policy) = self.policy {
            primary.set_policy(policy);
        }
        if let Some(major) = self.node_major {
            primary.follow_node_line(major);
        }
        if let Some(bytes) = self.max_frame {
            primary.set_max_frame(bytes);
        }
        if let Some(policy) = self.restart {
            primary.set_restart_policy(policy);
        }
        if let Some(on) = self.readiness_gate {
            primary.set_readiness_gate(on);
        }
        if let Some(settings) = self.health {
            primary.configure_health(settings);
        }
    }
}

fn restart_policy(s: &RestartSettings) -> std::result::Result<RestartPolicy, SettingsError> {
    const MS: &str = ">= 0 and finite";
    let ms = |value, name| number(value, name, 0.0, false, MS);
    let delay = ms(s.delay, "settings.restart.delay")?;
    let max_delay = ms(s.max_delay, "settings.restart.maxDelay")?;
    let stable_after = ms(s.stable_after, "settings.restart.stableAfter")?;
    let window = ms(s.window, "settings.restart.window")?;
    let factor = number(
        s.factor,
        "settings.restart.factor",
        1.0,
        false,
        ">= 1 and finite",
    )?;
    let max_restarts = s.max_restarts;
    if !(max_restarts >= 0.0 && max_restarts.fract() == 0.0) {
        let name = "settings.restart.maxRestarts";
        return Err(out_of_range(name, "an integer >= 0", max_restarts));
    }
    let jitter = s.jitter;
    if !(0.0..=1.0).contains(&jitter) {
        return Err(out_of_range(
            "settings.restart.jitter",
            ">= 0 and <= 1",
            jitter,
        ));
    }
    Ok(RestartPolicy {
        delay,
        max_delay,
        factor,
        jitter,
        stable_after: millis(stable_after),
        max_restarts: max_restarts as u32,
        window: millis(window),
    })
}

fn health_settings(o: &HealthOptions) -> std::result::Result<HealthSettings, SettingsError> {
    const POSITIVE: &str = "> 0 and finite";
    let positive = |value, name| number(value, name, 0.0, true, POSITIVE);
    let grace = number(
        o.evidence_grace,
        "settings.health.evidenceGrace",
        0.0,
        false,
        ">= 0 and finite",
    )?;
    if !(0..=64).contains(&o.evidence_signal) {
        let value = o.evidence_signal as f64;
        return Err(out_of_range(
            "settings.health.evidenceSignal",
            "an integer >= 0 and <= 64",
            value,
        ));
    }
    let heartbeat = match (o.heartbeat_interval, o.heartbeat_timeout) {
        (Some(interval), Some(timeout)) => {
            let interval = positive(interval, "settings.health.heartbeatInterval")?;
            let timeout = positive(timeout, "settings.health.heartbeatTimeout")?;
            if timeout <= interval {
                return Err(out_of_range(
                    "settings.health.heartbeatTimeout",
                    "> settings.health.heartbeatInterval",
                    timeout,
                ));
            }
            Some(Heartbeat {
                interval: millis(interval),
                timeout: millis(timeout),
                evidence_signal: o.evidence_signal,
                grace: millis(grace),
            })
        }
        (None, None) => None,
        (interval, _) => {
            let name = if interval.is_some() {
                "settings.health.heartbeatTimeout"
            } else {
                "settings.health.heartbeatInterval"
            };
            return Err(SettingsError::InvalidValue {
                name,
                reason: "must be set with the other heartbeat setting",
                received: "undefined".to_string(),
            });
        }
    };
    let memory = match o.max_memory {
        Some(limit) => Some(MemoryLimit {
            limit: count(limit, "settings.health.maxMemory")? as u64,
            metric: match o.memory_metric {
                MemoryMetricName::Rss => MemoryMetric::Rss,
                MemoryMetricName::Pss => MemoryMetric::Pss,
            },
        }),
        None => None,
    };
    let sample_interval = positive(o.sample_interval, "settings.health.sampleInterval")?;
    let connections = match o.recycle_connections {
        Some(n) => Some(count(n, "settings.health.recycleConnections")? as u64),
        None => None,
    };
    let uptime = match o.recycle_uptime {
        Some(ms) => Some(millis(positive(ms, "settings.health.recycleUptime")?)),
        None => None,
    };
    let jitter = number(
        o.recycle_jitter,
        "settings.health.recycleJitter",
        0.0,
        false,
        ">= 0 and finite",
    )?;
    let recycle = (connections.is_some() || uptime.is_some()).then(|| Recycle {
        connections,
        uptime,
        jitter: millis(jitter),
    });
    Ok(HealthSettings {
        heartbeat,
        memory,
        sample_interval: millis(sample_interval).max(1),
        recycle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes one setting of a good object bad.
    type Spoil<T> = fn(&mut T);

    fn empty() -> PrimarySettings {
        PrimarySettings {
            policy: None,
            node_major: None,
            max_frame_bytes: None,
            restart: None,
            readiness_gate: None,
            health: None,
        }
    }

    fn restart() -> RestartSettings {
        RestartSettings {
            delay: 100.0,
            max_delay: 10_000.0,
            factor: 2.0,
            jitter: 0.0,
            stable_after: 30_000.0,
            max_restarts: 10.0,
            window: 60_000.0,
        }
    }

    fn health() -> HealthOptions {
        HealthOptions {
            heartbeat_interval: Some(1000.0),
            heartbeat_timeout: Some(10_000.0),
            evidence_signal: 10,
            evidence_grace: 500.0,
            max_memory: Some(512.0 * 1024.0 * 1024.0),
            memory_metric: MemoryMetricName::Pss,
            sample_interval: 1000.0,
            recycle_connections: Some(1000.0),
            recycle_uptime: None,
            recycle_jitter: 10.0,
        }
    }

    fn refused(settings: PrimarySettings) -> SettingsError {
        settings.check().expect_err("refused")
    }

    #[test]
    fn nothing_present_changes_nothing() {
        let checked = empty().check().unwrap();
        assert_eq!(
            checked,
            Checked {
                policy: None,
                node_major: None,
                max_frame: None,
                restart: None,
                readiness_gate: None,
                health: None,
            }
        );
    }

    #[test]
    fn good_settings_become_the_cores() {
        let checked = PrimarySettings {
            policy: Some(PolicyName::Sticky),
            node_major: Some(22.0),
            max_frame_bytes: Some(4096.0),
            restart: Some(Either::A(restart())),
            readiness_gate: Some(true),
            health: Some(health()),
        }
        .check()
        .unwrap();
        assert_eq!(checked.policy, Some(Policy::Sticky));
        assert_eq!(checked.node_major, Some(22));
        assert_eq!(checked.max_frame, Some(4096));
        assert_eq!(checked.restart, Some(Some(RestartPolicy::default())));
        assert_eq!(checked.readiness_gate, Some(true));
        let health = checked.health.unwrap();
        assert_eq!(
            health.heartbeat,
            Some(Heartbeat {
                interval: 1000,
                timeout: 10_000,
                evidence_signal: 10,
                grace: 500
            })
        );
        assert_eq!(
            health.memory,
            Some(MemoryLimit {
                limit: 512 << 20,
                metric: MemoryMetric::Pss
            })
        );
        assert_eq!(
            health.recycle,
            Some(Recycle {
                connections: Some(1000),
                uptime: None,
                jitter: 10
            })
        );
    }

    #[test]
    fn null_restart_turns_restarts_off() {
        let settings = PrimarySettings {
            restart: Some(Either::B(Null)),
            ..empty()
        };
        assert_eq!(settings.check().unwrap().restart, Some(None));
    }

    #[test]
    fn a_frame_limit_that_is_no_count_of_bytes_is_refused() {
        for bytes in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY] {
            let e = refused(PrimarySettings {
                max_frame_bytes: Some(bytes),
                ..empty()
            });
            assert_eq!(e.code(), "ERR_OUT_OF_RANGE");
            assert!(e.to_string().starts_with(
                "The value of \"settings.maxFrameBytes\" is out of range. It must be an integer >= 1. Received "
            ));
        }
        let e = refused(PrimarySettings {
            max_frame_bytes: Some(f64::NEG_INFINITY),
            ..empty()
        });
        assert!(e.to_string().ends_with("Received -Infinity"), "{e}");
        // Larger than any frame can be: no limit, as before.
        let huge = PrimarySettings {
            max_frame_bytes: Some(1e300),
            ..empty()
        };
        assert_eq!(huge.check().unwrap().max_frame, Some(usize::MAX));
    }

    #[test]
    fn more_restarts_than_u32_holds_are_that_many() {
        let settings = PrimarySettings {
            restart: Some(Either::A(RestartSettings {
                max_restarts: 1e12,
                ..restart()
            })),
            ..empty()
        };
        let policy = settings.check().unwrap().restart.flatten().unwrap();
        assert_eq!(policy.max_restarts, u32::MAX);
    }

    #[test]
    fn restart_settings_out_of_range_are_refused() {
        let cases: [(Spoil<RestartSettings>, &str); 7] = [
            (|r| r.delay = -1.0, "settings.restart.delay"),
            (|r| r.window = f64::NAN, "settings.restart.window"),
            (|r| r.factor = 0.5, "settings.restart.factor"),
            (|r| r.jitter = 1.5, "settings.restart.jitter"),
            (|r| r.jitter = f64::NAN, "settings.restart.jitter"),
            (|r| r.max_restarts = -1.0, "settings.restart.maxRestarts"),
            (|r| r.max_restarts = 1.5, "settings.restart.maxRestarts"),
        ];
        for (spoil, field) in cases {
            let mut r = restart();
            spoil(&mut r);
            let e = refused(PrimarySettings {
                restart: Some(Either::A(r)),
                ..empty()
            });
            assert!(
                matches!(e, SettingsError::OutOfRange { name, .. } if name == field),
                "{e}"
            );
        }
    }

    #[test]
    fn health_settings_out_of_range_or_half_given_are_refused() {
        let cases: [(Spoil<HealthOptions>, &str, &str); 8] = [
            (
                |h| h.heartbeat_timeout = None,
                "settings.health.heartbeatTimeout",
                "ERR_INVALID_ARG_VALUE",
            ),
            (
                |h| h.heartbeat_interval = None,
                "settings.health.heartbeatInterval",
                "ERR_INVALID_ARG_VALUE",
            ),
            (
                |h| h.heartbeat_timeout = Some(500.0),
                "settings.health.heartbeatTimeout",
                "ERR_OUT_OF_RANGE",
            ),
            (
                |h| h.heartbeat_interval = Some(0.0),
                "settings.health.heartbeatInterval",
                "ERR_OUT_OF_RANGE",
            ),
            (
                |h| h.max_memory = Some(0.0),
                "settings.health.maxMemory",
                "ERR_OUT_OF_RANGE",
            ),
            (
                |h| h.sample_interval = f64::INFINITY,
                "settings.health.sampleInterval",
                "ERR_OUT_OF_RANGE",
            ),
            (
                |h| h.evidence_signal = 65,
                "settings.health.evidenceSignal",
                "ERR_OUT_OF_RANGE",
            ),
            (
                |h| h.recycle_jitter = -1.0,
                "settings.health.recycleJitter",
                "ERR_OUT_OF_RANGE",
            ),
        ];
        for (spoil, field, code) in cases {
            let mut h = health();
            spoil(&mut h);
            let e = refused(PrimarySettings {
                health: Some(h),
                ..empty()
            });
            assert_eq!(e.code(), code, "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn a_node_major_that_is_no_line_is_refused() {
        for major in [0.0, -1.0, 22.5, 2f64.powi(32), f64::NAN] {
            let e = refused(PrimarySettings {
                node_major: Some(major),
                ..empty()
            });
            assert_eq!(e.code(), "ERR_OUT_OF_RANGE");
            assert!(e.to_string().contains("settings.nodeMajor"), "{e}");
        }
    }
}
