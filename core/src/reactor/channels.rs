//! The workers' IPC channels: which epoll set watches each, writing queued frames,
//! reading and decoding, and closing.

use super::*;

impl State {
    /// The I/O thread just read this channel something for JavaScript. A channel stays with
    /// the I/O thread after a handoff (moving it costs two epoll_ctl each way, which a
    /// worker that only takes connections would pay on every one); once its worker talks
    /// to JavaScript with no connection in flight, it goes back to the event loop, so its
    /// next messages skip the hop between threads (`move_channel_to_io` at the next handoff).
    pub(super) fn move_channel_to_loop_if_talking(&mut self, id: WorkerId) {
        let idle = self
            .workers
            .get(&id)
            .is_some_and(|slot| slot.inflight.is_empty());
        if self.loop_polling && idle {
            self.move_channel(id, true);
        }
    }

    /// Hands a channel the event loop watched over to the I/O thread (see the module doc).
    pub(super) fn move_channel_to_io(&mut self, id: WorkerId) {
        self.move_channel(id, false);
    }

    /// Moves a channel's registration (with its write interest) between the I/O thread's
    /// epoll and the loop poller; registered in the new set before leaving the old one, so
    /// readiness is never missed.
    pub(super) fn move_channel(&mut self, id: WorkerId, to_loop: bool) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let Some(channel) = slot.channel.as_ref() else {
            return;
        };
        if slot.on_loop == to_loop {
            return;
        }
        let (from, to) = (self.pollers.of(!to_loop), self.pollers.of(to_loop));
        let fd = channel.as_raw_fd();
        let events = if slot.watching_writes {
            EPOLLIN | EPOLLOUT
        } else {
            EPOLLIN
        };
        if to.add(fd, events, Token::Channel(id).into()).is_ok() {
            from.delete(fd);
            slot.on_loop = to_loop;
        }
    }

    pub(super) fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    /// Writes what the socket takes; watches for writability while anything is left.
    pub(super) fn flush(&mut self, id: WorkerId, done: &mut Vec<u64>) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let Some(channel) = slot.channel.as_ref() else {
            return;
        };
        let fd = channel.as_raw_fd();
        let poller = self.pollers.of(slot.on_loop);
        match slot.writer.flush(fd, done) {
            Ok(Flush::Done) => {
                if slot.watching_writes {
                    slot.watching_writes = false;
                    let _ = poller.modify(fd, EPOLLIN, Token::Channel(id).into());
                }
                if slot.closing && slot.writer.is_idle() {
                    self.drop_channel(id);
                }
            }
            Ok(Flush::Blocked) => {
                if !slot.watching_writes {
                    slot.watching_writes = true;
                    let _ = poller.modify(fd, EPOLLIN | EPOLLOUT, Token::Channel(id).into());
                }
            }
            // The worker is gone; the read side reports the disconnect.
            Err(_) => {
                if slot.closing {
                    self.drop_channel(id);
                }
            }
        }
    }

    /// Queues a `NODE_CLUSTER` message (wrapped with a descriptor if given); returns its seq.
    pub(super) fn send_internal(
        &mut self,
        id: WorkerId,
        fields: Map<String, Value>,
        handle: Option<(SharedFd, &str)>,
    ) -> Option<u64> {
        let seq = self.next_seq();
        let mode = self.workers.get(&id)?.mode;
        let mut msg = protocol::cluster_message(fields, seq);
        let (fd, kind) = match handle {
            Some((fd, handle_type)) => {
                msg = protocol::handle_message(handle_type, msg);
                (Some(fd), FrameKind::Handle)
            }
            None => (None, FrameKind::Plain),
        };
        self.queue_frame(id, protocol::encode(&msg, mode), fd, kind)
            .then_some(seq)
    }

    /// Hands worker `id` an accepted connection as `newconn`; returns its seq.
    pub(super) fn send_newconn(&mut self, id: WorkerId, key: &str, conn: SharedFd) -> Option<u64> {
        let seq = self.next_seq();
        let mode = self.workers.get(&id)?.mode;
        let bytes = protocol::newconn_frame(key, seq, mode);
        self.queue_frame(id, bytes, Some(conn), FrameKind::Handle)
            .then_some(seq)
    }

    pub(super) fn send_raw(&mut self, id: WorkerId, msg: &Value, kind: FrameKind) {
        let Some(slot) = self.workers.get(&id) else {
            return;
        };
        let bytes = protocol::encode(msg, slot.mode);
        self.queue_frame(id, bytes, None, kind);
    }

    /// Queues a frame the primary wrote and writes what the socket takes; false when the
    /// worker's channel is gone.
    fn queue_frame(
        &mut self,
        id: WorkerId,
        bytes: Vec<u8>,
        fd: Option<SharedFd>,
        kind: FrameKind,
    ) -> bool {
        let Some(slot) = self.workers.get_mut(&id) else {
            return false;
        };
        if slot.channel.is_none() {
            return false;
        }
        if self.trace {
            trace_frame(id, "<-", &bytes, fd.is_some());
        }
        slot.writer.push(OutFrame {
            bytes,
            fd,
            kind,
            write_id: 0,
        });
        self.flush(id, &mut Vec::new());
        true
    }

    pub(super) fn read_channel(&mut self, id: WorkerId, max_reads: usize) {
        let mut buf = std::mem::take(&mut self.read_buf);
        if buf.is_empty() {
            // Re-entered while the shared buffer is out: a zero-length read would look
            // like end of stream.
            buf = vec![0u8; READ_CHUNK];
        }
        self.read_into(id, max_reads, &mut buf);
        self.read_buf = buf;
    }

    pub(super) fn read_into(&mut self, id: WorkerId, max_reads: usize, buf: &mut [u8]) {
        for _ in 0..max_reads {
            let Some(slot) = self.workers.get_mut(&id) else {
                return;
            };
            let Some(channel) = slot.channel.as_ref() else {
                return;
            };
            let mut fds = Vec::new();
            match sys::recv_with_fds(channel.as_raw_fd(), buf, &mut fds) {
                Ok(0) => {
                    self.on_channel_closed(id);
                    return;
                }
                Ok(n) => {
                    slot.decoder.feed(&buf[..n], fds);
                    self.process_frames(id);
                    // A short read took what there was (as libuv does, stop rather than
                    // spend a syscall on EAGAIN; the level-triggered poll reports more).
                    // A drain must go on: a read also stops short at passed descriptors.
                    if n < buf.len() && max_reads != DRAIN {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.on_channel_closed(id);
                    return;
                }
            }
        }
    }

    pub(super) fn drop_channel(&mut self, id: WorkerId) {
        if let Some(slot) = self.workers.get_mut(&id) {
            if let Some(channel) = slot.channel.take() {
                if slot.on_loop {
                    self.pollers.event_loop.delete(channel.as_raw_fd());
                } else {
                    self.pollers.io.delete(channel.as_raw_fd());
                }
            }
            slot.writer = Writer::new();
        }
        self.remove_worker_from_servers(id);
        self.requeue_inflight(id);
        self.forget_if_done(id);
    }

    pub(super) fn on_channel_closed(&mut self, id: WorkerId) {
        let was_open = self
            .workers
            .get(&id)
            .is_some_and(|s| s.channel.is_some() && !s.closing);
        self.drop_channel(id);
        if was_open {
            self.events.push(Event::Disconnect { worker: id });
        }
    }
}
