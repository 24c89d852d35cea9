'use strict';
// What the command line needs of supervision: keep N workers (restart the ones that exit
// unexpectedly, with a doubling delay, giving up after too many restarts within a
// window), stop gracefully with a deadline, reload one worker at a time, scale. Its
// settings are supervision's (restart: { delay, maxDelay, maxRestarts, window },
// shutdownTimeout), under the same names; once the package has supervision's
// cluster.reload() / scale() / shutdown(), the command line is to use those instead, and
// this module goes.
const systemd = require('../systemd');
const metrics = require('../metrics');

const STABLE_AFTER_MS = 30000;

class Supervisor {
  constructor(cluster, { restart, shutdownTimeout }, log) {
    this.cluster = cluster;
    this.restart = restart; // false, or { delay, maxDelay, maxRestarts, window }
    this.shutdownTimeout = shutdownTimeout;
    this.log = log;
    this.target = 0;
    this.stopping = null;
    this.retiring = new Set(); // workers we stopped on purpose
    this.restarts = new Map(); // worker id -> restarts of its slot before it
    this.forkedAt = new Map();
    this.crashes = []; // times of unexpected exits, within the window
    this.consecutive = 0;
    this.pending = new Set(); // restart timers
    this.reloading = null;
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
  }

  live() {
    return Object.values(this.cluster.workers).filter((w) => !w.isDead() && !this.retiring.has(w));
  }

  fork(restarts = 0) {
    const worker = this.cluster.fork();
    this.forkedAt.set(worker.id, Date.now());
    this.restarts.set(worker.id, restarts);
    if (restarts > 0) metrics.onRestart(worker, restarts);
    return worker;
  }

  start(n) {
    this.target = n;
    for (let i = 0; i < n; i++) this.fork();
  }

  onExit(worker, code, signal) {
    const planned = this.retiring.delete(worker) || worker.exitedAfterDisconnect;
    const lived = Date.now() - (this.forkedAt.get(worker.id) ?? Date.now());
    const restarts = this.restarts.get(worker.id) ?? 0;
    this.forkedAt.delete(worker.id);
    this.restarts.delete(worker.id);
    if (this.stopping !== null) {
      this.stopping.waiting.delete(worker);
      if (this.stopping.waiting.size === 0) this.stopping.done();
      return;
    }
    if (planned || this.live().length + this.pending.size >= this.target) return;
    if (!this.restart) {
      if (this.live().length === 0) this.giveUp('no worker left and restarts are off');
      return;
    }
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < this.restart.window);
    this.crashes.push(now);
    if (this.crashes.length > this.restart.maxRestarts) {
      this.giveUp(`${this.crashes.length} unexpected exits within ${this.restart.window} ms`);
      return;
    }
    this.consecutive = lived >= STABLE_AFTER_MS ? 0 : this.consecutive + 1;
    const delay = Math.min(this.restart.maxDelay, this.restart.delay * 2 ** Math.max(0, this.consecutive - 1));
    this.log(`worker ${worker.id} restarting in ${delay} ms`);
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      if (this.stopping === null) this.fork(restarts + 1);
    }, delay);
    this.pending.add(timer);
  }

  giveUp(why) {
    this.log(`gave up: ${why}`);
    this.shutdown('give-up').then(() => process.exit(1));
  }

  /** Stops a worker gracefully: disconnect, SIGKILL after the deadline; resolves at its exit. */
  retire(worker) {
    this.retiring.add(worker);
    return new Promise((resolve) => {
      if (worker.isDead()) return resolve();
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), this.shutdownTimeout);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (worker.isConnected()) worker.disconnect();
      else worker.process.kill('SIGTERM');
    });
  }

  shutdown(reason) {
    if (this.stopping !== null) return this.stopping.promise;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
    let done;
    const promise = new Promise((resolve) => { done = resolve; });
    // Every worker still running, including those a reload or scale is stopping.
    const waiting = new Set([...Object.values(this.cluster.workers), ...this.retiring].filter((w) => !w.isDead()));
    this.stopping = { promise, done, waiting };
    // /readyz answers 503 and systemd hears STOPPING=1 before any worker is told.
    metrics.stopping();
    systemd.stoppingWorkers(this.cluster);
    this.log(`stopping (${reason})`);
    if (waiting.size === 0) done();
    for (const worker of waiting) if (!this.retiring.has(worker)) this.retire(worker);
    return promise;
  }

  /** Waits until `worker` listens; rejects if it exits first. */
  static listening(worker) {
    return new Promise((resolve, reject) => {
      const onExit = (code, signal) => reject(new Error(`worker ${worker.id} exited (${signal ?? `code ${code}`}) before it listened`));
      worker.once('exit', onExit);
      worker.once('listening', () => {
        worker.removeListener('exit', onExit);
        resolve();
      });
    });
  }

  /** Replaces every worker, one at a time: the new one listens before the old one stops. */
  reload() {
    if (this.reloading !== null) return this.reloading;
    systemd.reloading();
    const run = async () => {
      const replaced = [];
      for (const old of this.live().sort((a, b) => a.id - b.id)) {
        if (this.stopping !== null) break;
        const worker = this.fork(this.restarts.get(old.id) ?? 0);
        await Supervisor.listening(worker);
        await this.retire(old);
        replaced.push([old.id, worker.id]);
      }
      return replaced;
    };
    this.reloading = run().finally(() => {
      this.reloading = null;
      systemd.reloaded(this.cluster);
    });
    return this.reloading;
  }

  async scale(n) {
    this.target = n;
    const live = this.live().sort((a, b) => a.id - b.id);
    const waits = [];
    while (live.length > n) waits.push(this.retire(live.pop()));
    for (let i = live.length; i < n; i++) waits.push(Supervisor.listening(this.fork()));
    await Promise.all(waits);
  }

  status() {
    const binding = require('../../binding');
    const now = Date.now();
    return Object.values(this.cluster.workers).filter((w) => !w.isDead()).sort((a, b) => a.id - b.id).map((w) => {
      const pid = w.process.pid;
      const uptime = (now - (this.forkedAt.get(w.id) ?? now)) / 1000;
      const stats = binding.processStats(pid);
      return {
        id: w.id,
        pid,
        state: this.retiring.has(w) ? 'stopping' : w.state,
        uptime,
        cpu: stats && uptime > 0 ? (100 * stats.cpuSeconds) / uptime : null,
        rss: stats ? stats.rssBytes : null,
        restarts: this.restarts.get(w.id) ?? 0,
        connections: binding.workerConnections(w.id),
      };
    });
  }
}

module.exports = { Supervisor };
