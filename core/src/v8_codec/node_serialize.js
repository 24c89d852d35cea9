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
// eslint-disable-next-line no-unused-vars -- called by the expressions this program evaluates
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
