/* eslint-disable no-sparse-arrays -- the hole in `arr` is what is being sent */
process.send({ buf: Buffer.from("hi"), date: new Date(0), map: new Map([[1, 2]]),
           big: 5n, re: /x/g, ok: "yes", emoji: "😀", arr: [1, , 3] });
process.on("message", (m) => {
  if (m === "__done__") return process.disconnect();
  process.send({ echo: m, json: JSON.stringify(m) });
});
