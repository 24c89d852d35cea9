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
    /// More descriptors arrived than frames could claim: a flood, not Node.
    TooManyDescriptors,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { limit } => {
                write!(f, "IPC message longer than the limit of {limit} bytes")
            }
            FrameError::TooManyDescriptors => {
                write!(
                    f,
                    "more than {MAX_QUEUED_FDS} file descriptors without a message to carry them"
                )
            }
        }
    }
}

/// Most received descriptors kept waiting for their frame (Node sends one per handle
/// message and waits for the ACK before the next).
pub const MAX_QUEUED_FDS: usize = 1024;

/// A received descriptor and the stream bytes [start, end) that arrived with it.
struct QueuedFd {
    fd: OwnedFd,
    start: u64,
    end: u64,
}

/// What a drained buffer or queue keeps of its capacity. A worker that once sent or was
/// sent a burst (a long message, thousands of queued frames) would otherwise hold the
/// burst's high-water mark for the rest of its life: memory that is never used again.
const RETAINED_BUFFER_BYTES: usize = 64 * 1024;
const RETAINED_QUEUED_FRAMES: usize = 256;

/// Splits the incoming byte stream into frames and keeps received descriptors with the
/// stream position they arrived at, so a NODE_HANDLE frame takes the descriptor that came
/// with its bytes, and descriptors no frame claimed (a peer may attach one to any bytes)
/// are closed once the stream has moved past them.
pub struct FrameDecoder {
    mode: Serialization,
    buf: Vec<u8>,
    /// Bytes before this offset are already consumed.
    start: usize,
    /// Where the search for the next newline resumes (JSON mode), so a long line that
    /// arrives in many reads is scanned once.
    scan: usize,
    max_frame: usize,
    fds: VecDeque<QueuedFd>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Stream bounds of the frame `next_frame` returned last.
    last_frame: (u64, u64),
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
            base: 0,
            last_frame: (0, 0),
        }
    }

    pub fn feed(&mut self, data: &[u8], fds: Vec<OwnedFd>) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.scan -= self.start;
            self.base += self.start as u64;
            self.start = 0;
            self.release_excess();
        } else if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.scan -= self.start;
            self.base += self.start as u64;
            self.start = 0;
            self.release_excess();
        }
        let start = self.base + self.buf.len() as u64;
        let end = start + data.len() as u64;
        self.buf.extend_from_slice(data);
        self.fds
            .extend(fds.into_iter().map(|fd| QueuedFd { fd, start, end }));
    }

    /// Gives back what a long message left of the buffer's capacity; leaves room to spare
    /// so a steady stream does not reallocate on every read.
    fn release_excess(&mut self) {
        let keep = RETAINED_BUFFER_BYTES.max(self.buf.len() * 2);
        if self.buf.capacity() > keep * 2 {
            self.buf.shrink_to(keep);
        }
    }

    /// Records the frame being returned and closes descriptors that arrived entirely
    /// before it: no later frame can claim them.
    fn returning(&mut self, from: usize, to: usize) {
        let bounds = (self.base + from as u64, self.base + to as u64);
        self.last_frame = bounds;
        while self.fds.front().is_some_and(|q| q.end <= bounds.0) {
            self.fds.pop_front();
        }
    }

    /// The next complete frame (without its newline or length prefix), if any.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.fds.len() > MAX_QUEUED_FDS {
            return Err(FrameError::TooManyDescriptors);
        }
        match self.mode {
            Serialization::Json => self.next_line(),
            Serialization::Advanced => self.next_prefixed(),
        }
    }

    fn next_line(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let from = self.scan.max(self.start);
        match crate::bytes::find_byte(&self.buf[from..], b'\n') {
            Some(pos) => {
                let end = from + pos;
                // The same limit whether the line arrived whole or in pieces.
                if end - self.start > self.max_frame {
                    return Err(FrameError::TooLong {
                        limit: self.max_frame,
                    });
                }
                let frame = self.buf[self.start..end].to_vec();
                self.returning(self.start, end + 1);
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
        self.returning(self.start, self.start + 4 + len);
        self.start += 4 + len;
        self.scan = self.start;
        Ok(Some(frame))
    }

    /// The descriptor that came with the frame `next_frame` returned last (for a
    /// NODE_HANDLE frame): the oldest one that arrived with some of its bytes.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        let (start, end) = self.last_frame;
        while self.fds.front().is_some_and(|q| q.end <= start) {
            self.fds.pop_front();
        }
        match self.fds.front() {
            Some(q) if q.start < end => self.fds.pop_front().map(|q| q.fd),
            _ => None,
        }
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
                None => {
                    self.held.shrink_to(RETAINED_QUEUED_FRAMES);
                    break;
                }
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
                        // A short write means the socket is full: wait for writability as
                        // libuv does, rather than retry at once (send()'s return value then
                        // reports the same backpressure as Node's).
                        return Ok(Flush::Blocked);
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
        self.ready.shrink_to(RETAINED_QUEUED_FRAMES);
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

    #[test]
    fn a_drained_burst_gives_its_queue_capacity_back() {
        let (a, b) = UnixStream::pair().unwrap();
        sys::set_nonblocking(a.as_raw_fd()).unwrap();
        let mut w = Writer::new();
        for i in 1..=50_000 {
            w.push(plain("{\"i\":1}\n", i));
        }
        let mut done = Vec::new();
        assert!(matches!(
            w.flush(a.as_raw_fd(), &mut done).unwrap(),
            Flush::Blocked
        ));
        assert!(w.ready.capacity() >= 10_000);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            (&b).read_to_end(&mut got).unwrap();
            got.len()
        });
        while let Flush::Blocked = w.flush(a.as_raw_fd(), &mut done).unwrap() {
            std::thread::yield_now();
        }
        assert_eq!(done.len(), 50_000);
        assert!(w.ready.capacity() <= RETAINED_QUEUED_FRAMES * 2);
        drop(a);
        assert_eq!(reader.join().unwrap(), 50_000 * 8);
    }

    #[test]
    fn a_long_message_does_not_keep_its_buffer() {
        let mut dec = FrameDecoder::new(Serialization::Json, 64 << 20);
        let long = "x".repeat(8 << 20) + "\n";
        dec.feed(long.as_bytes(), vec![]);
        dec.feed(b"{\"next\":", vec![]);
        assert_eq!(dec.next_frame().unwrap().unwrap().len(), 8 << 20);
        assert!(dec.next_frame().unwrap().is_none());
        // The long line is consumed, half a message waits: the buffer shrinks on the next
        // read, and the waiting half is kept.
        dec.feed(b"1}\n", vec![]);
        assert!(dec.buf.capacity() <= 4 * RETAINED_BUFFER_BYTES);
        assert_eq!(lines(&mut dec), vec!["{\"next\":1}"]);
        dec.feed(&long.as_bytes()[..1 << 20], vec![]);
        dec.feed(b"", vec![]);
        assert!(
            dec.buf.capacity() >= 1 << 20,
            "a message still arriving keeps its room"
        );
    }
}

