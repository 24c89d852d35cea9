'use strict';
// Node's error classes and codes for the errors the cluster API raises, with Node's
// message formats, so code that checks `err.code` (or the message) behaves the same.
const util = require('util');

function makeNodeError(Base, code, message) {
  const err = new Base(message);
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  // Node's internal errors print as `TypeError [CODE]: message`, in the stack and in toString().
  Object.defineProperty(err, 'toString', {
    value() { return `${this.name} [${code}]: ${this.message}`; },
    enumerable: false, writable: true, configurable: true,
  });
  Error.captureStackTrace?.(err, makeNodeError);
  if (typeof err.stack === 'string') {
    err.stack = err.stack.replace(`${Base.name}: `, `${Base.name} [${code}]: `);
  }
  return err;
}

function describeReceived(value) {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor?.name) return ` Received an instance of ${value.constructor.name}`;
    return ` Received ${util.inspect(value, { depth: -1 })}`;
  }
  let inspected = util.inspect(value, { colors: false });
  if (inspected.length > 28) inspected = `${inspected.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${inspected})`;
}

const TYPES = ['string', 'function', 'number', 'object', 'boolean', 'bigint', 'symbol'];

function formatExpected(expected) {
  const list = Array.isArray(expected) ? expected : [expected];
  const types = [];
  const instances = [];
  const other = [];
  for (const value of list) {
    if (TYPES.includes(value)) types.push(value);
    else if (/^[A-Z]/.test(value)) instances.push(value);
    else other.push(value);
  }
  const parts = [];
  const join = (arr, word) => (arr.length > 2 ? `${arr.slice(0, -1).join(', ')}, ${word} ${arr[arr.length - 1]}`
    : arr.join(` ${word} `));
  if (types.length) parts.push(`${types.length > 1 ? 'one of type' : 'of type'} ${join(types, 'or')}`);
  if (instances.length) parts.push(`an instance of ${join(instances, 'or')}`);
  if (other.length) parts.push(other.length > 1 ? `one of ${join(other, 'or')}` : `${other[0]}`);
  return join(parts, 'or');
}

function ERR_INVALID_ARG_TYPE(name, expected, actual) {
  const kind = name.endsWith(' argument') ? '' : (name.includes('.') ? 'property' : 'argument');
  const subject = kind ? `The "${name}" ${kind}` : `The ${name}`;
  return makeNodeError(TypeError, 'ERR_INVALID_ARG_TYPE',
    `${subject} must be ${formatExpected(expected)}.${describeReceived(actual)}`);
}

function ERR_INVALID_ARG_VALUE(name, value, reason = 'is invalid') {
  let inspected = util.inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const type = name.includes('.') ? 'property' : 'argument';
  return makeNodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${type} '${name}' ${reason}. Received ${inspected}`);
}

const ERR_UNKNOWN_SIGNAL = (signal) => makeNodeError(TypeError, 'ERR_UNKNOWN_SIGNAL', util.format('Unknown signal: %s', signal));
const ERR_IPC_CHANNEL_CLOSED = () => makeNodeError(Error, 'ERR_IPC_CHANNEL_CLOSED', 'Channel closed');
const ERR_IPC_DISCONNECTED = () => makeNodeError(Error, 'ERR_IPC_DISCONNECTED', 'IPC channel is already disconnected');
const ERR_MISSING_ARGS = (name) => makeNodeError(TypeError, 'ERR_MISSING_ARGS', `The "${name}" argument must be specified`);
const ERR_INVALID_HANDLE_TYPE = () => makeNodeError(TypeError, 'ERR_INVALID_HANDLE_TYPE', 'This handle type cannot be sent');
const ERR_CHILD_PROCESS_IPC_REQUIRED = (name) =>
  makeNodeError(Error, 'ERR_CHILD_PROCESS_IPC_REQUIRED', `Forked processes must have an IPC channel, missing value 'ipc' in ${name}`);
const ERR_IPC_ONE_PIPE = () => makeNodeError(Error, 'ERR_IPC_ONE_PIPE', 'Child process can have only one IPC pipe');
const ERR_OUT_OF_RANGE = (name, range, value) =>
  makeNodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`);

function ERR_SOCKET_BAD_PORT(name, port, allowZero = true) {
  const operator = allowZero ? '>=' : '>';
  return makeNodeError(RangeError, 'ERR_SOCKET_BAD_PORT',
    `${name} should be ${operator} 0 and < 65536. Received ${util.inspect(port)}.`);
}

/** Node's ErrnoException: `${syscall} ${code}`, with errno/code/syscall properties. */
function errnoException(errno, syscall, original) {
  const code = util.getSystemErrorName(errno);
  const message = original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`;
  const err = new Error(message);
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

module.exports = {
  ERR_INVALID_ARG_TYPE,
  ERR_INVALID_ARG_VALUE,
  ERR_UNKNOWN_SIGNAL,
  ERR_IPC_CHANNEL_CLOSED,
  ERR_IPC_DISCONNECTED,
  ERR_MISSING_ARGS,
  ERR_INVALID_HANDLE_TYPE,
  ERR_CHILD_PROCESS_IPC_REQUIRED,
  ERR_IPC_ONE_PIPE,
  ERR_OUT_OF_RANGE,
  ERR_SOCKET_BAD_PORT,
  errnoException,
};
