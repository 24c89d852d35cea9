//! Codec for V8's `ValueSerializer` wire format, as used by Node's
//! `serialization: 'advanced'` child_process IPC channel.
//!
//! Each channel message is a big-endian `u32` length followed by a body that
//! Node's `ChildProcessSerializer` (a `v8.DefaultSerializer`) produced. This
//! module converts bodies to and from JSON-like values. Everything else V8
//! can write (Date, Map, BigInt, typed arrays, ...) is parsed, so the stream
//! stays in sync, and replaced by `null` with [`Decoded::lossy`] set.
//!
//! References: V8 `src/objects/value-serializer.cc`, Node `lib/v8.js` and
//! `lib/internal/child_process/serialization.js`. Doubles and two-byte
//! strings use host byte order in V8; like Node's supported targets, we
//! assume little-endian.

use serde_json::{Map, Number, Value};
use std::fmt;

/// Format version V8 11.x (Node 20) writes.
const WRITE_VERSION: u8 = 15;
/// Version 13 introduced the explicit host-object tag; before it, unknown
/// tags were handed to the host, so older data cannot be skipped reliably.
const MIN_VERSION: u32 = 13;
const MAX_VERSION: u32 = 15;
/// Nesting limit for decoding, so hostile input cannot overflow the stack.
pub const MAX_DEPTH: usize = 1000;
/// Array slots one decode may allocate for sparse arrays. A sparse array's
/// length costs a few bytes on the wire, so without a cap a tiny message
/// could demand gigabytes.
const MAX_SPARSE_SLOTS: usize = 1 << 20;
/// Elements reserved up front for a dense array of claimed length.
const MAX_PREALLOCATED: usize = 1024;
/// Integral doubles up to this magnitude are exact as `i64`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// `SerializationTag` values from value-serializer.cc.
mod tag {
    pub const VERSION: u8 = 0xFF;
    pub const PADDING: u8 = b'\0';
    pub const VERIFY_OBJECT_COUNT: u8 = b'?';
    pub const THE_HOLE: u8 = b'-';
    pub const UNDEFINED: u8 = b'_';
    pub const NULL: u8 = b'0';
    pub const TRUE: u8 = b'T';
    pub const FALSE: u8 = b'F';
    pub const INT32: u8 = b'I';
    pub const UINT32: u8 = b'U';
    pub const DOUBLE: u8 = b'N';
    pub const BIGINT: u8 = b'Z';
    pub const UTF8_STRING: u8 = b'S';
    pub const ONE_BYTE_STRING: u8 = b'"';
    pub const TWO_BYTE_STRING: u8 = b'c';
    pub const OBJECT_REFERENCE: u8 = b'^';
    pub const BEGIN_OBJECT: u8 = b'o';
    pub const END_OBJECT: u8 = b'{';
    pub const BEGIN_SPARSE_ARRAY: u8 = b'a';
    pub const END_SPARSE_ARRAY: u8 = b'@';
    pub const BEGIN_DENSE_ARRAY: u8 = b'A';
    pub const END_DENSE_ARRAY: u8 = b'$';
    pub const DATE: u8 = b'D';
    pub const TRUE_OBJECT: u8 = b'y';
    pub const FALSE_OBJECT: u8 = b'x';
    pub const NUMBER_OBJECT: u8 = b'n';
    pub const BIGINT_OBJECT: u8 = b'z';
    pub const STRING_OBJECT: u8 = b's';
    pub const REGEXP: u8 = b'R';
    pub const BEGIN_MAP: u8 = b';';
    pub const END_MAP: u8 = b':';
    pub const BEGIN_SET: u8 = b'\'';
    pub const END_SET: u8 = b',';
    pub const ARRAY_BUFFER: u8 = b'B';
    pub const RESIZABLE_ARRAY_BUFFER: u8 = b'~';
    pub const ARRAY_BUFFER_TRANSFER: u8 = b't';
    pub const ARRAY_BUFFER_VIEW: u8 = b'V';
    pub const SHARED_ARRAY_BUFFER: u8 = b'u';
    pub const SHARED_OBJECT: u8 = b'p';
    pub const WASM_MODULE_TRANSFER: u8 = b'w';
    pub const HOST_OBJECT: u8 = b'\\';
    pub const WASM_MEMORY_TRANSFER: u8 = b'm';
    pub const ERROR: u8 = b'r';
}

/// Node's `ChildProcessSerializer` host-object tags.
const HOST_ARRAY_BUFFER_VIEW: u32 = 0;
const HOST_OTHER_OBJECT: u32 = 1;

/// A decoded message body.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub value: Value,
    /// True if something without a JSON equivalent was replaced by `null`
    /// (or, for host objects and lone surrogates, approximated).
    pub lossy: bool,
}

/// Malformed or unsupported input.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v8 deserialize: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(DecodeError(msg.into()))
}

/// Decode one message body (the bytes after the 4-byte length prefix; starts
/// with the 0xFF version header). Trailing bytes after the value are ignored,
/// as V8 does.
pub fn decode(body: &[u8]) -> Result<Decoded> {
    let mut first = Reader::new(body, false);
    match first.decode_body() {
        // crbug.com/1284506: some version-13 writers emitted view flags
        // anyway; V8 retries such data with flags enabled, and so do we.
        Err(e) if first.version == 13 => Reader::new(body, true).decode_body().map_err(|_| e),
        other => other,
    }
}

