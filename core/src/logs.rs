//! Workers' stdout and stderr, read by the primary one whole line at a time on a thread of
//! its own and written to the primary's own stdout and stderr, each line prefixed with
//! its worker (`[worker 3] ...`) or as a JSON line (`{time, worker, pid, stream, line}`).
//! A line is written with one `write`, so lines of two workers never mix. A line longer
//! than `MAX_LINE` is cut there (the rest follows as the next line); a last line without
//! a newline is written when the pipe ends.
//!
//! One thread per process, started at the first worker whose output it reads; writes to
//! the primary's descriptors block that thread only (never the I/O thread).

use crate::sys::{self, Epoll, EPOLLIN};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub const MAX_LINE: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prefix,
    Json,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "prefix" | "text" => Some(Format::Prefix),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// The primary's descriptor this stream's lines go to.
    fn target(self) -> RawFd {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }
}

/// Splits bytes into lines, keeping an unfinished one for the next read.
#[derive(Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Feeds bytes; returns the complete lines (without their newline).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.push(std::mem::take(&mut self.pending));
            } else {
                self.pending.push(b);
                if self.pending.len() >= MAX_LINE {
                    out.push(std::mem::take(&mut self.pending));
                }
            }
        }
        out
    }

    /// The unfinished line, at end of stream.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// UTC time as RFC 3339 with milliseconds (`2026-12-01T14:31:06.123Z`).
pub fn rfc3339(since_epoch_ms: u64) -> String {
    let days = (since_epoch_ms / 86_400_000) as i64;
    let ms_of_day = since_epoch_ms % 86_400_000;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// One output line as the format writes it (with its newline).
pub fn format_line(format: Format, worker: u32, pid: i32, stream: Stream, line: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let mut out = match format {
        Format::Prefix => format!("[worker {worker}] {text}"),
        Format::Json => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            // Written by hand: the keys in this order (serde_json's map sorts them).
            format!(
                "{{\"time\":\"{}\",\"worker\":{worker},\"pid\":{pid},\"stream\":\"{}\",\"line\":{}}}",
                rfc3339(now),
                stream.name(),
                serde_json::Value::from(text)
            )
        }
    }
    .into_bytes();
    out.push(b'\n');
    out
}

struct Source {
    fd: OwnedFd,
    worker: u32,
    pid: i32,
    stream: Stream,
    format: Format,
    lines: Lines,
}

struct Reader {
    epoll: Epoll,
    sources: Mutex<HashMap<u64, Source>>,
    next: Mutex<u64>,
}

static READER: Mutex<Option<Arc<Reader>>> = Mutex::new(None);

fn reader() -> io::Result<Arc<Reader>> {
    let mut slot = READER.lock();
    if let Some(reader) = slot.as_ref() {
        return Ok(reader.clone());
    }
    let reader = Arc::new(Reader {
        epoll: Epoll::new()?,
        sources: Mutex::new(HashMap::new()),
        next: Mutex::new(0),
    });
    let thread = reader.clone();
    std::thread::Builder::new()
        .name("rust-cluster-logs".into())
        .spawn(move || run(&thread))?;
    *slot = Some(reader.clone());
    Ok(reader)
}

fn run(reader: &Reader) {
    let mut ready = Vec::new();
    loop {
        ready.clear();
        if reader.epoll.wait(&mut ready, -1).is_err() {
            return;
        }
        for &(token, _) in &ready {
            reader.pump(token);
        }
    }
}

impl Reader {
    /// Reads what the pipe has (up to end of stream) and writes its complete lines.
    fn pump(&self, token: u64) {
        let mut sources = self.sources.lock();
        let Some(source) = sources.get_mut(&token) else {
            return;
        };
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match sys::read(source.fd.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => {
                    // End of stream (or a broken pipe): the last line, then forget it.
                    if let Some(last) = source.lines.finish() {
                        source.write(&last);
                    }
                    self.epoll.delete(source.fd.as_raw_fd());
                    sources.remove(&token);
                    return;
                }
                Ok(n) => {
                    for line in source.lines.feed(&buf[..n]) {
                        source.write(&line);
                    }
                    if n < buf.len() {
                        return;
                    }
                }
            }
        }
    }
}

impl Source {
    fn write(&self, line: &[u8]) {
        let out = format_line(self.format, self.worker, self.pid, self.stream, line);
        let _ = sys::write_all(self.stream.target(), &out);
    }
}

/// Reads worker `worker`'s `stream` from `fd` (its end of the pipe) from now on.
pub fn attach(
    worker: u32,
    pid: i32,
    stream: Stream,
    fd: OwnedFd,
    format: Format,
) -> io::Result<()> {
    let reader = reader()?;
    sys::set_nonblocking(fd.as_raw_fd())?;
    let token = {
        let mut next = reader.next.lock();
        *next += 1;
        *next
    };
    let raw = fd.as_raw_fd();
    reader.sources.lock().insert(
        token,
        Source {
            fd,
            worker,
            pid,
            stream,
            format,
            lines: Lines::default(),
        },
    );
    if let Err(e) = reader.epoll.add(raw, EPOLLIN, token) {
        reader.sources.lock().remove(&token);
        return Err(e);
    }
    Ok(())
}

/// Writes out what worker `worker` wrote before now (when it exited: its lines come before
/// the primary's report of the exit).
pub fn drain(worker: u32) {
    let Some(reader) = READER.lock().clone() else {
        return;
    };
    let tokens: Vec<u64> = reader
        .sources
        .lock()
        .iter()
        .filter(|(_, s)| s.worker == worker)
        .map(|(t, _)| *t)
        .collect();
    for token in tokens {
        reader.pump(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_whole_whatever_the_reads() {
        let mut lines = Lines::default();
        assert!(lines.feed(b"hel").is_empty());
        assert_eq!(lines.feed(b"lo\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(lines.feed(b"ld\n\nx"), vec![b"world".to_vec(), Vec::new()]);
        assert_eq!(lines.finish(), Some(b"x".to_vec()));
        assert_eq!(lines.finish(), None);
        let long = vec![b'a'; MAX_LINE + 10];
        let cut = lines.feed(&long);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].len(), MAX_LINE);
        assert_eq!(lines.finish().unwrap().len(), 10);
    }

    #[test]
    fn formats() {
        assert_eq!(
            format_line(Format::Prefix, 3, 9, Stream::Stdout, b"hi\r"),
            b"[worker 3] hi\n".to_vec()
        );
        let json = format_line(Format::Json, 3, 9, Stream::Stderr, b"a \"q\" \xff");
        assert!(json.starts_with(b"{\"time\":\""), "keys in order");
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["worker"], 3);
        assert_eq!(value["pid"], 9);
        assert_eq!(value["stream"], "stderr");
        assert_eq!(value["line"], "a \"q\" \u{fffd}");
        assert!(value["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(json.last(), Some(&b'\n'));
    }

    #[test]
    fn utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_796_136_666_007), "2026-12-01T14:51:06.007Z");
    }
}
