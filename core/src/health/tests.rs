use super::*;

/// Draws the same value every time.
struct Fixed(f64);

impl Random for Fixed {
    fn unit(&mut self) -> f64 {
        self.0
    }
}

fn heartbeat(interval: Millis, timeout: Millis) -> HealthSettings {
    HealthSettings {
        heartbeat: Some(Heartbeat {
            interval,
            timeout,
            evidence_signal: 10,
            grace: 500,
        }),
        sample_interval: 1000,
        ..HealthSettings::default()
    }
}

#[test]
fn nothing_configured_watches_nothing_and_sets_no_timer() {
    let mut health = Health::new();
    health.configure(HealthSettings::default(), 0);
    health.watch(1, 0, &mut Fixed(0.5));
    assert_eq!(health.next_due(), None);
    assert_eq!(health.take_sample_due(10_000), None);
    assert!(health.take_due(1_000_000, &|_| 0).is_empty());
    assert_eq!(health.connection(1, 1, 5), None);
}

#[test]
fn a_worker_that_keeps_beating_is_never_unresponsive() {
    let mut health = Health::new();
    health.configure(heartbeat(100, 1000), 0);
    health.watch(1, 0, &mut Fixed(0.0));
    assert_eq!(health.next_due(), Some(1000));
    for t in (100..10_000).step_by(100) {
        health.beat(1, t, Some(900.0));
        assert!(health.take_due(t, &|_| 0).is_empty(), "at {t}");
    }
    assert_eq!(health.delay(1), Some(900.0));
}

#[test]
fn no_beat_for_timeout_is_unresponsive_once_then_a_kill_after_the_grace() {
    let mut health = Health::new();
    health.configure(heartbeat(100, 1000), 0);
    health.watch(1, 0, &mut Fixed(0.0));
    health.watch(2, 0, &mut Fixed(0.0));
    health.beat(1, 300, Some(2.5));
    health.beat(2, 300, None);
    // The cached check (1000) passes with nobody overdue: it moves to the real deadline.
    health.beat(2, 900, None);
    assert!(health.take_due(1000, &|_| 0).is_empty());
    assert_eq!(health.next_due(), Some(1300));
    assert_eq!(
        health.take_due(1300, &|_| 0),
        vec![Finding::Unresponsive {
            worker: 1,
            last_beat: Some(300),
            delay: Some(2.5)
        }]
    );
    // Worker 1 is killed after its grace; worker 2 stays due at 1900.
    assert_eq!(health.next_due(), Some(1800));
    assert_eq!(
        health.take_due(1800, &|_| 0),
        vec![Finding::Kill { worker: 1 }]
    );
    health.beat(2, 1800, None);
    assert!(health.take_due(2000, &|_| 0).is_empty());
    // Once reported, worker 1 is never reported again.
    assert!(health.take_due(100_000, &|_| 0).iter().all(|f| !matches!(
        f,
        Finding::Unresponsive { worker: 1, .. } | Finding::Kill { worker: 1 }
    )));
}

#[test]
fn a_worker_that_never_beat_is_due_timeout_after_its_start() {
    let mut health = Health::new();
    health.configure(heartbeat(100, 1000), 0);
    health.watch(7, 250, &mut Fixed(0.0));
    assert!(health.take_due(1249, &|_| 0).is_empty());
    assert_eq!(
        health.take_due(1250, &|_| 0),
        vec![Finding::Unresponsive {
            worker: 7,
            last_beat: None,
            delay: None
        }]
    );
}

#[test]
fn memory_over_the_limit_two_samples_in_a_row_is_reported_once() {
    let mut health = Health::new();
    let settings = HealthSettings {
        memory: Some(MemoryLimit {
            limit: 100,
            metric: MemoryMetric::Rss,
        }),
        sample_interval: 1000,
        ..HealthSettings::default()
    };
    health.configure(settings, 0);
    health.watch(1, 0, &mut Fixed(0.0));
    assert_eq!(health.take_sample_due(999), None);
    assert_eq!(health.take_sample_due(1000), Some(vec![1]));
    // Late: the next sample is one interval after this one, not a burst to catch up.
    assert_eq!(health.take_sample_due(3500), Some(vec![1]));
    assert_eq!(health.next_due(), Some(4500));
    assert_eq!(health.memory_sample(1, 150), None);
    assert_eq!(health.memory_sample(1, 90), None);
    assert_eq!(health.memory_sample(1, 150), None);
    assert_eq!(
        health.memory_sample(1, 160),
        Some(Finding::Memory {
            worker: 1,
            value: 160,
            limit: 100
        })
    );
    assert_eq!(health.memory_sample(1, 170), None);
}

#[test]
fn recycling_after_n_connections_is_moved_up_by_the_jitter_draw() {
    let recycle = |jitter| HealthSettings {
        recycle: Some(Recycle {
            connections: Some(10),
            uptime: None,
            jitter,
        }),
        ..HealthSettings::default()
    };
    for (unit, jitter, expected) in [(0.0, 0, 10), (0.0, 5, 10), (0.999, 5, 15), (0.5, 5, 13)] {
        let mut health = Health::new();
        health.configure(recycle(jitter), 0);
        health.watch(1, 0, &mut Fixed(unit));
        let mut fired_at = None;
        for n in 1..=30 {
            if let Some(finding) = health.connection(1, n, n) {
                assert!(fired_at.is_none(), "reported twice");
                assert!(
                    matches!(finding, Finding::Recycle { reason: RecycleReason::Connections, connections, .. } if connections == n)
                );
                fired_at = Some(n);
            }
        }
        assert_eq!(fired_at, Some(expected), "unit {unit} jitter {jitter}");
    }
}

#[test]
fn recycling_by_uptime_fires_at_its_jittered_deadline() {
    let mut health = Health::new();
    let settings = HealthSettings {
        recycle: Some(Recycle {
            connections: None,
            uptime: Some(5000),
            jitter: 1000,
        }),
        ..HealthSettings::default()
    };
    health.configure(settings, 0);
    health.watch(1, 100, &mut Fixed(0.5));
    assert_eq!(health.next_due(), Some(5600));
    assert!(health.take_due(5599, &|_| 0).is_empty());
    assert_eq!(
        health.take_due(5600, &|id| if id == 1 { 7 } else { 0 }),
        vec![Finding::Recycle {
            worker: 1,
            reason: RecycleReason::Uptime,
            connections: 7,
            uptime: 5500
        }]
    );
    assert_eq!(health.next_due(), None);
}