/// Encode a JSON value as V8's serializer would (header 0xFF 0x0F, then the
/// value), without a length prefix.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut w = Writer { out: Vec::new() };
    w.header();
    w.value(value);
    w.out
}

/// Encode with the 4-byte big-endian length prefix, as written on the channel.
pub fn encode_frame(value: &Value) -> Vec<u8> {
    // Write in place after a placeholder, like Node, so padding offsets are
    // computed over the whole frame (the prefix is even, so it is the same).
    let mut w = Writer { out: vec![0; 4] };
    w.header();
    w.value(value);
    let len = u32::try_from(w.out.len() - 4).unwrap_or(u32::MAX);
    w.out[..4].copy_from_slice(&len.to_be_bytes());
    w.out
}

// ---------------------------------------------------------------- decoding

/// Reads the value introduced by a tag (the tag is passed for uniformity).
type ReadFn<'a> = fn(&mut Reader<'a>, u8) -> Result<Item>;

/// One wire value, before conversion to JSON.
enum Item {
    Json(Value),
    /// Numbers stay raw so numeric property keys stringify exactly.
    Number(f64),
    /// An ArrayBuffer; a following view tag wraps it.
    Buffer,
    /// Parsed, but has no JSON equivalent.
    Skipped,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    version: u32,
    v13_view_flags: bool,
    depth: usize,
    lossy: bool,
    /// One entry per object id, in V8's numbering: true for ArrayBuffers,
    /// since a reference to one may be followed by a view.
    ids: Vec<bool>,
    sparse_slots_left: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], v13_view_flags: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            version: 0,
            v13_view_flags,
            depth: 0,
            lossy: false,
            ids: Vec::new(),
            sparse_slots_left: MAX_SPARSE_SLOTS,
        }
    }

    fn decode_body(&mut self) -> Result<Decoded> {
        self.read_header()?;
        let value = self.read_value()?;
        Ok(Decoded {
            value,
            lossy: self.lossy,
        })
    }

    fn read_header(&mut self) -> Result<()> {
        if self.byte()? != tag::VERSION {
            return fail("missing version header");
        }
        let version = self.u32()?;
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return fail(format!("unsupported format version {version}"));
        }
        self.version = version;
        Ok(())
    }

    // --- primitives

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(eof)?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(eof());
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..self.pos])
    }

    /// Base-128 varint. Like V8, stops after `max_bytes` and drops bits that
    /// do not fit the target type (the caller truncates).
    fn varint(&mut self, max_bytes: u32) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            value |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        Ok(value)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(self.varint(5)? as u32)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.varint(2)? as u8)
    }

    fn len(&mut self) -> Result<usize> {
        Ok(self.u32()? as usize)
    }

    fn zigzag(&mut self) -> Result<i32> {
        let u = self.u32()?;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    fn f64(&mut self) -> Result<f64> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.bytes(8)?);
        Ok(f64::from_le_bytes(raw))
    }

    /// Position of the next non-padding byte, without consuming anything.
    fn peek_tag_pos(&self) -> Option<usize> {
        let skip = self.buf[self.pos..]
            .iter()
            .position(|&b| b != tag::PADDING)?;
        Some(self.pos + skip)
    }

    fn consume_tag_if(&mut self, wanted: u8) -> bool {
        match self.peek_tag_pos() {
            Some(at) if self.buf[at] == wanted => {
                self.pos = at + 1;
                true
            }
            _ => false,
        }
    }

    fn read_tag(&mut self) -> Result<u8> {
        let at = self.peek_tag_pos().ok_or_else(eof)?;
        self.pos = at + 1;
        Ok(self.buf[at])
    }

    fn new_id(&mut self, is_buffer: bool) {
        self.ids.push(is_buffer);
    }

    fn expect_count(&mut self, actual: u32, what: &str) -> Result<()> {
        let expected = self.u32()?;
        if expected != actual {
            return fail(format!("{what}: expected {expected}, read {actual}"));
        }
        Ok(())
    }

    // --- values

    fn read_value(&mut self) -> Result<Value> {
        self.read_item().map(|item| self.json_of(item))
    }

    fn json_of(&mut self, item: Item) -> Value {
        match item {
            Item::Json(v) => v,
            Item::Number(n) => self.number_json(n),
            Item::Buffer | Item::Skipped => self.skipped(),
        }
    }

    fn skipped(&mut self) -> Value {
        self.lossy = true;
        Value::Null
    }

    fn number_json(&mut self, n: f64) -> Value {
        // Integral values become integers, as JSON.stringify prints them
        // (this also folds -0 into 0, which JSON cannot tell apart).
        if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
            return Value::from(n as i64);
        }
        match Number::from_f64(n) {
            Some(num) => Value::Number(num),
            None => self.skipped(), // NaN, +-Infinity
        }
    }

    /// Reads one value, however nested. Every level of nesting passes
    /// through here, which is what bounds the depth. Dispatching through a
    /// function pointer keeps the recursive frames small: unoptimised builds
    /// give each call site's result its own stack slot.
    fn read_item(&mut self) -> Result<Item> {
        if self.depth >= MAX_DEPTH {
            return fail("nesting too deep");
        }
        let t = self.read_value_tag()?;
        let read = Self::reader_for(t);
        self.depth += 1;
        let item = read(self, t);
        self.depth -= 1;
        match item {
            // A view is written right after the buffer it wraps.
            Ok(Item::Buffer) if self.consume_tag_if(tag::ARRAY_BUFFER_VIEW) => self.read_view(),
            other => other,
        }
    }

    fn reader_for(t: u8) -> ReadFn<'a> {
        match t {
            tag::BEGIN_OBJECT => Self::read_object,
            tag::BEGIN_DENSE_ARRAY => Self::read_dense_array,
            tag::BEGIN_SPARSE_ARRAY => Self::read_sparse_array,
            tag::BEGIN_MAP | tag::BEGIN_SET => Self::skip_collection,
            tag::ERROR => Self::skip_error,
            tag::HOST_OBJECT => Self::read_host_object,
            _ => Self::read_primitive,
        }
    }

    fn read_value_tag(&mut self) -> Result<u8> {
        let mut t = self.read_tag()?;
        // A legacy object-count hint may prefix any value; it carries nothing.
        while t == tag::VERIFY_OBJECT_COUNT {
            self.u32()?;
            t = self.read_tag()?;
        }
        Ok(t)
    }

    /// Values that are not containers (a few nest a string or a buffer).
    fn read_primitive(&mut self, t: u8) -> Result<Item> {
        let json = |v: Value| Ok(Item::Json(v));
        match t {
            tag::UNDEFINED | tag::NULL => json(Value::Null),
            tag::TRUE => json(Value::Bool(true)),
            tag::FALSE => json(Value::Bool(false)),
            tag::INT32 => Ok(Item::Number(f64::from(self.zigzag()?))),
            tag::UINT32 => Ok(Item::Number(f64::from(self.u32()?))),
            tag::DOUBLE => Ok(Item::Number(self.f64()?)),
            tag::UTF8_STRING | tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING => {
                json(Value::String(self.read_string_body(t)?))
            }
            tag::OBJECT_REFERENCE => self.read_reference(),
            tag::BIGINT => {
                self.skip_bigint()?; // a primitive: no object id
                Ok(Item::Skipped)
            }
            tag::SHARED_OBJECT if self.version >= 15 => {
                self.u32()?; // shared-value id: no object id either
                Ok(Item::Skipped)
            }
            _ => self.skip_other(t),
        }
    }

    fn read_string_body(&mut self, t: u8) -> Result<String> {
        let n = self.len()?;
        let raw = self.bytes(n)?;
        match t {
            tag::ONE_BYTE_STRING => Ok(raw.iter().map(|&b| char::from(b)).collect()),
            tag::TWO_BYTE_STRING => self.utf16(raw),
            _ => Ok(self.utf8(raw)),
        }
    }

    fn utf16(&mut self, raw: &[u8]) -> Result<String> {
        if !raw.len().is_multiple_of(2) {
            return fail("odd two-byte string length");
        }
        let units = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        let mut s = String::with_capacity(raw.len() / 2);
        for ch in char::decode_utf16(units) {
            // Lone surrogates have no Rust/JSON-text form; keep the rest.
            s.push(ch.unwrap_or_else(|_| {
                self.lossy = true;
                char::REPLACEMENT_CHARACTER
            }));
        }
        Ok(s)
    }

    fn utf8(&mut self, raw: &[u8]) -> String {
        match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                self.lossy = true;
                String::from_utf8_lossy(raw).into_owned()
            }
        }
    }

    /// A value V8 reads with `ReadString`: any value, but it must be a string.
    fn read_string(&mut self) -> Result<String> {
        match self.read_item()? {
            Item::Json(Value::String(s)) => Ok(s),
            _ => fail("expected a string"),
        }
    }

    /// Property keys are strings or numbers (array indices, as V8 writes
    /// them); numbers become their JS string form.
    fn read_key(&mut self) -> Result<String> {
        match self.read_item()? {
            Item::Json(Value::String(s)) => Ok(s),
            Item::Number(n) => Ok(js_number_to_string(n)),
            _ => fail("invalid property key"),
        }
    }

    fn read_reference(&mut self) -> Result<Item> {
        let id = self.len()?;
        match self.ids.get(id) {
            Some(true) => Ok(Item::Buffer),
            Some(false) => Ok(Item::Skipped),
            None => fail(format!("reference to unknown object {id}")),
        }
    }

    fn read_object(&mut self, _: u8) -> Result<Item> {
        self.new_id(false);
        let mut map = Map::new();
        while !self.consume_tag_if(tag::END_OBJECT) {
            let key = self.read_key()?;
            let value = self.read_value()?;
            if map.insert(key, value).is_some() {
                return fail("duplicate property key"); // V8 rejects these too
            }
        }
        // Duplicates are rejected, so the map size is the count read.
        self.expect_count(len_u32(map.len()), "object property count")?;
        Ok(Item::Json(Value::Object(map)))
    }

    /// Header and trailer live in helpers to keep this frame, which is on
    /// the stack once per nesting level, small.
    fn read_dense_array(&mut self, _: u8) -> Result<Item> {
        let len = self.dense_array_len()?;
        // Lengths are only checked against the whole remaining input, which
        // every enclosing array may claim too: grow instead of trusting it.
        let mut items = Vec::with_capacity((len as usize).min(MAX_PREALLOCATED));
        for _ in 0..len {
            items.push(self.read_element()?);
        }
        self.finish_array(tag::END_DENSE_ARRAY, len)?;
        Ok(Item::Json(Value::Array(items)))
    }

    fn dense_array_len(&mut self) -> Result<u32> {
        let len = self.u32()?;
        // Every element takes at least one byte (as V8 also checks).
        if len as usize > self.remaining() {
            return fail("dense array longer than input");
        }
        self.new_id(false);
        Ok(len)
    }

    /// Array trailer: named properties (dropped), their count, the length.
    fn finish_array(&mut self, end: u8, len: u32) -> Result<()> {
        let props = self.skip_array_properties(end)?;
        self.expect_count(props, "array property count")?;
        self.expect_count(len, "array length")
    }

    fn read_element(&mut self) -> Result<Value> {
        if self.consume_tag_if(tag::THE_HOLE) {
            return Ok(self.skipped());
        }
        self.read_value()
    }

    /// Named properties on an array have no JSON form; parse and drop them.
    fn skip_array_properties(&mut self, end: u8) -> Result<u32> {
        let mut count = 0u32;
        while !self.consume_tag_if(end) {
            self.read_key()?;
            self.read_item()?;
            self.lossy = true;
            count = count.wrapping_add(1);
        }
        Ok(count)
    }

    /// Holey arrays are written as length plus index/value pairs; holes become
    /// `null`, as JSON.stringify would print them.
    fn read_sparse_array(&mut self, _: u8) -> Result<Item> {
        let len = self.u32()?;
        self.new_id(false);
        let mut entries = Vec::new();
        let mut count = 0u32;
        while !self.consume_tag_if(tag::END_SPARSE_ARRAY) {
            let key = self.read_key()?;
            let value = self.read_value()?;
            match array_index(&key, len) {
                Some(i) => entries.push((i, value)),
                None => self.lossy = true, // a named property
            }
            count = count.wrapping_add(1);
        }
        self.expect_count(count, "array property count")?;
        self.expect_count(len, "array length")?;
        self.fill_sparse(len as usize, entries)
    }

    fn fill_sparse(&mut self, len: usize, entries: Vec<(usize, Value)>) -> Result<Item> {
        if len > self.sparse_slots_left {
            return Ok(Item::Skipped);
        }
        self.sparse_slots_left -= len;
        let mut slots: Vec<Option<Value>> = vec![None; len];
        for (i, value) in entries {
            match slots.get_mut(i) {
                Some(slot @ None) => *slot = Some(value),
                _ => return fail("duplicate array index"),
            }
        }
        let items = slots
            .into_iter()
            .map(|slot| slot.unwrap_or_else(|| self.skipped()))
            .collect();
        Ok(Item::Json(Value::Array(items)))
    }

    /// Map (key, value pairs) or Set (values), ended by a tag and the number
    /// of values read.
    fn skip_collection(&mut self, t: u8) -> Result<Item> {
        let (end, values_per_entry) = match t {
            tag::BEGIN_MAP => (tag::END_MAP, 2),
            _ => (tag::END_SET, 1),
        };
        self.new_id(false);
        let mut count = 0u32;
        while !self.consume_tag_if(end) {
            for _ in 0..values_per_entry {
                self.read_item()?;
            }
            count = count.wrapping_add(values_per_entry);
        }
        self.expect_count(count, "collection length")?;
        Ok(Item::Skipped)
    }

    /// Errors are a list of sub-tagged fields ending in '.'.
    fn skip_error(&mut self, _: u8) -> Result<Item> {
        self.new_id(false);
        loop {
            match self.u8()? {
                // Prototype markers: Eval/Range/Reference/Syntax/Type/URIError.
                b'E' | b'R' | b'F' | b'S' | b'T' | b'U' => {}
                b'm' | b's' => {
                    self.read_string()?; // message, stack
                }
                b'c' => {
                    self.read_item()?; // cause
                }
                b'.' => return Ok(Item::Skipped),
                other => return fail(format!("unknown error field {other:#04x}")),
            }
        }
    }

    /// Node's ChildProcessSerializer: uint32 0 then a typed array (type
    /// index, byte length, raw bytes), or uint32 1 then `{...object}`.
    fn read_host_object(&mut self, _: u8) -> Result<Item> {
        self.new_id(false);
        match self.u32()? {
            HOST_ARRAY_BUFFER_VIEW => {
                self.u32()?; // constructor index; any is fine to skip
                let n = self.len()?;
                self.bytes(n)?;
                Ok(Item::Skipped)
            }
            HOST_OTHER_OBJECT => match self.read_value()? {
                // A plain copy of a native object: useful, but not the original.
                v @ Value::Object(_) => {
                    self.lossy = true;
                    Ok(Item::Json(v))
                }
                _ => fail("host object is not an object"),
            },
            other => fail(format!("unknown host object tag {other}")),
        }
    }

    /// An ArrayBufferView after its buffer: subtag, offset, length, flags.
    fn read_view(&mut self) -> Result<Item> {
        let subtag = self.u8()?;
        let offset = self.u32()?;
        let len = self.u32()?;
        if self.version >= 14 || self.v13_view_flags {
            self.u32()?;
        }
        let size = view_element_size(subtag)
            .ok_or_else(|| DecodeError(format!("unknown view type {subtag:#04x}")))?;
        if offset % size != 0 || len % size != 0 {
            return fail("misaligned typed array");
        }
        self.new_id(false);
        Ok(Item::Skipped)
    }

    /// Leaf objects without JSON form (only strings or buffers nest in them).
    fn skip_other(&mut self, t: u8) -> Result<Item> {
        let is_buffer = matches!(
            t,
            tag::ARRAY_BUFFER
                | tag::RESIZABLE_ARRAY_BUFFER
                | tag::ARRAY_BUFFER_TRANSFER
                | tag::SHARED_ARRAY_BUFFER
        );
        self.new_id(is_buffer);
        match t {
            tag::DATE | tag::NUMBER_OBJECT => {
                self.f64()?;
            }
            tag::TRUE_OBJECT | tag::FALSE_OBJECT => {}
            tag::BIGINT_OBJECT => self.skip_bigint()?,
            tag::STRING_OBJECT => {
                self.read_string()?;
            }
            tag::REGEXP => {
                self.read_string()?;
                self.u32()?; // flags
            }
            tag::ARRAY_BUFFER => self.skip_buffer_bytes(false)?,
            tag::RESIZABLE_ARRAY_BUFFER => self.skip_buffer_bytes(true)?,
            // Transfer/shared ids refer to out-of-band state Node never sets
            // up on this channel; accept them so the rest can be read.
            tag::ARRAY_BUFFER_TRANSFER | tag::SHARED_ARRAY_BUFFER | tag::WASM_MODULE_TRANSFER => {
                self.u32()?;
            }
            tag::WASM_MEMORY_TRANSFER => self.skip_wasm_memory()?,
            _ => return fail(format!("unknown tag {t:#04x}")),
        }
        self.lossy = true;
        Ok(if is_buffer {
            Item::Buffer
        } else {
            Item::Skipped
        })
    }

    /// BigInt: bitfield (bit 0 sign, bits 1..=30 byte length), then digits.
    fn skip_bigint(&mut self) -> Result<()> {
        let bitfield = self.u32()?;
        let n = ((bitfield >> 1) & 0x3FFF_FFFF) as usize;
        self.bytes(n)?;
        Ok(())
    }

    fn skip_buffer_bytes(&mut self, resizable: bool) -> Result<()> {
        let len = self.u32()?;
        if resizable && self.u32()? < len {
            return fail("buffer longer than its maximum");
        }
        self.bytes(len as usize)?;
        Ok(())
    }

    /// Wasm memory: max pages, memory64 flag, then its shared buffer.
    fn skip_wasm_memory(&mut self) -> Result<()> {
        self.zigzag()?;
        if self.byte()? > 1 {
            return fail("bad wasm memory flag");
        }
        match self.read_item()? {
            Item::Buffer => Ok(()),
            _ => fail("wasm memory without buffer"),
        }
    }
}

