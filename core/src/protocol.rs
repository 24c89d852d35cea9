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
    /// Some other `NODE_*` command (e.g. the NODE_SOCKET_* bookkeeping of sockets a
    /// worker's server sent over): JavaScript's business, or nobody's.
    OtherInternal(String),
    /// Not JSON (json mode) or not a V8 value (advanced mode).
    Invalid(String),
}

/// The marker every internal JSON message carries: `JSON.stringify` writes `cmd` this way.
const JSON_MARK: &[u8] = b"\"NODE_";
const V8_MARK: &[u8] = b"NODE_";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn classify(frame: &[u8], mode: Serialization) -> Incoming {
    let mark = match mode {
        Serialization::Json => JSON_MARK,
        Serialization::Advanced => V8_MARK,
    };
    // Fast path: a frame that never mentions NODE_ cannot be internal.
    if !contains(frame, mark) {
        return Incoming::User;
    }
    let value = match decode(frame, mode) {
        Ok(v) => v,
        Err(e) => return Incoming::Invalid(e),
    };
    classify_value(value)
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

/// Node's key for a server handle: `${address}:${port}:${addressType}:${fd}:${index}`,
/// with JavaScript's spelling of null and undefined.
pub fn server_key(msg: &Map<String, Value>) -> String {
    let part = |name: &str| match msg.get(name) {
        None => "undefined".to_string(),
        Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => js_number(n),
        Some(other) => other.to_string(),
    };
    format!(
        "{}:{}:{}:{}:{}",
        part("address"),
        part("port"),
        part("addressType"),
        part("fd"),
        part("index")
    )
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
        assert_eq!(server_key(msg.as_object().unwrap()), "null:0:4:undefined:0");
        let msg: Value = serde_json::from_str(
            r#"{"address":"/tmp/s.sock","port":-1,"addressType":-1,"fd":null,"index":2}"#,
        )
        .unwrap();
        assert_eq!(
            server_key(msg.as_object().unwrap()),
            "/tmp/s.sock:-1:-1:null:2"
        );
    }
}
