//! The primary half of Node's cluster wire protocol: which incoming frames are internal
//! (`cmd` starting with `NODE_`, as `isInternal` in Node's child_process.js decides), and
//! the frames the primary writes.

use crate::channel::Serialization;
use crate::v8_codec;
use serde_json::{json, Map, Value};

/// What a frame from a worker means to the primary.
#[derive(Debug)]
pub enum Incoming {
    /// A user message: handed to JavaScript untouched.
    User,
    /// `{cmd: 'NODE_CLUSTER', act | ack, ...}`.
    Cluster(Map<String, Value>),
    /// `{cmd: 'NODE_HANDLE', type, msg}`: a descriptor came with it.
    Handle {
        handle_type: String,
        inner_is_user: bool,
    },
    HandleAck,
    HandleNack,
    /// A worker's answer to a `newconn`: `{cmd: 'NODE_CLUSTER', ack, accepted, seq}`.
    NewconnReply {
        ack: u64,
        accepted: bool,
    },
    /// rust-cluster's own heartbeat (lib/heartbeat-preload.js), with the event-loop delay
    /// it measured (ms).
    Heartbeat {
        delay: Option<f64>,
    },
    /// Some other `NODE_*` command (e.g. the NODE_SOCKET_* bookkeeping of sockets a
    /// worker's server sent over): JavaScript's business, or nobody's.
    OtherInternal(String),
    /// Not JSON (json mode) or not a V8 value (advanced mode).
    Invalid(String),
}

/// The command of the heartbeat a worker's preload sends (never a `message` event).
pub const HEARTBEAT_CMD: &str = "NODE_RUST_CLUSTER_HEARTBEAT";

/// The marker every internal JSON message carries as `JSON.stringify` writes it. A peer
/// could spell it with escapes instead (`\u004eODE_`), so a frame with any `\u` escape
/// is parsed too.
const JSON_MARK: &[u8] = b"\"NODE_";
const JSON_ESCAPE: &[u8] = b"\\u";
const V8_MARK: &[u8] = b"NODE_";
/// The same in a two-byte (UTF-16) V8 string, which a peer may write instead.
const V8_MARK_TWO_BYTE: &[u8] = b"N\0O\0D\0E\0_\0";

use crate::bytes::contains;

pub fn classify(frame: &[u8], mode: Serialization) -> Incoming {
    // Fast path: a frame that never mentions NODE_ cannot be internal.
    let maybe_internal = match mode {
        Serialization::Json => contains(frame, JSON_MARK) || contains(frame, JSON_ESCAPE),
        Serialization::Advanced => contains(frame, V8_MARK) || contains(frame, V8_MARK_TWO_BYTE),
    };
    if !maybe_internal {
        return Incoming::User;
    }
    if mode == Serialization::Json {
        if let Some(reply) = handoff_reply(frame) {
            return reply;
        }
    }
    match decode(frame, mode) {
        Ok(value) => classify_value(value),
        // serde_json refuses lone surrogate escapes (`"\ud800"`) that JavaScript accepts:
        // a frame that was only suspicious for its escapes goes to JavaScript, which parses
        // it (and still tells internal messages apart, as Node does).
        Err(_) if mode == Serialization::Json && !contains(frame, JSON_MARK) => Incoming::User,
        Err(e) => Incoming::Invalid(e),
    }
}

