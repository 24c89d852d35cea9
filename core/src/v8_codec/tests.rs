use super::*;
use crate::test_node::node_available;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ------------------------------------------------------------ helpers

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| (b as char).to_digit(16).expect("hex digit") as u8)
        .collect();
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON {s:?}: {e}"))
}

fn decode_hex(s: &str) -> Decoded {
    decode(&unhex(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Structural equality, numbers compared as f64 (JS has no integers).
fn same(a: &Value, b: &Value) -> bool {
    same_by(a, b, |x, y| x == y)
}

/// As `same`, for values parsed from JSON text: serde_json's default
/// float parser may be off by one ulp.
fn same_text(a: &Value, b: &Value) -> bool {
    same_by(a, b, |x, y| {
        x == y || x.to_bits().abs_diff(y.to_bits()) <= 1
    })
}

fn same_by(a: &Value, b: &Value, eq: fn(f64, f64) -> bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => eq(x, y),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_by(p, q, eq))
        }
        (Value::Object(x), Value::Object(y)) => {
            let eq_at = |(k, v): (&String, &Value)| y.get(k).is_some_and(|w| same_by(v, w, eq));
            x.len() == y.len() && x.iter().all(eq_at)
        }
        _ => a == b,
    }
}

fn nested_arrays(depth: usize) -> Value {
    (0..depth).fold(Value::from(1), |inner, _| Value::Array(vec![inner]))
}

