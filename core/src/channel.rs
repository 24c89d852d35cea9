//! One worker's IPC channel, both directions, as Node frames it: newline-delimited JSON or
//! (in `advanced` mode) a big-endian u32 length before each V8-serialized message.
//! File descriptors ride along with SCM_RIGHTS; a frame that carries one is a NODE_HANDLE
//! message and everything written after it waits for the peer's NODE_HANDLE_ACK, exactly
//! like Node's `_handleQueue`, so messages never overtake a handle.

use crate::sys;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serialization {
    Json,
    Advanced,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A frame grew past the configured limit before it ended.
    TooLong { limit: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { limit } => {
                write!(f, "IPC message longer than the limit of {limit} bytes")
            }
        }
    }
}

/// Splits the incoming byte stream into frames and keeps received descriptors in arrival
/// order, so a NODE_HANDLE line takes the descriptor that came with it.
pub struct FrameDecoder {
    mode: Serialization,
    buf: Vec<u8>,
    /// Bytes before this offset are already consumed.
    start: usize,
    /// Where the search for the next newline resumes (JSON mode), so a long line that
    /// arrives in many reads is scanned once.
    scan: usize,
    max_frame: usize,
    fds: VecDeque<OwnedFd>,
}

impl FrameDecoder {
    pub fn new(mode: Serialization, max_frame: usize) -> FrameDecoder {
        FrameDecoder {
            mode,
            buf: Vec::new(),
            start: 0,
            scan: 0,
            max_frame,
            fds: VecDeque::new(),
        }
    }

    pub fn feed(&mut self, data: &[u8], fds: Vec<OwnedFd>) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.scan -= self.start;
            self.start = 0;
        } else if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.scan -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        self.fds.extend(fds);
    }

    /// The next complete frame (without its newline or length prefix), if any.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        match self.mode {
            Serialization::Json => self.next_line(),
            Serialization::Advanced => self.next_prefixed(),
        }
    }

    fn next_line(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let from = self.scan.max(self.start);
        match self.buf[from..].iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let end = from + pos;
                let frame = self.buf[self.start..end].to_vec();
                self.start = end + 1;
                self.scan = self.start;
                Ok(Some(frame))
            }
            None => {
                self.scan = self.buf.len();
                if self.buf.len() - self.start > self.max_frame {
                    return Err(FrameError::TooLong {
                        limit: self.max_frame,
                    });
                }
                Ok(None)
            }
        }
    }

    fn next_prefixed(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let pending = &self.buf[self.start..];
        if pending.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
        if len > self.max_frame {
            return Err(FrameError::TooLong {
                limit: self.max_frame,
            });
        }
        if pending.len() < 4 + len {
            return Ok(None);
        }
        let frame = pending[4..4 + len].to_vec();
        self.start += 4 + len;
        self.scan = self.start;
        Ok(Some(frame))
    }

    /// The oldest received descriptor not yet claimed by a NODE_HANDLE frame.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }

    /// True while part of a frame has arrived (Node's `channel.buffering`).
    pub fn is_buffering(&self) -> bool {
        self.start < self.buf.len()
    }

    /// Descriptors that arrived with no frame to claim them.
    pub fn stray_fds(&self) -> usize {
        self.fds.len()
    }
}

/// How a queued frame relates to handle passing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An ordinary message: waits behind an unacknowledged handle.
    Plain,
    /// Carries a descriptor: after it, everything waits for the peer's ACK.
    Handle,
    /// NODE_HANDLE_ACK / NACK: never waits, or the two sides could deadlock.
    Ack,
}

pub struct OutFrame {
    pub bytes: Vec<u8>,
    pub fd: Option<OwnedFd>,
    pub kind: FrameKind,
    /// Reported back once the frame is fully written; 0 means nobody asked.
    pub write_id: u64,
}

/// A handle sent but not yet acknowledged: kept so a NACK can send it again.
struct Unacked {
    bytes: Vec<u8>,
    fd: Option<OwnedFd>,
    retransmissions: u32,
}

const MAX_HANDLE_RETRANSMISSIONS: u32 = 3;

/// The outgoing side: a queue that is written without ever blocking.
#[derive(Default)]
pub struct Writer {
    ready: VecDeque<OutFrame>,
    /// Bytes of the front frame already written.
    offset: usize,
    held: VecDeque<OutFrame>,
    unacked: Option<Unacked>,
    queued_bytes: usize,
}

pub enum Flush {
    /// Everything queued is written.
    Done,
    /// The socket is full; wait for it to become writable.
    Blocked,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn push(&mut self, frame: OutFrame) {
        self.queued_bytes += frame.bytes.len();
        if self.unacked.is_some() && frame.kind != FrameKind::Ack {
            self.held.push_back(frame);
        } else {
            self.admit(frame);
        }
    }

