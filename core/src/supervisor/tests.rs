use super::*;

/// Draws a fixed sequence, so jittered delays are known exactly.
struct Fixed(Vec<f64>);

impl Random for Fixed {
    fn unit(&mut self) -> f64 {
        self.0.remove(0)
    }
}

fn no_jitter() -> Fixed {
    Fixed(vec![])
}

fn supervisor(policy: RestartPolicy) -> Supervisor {
    let mut s = Supervisor::new();
    s.set_policy(Some(policy));
    s
}

fn restart_delay(decision: Option<Decision>) -> Millis {
    match decision {
        Some(Decision::Restart { delay, .. }) => delay,
        other => panic!("expected a restart, got {other:?}"),
    }
}

#[test]
fn backoff_doubles_from_delay_and_caps_at_max_delay() {
    let mut s = supervisor(RestartPolicy {
        max_delay: 1000.0,
        max_restarts: 100,
        ..RestartPolicy::default()
    });
    let mut now = 0;
    s.started(0, now);
    let mut delays = Vec::new();
    for attempt in 1..=6 {
        now += 5;
        let decision = s.exited(0, now, &mut no_jitter());
        assert_eq!(
            decision,
            Some(Decision::Restart {
                attempt,
                delay: [100, 200, 400, 800, 1000, 1000][attempt as usize - 1]
            })
        );
        delays.push(restart_delay(decision));
        // The restart timer is due exactly then, not before.
        assert_eq!(s.next_due(), Some(now + delays.last().unwrap()));
        assert!(s.take_due(now + delays.last().unwrap() - 1).is_empty());
        now += delays.last().unwrap();
        assert_eq!(s.take_due(now), vec![Due::Restart { slot: 0 }]);
        s.started(0, now);
    }
}

#[test]
fn jitter_draws_each_delay_from_the_lower_part_of_its_range() {
    let mut s = supervisor(RestartPolicy {
        jitter: 0.5,
        ..RestartPolicy::default()
    });
    s.started(3, 0);
    // 0 gives d·(1−j), a draw near 1 gives d.
    assert_eq!(restart_delay(s.exited(3, 1, &mut Fixed(vec![0.0]))), 50);
    assert_eq!(
        restart_delay(s.exited(3, 2, &mut Fixed(vec![0.999_999]))),
        200
    );
    assert_eq!(restart_delay(s.exited(3, 3, &mut Fixed(vec![0.5]))), 300);
}

#[test]
fn a_worker_that_ran_stable_after_resets_the_backoff() {
    let mut s = supervisor(RestartPolicy {
        stable_after: 1000,
        ..RestartPolicy::default()
    });
    s.started(1, 0);
    assert_eq!(restart_delay(s.exited(1, 10, &mut no_jitter())), 100);
    s.started(1, 110);
    assert_eq!(restart_delay(s.exited(1, 120, &mut no_jitter())), 200);
    // This one ran 1000 ms: the next delay starts over.
    s.started(1, 320);
    assert_eq!(
        s.exited(1, 1320, &mut no_jitter()),
        Some(Decision::Restart {
            attempt: 1,
            delay: 100
        })
    );
}

#[test]
fn more_than_max_restarts_within_the_window_gives_up() {
    let mut s = supervisor(RestartPolicy {
        max_restarts: 3,
        window: 1000,
        ..RestartPolicy::default()
    });
    s.started(0, 0);
    for t in [10, 20, 30] {
        assert!(matches!(
            s.exited(0, t, &mut no_jitter()),
            Some(Decision::Restart { .. })
        ));
    }
    assert_eq!(
        s.exited(0, 40, &mut no_jitter()),
        Some(Decision::GiveUp {
            restarts: 4,
            window: 1000
        })
    );
}

#[test]
fn the_window_slides_so_spread_out_crashes_never_give_up() {
    let mut s = supervisor(RestartPolicy {
        max_restarts: 3,
        window: 1000,
        ..RestartPolicy::default()
    });
    s.started(0, 0);
    // One exit every 400 ms: at most 3 within any 1000 ms.
    for i in 1..=20 {
        assert!(
            matches!(
                s.exited(0, i * 400, &mut no_jitter()),
                Some(Decision::Restart { .. })
            ),
            "exit {i}"
        );
    }
}

