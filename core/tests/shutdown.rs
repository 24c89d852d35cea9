//! `Primary::shutdown` gives back everything a primary took: its I/O thread, its
//! descriptors and its workers (ended and reaped). In a binary of its own, so the
//! process-wide thread and descriptor counts it compares belong to this test alone.

use rust_cluster_core::reaper::Exit;
use rust_cluster_core::sys;
use rust_cluster_core::{Event, EventSink, Primary, Serialization, SpawnOptions};
use std::time::Duration;

struct Ignore;

impl EventSink for Ignore {
    fn deliver(&self, _events: Vec<Event>) {}
}

/// (threads, open descriptors) of this process.
fn counts() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (threads, std::fs::read_dir("/proc/self/fd").unwrap().count())
}

fn sh(script: &str) -> SpawnOptions {
    SpawnOptions::shell(script)
}

/// A worker that leaves when its channel closes, as a Node worker does.
const LEAVES_ON_CLOSE: &str = "cat <&3 >/dev/null";
/// One that never reads its channel (a stuck event loop).
const STUCK: &str = "exec sleep 600";

/// Starts a primary with two workers running `script`, shuts it down and drops it.
fn one_primary(script: &str, grace: Duration) -> (Vec<i32>, Vec<(u32, Exit)>) {
    let primary = Primary::start(Box::new(Ignore)).unwrap();
    let pids = (1..=2)
        .map(|id| {
            primary
                .spawn(id, sh(script), Serialization::Json)
                .unwrap()
                .0
        })
        .collect();
    let mut ended = primary.shutdown(grace);
    ended.sort_by_key(|(id, _)| *id);
    // Later calls do nothing, and spawning fails.
    assert!(primary.shutdown(grace).is_empty());
    assert!(primary.spawn(3, sh(script), Serialization::Json).is_err());
    (pids, ended)
}

fn assert_reaped(pids: &[i32]) {
    for &pid in pids {
        // Not a child any more: reaped, no zombie left.
        assert_eq!(
            sys::try_reap(pid).unwrap_err().raw_os_error(),
            Some(libc::ECHILD)
        );
    }
}

#[test]
fn shutdown_ends_the_workers_and_gives_back_threads_and_descriptors() {
    // The spawner thread and the watchdog are started once per process, by the first spawn.
    one_primary(LEAVES_ON_CLOSE, Duration::from_secs(120));
    let before = counts();

    for _ in 0..3 {
        let (pids, ended) = one_primary(LEAVES_ON_CLOSE, Duration::from_secs(120));
        let left_by_themselves = Exit {
            code: Some(0),
            signal: None,
        };
        assert_eq!(
            ended,
            vec![(1, left_by_themselves.clone()), (2, left_by_themselves)]
        );
        assert_reaped(&pids);
        assert_eq!(counts(), before);
    }

    let (pids, ended) = one_primary(STUCK, Duration::ZERO);
    let killed = Exit {
        code: None,
        signal: Some("SIGKILL"),
    };
    assert_eq!(ended, vec![(1, killed.clone()), (2, killed)]);
    assert_reaped(&pids);
    assert_eq!(counts(), before);
}