use crate::test_rng::Rng;

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    let kinds = if depth >= 4 { 4 } else { 6 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => random_number(rng),
        3 => Value::String(random_string(rng)),
        4 => {
            let n = rng.below(6);
            Value::Array((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => {
            let n = rng.below(6);
            let map = (0..n)
                .map(|_| (random_string(rng), random_value(rng, depth + 1)))
                .collect();
            Value::Object(map)
        }
    }
}

fn random_number(rng: &mut Rng) -> Value {
    let special = [
        0.0,
        -0.0,
        2147483647.0,
        2147483648.0,
        -2147483649.0,
        MAX_SAFE_INTEGER,
        1e21,
        1e-300,
        f64::MIN_POSITIVE,
        f64::MAX,
        -f64::MAX,
    ];
    match rng.below(6) {
        0 => Value::from(rng.next() as i32),
        1 => Value::from(rng.next() as i64),
        2 => Value::from(rng.next()),
        3 => Value::from(f64::from_bits(rng.next())), // NaN/inf become null
        4 => Value::from(rng.pick(&special)),
        _ => Value::from(rng.below(100_000) as f64 / 8.0 - 5000.0),
    }
}

fn random_string(rng: &mut Rng) -> String {
    let len = rng.below(12);
    (0..len)
        .map(|_| {
            let (lo, hi) = rng.pick(&[
                (0x20, 0x7F),       // ASCII
                (0x00, 0x20),       // controls, NUL
                (0x80, 0x100),      // Latin-1: still one-byte
                (0x100, 0xD800),    // BMP: two-byte
                (0xE000, 0x10000),  // BMP above surrogates
                (0x1F300, 0x1F700), // emoji: surrogate pairs
            ]);
            char::from_u32(lo + rng.below(u64::from(hi - lo)) as u32).unwrap_or('?')
        })
        .collect()
}

// ------------------------------------------------ recorded Node output

use super::samples::SAMPLES;

/// Bigger values, checked against live Node only: (JS, expected JSON).
fn generated_samples() -> Vec<(String, Value)> {
    let ints: Vec<i64> = (0..1000).map(|i| i * 7 - 3000).collect();
    vec![
        (r#""x".repeat(300)"#.into(), Value::from("x".repeat(300))),
        (r#""€".repeat(200)"#.into(), Value::from("€".repeat(200))),
        (
            "Array.from({ length: 1000 }, (_, i) => i * 7 - 3000)".into(),
            Value::from(ints),
        ),
        // serde_json parses at most 128 levels of JSON text.
        (
            r#"JSON.parse("[".repeat(120) + "1" + "]".repeat(120))"#.into(),
            nested_arrays(120),
        ),
        (
            r#"{ ["k".repeat(200)]: ["😀".repeat(70), "é".repeat(130)] }"#.into(),
            serde_json::json!({ "k".repeat(200): ["😀".repeat(70), "é".repeat(130)] }),
        ),
    ]
}

#[test]
fn decodes_recorded_node_samples() {
    for s in SAMPLES {
        let got = decode_hex(s.hex);
        assert!(
            same(&got.value, &parse(s.json)),
            "{}: got {}",
            s.js,
            got.value
        );
        assert_eq!(got.lossy, s.lossy, "{}: lossy", s.js);
    }
}

#[test]
fn encodes_exactly_like_v8() {
    for s in SAMPLES.iter().filter(|s| s.exact) {
        assert_eq!(hex(&encode(&parse(s.json))), s.hex, "{}", s.js);
    }
}

#[test]
fn frame_is_big_endian_length_then_body() {
    for s in SAMPLES {
        let value = parse(s.json);
        let (body, frame) = (encode(&value), encode_frame(&value));
        assert_eq!(frame[..4], (body.len() as u32).to_be_bytes());
        assert_eq!(frame[4..], body[..], "{}", s.js);
    }
}

#[test]
fn integers_use_zigzag_varints() {
    for (n, wire) in [
        (0i64, "4900"),
        (-1, "4901"),
        (63, "497e"),
        (64, "498001"),
        (-65, "498101"),
        (i64::from(i32::MAX), "49feffffff0f"),
        (i64::from(i32::MIN), "49ffffffff0f"),
    ] {
        let bytes = encode(&Value::from(n));
        assert_eq!(hex(&bytes[2..]), wire, "{n}");
        assert_eq!(decode(&bytes).unwrap().value, Value::from(n));
    }
    // Integral doubles are written as V8 Smis; -0 stays a double.
    assert_eq!(hex(&encode(&Value::from(3.0))), "ff0f4906");
    assert_eq!(hex(&encode(&Value::from(-0.0))), "ff0f4e0000000000000080");
}

#[test]
fn decodes_tags_v8_no_longer_writes() {
    // uint32, UTF-8 string, padding and the legacy object-count prefix.
    assert_eq!(decode_hex("ff0f55ffffffff0f").value, Value::from(u32::MAX));
    assert_eq!(decode_hex("ff0f5305c3a9e282ac").value, Value::from("é€"));
    assert_eq!(decode_hex("ff0f00003f054902").value, Value::from(1));
    let bad_utf8 = decode_hex("ff0f5302ff61");
    assert_eq!(
        (bad_utf8.value, bad_utf8.lossy),
        (Value::from("\u{fffd}a"), true)
    );
    // A shared-object id needs a conveyor Node never sets up; skip it.
    assert!(decode_hex("ff0f7000").lossy);
}

#[test]
fn accepts_versions_13_to_15_only() {
    for ok in ["ff0d30", "ff0e30", "ff0f30"] {
        assert_eq!(decode_hex(ok).value, Value::Null);
    }
    for bad in ["", "30", "ff", "ff0c30", "ff1030", "ff0f"] {
        assert!(decode(&unhex(bad)).is_err(), "{bad:?}");
    }
    // Version 13 views have no flags field...
    assert!(decode_hex("ff0d410242020000564200024902240002").lossy);
    // ...unless written by the buggy writer V8 still tolerates (the
    // error-cause view is followed by a subtag, which exposes the flags).
    assert!(decode_hex("ff0d72634202000056420002002e").lossy);
}

#[test]
fn trailing_bytes_are_ignored_like_v8() {
    assert_eq!(decode_hex("ff0f49024902").value, Value::from(1));
}

#[test]
fn rejects_malformed_input() {
    for (bad, why) in [
        ("ff0f6f7b01", "object count mismatch"),
        ("ff0f6f220161490222016149047b02", "duplicate key"),
        ("ff0f6f307b00", "null as key"),
        ("ff0f41014902240101", "array property count mismatch"),
        ("ff0f41024902240002", "fewer elements than the length"),
        ("ff0f41ff01", "dense length beyond input"),
        ("ff0f5e00", "reference to unknown object"),
        ("ff0f6303610062", "odd two-byte length"),
        ("ff0f22056162", "truncated string"),
        ("ff0f4e0000", "truncated double"),
        ("ff0f47", "unknown tag"),
        ("ff0f2d", "the hole outside an array"),
        ("ff0f5c02", "unknown host-object tag"),
        ("ff0f5c0122016178", "host object that is not an object"),
        ("ff0f420200005678000000", "unknown view type"),
        ("ff0f4204000000005657010200", "misaligned Uint16Array"),
        ("ff0f3b49023a01", "map with a dangling key"),
        ("ff0f72782e", "unknown error field"),
        ("ff0f5a05", "truncated BigInt"),
        ("ff0f7e0201", "resizable buffer over its maximum"),
    ] {
        assert!(decode(&unhex(bad)).is_err(), "{why}: {bad} decoded");
    }
}

#[test]
fn huge_sparse_array_is_not_materialised() {
    let got = decode_hex("ff0f61ffffffff0f4000ffffffff0f");
    assert_eq!((got.value, got.lossy), (Value::Null, true));
}

#[test]
fn nesting_is_bounded() {
    // The top-level value counts as one level.
    let ok = decode(&encode(&nested_arrays(MAX_DEPTH - 1))).unwrap();
    assert!(same(&ok.value, &nested_arrays(MAX_DEPTH - 1)));
    assert!(decode(&encode(&nested_arrays(MAX_DEPTH))).is_err());
    // Far deeper than any stack would allow, and truncated.
    let mut hostile = vec![0xFF, 0x0F];
    hostile.extend(b"A\x01".repeat(200_000));
    assert!(decode(&hostile).is_err());
    let mut objects = vec![0xFF, 0x0F];
    objects.extend(b"o\"\x01k".repeat(200_000));
    assert!(decode(&objects).is_err());
}

/// `levels` containers, each opened by `open` and closed by `close`,
/// around a null.
fn nest(open: &str, close: &str, levels: usize) -> Vec<u8> {
    let text = format!("ff0f{}30{}", open.repeat(levels), close.repeat(levels));
    unhex(&text)
}

#[test]
fn maximum_nesting_fits_a_2_mib_stack() {
    let deepest = MAX_DEPTH - 1; // plus the innermost null
    let cases = [
        ("dense array", nest("4101", "240001", deepest)),
        ("object", nest("6f22016b", "7b01", deepest)),
        ("sparse array", nest("61014900", "400101", deepest)),
        ("map", nest("3b4902", "3a02", deepest)),
        ("set", nest("27", "2c01", deepest)),
        ("error cause", nest("7263", "2e", deepest)),
        // Each host object nests an object: two levels per layer.
        ("host object", nest("5c016f22016b", "7b01", deepest / 2)),
    ];
    let worker = std::thread::Builder::new().stack_size(2 << 20);
    let handle = worker.spawn(move || {
        for (name, bytes) in cases {
            assert!(decode(&bytes).is_ok(), "{name}");
        }
    });
    handle.expect("spawn").join().expect("decoding overflowed");
}

#[test]
fn numeric_keys_stringify_like_js() {
    for (n, js) in [
        (0.0, "0"),
        (-0.0, "0"),
        (7.0, "7"),
        (4294967294.0, "4294967294"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-10, "1.5e-10"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e21, "1e+21"),
        (2f64.powi(60), "1152921504606847000"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        assert_eq!(js_number_to_string(n), js, "{n}");
    }
}

#[test]
fn random_values_round_trip() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..10_000 {
        let value = random_value(&mut rng, 0);
        let got = decode(&encode(&value)).unwrap_or_else(|e| panic!("#{i} {value}: {e}"));
        assert!(same(&got.value, &value), "#{i}: {value} -> {}", got.value);
        assert!(!got.lossy, "#{i}: {value}");
    }
}

/// Valid encodings to mutate: random values plus every recorded sample.
fn fuzz_corpus(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = SAMPLES.iter().map(|s| unhex(s.hex)).collect();
    corpus.extend((0..300).map(|_| encode(&random_value(rng, 0))));
    corpus
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\x00\x7f\x80\xff?-_0TFIUNZS\"c^o{a@A$Dyxnzs R;:',B~tVupw\\mr";
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() as u64 + 1) as usize;
        match rng.below(6) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 => v.insert(at, rng.pick(INTERESTING)),
            2 if at < v.len() => {
                v.remove(at);
            }
            3 => v.truncate(at),
            4 if at < v.len() => v[at] = rng.next() as u8,
            _ => {
                let end = (at + rng.below(8) as usize).min(v.len());
                let chunk = v[at..end].to_vec();
                let to = rng.below(v.len() as u64 + 1) as usize;
                v.splice(to..to, chunk);
            }
        }
    }
    v
}

#[test]
fn fuzzed_input_never_panics() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let corpus = fuzz_corpus(&mut rng);
    let (mut ok, mut err) = (0u32, 0u32);
    for i in 0..120_000 {
        let input = if i % 10 == 0 {
            let mut junk = vec![0xFF, 0x0F];
            junk.extend((0..rng.below(64)).map(|_| rng.next() as u8));
            junk
        } else {
            let base = rng.below(corpus.len() as u64) as usize;
            mutate(&mut rng, &corpus[base])
        };
        match decode(&input) {
            Ok(got) => {
                ok += 1;
                // Whatever decodes must survive our own round trip.
                let again = decode(&encode(&got.value)).expect("re-decode");
                assert!(same(&again.value, &got.value), "{}", hex(&input));
            }
            Err(_) => err += 1,
        }
    }
    assert!(ok > 10_000 && err > 10_000, "ok={ok} err={err}");
}