    fn admit(&mut self, frame: OutFrame) {
        if frame.kind == FrameKind::Handle {
            self.unacked = Some(Unacked {
                bytes: frame.bytes.clone(),
                fd: None,
                retransmissions: 0,
            });
        }
        self.ready.push_back(frame);
    }

    /// The peer acknowledged the handle: release what waited behind it.
    pub fn on_ack(&mut self) {
        self.unacked = None;
        self.release_held();
    }

    /// The peer could not take the handle: send it again, a few times at most.
    pub fn on_nack(&mut self) {
        let Some(mut unacked) = self.unacked.take() else {
            return;
        };
        if unacked.retransmissions < MAX_HANDLE_RETRANSMISSIONS && unacked.fd.is_some() {
            unacked.retransmissions += 1;
            let frame = OutFrame {
                bytes: unacked.bytes.clone(),
                fd: unacked.fd.take(),
                kind: FrameKind::Plain,
                write_id: 0,
            };
            self.queued_bytes += frame.bytes.len();
            self.ready.push_back(frame);
            self.unacked = Some(unacked);
            return;
        }
        self.release_held();
    }

    fn release_held(&mut self) {
        while self.unacked.is_none() {
            match self.held.pop_front() {
                Some(frame) => self.admit(frame),
                None => break,
            }
        }
    }

    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub fn is_idle(&self) -> bool {
        self.ready.is_empty() && self.held.is_empty()
    }

    pub fn awaiting_ack(&self) -> bool {
        self.unacked.is_some()
    }

