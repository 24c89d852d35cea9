//! The reactor with real children: which thread reads a channel, and in what order events
//! come out.

use super::*;
use crate::spawn::StdioSpec;
use crate::test_node::node_available;
use std::sync::mpsc;
use std::time::Duration;

/// Records each event with whether it was read on the (test's) event loop.
struct Recorder(parking_lot::Mutex<mpsc::Sender<(bool, Event)>>);

impl EventSink for Recorder {
    fn deliver(&self, events: Vec<Event>) {
        for e in events {
            let _ = self.0.lock().send((false, e));
        }
    }

    fn deliver_on_loop(&self, events: Vec<Event>) {
        for e in events {
            let _ = self.0.lock().send((true, e));
        }
    }
}

/// A primary whose events are recorded, each with whether the event loop read it.
pub(super) fn recorded_primary() -> (Primary, mpsc::Receiver<(bool, Event)>) {
    let (tx, rx) = mpsc::channel();
    let primary = Primary::start(Box::new(Recorder(parking_lot::Mutex::new(tx)))).unwrap();
    (primary, rx)
}

/// The test's stand-in for Node's event loop: an epoll set watching the loop poller.
fn event_loop_of(primary: &Primary) -> Epoll {
    let event_loop = Epoll::new().unwrap();
    event_loop
        .add(primary.loop_poller_fd(), EPOLLIN, 0)
        .unwrap();
    event_loop
}

pub(super) fn sh(script: &str) -> SpawnOptions {
    SpawnOptions::shell(script)
}

fn frame_text(event: &Event) -> String {
    match event {
        Event::Internal { frame, .. } | Event::Message { frame, .. } => match frame {
            Frame::Json(text) => text.trim_end().to_string(),
            Frame::V8(bytes) => format!("{bytes:?}"),
        },
        other => format!("{other:?}"),
    }
}

#[test]
fn a_loop_owned_channel_is_read_only_by_service_loop_and_exit_comes_after() {
    let (primary, rx) = recorded_primary();
    primary.set_loop_polling(true);
    // Three frames, then wait for the primary to close the channel, then exit 0.
    let script = r#"printf '{"cmd":"NODE_CLUSTER","act":"online","seq":0}\n{"n":1}\n{"n":2}\n' >&3; cat <&3 >/dev/null"#;
    primary.spawn(1, sh(script), Serialization::Json).unwrap();

    // Play the event loop: wait until the loop poller is readable, then service it.
    let event_loop = event_loop_of(&primary);
    let mut got = Vec::new();
    let mut ready = Vec::new();
    while got.len() < 3 {
        event_loop.wait(&mut ready, 10_000).unwrap();
        assert!(!ready.is_empty(), "the loop poller never became readable");
        primary.service_loop();
        got.extend(rx.try_iter());
    }
    let texts: Vec<String> = got.iter().map(|(_, e)| frame_text(e)).collect();
    assert_eq!(
        texts,
        [
            r#"{"cmd":"NODE_CLUSTER","act":"online","seq":0}"#,
            r#"{"n":1}"#,
            r#"{"n":2}"#
        ]
    );
    assert!(got.iter().all(|(on_loop, _)| *on_loop), "{got:?}");

    // Closing our end lets the child finish; its exit is noticed by the I/O thread.
    primary.close_channel(1);
    let (on_loop, exit) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(!on_loop);
    assert!(
        matches!(
            exit,
            Event::Exit {
                worker: 1,
                exit: Exit {
                    code: Some(0),
                    signal: None
                }
            }
        ),
        "{exit:?}"
    );
}