fn eof() -> DecodeError {
    DecodeError("unexpected end of input".to_owned())
}

/// Element size per `ArrayBufferViewTag`; DataView ('?') has none, so 1.
fn view_element_size(subtag: u8) -> Option<u32> {
    match subtag {
        b'b' | b'B' | b'C' | b'?' => Some(1),
        b'w' | b'W' | b'h' => Some(2),
        b'd' | b'D' | b'f' => Some(4),
        b'F' | b'q' | b'Q' => Some(8),
        _ => None,
    }
}

/// The array index a (canonical) key names, if below `len`.
fn array_index(key: &str, len: u32) -> Option<usize> {
    let digits = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
    let canonical = digits && (key == "0" || !key.starts_with('0'));
    let i: u32 = key.parse().ok().filter(|_| canonical)?;
    (i < len).then_some(i as usize)
}

/// ECMAScript Number::toString, for numeric property keys.
fn js_number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    // `{:e}` yields the shortest round-trip digits, as JS requires.
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = exp.parse::<i32>().unwrap_or(0) + 1;
    let sign = if n < 0.0 { "-" } else { "" };
    format!("{sign}{}", js_digits_layout(&digits, point))
}

/// Places digits d1..dk around a decimal point after `n` digits, following
/// the spec's cases (plain integer, fraction, leading zeros, exponent).
fn js_digits_layout(d: &str, n: i32) -> String {
    let k = d.len() as i32;
    if k <= n && n <= 21 {
        format!("{d}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = d.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{d}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = d.split_at(1.min(d.len()));
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{}", e.abs())
    }
}

// ---------------------------------------------------------------- encoding

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn header(&mut self) {
        self.out.extend_from_slice(&[tag::VERSION, WRITE_VERSION]);
    }

    fn varint(&mut self, mut v: u32) {
        loop {
            let low = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(low);
                return;
            }
            self.out.push(low | 0x80);
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.push(tag::NULL),
            Value::Bool(true) => self.out.push(tag::TRUE),
            Value::Bool(false) => self.out.push(tag::FALSE),
            Value::Number(n) => self.number(n),
            Value::String(s) => self.string(s),
            Value::Array(items) => self.array(items),
            Value::Object(map) => self.object(map),
        }
    }

    fn number(&mut self, n: &Number) {
        // Check integers before as_f64, which would round large ones.
        if let Some(i) = n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            return self.int32(i);
        }
        let f = n.as_f64().unwrap_or(f64::NAN);
        match f64_as_i32(f) {
            Some(i) => self.int32(i),
            None => {
                self.out.push(tag::DOUBLE);
                self.out.extend_from_slice(&f.to_le_bytes());
            }
        }
    }

    fn int32(&mut self, i: i32) {
        self.out.push(tag::INT32);
        self.varint(((i << 1) ^ (i >> 31)) as u32);
    }

    fn string(&mut self, s: &str) {
        if s.chars().all(|c| u32::from(c) <= 0xFF) {
            let latin1: Vec<u8> = s.chars().filter_map(|c| u8::try_from(c).ok()).collect();
            self.out.push(tag::ONE_BYTE_STRING);
            self.varint(len_u32(latin1.len()));
            self.out.extend_from_slice(&latin1);
            return;
        }
        let units: Vec<u16> = s.encode_utf16().collect();
        let byte_len = len_u32(units.len() * 2);
        // V8 keeps two-byte payloads at even offsets of the whole buffer.
        // Readers do not need it, but matching V8 byte-for-byte is cheap.
        if (self.out.len() + 1 + varint_size(byte_len)) % 2 == 1 {
            self.out.push(tag::PADDING);
        }
        self.out.push(tag::TWO_BYTE_STRING);
        self.varint(byte_len);
        for unit in units {
            self.out.extend_from_slice(&unit.to_le_bytes());
        }
    }

    fn array(&mut self, items: &[Value]) {
        let len = len_u32(items.len());
        self.out.push(tag::BEGIN_DENSE_ARRAY);
        self.varint(len);
        for item in items {
            self.value(item);
        }
        self.out.push(tag::END_DENSE_ARRAY);
        self.varint(0); // no named properties
        self.varint(len);
    }

    fn object(&mut self, map: &Map<String, Value>) {
        self.out.push(tag::BEGIN_OBJECT);
        for (key, value) in map {
            self.string(key);
            self.value(value);
        }
        self.out.push(tag::END_OBJECT);
        self.varint(len_u32(map.len()));
    }
}