/// Deterministic randomized tests of the decoder: valid streams cut at random places must
/// come out frame for frame, garbage must never panic and must agree with a reference
/// model, and descriptors must be claimed in arrival order.
#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use std::fs::File;

    use crate::test_rng::Rng;

    /// A frame body: mostly small, sometimes empty, now and then long enough to make the
    /// decoder compact its buffer (it does so past 64 KiB of consumed bytes).
    fn random_body(rng: &mut Rng, mode: Serialization) -> Vec<u8> {
        let len = match rng.below(2000) {
            0..=99 => 0,
            100..=1699 => rng.below(48),
            1700..=1998 => 48 + rng.below(600),
            _ => 20_000 + rng.below(80_000),
        } as usize;
        let mut body = Vec::with_capacity(len + 8);
        while body.len() < len {
            body.extend_from_slice(&rng.next().to_le_bytes());
        }
        body.truncate(len);
        if mode == Serialization::Json {
            // A JSON line cannot contain its terminator; anything else goes (the decoder
            // does not care about UTF-8).
            for b in body.iter_mut().filter(|b| **b == b'\n') {
                *b = b' ';
            }
        }
        body
    }

    fn frame_bytes(body: &[u8], mode: Serialization) -> Vec<u8> {
        match mode {
            Serialization::Json => {
                let mut out = body.to_vec();
                out.push(b'\n');
                out
            }
            Serialization::Advanced => {
                let mut out = (body.len() as u32).to_be_bytes().to_vec();
                out.extend_from_slice(body);
                out
            }
        }
    }

    /// Random cut points: single bytes, small pieces, a read's worth, or everything left.
    fn chunk_len(rng: &mut Rng, left: usize) -> usize {
        let n = match rng.below(10) {
            0..=2 => 1 + rng.below(4) as usize,
            3..=6 => 1 + rng.below(64) as usize,
            7 | 8 => 1 + rng.below(70_000) as usize,
            _ => left,
        };
        n.clamp(1, left.max(1))
    }

    fn devnull() -> OwnedFd {
        OwnedFd::from(File::open("/dev/null").expect("open /dev/null"))
    }

    /// One valid stream, cut at random places, some frames carrying a descriptor that
    /// arrives with the read holding the frame's first byte (as SCM_RIGHTS does) or a
    /// later read, never after the frame's end.
    fn run_valid_stream(rng: &mut Rng, mode: Serialization, case: u64) -> usize {
        let frames = match rng.below(100) {
            0 => 600 + rng.below(1500),
            1..=9 => 20 + rng.below(100),
            _ => 1 + rng.below(8),
        } as usize;
        let bodies: Vec<Vec<u8>> = (0..frames).map(|_| random_body(rng, mode)).collect();
        let with_fd: Vec<bool> = (0..frames).map(|_| rng.chance(4)).collect();
        let longest = bodies.iter().map(Vec::len).max().unwrap_or(0);
        // The limit is sometimes exactly the longest frame: that one must still pass.
        let limit = if rng.chance(3) { longest } else { 1 << 20 };
        let mut stream = Vec::new();
        // (first byte, last byte) of each frame in the stream.
        let mut spans = Vec::new();
        for body in &bodies {
            let bytes = frame_bytes(body, mode);
            spans.push((stream.len(), stream.len() + bytes.len() - 1));
            stream.extend_from_slice(&bytes);
        }

        let mut dec = FrameDecoder::new(mode, limit);
        let mut got: Vec<Vec<u8>> = Vec::new();
        // Raw numbers of the descriptors handed to the decoder, in order; a descriptor
        // stays open until claimed, so its number identifies it.
        let mut sent_fds: VecDeque<RawFd> = VecDeque::new();
        let mut next_fd_frame = 0usize;
        let mut pos = 0usize;
        let mut undrained = 0;
        while pos < stream.len() {
            let end = pos + chunk_len(rng, stream.len() - pos);
            let mut fds = Vec::new();
            // Attach the descriptors of every handle frame that starts in this chunk, or
            // (sometimes) postpone one to a later chunk that still holds part of it.
            while next_fd_frame < frames && spans[next_fd_frame].0 < end {
                if with_fd[next_fd_frame] {
                    let last_chance = spans[next_fd_frame].1 < end;
                    if !last_chance && rng.chance(3) {
                        break;
                    }
                    let fd = devnull();
                    sent_fds.push_back(fd.as_raw_fd());
                    fds.push(fd);
                }
                next_fd_frame += 1;
            }
            dec.feed(&stream[pos..end], fds);
            pos = end;
            // Sometimes several reads pile up before the frames are taken.
            undrained += 1;
            if pos < stream.len() && undrained < 3 && rng.chance(4) {
                continue;
            }
            undrained = 0;
            loop {
                match dec.next_frame() {
                    Ok(Some(frame)) => {
                        let index = got.len();
                        assert!(index < frames, "case {case}: more frames than sent");
                        if with_fd[index] {
                            let fd = dec.take_fd().unwrap_or_else(|| {
                                panic!("case {case}: frame {index} lost its descriptor")
                            });
                            assert_eq!(
                                Some(fd.as_raw_fd()),
                                sent_fds.pop_front(),
                                "case {case}: frame {index} got another frame's descriptor"
                            );
                        }
                        got.push(frame);
                    }
                    Ok(None) => break,
                    Err(e) => panic!("case {case} ({mode:?}, limit {limit}): {e}"),
                }
            }
        }
        assert_eq!(got.len(), frames, "case {case}: frame count");
        for (i, (a, b)) in got.iter().zip(&bodies).enumerate() {
            assert!(
                a == b,
                "case {case}: frame {i} differs ({} vs {} bytes)",
                a.len(),
                b.len()
            );
        }
        assert!(!dec.is_buffering(), "case {case}: bytes left over");
        assert_eq!(dec.stray_fds(), 0, "case {case}: unclaimed descriptors");
        assert!(dec.take_fd().is_none());
        frames
    }

    #[test]
    fn random_chunking_of_valid_json_streams() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut total = 0;
        for case in 0..25_000 {
            total += run_valid_stream(&mut rng, Serialization::Json, case);
        }
        assert!(total > 100_000, "{total} frames");
    }

    #[test]
    fn random_chunking_of_valid_advanced_streams() {
        let mut rng = Rng(0xC2B2_AE3D_27D4_EB4F);
        let mut total = 0;
        for case in 0..25_000 {
            total += run_valid_stream(&mut rng, Serialization::Advanced, case);
        }
        assert!(total > 100_000, "{total} frames");
    }

    /// Random bytes, biased toward the interesting ones: terminators in JSON mode, small
    /// length prefixes in advanced mode (so that frames actually happen).
    fn garbage(rng: &mut Rng, mode: Serialization, limit: usize) -> Vec<u8> {
        let len = match rng.below(20) {
            0 => 0,
            1..=15 => rng.below(300),
            _ => rng.below(3000),
        } as usize;
        let newline_one_in = 1 + rng.below(64);
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            match mode {
                Serialization::Json => out.push(if rng.chance(newline_one_in) {
                    b'\n'
                } else {
                    rng.next() as u8
                }),
                Serialization::Advanced => {
                    if rng.chance(4) {
                        // A prefix of any size, huge ones included.
                        out.extend_from_slice(&(rng.next() as u32 >> rng.below(32)).to_be_bytes());
                    } else {
                        let body = rng.below(limit as u64 * 5 / 4 + 2) as u32;
                        out.extend_from_slice(&body.to_be_bytes());
                        out.extend((0..body.min(400)).map(|_| rng.next() as u8));
                    }
                }
            }
        }
        out
    }

    /// What a correct decoder yields for the whole stream: the complete frames, and
    /// whether the stream goes past the limit somewhere.
    fn reference(stream: &[u8], mode: Serialization, limit: usize) -> (Vec<Vec<u8>>, bool) {
        let mut frames = Vec::new();
        match mode {
            Serialization::Json => {
                let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
                let tail = parts.pop().unwrap_or_default();
                for part in parts {
                    if part.len() > limit {
                        return (frames, true);
                    }
                    frames.push(part.to_vec());
                }
                (frames, tail.len() > limit)
            }
            Serialization::Advanced => {
                let mut at = 0;
                while stream.len() - at >= 4 {
                    let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
                    if len > limit {
                        return (frames, true);
                    }
                    if stream.len() - at - 4 < len {
                        break;
                    }
                    frames.push(stream[at + 4..at + 4 + len].to_vec());
                    at += 4 + len;
                }
                (frames, false)
            }
        }
    }

    fn run_garbage(rng: &mut Rng, mode: Serialization, case: u64) -> (bool, usize) {
        let limit = match rng.below(4) {
            0 => rng.below(4) as usize,
            1 | 2 => rng.below(300) as usize,
            _ => rng.below(5000) as usize,
        };
        let overhead = match mode {
            Serialization::Json => 1,
            Serialization::Advanced => 4,
        };
        let stream = garbage(rng, mode, limit);
        let (expected, over) = reference(&stream, mode, limit);
        let mut dec = FrameDecoder::new(mode, limit);
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut consumed = 0;
        let mut fds_sent = 0;
        let mut failed = false;
        let mut pos = 0;
        'feed: while pos < stream.len() {
            let end = pos + chunk_len(rng, stream.len() - pos);
            // Descriptors glued to random reads, whatever the bytes say.
            let fds = if rng.chance(16) {
                vec![devnull()]
            } else {
                Vec::new()
            };
            fds_sent += fds.len();
            dec.feed(&stream[pos..end], fds);
            pos = end;
            loop {
                match dec.next_frame() {
                    Ok(Some(frame)) => {
                        if mode == Serialization::Advanced {
                            assert!(frame.len() <= limit, "case {case}: frame over the limit");
                        }
                        // Whoever looks at a frame may claim a descriptor.
                        if rng.chance(2) {
                            let _ = dec.take_fd();
                        }
                        consumed += frame.len() + overhead;
                        got.push(frame);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert_eq!(e, FrameError::TooLong { limit }, "case {case}");
                        let pending = &stream[consumed..pos];
                        match mode {
                            // Only a line longer than the limit is refused, finished or not.
                            Serialization::Json => {
                                let line =
                                    pending.split(|&b| b == b'\n').next().unwrap_or_default();
                                assert!(
                                    line.len() > limit,
                                    "case {case}: TooLong on a {}-byte line, limit {limit}",
                                    line.len()
                                )
                            }
                            // Only a prefix announcing more than the limit is refused.
                            Serialization::Advanced => assert!(
                                pending.len() >= 4
                                    && u32::from_be_bytes(pending[..4].try_into().unwrap())
                                        as usize
                                        > limit,
                                "case {case}: TooLong on a frame within the limit"
                            ),
                        }
                        failed = true;
                        // The reactor drops a channel that fails; nothing more is read.
                        break 'feed;
                    }
                }
            }
            // A decoder that said "not yet" holds at most the limit's worth of an
            // unfinished line (in advanced mode: a prefix and a frame within the limit).
            let pending = pos - consumed;
            match mode {
                Serialization::Json => assert!(
                    pending <= limit,
                    "case {case}: {pending} bytes pending, limit {limit}"
                ),
                Serialization::Advanced => assert!(
                    pending < 4 + limit,
                    "case {case}: {pending} bytes pending, limit {limit}"
                ),
            }
            assert_eq!(dec.is_buffering(), pending > 0, "case {case}: is_buffering");
        }
        assert!(dec.stray_fds() <= fds_sent);
        // Exactly the true frames came out, up to the first one over the limit, and the
        // error came if and only if there is one (however the stream was cut).
        assert_eq!(got.len(), expected.len(), "case {case}: frame count");
        for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
            assert!(a == b, "case {case}: frame {i} differs");
        }
        assert_eq!(failed, over, "case {case}: TooLong");
        (failed, got.len())
    }

    #[test]
    fn random_garbage_never_panics_and_matches_the_reference() {
        let mut rng = Rng(0x1656_67B1_9E37_79F9);
        let (mut errors, mut frames) = (0, 0);
        for case in 0..60_000u64 {
            let mode = if case % 2 == 0 {
                Serialization::Json
            } else {
                Serialization::Advanced
            };
            let (failed, n) = run_garbage(&mut rng, mode, case);
            errors += failed as u32;
            frames += n;
        }
        // Both outcomes must actually occur, or the test proves nothing.
        assert!(
            errors > 5_000 && frames > 100_000,
            "errors={errors} frames={frames}"
        );
    }

    /// The limit bounds what a worker can make the primary buffer, and it must not depend
    /// on how the kernel happened to cut the stream: a line longer than the limit is
    /// refused whether it arrives in pieces or in one read with its newline.
    #[test]
    fn json_limit_does_not_depend_on_chunking() {
        let line = [b"x".repeat(100), b"\n".to_vec()].concat();
        let mut pieces = FrameDecoder::new(Serialization::Json, 64);
        pieces.feed(&line[..80], vec![]);
        assert_eq!(pieces.next_frame(), Err(FrameError::TooLong { limit: 64 }));
        let mut whole = FrameDecoder::new(Serialization::Json, 64);
        whole.feed(&line, vec![]);
        assert_eq!(whole.next_frame(), Err(FrameError::TooLong { limit: 64 }));
    }
}
