//! The health watch in the reactor, with real children standing in for workers (a shell
//! writing heartbeat frames to its channel): deadlines fire from the I/O thread, beats
//! on channels nobody services are still read, and `stats()` reads the child's /proc.

use super::tests::{next_event, recorded_primary, sh};
use super::*;
use crate::health::{HealthSettings, Heartbeat};
use std::time::{Duration, Instant};

const BEAT: &str = r#"echo '{"cmd":"NODE_RUST_CLUSTER_HEARTBEAT","delay":1.5}' >&3"#;

fn heartbeat(timeout: Millis, evidence_signal: i32) -> HealthSettings {
    HealthSettings {
        heartbeat: Some(Heartbeat {
            interval: 50,
            timeout,
            evidence_signal,
            grace: 200,
        }),
        sample_interval: 1000,
        ..HealthSettings::default()
    }
}

#[test]
fn a_worker_whose_beats_stop_is_signalled_then_killed_from_the_io_thread() {
    let (primary, rx) = recorded_primary();
    primary.configure_health(heartbeat(300, libc::SIGUSR1));
    // It ignores the evidence signal, so only the SIGKILL after the grace ends it.
    let script = format!("trap '' USR1; for i in 1 2 3 4 5; do {BEAT}; sleep 0.05; done; sleep 30");
    primary.spawn(1, sh(&script), Serialization::Json).unwrap();
    let spawned = Instant::now();
    // The beats are no messages: the first event is the finding.
    let found = match next_event(&rx) {
        Event::Health {
            worker: 1,
            kind: "unresponsive",
            detail,
        } => detail,
        other => panic!("expected unresponsive, got {other:?}"),
    };
    let found_after = spawned.elapsed();
    assert_eq!(found["eventLoopDelay"], 1.5);
    assert_eq!(found["signal"], "SIGUSR1");
    // Five beats 50 ms apart, then 300 ms of silence.
    assert!(found_after >= Duration::from_millis(450), "{found_after:?}");
    assert!(found["lastBeatAgo"].as_u64().unwrap() >= 300, "{found}");
    match next_event(&rx) {
        Event::Exit { worker: 1, exit } => assert_eq!(exit.signal, Some("SIGKILL")),
        other => panic!("expected the exit, got {other:?}"),
    }
    // The kill comes the grace (200 ms) after the finding, which the core made no earlier
    // than 450 ms after the spawn. (Not `found_after + 200`: on a loaded machine this
    // thread may take the finding late, while the core's grace runs from when it made it.)
    let exited_after = spawned.elapsed();
    assert!(
        exited_after >= Duration::from_millis(650),
        "{exited_after:?}"
    );
}

#[test]
fn beats_on_a_channel_the_busy_event_loop_owns_still_count() {
    let (primary, rx) = recorded_primary();
    primary.set_loop_polling(true);
    primary.configure_health(heartbeat(300, 0));
    // Beats for 1.5 s, then exits 0. Nobody services the loop poller meanwhile, as when
    // the primary's JavaScript is busy: the I/O thread reads them at each deadline.
    let script =
        format!("i=0; while [ $i -lt 30 ]; do {BEAT}; sleep 0.05; i=$((i+1)); done; exit 0");
    primary.spawn(2, sh(&script), Serialization::Json).unwrap();
    match next_event(&rx) {
        Event::Exit { worker: 2, exit } => assert_eq!(exit.code, Some(0)),
        other => panic!("expected a plain exit, got {other:?}"),
    }
}

#[test]
fn stats_read_the_workers_proc_and_nothing_is_watched_when_off() {
    let (primary, rx) = recorded_primary();
    primary
        .spawn(3, sh("sleep 0.4; exit 3"), Serialization::Json)
        .unwrap();
    let stats = primary.stats(3).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", stats.pid)).unwrap();
    let rss = crate::procfs::parse_kb_field(&status, "VmRSS").unwrap();
    assert!(
        stats.sample.rss.abs_diff(rss) < 1 << 20,
        "{stats:?} vs {rss}"
    );
    assert!(stats.sample.pss.unwrap() > 0 && stats.sample.threads == 1);
    assert_eq!((stats.connections, stats.event_loop_delay), (0, None));
    assert!(primary.inner.state.lock().health.next_due().is_none());
    match next_event(&rx) {
        Event::Exit { worker: 3, exit } => assert_eq!(exit.code, Some(3)),
        other => panic!("expected a plain exit, got {other:?}"),
    }
    assert!(primary.stats(3).is_none(), "no stats once reaped");
    assert!(primary.primary_stats().unwrap().sample.rss > 0);
}

#[test]
fn connections_are_counted_once_for_stats_recycling_and_metrics_and_outlive_workers() {
    use crate::health::Recycle;
    use crate::metrics::ConnectionCounts;
    use std::collections::HashMap;
    let (primary, rx) = recorded_primary();
    primary.configure_health(HealthSettings {
        recycle: Some(Recycle {
            connections: Some(3),
            uptime: None,
            jitter: 0,
        }),
        sample_interval: 1000,
        ..HealthSettings::default()
    });
    primary
        .spawn(1, sh("exec sleep 30"), Serialization::Json)
        .unwrap();
    primary
        .spawn(2, sh("exec sleep 30"), Serialization::Json)
        .unwrap();
    {
        // What `on_newconn_reply` does for each accepted handoff.
        let mut st = primary.inner.state.lock();
        for _ in 0..3 {
            st.on_accepted(1);
        }
        st.on_accepted(2);
        st.deliver_later(&primary.inner);
    }
    match next_event(&rx) {
        Event::Health {
            worker: 1,
            kind: "recycle",
            detail,
        } => assert_eq!(detail["connections"], 3, "{detail}"),
        other => panic!("expected the recycle, got {other:?}"),
    }
    assert_eq!(primary.stats(1).unwrap().connections, 3);
    assert_eq!(primary.stats(2).unwrap().connections, 1);
    let counts = |primary: &Primary| {
        let mut per_worker = HashMap::new();
        let total = primary.inner.connections(&mut per_worker);
        (per_worker, total)
    };
    assert_eq!(counts(&primary), (HashMap::from([(1, 3), (2, 1)]), 4));
    // Worker 2 leaves: its series ends, the total keeps its connection.
    primary.kill(2, libc::SIGKILL).unwrap();
    match next_event(&rx) {
        Event::Exit { worker: 2, .. } => {}
        other => panic!("expected the exit, got {other:?}"),
    }
    // As the facade does once it saw the exit: the slot goes with its channel.
    primary.close_channel(2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while primary.inner.state.lock().workers.contains_key(&2) {
        assert!(Instant::now() < deadline, "worker 2's slot never went");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(counts(&primary), (HashMap::from([(1, 3)]), 4));
    // The primary ends: every slot goes, the total stays.
    primary.shutdown(Duration::from_millis(200));
    assert_eq!(counts(&primary), (HashMap::new(), 4));
}
