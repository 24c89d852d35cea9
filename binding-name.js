'use strict';
// The addon's file name for this platform, shared by the loader and the install script.
const { platform, arch } = process;
const libc = platform === 'linux' && !process.report?.getReport?.().header?.glibcVersionRuntime ? 'musl' : 'gnu';
const suffix = platform === 'linux' ? `${platform}-${arch}-${libc}` : `${platform}-${arch}`;
module.exports = { binaryName: `rust-cluster.${suffix}.node` };
