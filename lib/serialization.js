'use strict';
// The two message encodings of Node's IPC channel, as Node's
// lib/internal/child_process/serialization.js writes and reads them: newline-delimited JSON,
// or (advanced) a big-endian u32 length followed by V8's serialization, where native
// objects other than typed arrays travel as plain objects.
const v8 = require('v8');
const { types: { isArrayBufferView } } = require('util');

const kArrayBufferViewTag = 0;
const kNotArrayBufferViewTag = 1;

class ChildProcessSerializer extends v8.DefaultSerializer {
  _writeHostObject(object) {
    if (isArrayBufferView(object)) {
      this.writeUint32(kArrayBufferViewTag);
      return super._writeHostObject(object);
    }
    this.writeUint32(kNotArrayBufferViewTag);
    this.writeValue({ ...object });
  }
}

class ChildProcessDeserializer extends v8.DefaultDeserializer {
  _readHostObject() {
    const tag = this.readUint32();
    if (tag === kArrayBufferViewTag) return super._readHostObject();
    return this.readValue();
  }
}

const json = {
  encode(message) {
    return `${JSON.stringify(message)}\n`;
  },
  decode(text) {
    return JSON.parse(text);
  },
};

const advanced = {
  encode(message) {
    const ser = new ChildProcessSerializer();
    ser.writeRawBytes(Buffer.allocUnsafe(4));
    ser.writeHeader();
    ser.writeValue(message);
    const frame = ser.releaseBuffer();
    frame.writeUInt32BE(frame.length - 4, 0);
    return frame;
  },
  decode(bytes) {
    const des = new ChildProcessDeserializer(bytes);
    des.readHeader();
    return des.readValue();
  },
};

module.exports = { json, advanced };
