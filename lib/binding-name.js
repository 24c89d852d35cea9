'use strict';
// The addon's file name for this platform, shared by the loader and the install script.
const fs = require('fs');
const { platform, arch } = process;

// glibc or musl, cheaply: the dynamic loader's name says which. (The usual probe,
// process.report.getReport(), builds a whole diagnostic report: about 10 ms at start-up.)
function isMusl() {
  try {
    return fs.readdirSync('/lib').some((name) => name.startsWith('ld-musl-'));
  } catch {
    return false;
  }
}

const libc = platform === 'linux' && isMusl() ? 'musl' : 'gnu';
const suffix = platform === 'linux' ? `${platform}-${arch}-${libc}` : `${platform}-${arch}`;
module.exports = { binaryName: `rust-cluster.${suffix}.node` };