// ------------------------------------------------------ live Node

/// Runs `node -e script` with `input` on stdin; returns stdout lines.
fn run_node(script: &str, input: &str) -> Vec<String> {
    let mut child = Command::new("node")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    // Node reads all input before writing, so this cannot deadlock.
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write to node");
    drop(stdin);
    let out = child.wait_with_output().expect("node output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    stdout.lines().map(str::to_owned).collect()
}

/// Serializes each input line (a JS expression) with a copy of Node's
/// internal ChildProcessSerializer and prints the bytes as hex.
const NODE_SERIALIZE: &str = include_str!("node_serialize.js");

#[test]
fn node_output_decodes() {
    if !node_available() {
        return;
    }
    let mut cases: Vec<(String, Value, bool, bool)> = SAMPLES
        .iter()
        .map(|s| (s.js.to_owned(), parse(s.json), s.lossy, s.exact))
        .collect();
    cases.extend(
        generated_samples()
            .into_iter()
            .map(|(js, v)| (js, v, false, true)),
    );
    let deep = format!(
        "JSON.parse(\"[\".repeat({0}) + \"1\" + \"]\".repeat({0}))",
        MAX_DEPTH - 1
    );
    cases.push((deep, nested_arrays(MAX_DEPTH - 1), false, true));
    let input: String = cases.iter().map(|c| format!("{}\n", c.0)).collect();
    let lines = run_node(NODE_SERIALIZE, &input);
    assert_eq!(lines.len(), cases.len());
    for ((js, want, lossy, exact), line) in cases.iter().zip(&lines) {
        let got = decode_hex(line);
        assert!(same(&got.value, want), "{js}: got {}", got.value);
        assert_eq!(got.lossy, *lossy, "{js}: lossy");
        if *exact {
            assert_eq!(&hex(&encode(want)), line, "{js}: encode differs from V8");
        }
    }
}

/// For each line "body-hex frame-hex": checks the frame's length prefix,
/// deserializes both, and reports whether V8 serializes the same JSON
/// value to identical bytes (via JSON, as deserialized arrays are holey
/// and would be written as sparse).
const NODE_DESERIALIZE: &str = include_str!("node_deserialize.js");

/// Whether V8 would write this value exactly as `encode` does. It does
/// not for integer-like keys (written as numbers, elements first), and
/// JSON.parse cannot produce -0.
fn v8_writes_like_us(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .all(|(k, v)| array_index(k, u32::MAX).is_none() && v8_writes_like_us(v)),
        Value::Array(items) => items.iter().all(v8_writes_like_us),
        Value::Number(n) => {
            n.as_f64() != Some(0.0) || n.as_f64().is_some_and(|f| f.is_sign_positive())
        }
        _ => true,
    }
}