/// `f` as an int32, if V8 would hold it as a Smi (so not -0).
fn f64_as_i32(f: f64) -> Option<i32> {
    let i = f as i32; // saturating; checked by the round trip below
    let exact = f64::from(i) == f && !(f == 0.0 && f.is_sign_negative());
    exact.then_some(i)
}

/// Wire lengths are uint32; larger values cannot be sent by V8 either.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn varint_size(mut v: u32) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
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

    /// A value as Node 20 serialized it with `ChildProcessSerializer`
    /// (`raw(x)`: plain `v8.Serializer`, which writes ArrayBuffer views
    /// natively). `exact`: `encode(json)` must reproduce `hex` byte for byte.
    struct Sample {
        js: &'static str,
        json: &'static str,
        lossy: bool,
        exact: bool,
        hex: &'static str,
    }

    const SAMPLES: &[Sample] = &[
    Sample {
        js: "null",
        json: "null",
        lossy: false,
        exact: true,
        hex: "ff0f30",
    },
    Sample {
        js: "true",
        json: "true",
        lossy: false,
        exact: true,
        hex: "ff0f54",
    },
    Sample {
        js: "false",
        json: "false",
        lossy: false,
        exact: true,
        hex: "ff0f46",
    },
    Sample {
        js: "undefined",
        json: "null",
        lossy: false,
        exact: false,
        hex: "ff0f5f",
    },
    Sample {
        js: "0",
        json: "0",
        lossy: false,
        exact: true,
        hex: "ff0f4900",
    },
    Sample {
        js: "-1",
        json: "-1",
        lossy: false,
        exact: true,
        hex: "ff0f4901",
    },
    Sample {
        js: "2147483647",
        json: "2147483647",
        lossy: false,
        exact: true,
        hex: "ff0f49feffffff0f",
    },
    Sample {
        js: "-2147483648",
        json: "-2147483648",
        lossy: false,
        exact: true,
        hex: "ff0f49ffffffff0f",
    },
    Sample {
        js: "2147483648",
        json: "2147483648",
        lossy: false,
        exact: true,
        hex: "ff0f4e000000000000e041",
    },
    Sample {
        js: "-0",
        json: "0",
        lossy: false,
        exact: false,
        hex: "ff0f4e0000000000000080",
    },
    Sample {
        js: "1.5",
        json: "1.5",
        lossy: false,
        exact: true,
        hex: "ff0f4e000000000000f83f",
    },
    Sample {
        js: "-1e300",
        json: "-1e300",
        lossy: false,
        exact: true,
        hex: "ff0f4e9c7500883ce437fe",
    },
    Sample {
        js: "0.1 + 0.2",
        json: "0.30000000000000004",
        lossy: false,
        exact: true,
        hex: "ff0f4e343333333333d33f",
    },
    Sample {
        js: "Number.MAX_SAFE_INTEGER",
        json: "9007199254740991",
        lossy: false,
        exact: true,
        hex: "ff0f4effffffffffff3f43",
    },
    Sample {
        js: "2 ** 64",
        json: "18446744073709551616",
        lossy: false,
        exact: true,
        hex: "ff0f4e000000000000f043",
    },
    Sample {
        js: "NaN",
        json: "null",
        lossy: true,
        exact: false,
        hex: "ff0f4e000000000000f87f",
    },
    Sample {
        js: "-Infinity",
        json: "null",
        lossy: true,
        exact: false,
        hex: "ff0f4e000000000000f0ff",
    },
    Sample {
        js: r#""""#,
        json: r#""""#,
        lossy: false,
        exact: true,
        hex: "ff0f2200",
    },
    Sample {
        js: r#""hello""#,
        json: r#""hello""#,
        lossy: false,
        exact: true,
        hex: "ff0f220568656c6c6f",
    },
    Sample {
        js: r#""café ÿ""#,
        json: r#""café ÿ""#,
        lossy: false,
        exact: true,
        hex: "ff0f2206636166e920ff",
    },
    Sample {
        js: r#""€uro""#,
        json: r#""€uro""#,
        lossy: false,
        exact: true,
        hex: "ff0f6308ac20750072006f00",
    },
    Sample {
        js: r#""😀 emoji""#,
        json: r#""😀 emoji""#,
        lossy: false,
        exact: true,
        hex: "ff0f63103dd800de200065006d006f006a006900",
    },
    Sample {
        js: r#""日本語テキスト""#,
        json: r#""日本語テキスト""#,
        lossy: false,
        exact: true,
        hex: "ff0f630ee5652c679e8ac630ad30b930c830",
    },
    Sample {
        js: r#"["a", "€"]"#,
        json: r#"["a","€"]"#,
        lossy: false,
        exact: true,
        hex: "ff0f4102220161006302ac20240002",
    },
    Sample {
        js: r#"["ab", "€"]"#,
        json: r#"["ab","€"]"#,
        lossy: false,
        exact: true,
        hex: "ff0f4102220261626302ac20240002",
    },
    Sample {
        js: r#"[1, "é€", { k: "😀" }]"#,
        json: r#"[1,"é€",{"k":"😀"}]"#,
        lossy: false,
        exact: true,
        hex: "ff0f410349026304e900ac206f22016b63043dd800de7b01240003",
    },
    Sample {
        js: "{ a: { b: { c: [1, 2, { d: null }] } } }",
        json: r#"{"a":{"b":{"c":[1,2,{"d":null}]}}}"#,
        lossy: false,
        exact: true,
        hex: "ff0f6f2201616f2201626f2201634103490249046f220164307b012400037b017b017b01",
    },
    Sample {
        js: r#"{ "ÿ": 1, "€": "key" }"#,
        json: r#"{"ÿ":1,"€":"key"}"#,
        lossy: false,
        exact: true,
        hex: "ff0f6f2201ff49026302ac2022036b65797b02",
    },
    Sample {
        js: r#"[[], {}, ""]"#,
        json: r#"[[],{},""]"#,
        lossy: false,
        exact: true,
        hex: "ff0f410341002400006f7b002200240003",
    },
    Sample {
        js: "{ b: 1, a: 2 }",
        json: r#"{"a":2,"b":1}"#,
        lossy: false,
        exact: false,
        hex: "ff0f6f220162490222016149047b02",
    },
    Sample {
        js: r#"{ 1: "a", b: 2 }"#,
        json: r#"{"1":"a","b":2}"#,
        lossy: false,
        exact: false,
        hex: "ff0f6f490222016122016249047b02",
    },
    Sample {
        js: "{ 4294967294: 1, 2147483648: 2 }",
        json: r#"{"2147483648":2,"4294967294":1}"#,
        lossy: false,
        exact: false,
        hex: "ff0f6f4e000000000000e04149044e0000c0ffffffef4149027b02",
    },
    Sample {
        js: "[1, , 3]",
        json: "[1,null,3]",
        lossy: true,
        exact: false,
        hex: "ff0f61034900490249044906400203",
    },
    Sample {
        js: r#"(() => { const a = []; a[5] = "x"; return a; })()"#,
        json: r#"[null,null,null,null,null,"x"]"#,
        lossy: true,
        exact: false,
        hex: "ff0f6106490a220178400106",
    },
    Sample {
        js: "[undefined, null]",
        json: "[null,null]",
        lossy: false,
        exact: false,
        hex: "ff0f41025f30240002",
    },
    Sample {
        js: "{ u: undefined, v: 1 }",
        json: r#"{"u":null,"v":1}"#,
        lossy: false,
        exact: false,
        hex: "ff0f6f2201755f22017649027b02",
    },
    Sample {
        js: r#""\ud800x""#,
        json: r#""\ufffdx""#,
        lossy: true,
        exact: false,
        hex: "ff0f630400d87800",
    },
    Sample {
        js: "new Date(0)",
        json: "null",
        lossy: true,
        exact: false,
        hex: "ff0f440000000000000000",
    },
    Sample {
        js: "{ d: new Date(0), x: 1 }",
        json: r#"{"d":null,"x":1}"#,
        lossy: true,
        exact: false,
        hex: "ff0f6f22016444000000000000000022017849027b02",
    },
    Sample {
        js: r#"new Map([[1, { a: 1 }], ["k", [2]]])"#,
        json: "null",
        lossy: true,
        exact: false,
        hex: "ff0f3b49026f22016149027b0122016b410149042400013a04",
    },
    Sample {
        js: r#"new Set([1, "a", {}])"#,
        json: "null",
        lossy: true,
        exact: false,
        hex: "ff0f2749022201616f7b002c03",
    },
    Sample {
        js: r#"Buffer.from("hello")"#,
        json: "null",
        lossy: true,
        exact: false,
        hex: "ff0f5c000a0568656c6c6f",
    },
    Sample {
        js: "[new Uint8Array([1, 2, 3]), new Float64Array([1.5, 2]), new DataView(new ArrayBuffer(4)), new BigInt64Array(2)]",
        json: "[null,null,null,null]",
        lossy: true,
        exact: false,
        hex: "ff0f41045c0001030102035c000810000000000000f83f00000000000000405c000904000000005c000b1000000000000000000000000000000000240004",
    },
    Sample {
        js: r#"{ buf: Buffer.from("x"), after: "ok" }"#,
        json: r#"{"after":"ok","buf":null}"#,
        lossy: true,
        exact: false,
        hex: "ff0f6f22036275665c000a01782205616674657222026f6b7b02",
    },
    Sample {
        js: r#"[new ArrayBuffer(8), "after"]"#,
        json: r#"[null,"after"]"#,
        lossy: true,
        exact: false,
        hex: "ff0f41024208000000000000000022056166746572240002",
    },
    Sample {
        js: "[123n, -(2n ** 100n), 0n, 1]",
        json: "[null,null,null,1]",
        lossy: true,
        exact: false,
        hex: "ff0f41045a107b000000000000005a21000000000000000000000000100000005a004902240004",
    },
    Sample {
        js: r#"[/ab+c/gi, "after"]"#,
        json: r#"[null,"after"]"#,
        lossy: true,
        exact: false,
        hex: "ff0f410252220461622b630322056166746572240002",
    },
    Sample {
        js: r#"(() => { const e = new TypeError("boom", { cause: { x: 1 } }); e.stack = "at x"; return [e, 1]; })()"#,
        json: "[null,1]",
        lossy: true,
        exact: false,
        hex: "ff0f410272546d2204626f6f6d636f22017849027b01732204617420782e4902240002",
    },
    Sample {
        js: r#"[Object(1.5), Object("s€"), Object(true), Object(false), Object(1n), 2]"#,
        json: "[null,null,null,null,null,2]",
        lossy: true,
        exact: false,
        hex: "ff0f41066e000000000000f83f7363047300ac2079787a1001000000000000004904240006",
    },
    Sample {
        js: "(() => { const o = { a: 1 }; return [o, o, { o }]; })()",
        json: r#"[{"a":1},null,{"o":null}]"#,
        lossy: true,
        exact: false,
        hex: "ff0f41036f22016149027b015e016f22016f5e017b01240003",
    },
    Sample {
        js: "(() => { const o = { n: 1 }; o.self = o; return o; })()",
        json: r#"{"n":1,"self":null}"#,
        lossy: true,
        exact: false,
        hex: "ff0f6f22016e4902220473656c665e007b02",
    },
    Sample {
        js: "Object.assign([1, 2], { x: 1 })",
        json: "[1,2]",
        lossy: true,
        exact: false,
        hex: "ff0f4102490249042201784902240102",
    },
    Sample {
        js: r#"(() => { const p = new (require("worker_threads").MessageChannel)().port1; p.a = 1; return { p, q: p, after: 2 }; })()"#,
        json: r#"{"after":2,"p":{"a":1},"q":null}"#,
        lossy: true,
        exact: false,
        hex: "ff0f6f2201705c016f22016149027b012201715e012205616674657249047b03",
    },
    Sample {
        js: r#"raw([new Uint16Array([1, 2]), "after"])"#,
        json: r#"[null,"after"]"#,
        lossy: true,
        exact: false,
        hex: "ff0f4102420401000200565700040022056166746572240002",
    },
    Sample {
        js: "raw((() => { const b = new ArrayBuffer(8); return [new Uint8Array(b, 1, 2), new Float64Array(b), b, 3]; })())",
        json: "[null,null,null,3]",
        lossy: true,
        exact: false,
        hex: "ff0f41044208000000000000000056420102005e0156460008005e014906240004",
    },
    ];

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
    const NODE_SERIALIZE: &str = r#"
