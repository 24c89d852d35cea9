//! Noticing a worker's exit: its pidfd becomes readable, then `waitpid` on that one pid
//! collects the status (so Node's own children are never reaped from under libuv).

use crate::signals;
use crate::sys::{self, ExitStatus};
use std::io;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::{spawn, SpawnOptions, StdioSpec};
    use std::os::fd::AsRawFd;

    #[test]
    fn pidfd_becomes_readable_at_exit_and_status_is_collected_once() {
        let spawned = spawn(SpawnOptions {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "exit 3".into()],
            env: vec![],
            cwd: None,
            uid: None,
            gid: None,
            stdio: vec![StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Ignore],
            channel_fd: 3,
            cpu_affinity: None,
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
