'use strict';
// A small bounded HTTP load generator for loopback: `concurrency` clients, each sending
// one request after another, on a new connection per request (agent: false) or over
// keep-alive connections. It counts answers and failures (by error code) and stops at
// `stop()`, after `maxRequests`, or after `maxMs`, whichever comes first.
const http = require('node:http');

function load({ port, host = '127.0.0.1', concurrency = 8, keepAlive = false, maxRequests = 200000, maxMs = 120000, requestTimeout = 10000, onTimeout = null }) {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: concurrency }) : false;
  const stats = { ok: 0, failed: 0, errors: {}, byWorker: {} };
  const waiters = [];
  let sent = 0;
  let stopped = false;
  const deadline = Date.now() + maxMs;

  const notify = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (stats.ok + stats.failed >= waiters[i].count) {
        waiters[i].resolve();
        waiters.splice(i, 1);
      }
    }
  };

  function once() {
    return new Promise((resolve) => {
      const req = http.get({ host, port, path: '/', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => {
          if (res.statusCode === 200) {
            stats.ok++;
            stats.byWorker[body] = (stats.byWorker[body] || 0) + 1;
          } else {
            fail(`HTTP ${res.statusCode}`);
          }
          resolve();
        });
        res.on('error', (err) => {
          fail(err.code || err.message);
          resolve();
        });
      });
      req.setTimeout(requestTimeout, () => {
        if (onTimeout) onTimeout(req);
        req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }));
      });
      req.on('error', (err) => {
        fail(err.code || err.message);
        resolve();
      });
    });
  }

  function fail(code) {
    stats.failed++;
    stats.errors[code] = (stats.errors[code] || 0) + 1;
  }

  async function client() {
    while (!stopped && sent < maxRequests && Date.now() < deadline) {
      sent++;
      await once();
      notify();
    }
  }

  const done = Promise.all(Array.from({ length: concurrency }, client)).then(() => {
    if (agent) agent.destroy();
    return stats;
  });

  return {
    stats,
    /** Resolves once `count` requests in all have completed (or the load ended). */
    completed(count) {
      if (stats.ok + stats.failed >= count) return Promise.resolve();
      return Promise.race([new Promise((resolve) => waiters.push({ count, resolve })), done]);
    },
    /** Stops sending; resolves with the final counts once every request in flight ended. */
    stop() {
      stopped = true;
      return done;
    },
  };
}

/**
 * `requests` requests one after another, each on a new connection: how many were answered
 * and by how many distinct workers (each worker answers with its own id).
 */
async function answeringWorkers(port, requests) {
  const run = load({ port, concurrency: 1, maxRequests: requests });
  await run.completed(requests);
  const stats = await run.stop();
  return { answered: stats.ok, workers: Object.keys(stats.byWorker).length };
}

module.exports = { load, answeringWorkers };