const v8 = require("v8");
const { types } = require("util");
class ChildProcessSerializer extends v8.DefaultSerializer {
  _writeHostObject(object) {
    if (types.isArrayBufferView(object)) {
      this.writeUint32(0);
      return super._writeHostObject(object);
    }
    this.writeUint32(1);
    this.writeValue({ ...object });
  }
}
const RAW = Symbol("raw");
const raw = (value) => ({ [RAW]: value });
function ser(x) {
  const isRaw = x !== null && typeof x === "object" && RAW in x;
  const s = isRaw ? new v8.Serializer() : new ChildProcessSerializer();
  s.writeHeader();
  s.writeValue(isRaw ? x[RAW] : x);
  return s.releaseBuffer().toString("hex");
}
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  for (const line of input.split("\n")) if (line) console.log(ser(eval("(" + line + ")")));
});
"#;

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
    const NODE_DESERIALIZE: &str = r#"
const v8 = require("v8");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  for (const line of input.split("\n")) {
    if (!line) continue;
    const [body, frame] = line.split(" ").map((h) => Buffer.from(h, "hex"));
    if (frame.readUInt32BE(0) !== frame.length - 4) throw new Error("bad length");
    const value = v8.deserialize(body);
    const framed = v8.deserialize(frame.subarray(4));
    const same = v8.serialize(JSON.parse(JSON.stringify(value))).equals(body);
    console.log(JSON.stringify([value, framed, same]));
  }
});
"#;

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
        values.extend(
            (0..6).map(|n| serde_json::json!(["a".repeat(n), "€", {"k€": "😀".repeat(n)}])),
        );
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
    const NODE_CHANNEL_CHILD: &str = r#"
process.send({ buf: Buffer.from("hi"), date: new Date(0), map: new Map([[1, 2]]),
               big: 5n, re: /x/g, ok: "yes", emoji: "😀", arr: [1, , 3] });
process.on("message", (m) => {
  if (m === "__done__") return process.disconnect();
  process.send({ echo: m, json: JSON.stringify(m) });
});
"#;

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
}