#[test]
fn a_crash_loop_after_a_long_healthy_run_still_gives_up() {
    // PM2's max_restarts counts only crashes soon after start; here any crashes count.
    let mut s = supervisor(RestartPolicy {
        max_restarts: 2,
        window: 10_000,
        stable_after: 1000,
        ..RestartPolicy::default()
    });
    s.started(0, 0);
    let day = 86_400_000;
    assert_eq!(restart_delay(s.exited(0, day, &mut no_jitter())), 100);
    s.started(0, day + 100);
    assert_eq!(restart_delay(s.exited(0, day + 150, &mut no_jitter())), 200);
    s.started(0, day + 350);
    assert!(matches!(
        s.exited(0, day + 400, &mut no_jitter()),
        Some(Decision::GiveUp { restarts: 3, .. })
    ));
}

#[test]
fn slots_are_counted_apart_and_a_given_up_slot_starts_afresh() {
    let mut s = supervisor(RestartPolicy {
        max_restarts: 1,
        ..RestartPolicy::default()
    });
    s.started(0, 0);
    s.started(1, 0);
    assert!(matches!(
        s.exited(0, 1, &mut no_jitter()),
        Some(Decision::Restart { .. })
    ));
    assert!(matches!(
        s.exited(1, 2, &mut no_jitter()),
        Some(Decision::Restart { .. })
    ));
    assert!(matches!(
        s.exited(0, 3, &mut no_jitter()),
        Some(Decision::GiveUp { .. })
    ));
    s.started(0, 4);
    assert_eq!(
        s.exited(0, 5, &mut no_jitter()),
        Some(Decision::Restart {
            attempt: 1,
            delay: 100
        })
    );
}

#[test]
fn without_a_policy_nothing_is_decided_or_scheduled() {
    let mut s = Supervisor::new();
    s.started(0, 0);
    assert_eq!(s.exited(0, 1, &mut no_jitter()), None);
    assert_eq!(s.next_due(), None);
}

#[test]
fn cancelled_restarts_never_come_due() {
    let mut s = supervisor(RestartPolicy::default());
    s.started(0, 0);
    s.started(1, 0);
    s.exited(0, 1, &mut no_jitter());
    s.exited(1, 1, &mut no_jitter());
    assert_eq!(s.pending_restarts(), 2);
    s.forget_slot(0);
    assert_eq!(s.take_due(1000), vec![Due::Restart { slot: 1 }]);
    s.exited(1, 2000, &mut no_jitter());
    s.cancel_restarts();
    assert_eq!(s.next_due(), None);
}

#[test]
fn deadlines_fire_in_order_and_the_earlier_one_wins() {
    let mut s = Supervisor::new();
    s.kill_at(7, 500, 9, KillReason::Deadline);
    s.kill_at(8, 200, 9, KillReason::StartupTimeout);
    // A later deadline for the same worker and reason does not postpone it...
    s.kill_at(7, 900, 9, KillReason::Deadline);
    assert_eq!(s.next_due(), Some(200));
    assert_eq!(
        s.take_due(250),
        vec![Due::Kill {
            worker: 8,
            signal: 9,
            reason: KillReason::StartupTimeout
        }]
    );
    // ...an earlier one brings it forward.
    s.kill_at(7, 300, 9, KillReason::Deadline);
    assert_eq!(s.next_due(), Some(300));
    assert_eq!(s.take_due(10_000).len(), 1);
    assert_eq!(s.next_due(), None);
}

#[test]
fn a_cancelled_kill_never_fires() {
    let mut s = Supervisor::new();
    s.kill_at(1, 100, 9, KillReason::StartupTimeout);
    s.kill_at(1, 200, 9, KillReason::Deadline);
    s.kill_at(2, 100, 9, KillReason::Deadline);
    // Ready in time: only the startup timer goes.
    s.cancel_kill(1, Some(KillReason::StartupTimeout));
    assert_eq!(s.next_due(), Some(100));
    // Exited: everything of worker 1 goes.
    s.cancel_kill(1, None);
    assert_eq!(
        s.take_due(1000),
        vec![Due::Kill {
            worker: 2,
            signal: 9,
            reason: KillReason::Deadline
        }]
    );
}

#[test]
fn the_running_jitter_source_stays_in_the_unit_interval() {
    let mut rng = XorShift::seeded();
    for _ in 0..10_000 {
        let x = rng.unit();
        assert!((0.0..1.0).contains(&x), "{x}");
    }
}
