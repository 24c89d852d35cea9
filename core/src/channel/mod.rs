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
use std::sync::Arc;

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

/// A descriptor to pass, shared with whoever must keep it open after the frame is
/// written: the primary keeps an accepted connection until the worker's answer (a refusal
/// sends it elsewhere) without a dup of its own; the last holder closes it.
pub type SharedFd = Arc<OwnedFd>;

pub struct OutFrame {
    pub bytes: Vec<u8>,
    pub fd: Option<SharedFd>,
    pub kind: FrameKind,
    /// Reported back once the frame is fully written; 0 means nobody asked.
    pub write_id: u64,
}

/// A handle sent but not yet acknowledged: kept so a NACK can send it again.
struct Unacked {
    bytes: Vec<u8>,
    fd: Option<SharedFd>,
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
mod tests;

#[cfg(test)]
mod fuzz_tests;