    /// Writes as much as the socket takes. `done` collects the write ids of frames that
    /// are now completely written.
    pub fn flush(&mut self, sock: RawFd, done: &mut Vec<u64>) -> io::Result<Flush> {
        while let Some(front) = self.ready.front_mut() {
            let fd = if self.offset == 0 {
                front.fd.as_ref().map(|fd| fd.as_raw_fd())
            } else {
                None
            };
            match sys::send_with_fd(sock, &front.bytes[self.offset..], fd) {
                Ok(n) => {
                    self.offset += n;
                    self.queued_bytes -= n;
                    if self.offset < front.bytes.len() {
                        continue;
                    }
                    self.offset = 0;
                    let frame = self.ready.pop_front().expect("front exists");
                    if frame.write_id != 0 {
                        done.push(frame.write_id);
                    }
                    self.keep_for_retransmit(frame);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Flush::Done)
    }

    /// After a handle frame is written, our descriptor copy stays until the ACK so a NACK
    /// can resend it; the ACK (or the writer's drop) closes it.
    fn keep_for_retransmit(&mut self, frame: OutFrame) {
        if let (Some(unacked), Some(fd)) = (self.unacked.as_mut(), frame.fd) {
            if unacked.fd.is_none() && unacked.bytes == frame.bytes {
                unacked.fd = Some(fd);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    fn lines(dec: &mut FrameDecoder) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(f) = dec.next_frame().unwrap() {
            out.push(String::from_utf8(f).unwrap());
        }
        out
    }

    #[test]
    fn json_lines_split_across_reads() {
        let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
        dec.feed(b"{\"a\":", vec![]);
        assert!(lines(&mut dec).is_empty());
        assert!(dec.is_buffering());
        dec.feed(b"1}\n{\"b\"", vec![]);
        assert_eq!(lines(&mut dec), vec!["{\"a\":1}"]);
        dec.feed(b":2}\n", vec![]);
        assert_eq!(lines(&mut dec), vec!["{\"b\":2}"]);
        assert!(!dec.is_buffering());
    }

    #[test]
    fn many_messages_in_one_read() {
        let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
        let mut data = Vec::new();
        for i in 0..1000 {
            data.extend_from_slice(format!("{{\"i\":{i}}}\n").as_bytes());
        }
        dec.feed(&data, vec![]);
        let got = lines(&mut dec);
        assert_eq!(got.len(), 1000);
        assert_eq!(got[999], "{\"i\":999}");
    }

    #[test]
    fn byte_at_a_time_and_multibyte_utf8() {
        let text = "{\"s\":\"héllo 😀\"}\n{\"t\":1}\n";
        let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
        let mut got = Vec::new();
        for b in text.as_bytes() {
            dec.feed(std::slice::from_ref(b), vec![]);
            got.extend(lines(&mut dec));
        }
        assert_eq!(got, vec!["{\"s\":\"héllo 😀\"}", "{\"t\":1}"]);
    }

    #[test]
    fn line_limit_is_enforced() {
        let mut dec = FrameDecoder::new(Serialization::Json, 16);
        dec.feed(&[b'x'; 17], vec![]);
        assert_eq!(dec.next_frame(), Err(FrameError::TooLong { limit: 16 }));
        let mut dec = FrameDecoder::new(Serialization::Advanced, 16);
        dec.feed(&100u32.to_be_bytes(), vec![]);
        assert_eq!(dec.next_frame(), Err(FrameError::TooLong { limit: 16 }));
    }

    #[test]
    fn advanced_frames_with_split_prefix() {
        let mut dec = FrameDecoder::new(Serialization::Advanced, 1 << 20);
        let mut data = Vec::new();
        for body in [&b"abc"[..], &b""[..], &b"hello"[..]] {
            data.extend_from_slice(&(body.len() as u32).to_be_bytes());
            data.extend_from_slice(body);
        }
        let mut got = Vec::new();
        for chunk in data.chunks(3) {
            dec.feed(chunk, vec![]);
            while let Some(f) = dec.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![b"abc".to_vec(), vec![], b"hello".to_vec()]);
    }

    #[test]
    fn fd_arriving_before_its_line_completes_is_kept_for_it() {
        let (a, b) = sys::socketpair().unwrap();
        let (extra, _keep) = sys::socketpair().unwrap();
        let line = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{}}\n";
        // The descriptor travels with the first half of the line only.
        sys::send_with_fd(a.as_raw_fd(), &line[..10], Some(extra.as_raw_fd())).unwrap();
        let mut dec = FrameDecoder::new(Serialization::Json, 1 << 20);
        let mut buf = [0u8; 64];
        let mut fds = Vec::new();
        let n = sys::recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(fds.len(), 1);
        dec.feed(&buf[..n], fds);
        assert_eq!(dec.next_frame().unwrap(), None);
        sys::send_with_fd(a.as_raw_fd(), &line[10..], None).unwrap();
        let mut fds = Vec::new();
        let n = sys::recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
        dec.feed(&buf[..n], fds);
        let frame = dec.next_frame().unwrap().unwrap();
        assert!(frame.starts_with(b"{\"cmd\":\"NODE_HANDLE\""));
        assert!(dec.take_fd().is_some());
        assert!(dec.take_fd().is_none());
    }

    fn plain(text: &str, id: u64) -> OutFrame {
        OutFrame {
            bytes: text.as_bytes().to_vec(),
            fd: None,
            kind: FrameKind::Plain,
            write_id: id,
        }
    }

    #[test]
    fn messages_wait_behind_an_unacknowledged_handle() {
        let (a, b) = UnixStream::pair().unwrap();
        let (passed, _other) = sys::socketpair().unwrap();
        let mut w = Writer::new();
        w.push(OutFrame {
            bytes: b"H\n".to_vec(),
            fd: Some(passed),
            kind: FrameKind::Handle,
            write_id: 1,
        });
        w.push(plain("m\n", 2));
        w.push(OutFrame {
            bytes: b"A\n".to_vec(),
            fd: None,
            kind: FrameKind::Ack,
            write_id: 3,
        });
        let mut done = Vec::new();
        w.flush(a.as_raw_fd(), &mut done).unwrap();
        assert_eq!(done, vec![1, 3]);
        assert!(w.awaiting_ack());
        w.on_ack();
        w.flush(a.as_raw_fd(), &mut done).unwrap();
        assert_eq!(done, vec![1, 3, 2]);
        drop(a);
        let mut got = String::new();
        (&b).read_to_string(&mut got).unwrap();
        assert_eq!(got, "H\nA\nm\n");
    }

    #[test]
    fn a_full_socket_blocks_without_losing_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        sys::set_nonblocking(a.as_raw_fd()).unwrap();
        let mut w = Writer::new();
        let big = "x".repeat(1 << 20) + "\n";
        w.push(plain(&big, 1));
        w.push(plain("tail\n", 2));
        let mut done = Vec::new();
        assert!(matches!(
            w.flush(a.as_raw_fd(), &mut done).unwrap(),
            Flush::Blocked
        ));
        assert!(w.queued_bytes() > 0);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            (&b).read_to_end(&mut got).unwrap();
            got
        });
        loop {
            match w.flush(a.as_raw_fd(), &mut done).unwrap() {
                Flush::Done => break,
                Flush::Blocked => std::thread::yield_now(),
            }
        }
        assert_eq!(done, vec![1, 2]);
        assert_eq!(w.queued_bytes(), 0);
        drop(a);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), big.len() + 5);
        assert!(got.ends_with(b"tail\n"));
    }
}
