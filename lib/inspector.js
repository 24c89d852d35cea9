'use strict';
// The inspector port each worker gets: Node's isUsingInspector
// (lib/internal/util/inspector.js) and its cluster primary's getInspectPort
// (lib/internal/cluster/primary.js), which give every worker of an inspected primary the
// next port after the primary's.
const { ERR_SOCKET_BAD_PORT } = require('./errors');

let debugPortOffset = 1;
const INSPECT_RE = /^--inspect(-brk|-port)?(=|$)/;

function isUsingInspector(execArgv) {
  return execArgv.some((arg) => INSPECT_RE.test(arg)) ||
    /--inspect(-brk|-port)?(=|\s+|$)/.test(process.env.NODE_OPTIONS || '');
}

function getInspectPort(inspectPort) {
  if (typeof inspectPort === 'function') {
    inspectPort = inspectPort();
  } else if (inspectPort == null) {
    inspectPort = process.debugPort + debugPortOffset;
    if (inspectPort > 65535) inspectPort = inspectPort - 65535 + 1024 - 1;
    debugPortOffset++;
  }
  if (typeof inspectPort !== 'number' || !Number.isInteger(inspectPort) || inspectPort < 0 || inspectPort > 65535) {
    throw ERR_SOCKET_BAD_PORT('Port', inspectPort);
  }
  return inspectPort;
}

/** The flags the next worker gets for its inspector: none, or its `--inspect-port`. */
function workerInspectArgs(settings) {
  if (settings.inspectPort === null) throw ERR_SOCKET_BAD_PORT('Port', null, true);
  if (!isUsingInspector(settings.execArgv)) return [];
  return [`--inspect-port=${getInspectPort(settings.inspectPort)}`];
}

module.exports = { workerInspectArgs };