/// The two frames a worker answers every `newconn` with, byte for byte as Node's
/// `JSON.stringify` writes them (child_process's ACK, then cluster's `send({ ack,
/// accepted })`), recognised without building a JSON value: they come with every
/// connection. Anything else, however spelled, takes the general path.
fn handoff_reply(frame: &[u8]) -> Option<Incoming> {
    let line = frame.strip_suffix(b"\n").unwrap_or(frame);
    if line == br#"{"cmd":"NODE_HANDLE_ACK"}"# {
        return Some(Incoming::HandleAck);
    }
    let rest = line.strip_prefix(br#"{"cmd":"NODE_CLUSTER","ack":"#)?;
    let (ack, rest) = leading_integer(rest)?;
    let (accepted, rest) = if let Some(rest) = rest.strip_prefix(br#","accepted":true"#) {
        (true, rest)
    } else {
        (false, rest.strip_prefix(br#","accepted":false"#)?)
    };
    let (_seq, rest) = leading_integer(rest.strip_prefix(br#","seq":"#)?)?;
    (rest == b"}").then_some(Incoming::NewconnReply { ack, accepted })
}

/// A JSON integer as `JSON.stringify` writes a safe one (digits, no leading zero).
fn leading_integer(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 15 || (digits > 1 && bytes[0] == b'0') {
        return None;
    }
    let value = bytes[..digits]
        .iter()
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    Some((value, &bytes[digits..]))
}

/// The `newconn` a round-robin primary hands a connection with, wrapped as child_process
/// wraps a message that carries a descriptor. In json mode it is written straight into
/// bytes (it goes out with every connection); the same message as `encode` would write.
pub fn newconn_frame(key: &str, seq: u64, mode: Serialization) -> Vec<u8> {
    if mode == Serialization::Json {
        let mut out = Vec::with_capacity(112 + key.len());
        out.extend_from_slice(
            br#"{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_CLUSTER","act":"newconn","key":"#,
        );
        if serde_json::to_writer(&mut out, key).is_ok() {
            out.extend_from_slice(format!(r#","seq":{seq}}}}}"#).as_bytes());
            out.push(b'\n');
            return out;
        }
    }
    let mut fields = Map::new();
    fields.insert("act".into(), Value::from("newconn"));
    fields.insert("key".into(), Value::from(key));
    encode(
        &handle_message("net.Native", cluster_message(fields, seq)),
        mode,
    )
}

pub fn decode(frame: &[u8], mode: Serialization) -> Result<Value, String> {
    match mode {
        Serialization::Json => serde_json::from_slice(frame).map_err(|e| e.to_string()),
        Serialization::Advanced => v8_codec::decode(frame)
            .map(|d| d.value)
            .map_err(|e| e.to_string()),
    }
}

fn is_internal_cmd(value: &Value) -> Option<&str> {
    let cmd = value.as_object()?.get("cmd")?.as_str()?;
    (cmd.len() > 5 && cmd.starts_with("NODE_")).then_some(cmd)
}

fn classify_value(value: Value) -> Incoming {
    let Some(cmd) = is_internal_cmd(&value) else {
        return Incoming::User;
    };
    match cmd {
        "NODE_CLUSTER" => match value {
            Value::Object(map) => Incoming::Cluster(map),
            _ => Incoming::OtherInternal(cmd.to_string()),
        },
        HEARTBEAT_CMD => Incoming::Heartbeat {
            delay: value.get("delay").and_then(Value::as_f64),
        },
        "NODE_HANDLE_ACK" => Incoming::HandleAck,
        "NODE_HANDLE_NACK" => Incoming::HandleNack,
        "NODE_HANDLE" => {
            let handle_type = value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let inner_is_user = value.get("msg").and_then(is_internal_cmd).is_none();
            Incoming::Handle {
                handle_type,
                inner_is_user,
            }
        }
        other => Incoming::OtherInternal(other.to_string()),
    }
}

pub fn encode(value: &Value, mode: Serialization) -> Vec<u8> {
    match mode {
        Serialization::Json => {
            let mut bytes = serde_json::to_vec(value).unwrap_or_default();
            bytes.push(b'\n');
            bytes
        }
        Serialization::Advanced => v8_codec::encode_frame(value),
    }
}

/// `{cmd: 'NODE_CLUSTER', ...fields, seq}` as Node's `sendHelper` builds it.
pub fn cluster_message(mut fields: Map<String, Value>, seq: u64) -> Value {
    let mut msg = Map::new();
    msg.insert("cmd".into(), Value::from("NODE_CLUSTER"));
    msg.append(&mut fields);
    msg.insert("seq".into(), Value::from(seq));
    Value::Object(msg)
}

/// Wraps a message that travels with a descriptor.
pub fn handle_message(handle_type: &str, msg: Value) -> Value {
    json!({ "cmd": "NODE_HANDLE", "type": handle_type, "msg": msg })
}

pub fn handle_ack() -> Value {
    json!({ "cmd": "NODE_HANDLE_ACK" })
}

pub fn handle_nack() -> Value {
    json!({ "cmd": "NODE_HANDLE_NACK" })
}

/// How the primary keys the handles it shares with workers: the rule changed between
/// Node lines (each line's `lib/internal/cluster/primary.js`, queryServer), and the
/// primary follows the line of the Node that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKeys {
    /// Node 20: `${address}:${port}:${addressType}:${fd}:${index}`. Each `listen()` of a
    /// worker on the same address counts up `index`, so the second listen() of one
    /// worker and the first of another never share a handle unless their counts agree.
    WithIndex,
    /// Node 22 and later: `:${index}` only for port 0, and a worker that already holds
    /// the handle of its key gets a new one (which is keyed only once it opened), so a
    /// worker that listens again on a port another worker holds joins that handle.
    IndexForPortZero,
}

impl ServerKeys {
    /// The rule of a Node major version.
    pub fn of_node_major(major: u32) -> ServerKeys {
        if major >= 22 {
            ServerKeys::IndexForPortZero
        } else {
            ServerKeys::WithIndex
        }
    }
}

/// Node's key for a server handle, with JavaScript's spelling of null and undefined.
pub fn server_key(msg: &Map<String, Value>, keys: ServerKeys) -> String {
    let part = |name: &str| match msg.get(name) {
        None => "undefined".to_string(),
        Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => js_number(n),
        Some(other) => other.to_string(),
    };
    let base = format!(
        "{}:{}:{}:{}",
        part("address"),
        part("port"),
        part("addressType"),
        part("fd")
    );
    // JavaScript's `message.port === 0`: the number zero only.
    let port_zero = msg.get("port").and_then(Value::as_f64) == Some(0.0);
    match keys {
        ServerKeys::IndexForPortZero if !port_zero => base,
        _ => format!("{base}:{}", part("index")),
    }
}

/// Numbers as JavaScript prints them (integers without a fraction).
fn js_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general path's reading of a `newconn` answer.
    fn general_reply(frame: &[u8]) -> Option<(u64, bool)> {
        match classify_value(decode(frame, Serialization::Json).ok()?) {
            Incoming::Cluster(m) if m.get("act").is_none() => Some((
                m.get("ack")?.as_u64()?,
                m.get("accepted").and_then(Value::as_bool) == Some(true),
            )),
            _ => None,
        }
    }

    #[test]
    fn newconn_answers_as_node_writes_them_skip_the_json_parser() {
        for (frame, ack, accepted) in [
            (
                &br#"{"cmd":"NODE_CLUSTER","ack":7,"accepted":true,"seq":3}"#[..],
                7,
                true,
            ),
            (
                br#"{"cmd":"NODE_CLUSTER","ack":0,"accepted":false,"seq":0}"#,
                0,
                false,
            ),
            (
                b"{\"cmd\":\"NODE_CLUSTER\",\"ack\":123456789012345,\"accepted\":true,\"seq\":9}\n",
                123456789012345,
                true,
            ),
        ] {
            match classify(frame, Serialization::Json) {
                Incoming::NewconnReply {
                    ack: a,
                    accepted: b,
                } => assert_eq!((a, b), (ack, accepted)),
                other => panic!("{other:?}"),
            }
            assert_eq!(general_reply(frame), Some((ack, accepted)));
        }
        assert!(matches!(
            classify(b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n", Serialization::Json),
            Incoming::HandleAck
        ));
    }

    #[test]
    fn any_other_spelling_of_an_answer_takes_the_general_path() {
        for frame in [
            &br#"{"cmd":"NODE_CLUSTER","ack":7,"accepted":true,"seq":3,"x":1}"#[..],
            br#"{"cmd":"NODE_CLUSTER", "ack":7,"accepted":true,"seq":3}"#,
            br#"{"cmd":"NODE_CLUSTER","ack":07,"accepted":true,"seq":3}"#,
            br#"{"cmd":"NODE_CLUSTER","ack":7.5,"accepted":true,"seq":3}"#,
            br#"{"cmd":"NODE_CLUSTER","ack":7,"seq":3}"#,
            br#"{"cmd":"NODE_CLUSTER","ack":7,"accepted":1,"seq":3}"#,
            br#"{"cmd":"NODE_CLUSTER","ack":1234567890123456,"accepted":true,"seq":3}"#,
        ] {
            assert!(
                handoff_reply(frame).is_none(),
                "{}",
                String::from_utf8_lossy(frame)
            );
        }
        // Still understood, by the general path.
        let spaced = br#"{"cmd":"NODE_CLUSTER", "ack":7,"accepted":true,"seq":3}"#;
        assert!(matches!(
            classify(spaced, Serialization::Json),
            Incoming::Cluster(_)
        ));
    }

    #[test]
    fn the_newconn_frame_is_the_message_encode_writes() {
        for key in [
            "127.0.0.1:8000:4:-1:0",
            "a \"quoted\" key\\ é \u{1F600}",
            "",
        ] {
            for mode in [Serialization::Json, Serialization::Advanced] {
                let mut fields = Map::new();
                fields.insert("act".into(), Value::from("newconn"));
                fields.insert("key".into(), Value::from(key));
                let general = encode(
                    &handle_message("net.Native", cluster_message(fields, 42)),
                    mode,
                );
                let fast = newconn_frame(key, 42, mode);
                if mode == Serialization::Advanced {
                    assert_eq!(fast, general);
                    continue;
                }
                let line = |b: &[u8]| decode(b.strip_suffix(b"\n").unwrap(), mode).unwrap();
                assert_eq!(line(&fast), line(&general), "{key:?}");
                assert_eq!(fast.last(), general.last());
            }
        }
    }

    #[test]
    fn user_messages_skip_parsing() {
        assert!(matches!(
            classify(b"{\"hello\":1}", Serialization::Json),
            Incoming::User
        ));
        // Not JSON, but it cannot be internal: JavaScript reports the parse error.
        assert!(matches!(
            classify(b"garbage", Serialization::Json),
            Incoming::User
        ));
    }

    #[test]
    fn internal_messages_are_recognised() {
        let online = br#"{"cmd":"NODE_CLUSTER","act":"online","seq":0}"#;
        match classify(online, Serialization::Json) {
            Incoming::Cluster(m) => assert_eq!(m["act"], "online"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(br#"{"cmd":"NODE_HANDLE_ACK"}"#, Serialization::Json),
            Incoming::HandleAck
        ));
        // A user message may mention NODE_ without being internal.
        assert!(matches!(
            classify(br#"{"text":"NODE_CLUSTER"}"#, Serialization::Json),
            Incoming::User
        ));
        assert!(matches!(
            classify(br#"{"cmd":"NODE_CLUSTER""#, Serialization::Json),
            Incoming::Invalid(_)
        ));
    }

    #[test]
    fn keys_match_node() {
        let msg: Value = serde_json::from_str(
            r#"{"address":null,"port":0,"addressType":4,"index":0,"act":"queryServer"}"#,
        )
        .unwrap();
        let msg = msg.as_object().unwrap();
        assert_eq!(
            server_key(msg, ServerKeys::WithIndex),
            "null:0:4:undefined:0"
        );
        assert_eq!(
            server_key(msg, ServerKeys::IndexForPortZero),
            "null:0:4:undefined:0"
        );
        let msg: Value = serde_json::from_str(
            r#"{"address":"/tmp/s.sock","port":-1,"addressType":-1,"fd":null,"index":2}"#,
        )
        .unwrap();
        let msg = msg.as_object().unwrap();
        assert_eq!(
            server_key(msg, ServerKeys::WithIndex),
            "/tmp/s.sock:-1:-1:null:2"
        );
        assert_eq!(
            server_key(msg, ServerKeys::IndexForPortZero),
            "/tmp/s.sock:-1:-1:null"
        );
        let msg: Value =
            serde_json::from_str(r#"{"address":"::","port":8000,"addressType":6,"index":1}"#)
                .unwrap();
        assert_eq!(
            server_key(msg.as_object().unwrap(), ServerKeys::IndexForPortZero),
            ":::8000:6:undefined"
        );
        assert_eq!(ServerKeys::of_node_major(20), ServerKeys::WithIndex);
        assert_eq!(ServerKeys::of_node_major(22), ServerKeys::IndexForPortZero);
        assert_eq!(ServerKeys::of_node_major(24), ServerKeys::IndexForPortZero);
    }
}

/// Deterministic randomized tests of `classify`: random and mutated frames in both
/// serializations never panic, and every verdict agrees with a reference built on the
/// decoded value (Node's `isInternal`).
#[cfg(test)]
mod fuzz_tests {
    use super::*;

    use crate::test_rng::Rng;

    /// What Node's worker actually writes, plus near misses.
    const MESSAGES: &[&str] = &[
        r#"{"cmd":"NODE_CLUSTER","act":"online","seq":0}"#,
        r#"{"cmd":"NODE_CLUSTER","act":"queryServer","address":null,"port":0,"addressType":4,"fd":null,"index":0,"backlog":511,"data":null,"seq":1}"#,
        r#"{"cmd":"NODE_CLUSTER","act":"listening","addressType":4,"address":"127.0.0.1","port":8000,"fd":null,"seq":2}"#,
        r#"{"cmd":"NODE_CLUSTER","ack":3,"accepted":true,"seq":4}"#,
        r#"{"cmd":"NODE_CLUSTER","act":"exitedAfterDisconnect","seq":5}"#,
        r#"{"cmd":"NODE_CLUSTER","act":"close","key":"null:0:4:undefined:0","seq":6}"#,
        r#"{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_CLUSTER","act":"newconn","key":"k","seq":7}}"#,
        r#"{"cmd":"NODE_HANDLE","type":"net.Socket","msg":{"hello":"world"},"key":"null:0:4:undefined:0"}"#,
        r#"{"cmd":"NODE_HANDLE","type":"dgram.Socket","msg":"x","dgramType":"udp4"}"#,
        r#"{"cmd":"NODE_HANDLE_ACK"}"#,
        r#"{"cmd":"NODE_HANDLE_NACK"}"#,
        r#"{"cmd":"NODE_SOCKET_NOTIFY_CLOSE","key":"k"}"#,
        r#"{"cmd":"NODE_SOCKET_GET_COUNT","key":"k"}"#,
        r#"{"cmd":"NODE_"}"#,
        r#"{"cmd":"NODE_X"}"#,
        r#"{"cmd":"NODE_CLUSTER"}"#,
        r#"{"cmd":"NODE_CLUSTER","act":42}"#,
        r#"{"cmd":"NODE_HANDLE","type":7,"msg":null}"#,
        r#"{"cmd":5}"#,
        r#"{"cmd":["NODE_CLUSTER"]}"#,
        r#"{"cmd":{"cmd":"NODE_CLUSTER"}}"#,
        r#"["NODE_CLUSTER",{"cmd":"NODE_HANDLE"}]"#,
        r#""NODE_CLUSTER""#,
        r#"{"text":"NODE_CLUSTER","cmd":"user"}"#,
        r#"{"a":{"cmd":"NODE_CLUSTER","act":"online"}}"#,
        r#"{"cmd":"node_cluster"}"#,
        r#"{"hello":"wörld 😀","n":[1,2.5,-3e10,null,true,false],"o":{}}"#,
        "42",
        "null",
        "[]",
    ];

    const JSON_INTERESTING: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"\"",
        b"\\",
        b"\\u",
        b"\\u004e",
        b"0",
        b"-",
        b"1e999",
        b".",
        b"e",
        b"true",
        b"null",
        b" ",
        b"\x00",
        b"\xff",
        b"\xc3",
        b"\xf0\x9f",
        b"NODE_",
        b"\"NODE_",
        b"\"cmd\":\"NODE_CLUSTER\",",
        b"\"cmd\":",
        b"\"act\":\"queryServer\"",
        b"\"msg\":{\"cmd\":\"NODE_X\"}",
        b"\"type\":",
    ];

    const V8_INTERESTING: &[&[u8]] = &[
        b"\x00",
        b"\xff",
        b"\x0f",
        b"\x7f",
        b"\x80",
        b"\xff\xff\xff\xff\x0f",
        b"o",
        b"{",
        b"A",
        b"$",
        b"a",
        b"@",
        b"\"",
        b"c",
        b"S",
        b"^",
        b"_",
        b"0",
        b"T",
        b"F",
        b"I",
        b"U",
        b"N",
        b"Z",
        b";",
        b":",
        b"'",
        b",",
        b"B",
        b"V",
        b"\\",
        b"r",
        b"D",
        b"R",
        b"\"\x03cmd",
        b"\"\x0cNODE_CLUSTER",
        b"\"\x05NODE_",
        b"NODE_",
        b"\"\x03act\"\x0bqueryServer",
    ];

    fn random_value(rng: &mut Rng, depth: u32) -> Value {
        const STRINGS: &[&str] = &[
            "",
            "cmd",
            "act",
            "msg",
            "type",
            "NODE_",
            "NODE_CLUSTER",
            "NODE_HANDLE",
            "NODE_HANDLE_ACK",
            "NODE_HANDLE_NACK",
            "NODE_SOCKET_ALL_CLOSED",
            "NODE_X",
            "queryServer",
            "online",
            "net.Native",
            "héllo",
            "😀",
            "a\nb",
            "\u{0}",
        ];
        match rng.below(if depth > 3 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => Value::from(rng.next() as i32 >> rng.below(31)),
            3 => Value::from((rng.next() as f64) / 7.0),
            4 => Value::from(rng.pick(STRINGS)),
            5 => Value::Array(
                (0..rng.below(4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = Map::new();
                if rng.below(2) == 0 {
                    map.insert("cmd".into(), Value::from(rng.pick(&STRINGS[5..12])));
                }
                for _ in 0..rng.below(4) {
                    map.insert(rng.pick(STRINGS).to_string(), random_value(rng, depth + 1));
                }
                Value::Object(map)
            }
        }
    }

    fn mutate(rng: &mut Rng, base: &[u8], interesting: &[&[u8]]) -> Vec<u8> {
        let mut v = base.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(v.len() as u64 + 1) as usize;
            match rng.below(6) {
                0 if at < v.len() => v[at] ^= 1 << rng.below(8),
                1 => {
                    let piece = rng.pick(interesting);
                    v.splice(at..at, piece.iter().copied());
                }
                2 if at < v.len() => {
                    let end = (at + 1 + rng.below(4) as usize).min(v.len());
                    v.drain(at..end);
                }
                3 => v.truncate(at),
                4 if at < v.len() => v[at] = rng.next() as u8,
                _ => {
                    let end = (at + rng.below(16) as usize).min(v.len());
                    let chunk = v[at..end].to_vec();
                    let to = rng.below(v.len() as u64 + 1) as usize;
                    v.splice(to..to, chunk);
                }
            }
        }
        v
    }

    fn internal_cmd(value: &Value) -> Option<&str> {
        match value {
            Value::Object(map) => match map.get("cmd") {
                Some(Value::String(cmd)) if cmd.len() > 5 && cmd.starts_with("NODE_") => Some(cmd),
                _ => None,
            },
            _ => None,
        }
    }

    /// The verdict for a frame, spelled out independently: a frame that decodes is judged
    /// by its value alone, however it spells things (escapes, two-byte strings), so that
    /// nothing Node would take for an internal message passes as a user message; a frame
    /// that does not decode is refused when it carries the plain internal marker, and
    /// otherwise may go either way (JavaScript refuses what it cannot parse either).
    fn check(frame: &[u8], mode: Serialization, got: &Incoming, case: u64) {
        let mark: &[u8] = match mode {
            Serialization::Json => b"\"NODE_",
            Serialization::Advanced => b"NODE_",
        };
        let mentions = frame.windows(mark.len()).any(|w| w == mark);
        let ctx = || {
            format!(
                "case {case} {mode:?}: {:?} -> {got:?}",
                String::from_utf8_lossy(frame)
            )
        };
        let value = match decode(frame, mode) {
            Err(_) if mentions => {
                assert!(matches!(got, Incoming::Invalid(_)), "{}", ctx());
                return;
            }
            Err(_) => {
                assert!(
                    matches!(got, Incoming::Invalid(_) | Incoming::User),
                    "{}",
                    ctx()
                );
                return;
            }
            Ok(value) => value,
        };
        let Some(cmd) = internal_cmd(&value) else {
            assert!(matches!(got, Incoming::User), "{}", ctx());
            return;
        };
        match (cmd, got) {
            ("NODE_CLUSTER", Incoming::Cluster(map)) => {
                assert_eq!(Some(map), value.as_object(), "{}", ctx())
            }
            ("NODE_HANDLE_ACK", Incoming::HandleAck) => {}
            ("NODE_HANDLE_NACK", Incoming::HandleNack) => {}
            (
                "NODE_HANDLE",
                Incoming::Handle {
                    handle_type,
                    inner_is_user,
                },
            ) => {
                assert_eq!(
                    handle_type.as_str(),
                    value["type"].as_str().unwrap_or(""),
                    "{}",
                    ctx()
                );
                assert_eq!(
                    *inner_is_user,
                    internal_cmd(&value["msg"]).is_none(),
                    "{}",
                    ctx()
                );
            }
            (cmd, Incoming::OtherInternal(other)) => {
                assert!(
                    !matches!(
                        cmd,
                        "NODE_CLUSTER" | "NODE_HANDLE" | "NODE_HANDLE_ACK" | "NODE_HANDLE_NACK"
                    ),
                    "{}",
                    ctx()
                );
                assert_eq!(cmd, other, "{}", ctx());
            }
            _ => panic!("wrong verdict: {}", ctx()),
        }
    }

    fn run(mode: Serialization, seed: u64, cases: u64) -> [u32; 4] {
        let mut rng = Rng(seed);
        let mut corpus: Vec<Vec<u8>> = MESSAGES
            .iter()
            .map(|m| serde_json::from_str::<Value>(m).expect("corpus message"))
            .chain((0..400).map(|_| random_value(&mut rng, 0)))
            .map(|v| match mode {
                Serialization::Json => serde_json::to_vec(&v).unwrap(),
                Serialization::Advanced => v8_codec::encode(&v),
            })
            .collect();
        if mode == Serialization::Json {
            // Texts a serializer would not write: duplicate keys, whitespace, escapes.
            corpus.push(br#"{"cmd":"NODE_CLUSTER","cmd":"user","act":"online"}"#.to_vec());
            corpus.push(br#"{"cmd":"user","cmd":"NODE_HANDLE_ACK"}"#.to_vec());
            corpus.push(b" {\"cmd\" :\t\"NODE_CLUSTER\" , \"act\":\"online\"}\r".to_vec());
            corpus.push(br#"{"cmd":"NODE_\u0043LUSTER","act":"online"}"#.to_vec());
            corpus.push(br#"{"cmd":"\u004eODE_CLUSTER","act":"online","seq":3}"#.to_vec());
            corpus
                .push(br#"{"\u0063md":"\u004EODE_HANDLE","type":"net.Socket","msg":{}}"#.to_vec());
        } else {
            // {cmd: 'NODE_CLUSTER', act: 'online'} with two-byte (UTF-16) strings, as V8
            // writes strings that are two-byte in memory.
            let two_byte = |s: &str| {
                let mut out = vec![b'c', (s.len() * 2) as u8];
                out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
                out
            };
            let frame = [
                &[0xFF, 0x0F, b'o', b'"', 3][..],
                b"cmd",
                &two_byte("NODE_CLUSTER"),
                b"\"\x03act",
                &two_byte("online"),
                b"{\x02",
            ]
            .concat();
            assert!(matches!(
                classify(&frame, Serialization::Advanced),
                Incoming::Cluster(_)
            ));
            corpus.push(frame);
        }
        let interesting = match mode {
            Serialization::Json => JSON_INTERESTING,
            Serialization::Advanced => V8_INTERESTING,
        };
        // user, invalid, cluster/handle/ack, other internal
        let mut seen = [0u32; 4];
        for case in 0..cases {
            let frame = match case % 50 {
                // Pure noise, sometimes starting like a real frame.
                0 => {
                    let mut junk = match mode {
                        Serialization::Json => b"{\"cmd\":\"NODE_".to_vec(),
                        Serialization::Advanced => vec![0xFF, 0x0F, b'o', b'"', 3],
                    };
                    junk.truncate(rng.below(junk.len() as u64 + 1) as usize);
                    junk.extend((0..rng.below(64)).map(|_| rng.next() as u8));
                    junk
                }
                // Deep nesting: recursion limits, not the stack, must stop it.
                1 if case % 1000 == 1 => {
                    let depth = 10 + rng.below(100_000) as usize;
                    match mode {
                        Serialization::Json => [
                            &b"{\"cmd\":\"NODE_X\",\"a\":"[..],
                            &b"["[..].repeat(depth),
                            &b"]"[..].repeat(depth),
                            b"}",
                        ]
                        .concat(),
                        Serialization::Advanced => [
                            &[0xFF, 0x0F, b'o', b'"', 3][..],
                            b"cmd\"\x06NODE_X\"\x01a",
                            &b"A\x01"[..].repeat(depth),
                        ]
                        .concat(),
                    }
                }
                n => {
                    // Node's own messages most of the time, random values otherwise;
                    // one case in five is left intact.
                    let base = if rng.below(3) > 0 {
                        rng.below(MESSAGES.len() as u64) as usize
                    } else {
                        rng.below(corpus.len() as u64) as usize
                    };
                    if n % 5 == 0 {
                        corpus[base].clone()
                    } else {
                        mutate(&mut rng, &corpus[base], interesting)
                    }
                }
            };
            let got = classify(&frame, mode);
            check(&frame, mode, &got, case);
            seen[match got {
                Incoming::User => 0,
                Incoming::Invalid(_) => 1,
                Incoming::OtherInternal(_) => 3,
                _ => 2,
            }] += 1;
        }
        seen
    }

    #[test]
    fn classify_random_and_mutated_json_frames() {
        let seen = run(Serialization::Json, 0x5851_F42D_4C95_7F2D, 120_000);
        assert!(seen.iter().all(|&n| n > 1_000), "{seen:?}");
    }

    #[test]
    fn classify_random_and_mutated_v8_frames() {
        let seen = run(Serialization::Advanced, 0x1405_7B7E_F767_814F, 120_000);
        assert!(seen.iter().all(|&n| n > 1_000), "{seen:?}");
    }

    /// JavaScript's JSON.parse turns `\u004e` into `N`: a frame Node would take for an
    /// internal message must not slip past the core as a user message (it would, for
    /// instance, leave a NODE_HANDLE's descriptor unclaimed for the next handle to take).
    #[test]
    fn escaped_internal_command_is_not_a_user_message() {
        for frame in [
            &br#"{"cmd":"\u004eODE_HANDLE","type":"net.Socket","msg":{}}"#[..],
            br#"{"cmd":"\u004EODE_CLUSTER","act":"queryServer","seq":1}"#,
        ] {
            let got = classify(frame, Serialization::Json);
            assert!(
                !matches!(got, Incoming::User),
                "{}: {got:?}",
                String::from_utf8_lossy(frame)
            );
        }
    }
}