#[test]
fn without_loop_polling_the_io_thread_reads_everything() {
    let (primary, rx) = recorded_primary();
    primary
        .spawn(2, sh(r#"printf '{"n":1}\n' >&3"#), Serialization::Json)
        .unwrap();
    let mut got = Vec::new();
    while !got
        .iter()
        .any(|(_, e): &(bool, Event)| matches!(e, Event::Exit { .. }))
    {
        got.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    assert_eq!(frame_text(&got[0].1), r#"{"n":1}"#);
    assert!(got.iter().all(|(on_loop, _)| !on_loop), "{got:?}");
}

fn http_worker_script() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rc-http-worker-{}.js", std::process::id()))
}

/// A real Node cluster worker (Node's own worker side) serving HTTP under round-robin.
fn http_worker() -> SpawnOptions {
    let script = r#"
        require('cluster');
        const server = require('http').createServer((req, res) => {
          res.end('ok');
          setImmediate(() => process.send({ served: true }));
        });
        process.on('message', (m) => process.send({ echo: m }));
        server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    "#;
    // A file, not `node -e`: Node sets a worker up (`online`, `cluster.worker`) only when
    // it runs a script.
    let path = http_worker_script();
    std::fs::write(&path, script).unwrap();
    node_worker(&path, 1)
}

/// Node's own cluster worker `id` running the script at `path`, with a JSON channel on fd 3.
pub(super) fn node_worker(path: &std::path::Path, id: u32) -> SpawnOptions {
    SpawnOptions {
        program: "node".into(),
        args: vec![path.to_string_lossy().into_owned()],
        env: std::env::vars()
            .chain([
                ("NODE_UNIQUE_ID".into(), id.to_string()),
                ("NODE_CHANNEL_FD".into(), "3".into()),
                ("NODE_CHANNEL_SERIALIZATION_MODE".into(), "json".into()),
            ])
            .collect(),
        cwd: None,
        uid: None,
        gid: None,
        stdio: vec![StdioSpec::Ignore, StdioSpec::Inherit, StdioSpec::Inherit],
        channel_fd: 3,
        cpu_affinity: None,
    }
}

#[test]
fn a_worker_channel_stays_with_the_io_thread_after_a_handoff_until_its_worker_talks() {
    if !node_available() {
        return;
    }
    let (primary, rx) = recorded_primary();
    primary.set_policy(Policy::RoundRobin);
    primary.set_loop_polling(true);
    primary
        .spawn(1, http_worker(), Serialization::Json)
        .unwrap();

    let event_loop = event_loop_of(&primary);
    let mut listeners = Vec::new();
    let mut ready = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Plays the JavaScript side until `done` says so; returns what `done` returned.
    let mut run_until = |done: &mut dyn FnMut(bool, &Event) -> bool| loop {
        assert!(std::time::Instant::now() < deadline, "timed out");
        event_loop.wait(&mut ready, 50).unwrap();
        if !ready.is_empty() {
            primary.service_loop();
        }
        for (on_loop, event) in rx.try_iter() {
            if let Event::OpenListener { server, .. } = &event {
                // What the facade does with net.Server#listen.
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                primary.listener_opened(*server, listener.as_raw_fd());
                listeners.push(listener);
            }
            if done(on_loop, &event) {
                return;
            }
        }
    };

    let mut port = 0u16;
    run_until(&mut |_, e| {
        let text = frame_text(e);
        if let Some(rest) = text.strip_prefix(r#"{"port":"#) {
            port = rest.trim_end_matches('}').parse().unwrap();
            return true;
        }
        false
    });
    assert_ne!(port, 0);

    // One request: the connection is handed over (the channel moves to the I/O thread for
    // the acknowledgement) and stays there, so the worker's next message is read by the
    // I/O thread; that gives the channel back to the loop, which reads the one after.
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut client, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut client, &mut response).unwrap();
    assert!(response.ends_with("ok"), "{response}");
    let mut served_on_loop = None;
    run_until(&mut |on_loop, e| {
        if frame_text(e) == r#"{"served":true}"# {
            served_on_loop = Some(on_loop);
            return true;
        }
        false
    });
    assert_eq!(
        served_on_loop,
        Some(false),
        "the channel went back to the loop at the acknowledgement"
    );
    primary
        .send(1, b"{\"ping\":1}\n".to_vec(), None, 0)
        .unwrap();
    let mut echo_on_loop = None;
    run_until(&mut |on_loop, e| {
        if frame_text(e) == r#"{"echo":{"ping":1}}"# {
            echo_on_loop = Some(on_loop);
            return true;
        }
        false
    });
    assert_eq!(
        echo_on_loop,
        Some(true),
        "a worker that talked to JavaScript is read on the loop again"
    );

    primary.kill(1, libc::SIGKILL).unwrap();
    run_until(&mut |_, e| matches!(e, Event::Exit { .. }));
    let _ = std::fs::remove_file(http_worker_script());
}

/// The next event that is not a `Written` or a `Disconnect`, within 10 s.
pub(super) fn next_event(rx: &mpsc::Receiver<(bool, Event)>) -> Event {
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((_, Event::Written { .. } | Event::Disconnect { .. })) => continue,
            Ok((_, event)) => return event,
            Err(e) => panic!("no event: {e}"),
        }
    }
}

#[test]
fn a_deadline_kills_from_the_io_thread_with_nobody_calling_in() {
    let (primary, rx) = recorded_primary();
    primary
        .spawn(1, sh("sleep 30"), Serialization::Json)
        .unwrap();
    let asked = Instant::now();
    primary.kill_after(1, 150, libc::SIGKILL, KillReason::StartupTimeout);
    // The test thread now only waits: the kill comes from the I/O thread's timer.
    match next_event(&rx) {
        Event::Timer {
            kind: TimerEvent::StartupTimeout,
            id: 1,
        } => {}
        other => panic!("expected the startup timeout, got {other:?}"),
    }
    assert!(asked.elapsed() >= Duration::from_millis(150));
    match next_event(&rx) {
        Event::Exit { worker: 1, exit } => assert_eq!(exit.signal, Some("SIGKILL")),
        other => panic!("expected the exit, got {other:?}"),
    }
}

#[test]
fn a_cancelled_deadline_leaves_the_worker_alone() {
    let (primary, rx) = recorded_primary();
    primary
        .spawn(2, sh("sleep 0.5; exit 4"), Serialization::Json)
        .unwrap();
    primary.kill_after(2, 100, libc::SIGKILL, KillReason::Deadline);
    primary.cancel_kill(2, KillReason::Deadline);
    match next_event(&rx) {
        Event::Exit { worker: 2, exit } => assert_eq!(exit.code, Some(4)),
        other => panic!("expected a plain exit, got {other:?}"),
    }
}

#[test]
fn a_restart_comes_due_as_a_timer_event_after_its_delay() {
    let (primary, rx) = recorded_primary();
    primary.set_restart_policy(Some(RestartPolicy {
        delay: 120.0,
        ..RestartPolicy::default()
    }));
    primary.slot_started(5);
    let exited = Instant::now();
    assert_eq!(
        primary.slot_exited(5),
        Some(Decision::Restart {
            attempt: 1,
            delay: 120
        })
    );
    match next_event(&rx) {
        Event::Timer {
            kind: TimerEvent::Restart,
            id: 5,
        } => {}
        other => panic!("expected the restart, got {other:?}"),
    }
    assert!(exited.elapsed() >= Duration::from_millis(120));
}
