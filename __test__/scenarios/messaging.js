'use strict';
// Differential scenario 2: messages between the primary and a worker, both ways, first
// over the default JSON channel (worker 1), then with serialization 'advanced' (worker 2).
// Each side sends, in order: 1000 small messages, a list of typed top-level values, then a
// 1 MiB string; a marker string ends each phase. Send callbacks are logged on their own
// lane ("cb"), since when they run relative to incoming messages is not defined.
const { cluster, log, enc, attempt, sha } = require('../helpers/scenario-events.js');
const { jsonValues, advancedValues, bigString, unsendable } = require('../helpers/message-values.js');

const SMALL = 1000;
const END = { small: '@@small-end', values: '@@values-end', big: '@@big-end' };

/** Long strings are logged as length + hash (lines must stay short). */
function brief(value) {
  if (typeof value === 'string' && value.length > 200) return { $: 'long-string', length: value.length, sha: sha(value) };
  return value;
}

/** Sends through `send` with a callback each, tracking return values and callbacks. */
function makeSender(send, worker) {
  const lane = { lane: 'cb', ...(worker === undefined ? {} : { worker }) };
  return function sendAll(phase, messages) {
    const returns = [];
    const calls = [];
    let pending = messages.length;
    messages.forEach((message, i) => {
      const ret = send(message, (...args) => {
        calls.push({ i, argc: args.length, err: args[0] === null ? null : enc(args[0]) });
        if (--pending === 0) {
          const disorder = calls.findIndex((c, k) => c.i !== k);
          const bad = calls.filter((c) => c.argc !== 1 || c.err !== null);
          log('callbacks', {
            ...lane,
            phase,
            count: calls.length,
            inOrder: disorder === -1,
            // (where the order breaks first: the k-th callback to run was that of message i)
            ...(disorder === -1 ? {} : { firstDisorder: calls.slice(disorder, disorder + 3).map((c, j) => ({ k: disorder + j, i: c.i })) }),
            bad: bad.slice(0, 5),
          });
        }
      });
      returns.push(ret);
    });
    return returns;
  };
}

function summarizeReturns(returns) {
  return { count: returns.length, true: returns.filter((r) => r === true).length, false: returns.filter((r) => r === false).length };
}

if (cluster.isPrimary) {
  const MODES = ['json', 'advanced'];
  let next = 0;
  const states = new Map();

  cluster.on('online', (w) => {
    log('online', { worker: w.id, state: w.state });
    const st = states.get(w.id);
    if (st.phase === 'init') {
      st.phase = 'small';
      const returns = st.sendAll('small', [...Array(SMALL).keys()].map((seq) => ({ seq, s: `m${seq}` })));
      log('sent-small', { worker: w.id, returns: summarizeReturns(returns) });
      log('sent-end', { worker: w.id, returned: w.send(END.small) });
    }
  });

  cluster.on('message', (...args) => {
    const [w, message, handle] = args;
    const st = states.get(w.id);
    const shape = { argc: args.length, sameWorker: cluster.workers[w.id] === w, handle };
    switch (st.phase) {
      case 'small':
        if (message === END.small) {
          log('recv-small', { worker: w.id, count: st.count, inOrder: st.inOrder, shapes: [...st.shapes] });
          st.phase = 'values';
          st.index = 0;
          const values = st.mode === 'json' ? jsonValues() : advancedValues();
          const returns = st.sendAll('values', values);
          log('sent-values', { worker: w.id, returns: summarizeReturns(returns) });
          w.send(END.values);
        } else {
          if (message?.seq !== st.count || message.s !== `m${st.count}`) st.inOrder = false;
          st.count++;
          st.shapes.add(JSON.stringify(enc(shape)));
        }
        break;
      case 'values':
        if (message === END.values) {
          log('recv-values-end', { worker: w.id, count: st.index });
          // Values no channel can carry: send() must throw and the channel stay usable.
          for (const [label, value] of unsendable(st.mode)) {
            log('unsendable', { worker: w.id, label, result: attempt(() => w.send(value)) });
          }
          st.phase = 'big';
          const returns = st.sendAll('big', [bigString('primary')]);
          log('sent-big', { worker: w.id, returns });
          w.send(END.big);
        } else {
          log('recv', { worker: w.id, i: st.index++, v: brief(message), ...shape });
        }
        break;
      case 'big':
        if (message === END.big) {
          log('recv-big-end', { worker: w.id, counts: { worker: st.workerArgc, process: st.processArgc } });
          st.phase = 'done';
          w.disconnect();
        } else {
          log('recv-big', { worker: w.id, type: typeof message, length: message.length, sha: sha(message), same: message === bigString('worker'), ...shape });
        }
        break;
      default:
        log('unexpected', { worker: w.id, phase: st.phase, v: brief(message) });
    }
  });

  cluster.on('exit', (w, code, signal) => {
    log('exit', { worker: w.id, code, signal });
    startNext();
  });

  function startNext() {
    if (next === MODES.length) {
      cluster.disconnect(() => log('done', { workers: Object.keys(cluster.workers) }));
      return;
    }
    const mode = MODES[next++];
    if (mode === 'advanced') cluster.setupPrimary({ serialization: 'advanced' });
    const w = cluster.fork({ SCENARIO_MODE: mode });
    const st = { mode, phase: 'init', count: 0, inOrder: true, shapes: new Set(), index: 0, workerArgc: {}, processArgc: {} };
    st.sendAll = makeSender((m, cb) => w.send(m, cb), w.id);
    states.set(w.id, st);
    const bump = (counts, n) => { counts[n] = (counts[n] ?? 0) + 1; };
    w.on('message', (...args) => bump(st.workerArgc, args.length));
    w.process.on('message', (...args) => bump(st.processArgc, args.length));
    log('forked', { worker: w.id, mode, settingsSerialization: cluster.settings.serialization });
  }
  startNext();
} else {
  const mode = process.env.SCENARIO_MODE;
  const sendAll = makeSender((m, cb) => process.send(m, cb));
  let phase = 'small';
  let count = 0;
  let inOrder = true;
  let index = 0;
  log('worker-start', { mode });
  process.on('message', (...args) => {
    const [message, handle] = args;
    switch (phase) {
      case 'small':
        if (message === END.small) {
          log('recv-small', { count, inOrder });
          phase = 'values';
          const returns = sendAll('small', [...Array(SMALL).keys()].map((seq) => ({ seq, s: `m${seq}` })));
          log('sent-small', { returns: summarizeReturns(returns) });
          process.send(END.small);
        } else {
          if (message?.seq !== count || message.s !== `m${count}` || args.length !== 2 || handle !== undefined) inOrder = false;
          count++;
        }
        break;
      case 'values':
        if (message === END.values) {
          log('recv-values-end', { count: index });
          phase = 'big';
          const returns = sendAll('values', mode === 'json' ? jsonValues() : advancedValues());
          log('sent-values', { returns: summarizeReturns(returns) });
          process.send(END.values);
        } else {
          log('recv', { i: index++, v: brief(message), argc: args.length, handle });
        }
        break;
      case 'big':
        if (message === END.big) {
          phase = 'done';
          const returns = sendAll('big', [bigString('worker')]);
          log('sent-big', { returns });
          process.send(END.big);
        } else {
          log('recv-big', { type: typeof message, length: message.length, sha: sha(message), same: message === bigString('primary') });
        }
        break;
      default:
        log('unexpected', { phase, v: brief(message) });
    }
  });
  process.on('disconnect', () => log('worker-disconnect', { exitedAfterDisconnect: cluster.worker.exitedAfterDisconnect }));
}
