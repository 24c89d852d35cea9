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