fn interop_values() -> Vec<Value> {
    let mut values: Vec<Value> = SAMPLES
        .iter()
        .filter(|s| !s.lossy)
        .map(|s| parse(s.json))
        .collect();
    values.extend(generated_samples().into_iter().map(|(_, v)| v));
    // Two-byte strings at both parities, to exercise padding.
    values.extend((0..6).map(|n| serde_json::json!(["a".repeat(n), "€", {"k€": "😀".repeat(n)}])));
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    values.extend((0..300).map(|_| random_value(&mut rng, 0)));
    values
}

#[test]
fn node_deserializes_encoded_values() {
    if !node_available() {
        return;
    }
    let values = interop_values();
    let input: String = values
        .iter()
        .map(|v| format!("{} {}\n", hex(&encode(v)), hex(&encode_frame(v))))
        .collect();
    let lines = run_node(NODE_DESERIALIZE, &input);
    assert_eq!(lines.len(), values.len());
    for (want, line) in values.iter().zip(&lines) {
        let got = parse(line);
        assert!(same_text(&got[0], want), "{want} -> {line}");
        assert!(same_text(&got[1], want), "{want} -> {line} (framed)");
        if v8_writes_like_us(want) {
            assert_eq!(got[2], Value::Bool(true), "{want}: V8 bytes differ");
        }
    }
}

