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
mod samples;
#[cfg(test)]
mod tests;
