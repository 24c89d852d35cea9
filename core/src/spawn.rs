//! Starting a worker: a new `node` process (fork + exec, never a fork of the running V8)
//! with one end of a socketpair placed at the channel descriptor Node expects.
//!
//! Every spawn runs on one long-lived thread, which also starts the watchdog (see
//! `watchdog`): it makes "no worker outlives the primary" hold without killing workers
//! on a normal primary exit, where Node lets them see the channel close and exit 0.

use crate::{sys, watchdog};
use parking_lot::Mutex;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdioSpec {
    Inherit,
    Ignore,
    /// A socketpair; the primary's end is returned to the caller.
    Pipe,
    /// The child gets a copy of this primary descriptor.
    Fd(RawFd),
}

#[derive(Debug, Clone)]
pub struct SpawnOptions {
    /// The `node` binary (`process.execPath`).
    pub program: String,
    /// Everything after argv[0]: execArgv, the script, its args.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The child's descriptors by number (0, 1, 2 and any extra); the channel's slot is
    /// ignored.
    pub stdio: Vec<StdioSpec>,
    /// Where the channel lands in the child (`NODE_CHANNEL_FD`).
    pub channel_fd: RawFd,
    /// CPUs to pin the child to before exec (`cpuAffinity`), None to inherit ours.
    pub cpu_affinity: Option<Vec<usize>>,
}

impl SpawnOptions {
    /// `/bin/sh -c script` with nothing else set (stdin and stdout ignored, stderr
    /// inherited, the channel at 3): what the core's tests spawn in place of a worker.
    pub fn shell(script: &str) -> SpawnOptions {
        SpawnOptions {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            cwd: None,
            uid: None,
            gid: None,
            stdio: vec![StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Inherit],
            channel_fd: 3,
            cpu_affinity: None,
        }
    }
}