/// Child side of a real advanced-serialization IPC channel: sends one
/// message with native objects, then echoes every message it gets.
const NODE_CHANNEL_CHILD: &str = include_str!("node_channel_child.js");

fn read_frame(stream: &mut UnixStream) -> Decoded {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("frame length");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).expect("frame body");
    decode(&body).unwrap_or_else(|e| panic!("{}: {e}", hex(&body)))
}

fn wait_briefly(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("node child did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn node_channel_round_trip() {
    if !node_available() {
        return;
    }
    let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
    // NODE_CHANNEL_FD is how Node's fork() hands a child its channel.
    let child = Command::new("node")
        .args(["-e", NODE_CHANNEL_CHILD])
        .env("NODE_CHANNEL_FD", "0")
        .env("NODE_CHANNEL_SERIALIZATION_MODE", "advanced")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn node");
    ours.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let first = read_frame(&mut ours);
    let want = r#"{"arr":[1,null,3],"big":null,"buf":null,"date":null,
                   "emoji":"😀","map":null,"ok":"yes","re":null}"#;
    assert_eq!((first.value, first.lossy), (parse(want), true));

    // One write carrying many frames, alternately built by encode_frame
    // and by hand around encode(), exercises Node's frame splitting.
    let values: Vec<Value> = interop_values().into_iter().step_by(5).collect();
    let mut wire = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if i % 2 == 0 {
            wire.extend(encode_frame(v));
        } else {
            let body = encode(v);
            wire.extend((body.len() as u32).to_be_bytes());
            wire.extend(body);
        }
    }
    assert!(wire.len() < 64 * 1024, "keep below socket buffer sizes");
    ours.write_all(&wire).expect("write frames");
    for want in &values {
        let reply = read_frame(&mut ours);
        assert!(!reply.lossy);
        assert!(
            same(&reply.value["echo"], want),
            "{want} -> {}",
            reply.value
        );
        let json = reply.value["json"].as_str().expect("json string");
        assert!(same_text(&parse(json), want), "{want} -> {json}");
    }
    ours.write_all(&encode_frame(&Value::from("__done__")))
        .unwrap();
    assert!(wait_briefly(child).success());
}
