//! What a worker's frames mean to the primary: acknowledgements, cluster messages
//! (`queryServer`, `close`, `online`, ...), user messages and handles for JavaScript.

use super::*;

impl State {
    pub(super) fn process_frames(&mut self, id: WorkerId) {
        loop {
            let Some(slot) = self.workers.get_mut(&id) else {
                return;
            };
            let frame = match slot.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => return self.protocol_error(id, e.to_string()),
            };
            let mode = slot.mode;
            let closing = slot.closing;
            if self.trace {
                trace_frame(id, "->", &frame, false);
            }
            match protocol::classify(&frame, mode) {
                Incoming::HandleAck => self.on_handle_reply(id, true),
                Incoming::HandleNack => self.on_handle_reply(id, false),
                // After JavaScript disconnected, only ACKs still matter (they release the
                // queue being flushed); Node reads nothing more either.
                _ if closing => {}
                Incoming::User => self.events.push(Event::Message {
                    worker: id,
                    frame: Frame::new(frame, mode),
                    handle: None,
                }),
                Incoming::NewconnReply { ack, accepted } => {
                    self.on_newconn_reply(id, ack, accepted)
                }
                Incoming::Cluster(msg) => self.on_cluster_message(id, msg, frame, mode),
                Incoming::Handle {
                    handle_type,
                    inner_is_user,
                } => self.on_handle(id, frame, handle_type, inner_is_user),
                // The sent-socket bookkeeping of Node's socket_list.js is kept in JavaScript,
                // next to the sockets it counts.
                Incoming::OtherInternal(cmd)
                    if cmd.starts_with("NODE_SOCKET_") || cmd.starts_with("NODE_RUST_CLUSTER_") =>
                {
                    self.events.push(Event::Internal {
                        worker: id,
                        act: cmd,
                        frame: Frame::new(frame, mode),
                    })
                }
                Incoming::Heartbeat { delay } => self.on_beat(id, delay),
                Incoming::OtherInternal(_) => {}
                Incoming::Invalid(e) => {
                    return self.protocol_error(id, format!("invalid IPC message: {e}"))
                }
            }
        }
    }

    pub(super) fn on_handle_reply(&mut self, id: WorkerId, ack: bool) {
        if let Some(slot) = self.workers.get_mut(&id) {
            if ack {
                slot.writer.on_ack();
            } else {
                slot.writer.on_nack();
            }
        }
        self.flush(id, &mut Vec::new());
    }

    pub(super) fn on_handle(
        &mut self,
        id: WorkerId,
        frame: Vec<u8>,
        handle_type: String,
        inner_is_user: bool,
    ) {
        let Some(slot) = self.workers.get_mut(&id) else {
            return;
        };
        let mode = slot.mode;
        let Some(fd) = slot.decoder.take_fd() else {
            // The descriptor was lost on the way (MSG_CTRUNC): ask for it again.
            return self.send_raw(id, &protocol::handle_nack(), FrameKind::Ack);
        };
        self.send_raw(id, &protocol::handle_ack(), FrameKind::Ack);
        if inner_is_user {
            self.events.push(Event::Message {
                worker: id,
                frame: Frame::new(frame, mode),
                handle: Some(ReceivedHandle { fd, handle_type }),
            });
        }
    }

    pub(super) fn on_cluster_message(
        &mut self,
        id: WorkerId,
        msg: Map<String, Value>,
        frame: Vec<u8>,
        mode: Serialization,
    ) {
        if let Some(ack) = msg.get("ack").and_then(Value::as_u64) {
            if msg.get("act").is_none() {
                let accepted = msg.get("accepted").and_then(Value::as_bool) == Some(true);
                return self.on_newconn_reply(id, ack, accepted);
            }
        }
        let act = msg
            .get("act")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match act.as_str() {
            "queryServer" => self.on_query_server(id, &msg),
            "close" => {
                if let Some(key) = msg.get("key").and_then(Value::as_str) {
                    if let Some(sid) = self.servers.id_holding(key, id) {
                        self.remove_from_server(sid, id);
                    }
                }
            }
            "exitedAfterDisconnect" => {
                if let Some(slot) = self.workers.get_mut(&id) {
                    slot.leaving = true;
                }
                if let Some(seq) = msg.get("seq").cloned() {
                    let mut fields = Map::new();
                    fields.insert("ack".into(), seq);
                    self.send_internal(id, fields, None);
                }
                self.events.push(Event::Internal {
                    worker: id,
                    act,
                    frame: Frame::new(frame, mode),
                });
            }
            "online" | "listening" => self.events.push(Event::Internal {
                worker: id,
                act,
                frame: Frame::new(frame, mode),
            }),
            _ => {}
        }
    }

    pub(super) fn protocol_error(&mut self, id: WorkerId, message: String) {
        if let Some(slot) = self.workers.get(&id) {
            if slot.pidfd.is_some() {
                let _ = sys::kill(slot.pid, libc::SIGKILL);
            }
        }
        self.events.push(Event::ProtocolError {
            worker: id,
            message,
        });
        self.on_channel_closed(id);
    }
}
