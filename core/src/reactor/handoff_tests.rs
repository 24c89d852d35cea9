//! Round-robin handoff with real Node workers under bursts: the accept queue is counted,
//! the listener parked while every worker is busy and watched again once the queue is
//! empty. A lost wakeup there leaves connections waiting in the kernel forever, so each
//! burst must be answered in full.

use super::tests::{node_worker, recorded_primary};
use super::*;
use crate::test_node::node_available;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Where a test's worker script lives: one per test, since the tests run at once in one
/// process and each removes its own.
fn script_path(test: &str, id: u32) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "rc-answering-worker-{}-{test}-{id}.js",
        std::process::id()
    ))
}

/// A Node cluster worker that answers every connection with "x" (and reports its port).
fn answering_worker(test: &str, id: u32) -> SpawnOptions {
    let script = r#"
        require('cluster');
        const server = require('net').createServer((s) => { s.resume(); s.end('x'); });
        server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    "#;
    let path = script_path(test, id);
    std::fs::write(&path, script).unwrap();
    node_worker(&path, id)
}

/// Opens `clients` connections at once and reads each one's answer; false if any is not
/// answered within the deadline.
fn burst(port: u16, clients: usize) -> bool {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
                s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
                s.write_all(b"hi").ok()?;
                let mut answer = String::new();
                s.read_to_string(&mut answer).ok()?;
                (answer == "x").then_some(())
            })
        })
        .collect();
    threads
        .into_iter()
        .all(|t| t.join().ok().flatten().is_some())
}

fn bursts_are_answered_in_full(policy: Policy, workers: u32) {
    if !node_available() {
        return;
    }
    let test = format!("{policy:?}-{workers}");
    let (primary, rx) = recorded_primary();
    primary.set_policy(policy);
    for id in 1..=workers {
        primary
            .spawn(id, answering_worker(&test, id), Serialization::Json)
            .unwrap();
    }
    let mut listeners = Vec::new();
    let mut port = 0u16;
    let mut listening = 0;
    while listening < workers {
        let (_, event) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("workers never listened");
        match &event {
            // What the facade does with net.Server#listen.
            Event::OpenListener { server, .. } => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                primary.listener_opened(*server, listener.as_raw_fd());
                listeners.push(listener);
            }
            Event::Message {
                frame: Frame::Json(text),
                ..
            } => {
                if let Some(rest) = text.trim_end().strip_prefix(r#"{"port":"#) {
                    port = rest.trim_end_matches('}').parse().unwrap();
                    listening += 1;
                }
            }
            _ => {}
        }
    }
    // Bursts larger than the workers, with pauses between them: the last connection of a
    // burst leaves the queue empty while every worker is busy, and the next burst's
    // arrivals must still wake the primary.
    for round in 0..6 {
        assert!(
            burst(port, 24),
            "{policy:?}: burst {round} not answered in full"
        );
    }
    for id in 1..=workers {
        let _ = primary.kill(id, libc::SIGKILL);
    }
    primary.shutdown(Duration::from_secs(2));
    for id in 1..=workers {
        let _ = std::fs::remove_file(script_path(&test, id));
    }
}

#[test]
fn round_robin_answers_every_burst_with_one_worker() {
    bursts_are_answered_in_full(Policy::RoundRobin, 1);
}

#[test]
fn round_robin_answers_every_burst_with_two_workers() {
    bursts_are_answered_in_full(Policy::RoundRobin, 2);
}

#[test]
fn sticky_answers_every_burst() {
    bursts_are_answered_in_full(Policy::Sticky, 2);
}
