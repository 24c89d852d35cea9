//! Noticing a worker's exit: its pidfd becomes readable, then `waitpid` on that one pid
//! collects the status (so Node's own children are never reaped from under libuv).

use crate::scheduler::WorkerId;
use crate::signals;
use crate::sys::{self, ExitStatus};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How a worker ended, as Node's ChildProcess reports it: an exit code, or a signal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<&'static str>,
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        match status {
            ExitStatus::Code(code) => Exit {
                code: Some(code),
                signal: None,
            },
            ExitStatus::Signal(sig) => Exit {
                code: None,
                signal: Some(signals::name(sig).unwrap_or("SIGKILL")),
            },
        }
    }
}

/// Collects the exit of `pid` if it has happened.
pub fn reap(pid: i32) -> io::Result<Option<Exit>> {
    Ok(sys::try_reap(pid)?.map(Exit::from))
}

/// A worker whose primary is going away; its channel is already closed.
pub struct Leaving {
    pub id: WorkerId,
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Ends workers whose channel was just closed, as their primary's process ending would:
/// a Node worker leaves by itself when its channel closes (exit code 0), so each gets
/// `grace` to do that; whoever is still running then is SIGKILLed (as the watchdog does
/// when the whole primary process is gone). Every one is reaped, so none is left a zombie.
pub fn end_all(workers: Vec<Leaving>, grace: Duration) -> Vec<(WorkerId, Exit)> {
    let mut ended = Vec::with_capacity(workers.len());
    let mut running: Vec<Leaving> = workers;
    let deadline = Instant::now() + grace;
    let exits = sys::Epoll::new().ok();
    if let Some(exits) = &exits {
        for (i, worker) in running.iter().enumerate() {
            let _ = exits.add(worker.pidfd.as_raw_fd(), sys::EPOLLIN, i as u64);
        }
    }
    let mut ready = Vec::new();
    loop {
        running.retain(|worker| match reap(worker.pid) {
            Ok(Some(exit)) => {
                ended.push((worker.id, exit));
                false
            }
            Ok(None) => true,
            // Not ours to wait for any more (someone else reaped it).
            Err(_) => false,
        });
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(exits) = exits
            .as_ref()
            .filter(|_| !running.is_empty() && !left.is_zero())
        else {
            break;
        };
        let wait_ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
        if exits.wait(&mut ready, wait_ms).is_err() {
            break;
        }
    }
    for worker in running {
        // Not yet reaped, so the pid is still this worker's.
        let _ = sys::kill(worker.pid, libc::SIGKILL);
        if let Ok(status) = sys::reap_blocking(worker.pid) {
            ended.push((worker.id, Exit::from(status)));
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::{spawn, SpawnOptions, StdioSpec};

    #[test]
    fn pidfd_becomes_readable_at_exit_and_status_is_collected_once() {
        let spawned = spawn(SpawnOptions {
            stdio: vec![StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Ignore],
            ..SpawnOptions::shell("exit 3")
        })
        .unwrap();
        let epoll = sys::Epoll::new().unwrap();
        epoll
            .add(spawned.pidfd.as_raw_fd(), sys::EPOLLIN, 9)
            .unwrap();
        let mut ready = Vec::new();
        while ready.is_empty() {
            epoll.wait(&mut ready, 10_000).unwrap();
        }
        assert_eq!(ready[0].0, 9);
        assert_eq!(
            reap(spawned.pid).unwrap(),
            Some(Exit {
                code: Some(3),
                signal: None
            })
        );
        // Reaped: a second wait finds no such child.
        assert!(reap(spawned.pid).is_err());
    }
}
