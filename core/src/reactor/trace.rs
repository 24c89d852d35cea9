//! `NODE_DEBUG=cluster`: the protocol, frame by frame, on stderr (as Node's own debug log).

use crate::scheduler::WorkerId;

/// `NODE_DEBUG=cluster` or `RUST_CLUSTER_DEBUG=1`: log the protocol to stderr.
pub(super) fn trace_enabled() -> bool {
    let node_debug = std::env::var("NODE_DEBUG").unwrap_or_default();
    node_debug
        .split(',')
        .any(|s| s.trim().eq_ignore_ascii_case("cluster"))
        || std::env::var("RUST_CLUSTER_DEBUG").is_ok_and(|v| !v.is_empty() && v != "0")
}

pub(super) fn trace_frame(worker: WorkerId, direction: &str, bytes: &[u8], fd: bool) {
    let shown = &bytes[..bytes.len().min(300)];
    eprintln!(
        "CLUSTER {}: worker {worker} {direction} {}{}",
        std::process::id(),
        String::from_utf8_lossy(shown).trim_end(),
        if fd { " [+fd]" } else { "" }
    );
}
