//! The reactor with real children: which thread reads a channel, and in what order events
//! come out.

use super::*;
use crate::spawn::StdioSpec;
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

fn sh(script: &str) -> SpawnOptions {
    SpawnOptions {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![],
        cwd: None,
        uid: None,
        gid: None,
        stdio: vec![StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Inherit],
        channel_fd: 3,
    }
}

fn frame_text(event: &Event) -> String {
    match event {
        Event::Internal { frame, .. } | Event::Message { frame, .. } => {
            String::from_utf8_lossy(frame).trim_end().to_string()
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn a_loop_owned_channel_is_read_only_by_service_loop_and_exit_comes_after() {
    let (tx, rx) = mpsc::channel();
    let primary = Primary::start(Box::new(Recorder(parking_lot::Mutex::new(tx)))).unwrap();
    primary.set_loop_polling(true);
    // Three frames, then wait for the primary to close the channel, then exit 0.
    let script = r#"printf '{"cmd":"NODE_CLUSTER","act":"online","seq":0}\n{"n":1}\n{"n":2}\n' >&3; cat <&3 >/dev/null"#;
    primary.spawn(1, sh(script), Serialization::Json).unwrap();

    // Play the event loop: wait until the loop poller is readable, then service it.
    let event_loop = Epoll::new().unwrap();
    event_loop
        .add(primary.loop_poller_fd(), EPOLLIN, 0)
        .unwrap();
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
    let (tx, rx) = mpsc::channel();
    let primary = Primary::start(Box::new(Recorder(parking_lot::Mutex::new(tx)))).unwrap();
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
