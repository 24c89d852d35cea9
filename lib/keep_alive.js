'use strict';
// What keeps this process alive for its workers, in place of libuv's process and pipe
// handles: the native event function is weak (it never keeps the loop alive), so a ref'd
// timer does, while any worker's process or channel handle would keep Node's own primary
// alive.
const { setInterval, clearInterval } = require('./scheduling');

let refs = 0;
let keepAlive = null;

function ref() {
  if (refs++ === 0) keepAlive = setInterval(() => {}, 2 ** 31 - 1);
}

function unref() {
  if (--refs === 0) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

module.exports = { ref, unref };
