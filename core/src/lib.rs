//! rust-cluster's core: the primary side of Node's cluster module, with no N-API types so
//! `cargo test` exercises it alone. One module per job:
//! - `activation`: the listening sockets systemd passes (socket activation);
//! - `notify`: sd_notify to the service manager, and its watchdog keep-alive;
//! - `metrics`: the HTTP endpoint for Prometheus and Kubernetes probes;
//! - `logs`: workers' output, line by line, prefixed or as JSON;
//! - `spawn`: start a worker (`node` + the script) with its IPC channel;
//! - `channel`: framing both ways, received descriptors, handle ACK ordering;
//! - `protocol`: what the cluster messages mean and the ones the primary writes;
//! - `v8_codec`: the `advanced` serialization's wire format;
//! - `servers`: the listening sockets shared with workers;
//! - `scheduler`: round-robin handoff of accepted connections;
//! - `reactor`: the I/O thread that ties them together, and `Primary`, the core's API
//!   (its module doc lists its files);
//! - `reaper`: collecting exits;
//! - `supervisor`: restart backoff and windows, deadlines and startup timeouts (pure, on
//!   an injected clock; the reactor drives its timers);
//! - `procfs`: what `/proc` and cgroup files say about a process (stats, memory, CPUs);
//! - `health`: heartbeat deadlines, the memory limit and recycling (pure, on an injected
//!   clock; the reactor samples and acts);
//! - `watchdog`: no worker outlives a primary that died;
//! - `int_map`: maps keyed by the primary's own small integers;
//! - `errno`: the one errno type (negative on the wire, as Node and libuv carry it);
//! - `sys`: the syscall wrappers, where the `unsafe` code lives (but for what runs between
//!   fork and exec: `spawn` and `watchdog`), each block with its SAFETY comment;
//! - `signals`: signal names as Node spells them (`os.constants.signals`);
//! - `bytes`: fast byte searches (newlines, message markers) for the hot path.

pub mod activation;
pub mod bytes;
pub mod channel;
pub mod errno;
pub mod health;
pub mod int_map;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod procfs;
pub mod protocol;
pub mod reactor;
pub mod reaper;
pub mod scheduler;
pub mod servers;
pub mod signals;
pub mod spawn;
pub mod supervisor;
pub mod sys;
#[cfg(test)]
mod test_node;
#[cfg(test)]
mod test_rng;
pub mod v8_codec;
pub mod watchdog;

pub use channel::Serialization;
pub use reactor::{Event, EventSink, Frame, Policy, Primary, ReceivedHandle, Sent, TimerEvent};
pub use spawn::{SpawnOptions, StdioSpec};