pub struct Spawned {
    pub pid: i32,
    /// The primary's end of the IPC channel.
    pub channel: OwnedFd,
    pub pidfd: OwnedFd,
    /// The primary's ends of piped stdio, by child descriptor number.
    pub stdio: Vec<Option<OwnedFd>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The spawner thread's queue, started on first use. A failure to start it is an error
/// for that spawn (and is retried by the next), never a panic.
fn spawner() -> io::Result<mpsc::Sender<Job>> {
    static SPAWNER: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);
    let mut slot = SPAWNER.lock();
    if let Some(tx) = slot.as_ref() {
        return Ok(tx.clone());
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("rust-cluster-spawner".into())
        .spawn(move || {
            // Lives as long as the process: the sender is kept in a static.
            for job in rx {
                job();
            }
        })?;
    *slot = Some(tx.clone());
    Ok(tx)
}

/// Starts a worker from the spawner thread and waits for the result.
pub fn spawn(options: SpawnOptions) -> io::Result<Spawned> {
    let (tx, rx) = mpsc::channel();
    spawner()?
        .send(Box::new(move || {
            let _ = tx.send(spawn_here(&options));
        }))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// The child's side of stdin/stdout/stderr, and the primary's end when piped.
fn stdio_for(spec: &StdioSpec) -> io::Result<(Stdio, Option<OwnedFd>)> {
    Ok(match spec {
        StdioSpec::Inherit => (Stdio::inherit(), None),
        StdioSpec::Ignore => (Stdio::null(), None),
        StdioSpec::Pipe => {
            let (ours, theirs) = sys::socketpair()?;
            (Stdio::from(theirs), Some(ours))
        }
        StdioSpec::Fd(fd) => (Stdio::from(sys::dup_cloexec(*fd)?), None),
    })
}

fn spawn_here(options: &SpawnOptions) -> io::Result<Spawned> {
    let (ours, theirs) = sys::socketpair()?;
    let mut stdio: Vec<Option<OwnedFd>> = (0..options.stdio.len().max(3)).map(|_| None).collect();
    let mut cmd = Command::new(&options.program);
    cmd.arg0(&options.program)
        .args(&options.args)
        .env_clear()
        .envs(options.env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = &options.cwd {
        cmd.current_dir(cwd);
    }
    if let Some(gid) = options.gid {
        cmd.gid(gid);
    }
    if let Some(uid) = options.uid {
        cmd.uid(uid);
    }
    let inherit = StdioSpec::Inherit;
    let spec = |i: usize| options.stdio.get(i).unwrap_or(&inherit);
    let stdin;
    let stdout;
    let stderr;
    (stdin, stdio[0]) = stdio_for(spec(0))?;
    (stdout, stdio[1]) = stdio_for(spec(1))?;
    (stderr, stdio[2]) = stdio_for(spec(2))?;
    cmd.stdin(stdin).stdout(stdout).stderr(stderr);
    // Descriptors above stderr: the channel and any extra stdio, as (source, target).
    let mut keep: Vec<OwnedFd> = Vec::new();
    let mut mapping: Vec<(RawFd, RawFd)> = vec![(theirs.as_raw_fd(), options.channel_fd)];
    for (i, spec) in options.stdio.iter().enumerate().skip(3) {
        let target = i as RawFd;
        if target == options.channel_fd {
            continue;
        }
        let source = match spec {
            StdioSpec::Ignore => continue,
            StdioSpec::Inherit => sys::dup_cloexec(target)?,
            StdioSpec::Fd(fd) => sys::dup_cloexec(*fd)?,
            StdioSpec::Pipe => {
                let (parent_end, child_end) = sys::socketpair()?;
                stdio[i] = Some(parent_end);
                child_end
            }
        };
        mapping.push((source.as_raw_fd(), target));
        keep.push(source);
    }
    // Room for the moved copies, allocated before fork (the child must not allocate).
    let mut moved: Vec<RawFd> = vec![-1; mapping.len()];
    let affinity = options
        .cpu_affinity
        .as_deref()
        .map(sys::CpuSet::of)
        .transpose()?;
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // syscalls (sched_setaffinity, fcntl, dup2, close_range); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(set) = &affinity {
                sys::child_set_affinity(set)?;
            }
            sys::child_place_fds(&mapping, &mut moved)
        });
    }
    watchdog::ensure_started()?;
    let child = cmd.spawn()?;
    let pid = child.id() as i32;
    // We reap through the pidfd; std's Child handle is not needed (dropping it neither
    // waits nor kills).
    drop(child);
    drop(theirs);
    drop(keep);
    let pidfd = sys::pidfd_open(pid)?;
    // Best effort: without the watchdog the worker still exits when it sees its channel
    // close, as with Node's own primary.
    let _ = watchdog::track(pidfd.as_raw_fd());
    sys::set_nonblocking(ours.as_raw_fd())?;
    Ok(Spawned {
        pid,
        channel: ours,
        pidfd,
        stdio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn sh(script: &str, stdio: [StdioSpec; 3]) -> SpawnOptions {
        SpawnOptions {
            env: vec![("GREETING".into(), "hi".into())],
            cwd: Some("/".into()),
            stdio: stdio.to_vec(),
            ..SpawnOptions::shell(script)
        }
    }

    fn wait(pid: i32) -> sys::ExitStatus {
        loop {
            if let Some(status) = sys::try_reap(pid).unwrap() {
                return status;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn child_gets_env_cwd_channel_and_nothing_else() {
        let script = "echo \"$GREETING $(pwd) $(ls /proc/self/fd | sort -n | tr '\\n' ' ')\" >&3";
        let spawned = spawn(sh(
            script,
            [StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Ignore],
        ))
        .unwrap();
        let mut out = String::new();
        let mut channel = std::os::unix::net::UnixStream::from(spawned.channel);
        channel.set_nonblocking(false).unwrap();
        channel.read_to_string(&mut out).unwrap();
        assert_eq!(wait(spawned.pid), sys::ExitStatus::Code(0));
        // fds 0-2, the channel at 3, and the fd `ls` itself opens for /proc/self/fd.
        assert!(out.starts_with("hi / 0 1 2 3 "), "{out}");
        let fds: Vec<&str> = out.trim().split(' ').skip(2).collect();
        assert_eq!(fds.len(), 5, "{out}");
    }

    #[test]
    fn piped_stdio_reaches_the_primary() {
        let spawned = spawn(sh(
            "read line; echo \"got $line\"; echo oops >&2; exit 7",
            [StdioSpec::Pipe, StdioSpec::Pipe, StdioSpec::Pipe],
        ))
        .unwrap();
        let mut fds = spawned.stdio.into_iter();
        let (stdin, stdout, stderr) = (
            fds.next().unwrap(),
            fds.next().unwrap(),
            fds.next().unwrap(),
        );
        let mut stdin = std::os::unix::net::UnixStream::from(stdin.unwrap());
        stdin.write_all(b"ping\n").unwrap();
        drop(stdin);
        let mut out = String::new();
        std::os::unix::net::UnixStream::from(stdout.unwrap())
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        std::os::unix::net::UnixStream::from(stderr.unwrap())
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(out, "got ping\n");
        assert_eq!(err, "oops\n");
        assert_eq!(wait(spawned.pid), sys::ExitStatus::Code(7));
    }

    #[test]
    fn missing_program_is_an_error_not_a_child() {
        let mut options = sh(
            "",
            [StdioSpec::Inherit, StdioSpec::Inherit, StdioSpec::Inherit],
        );
        options.program = "/nonexistent/node".into();
        let err = spawn(options).err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn child_is_pinned_before_exec() {
        let allowed = sys::sched_getaffinity().unwrap();
        let last = *allowed.last().unwrap();
        let mut options = sh(
            "grep Cpus_allowed_list /proc/self/status >&3",
            [StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Ignore],
        );
        options.cpu_affinity = Some(vec![last]);
        let spawned = spawn(options).unwrap();
        let mut out = String::new();
        let mut channel = std::os::unix::net::UnixStream::from(spawned.channel);
        channel.set_nonblocking(false).unwrap();
        channel.read_to_string(&mut out).unwrap();
        assert_eq!(wait(spawned.pid), sys::ExitStatus::Code(0));
        assert_eq!(out.trim(), format!("Cpus_allowed_list:\t{last}"));
    }

    #[test]
    fn pinning_to_no_allowed_cpu_is_a_spawn_error() {
        let mut options = sh(
            "exit 0",
            [StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Ignore],
        );
        // CPU 1000 exists on no machine here: the kernel refuses the mask in the child.
        options.cpu_affinity = Some(vec![1000]);
        let err = spawn(options).err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let mut options = sh(
            "exit 0",
            [StdioSpec::Ignore, StdioSpec::Ignore, StdioSpec::Ignore],
        );
        options.cpu_affinity = Some(vec![]);
        assert!(spawn(options).is_err());
    }

    #[test]
    fn killed_child_reports_its_signal() {
        let spawned = spawn(sh(
            "kill -TERM $$",
            [StdioSpec::Inherit, StdioSpec::Inherit, StdioSpec::Inherit],
        ))
        .unwrap();
        assert_eq!(wait(spawned.pid), sys::ExitStatus::Signal(libc::SIGTERM));
    }
}
