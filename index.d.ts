// Type definitions for rust-cluster, a drop-in replacement for Node's `cluster` module.
//
// The shapes follow @types/node's `cluster` module, so code written against
// `import cluster from 'node:cluster'` type-checks unchanged against 'rust-cluster',
// with two deliberate differences:
//  * the per-event overloads come first and the catch-all overload refuses the known
//    event names, so a listener of the wrong shape for a known event is an error
//    (with @types/node such a call silently matches the catch-all);
//  * `fork(env)` takes an object of environment values rather than `any`.
//
// The module is CommonJS (`module.exports = cluster`), hence `export =`. With
// esModuleInterop (or from an ES module under module node16/nodenext) it can be
// default-imported; named imports resolve to the properties of the cluster object.
// ES modules may instead use index.d.mts, which describes exactly what index.mjs exports.

/// <reference types="node" />

import EventEmitter = require('node:events');
import * as child from 'node:child_process';
import * as net from 'node:net';

/**
 * The events `cluster` emits (each has its own, exactly typed, overload below); 'ready',
 * 'restart', 'giveup' and 'reload' are rust-cluster's supervision events.
 */
type ClusterEvent =
  | 'disconnect' | 'exit' | 'fork' | 'listening' | 'message' | 'online' | 'setup'
  | 'ready' | 'restart' | 'giveup' | 'reload';

/** The events a `Worker` emits (each has its own, exactly typed, overload below). */
type WorkerEvent = 'disconnect' | 'error' | 'exit' | 'listening' | 'message' | 'online' | 'ready';

/**
 * Any event name except the ones `Known` lists: the catch-all overloads take these, so a
 * known event name only matches its own, exactly typed, overload.
 */
type OtherEvent<E extends string | symbol, Known extends string> = E extends Known ? never : E;

/**
 * A worker as the primary sees it: `cluster.workers[id]`, the argument of the cluster's
 * events and the return value of `cluster.fork()`. In a worker, `cluster.worker` is the
 * worker's own Worker object.
 */
declare class Worker extends EventEmitter {
  /**
   * Workers are created by `cluster.fork()`; constructing one directly only makes the
   * object and spawns nothing.
   */
  constructor(options?: cluster.WorkerOptions);
  /**
   * Each new worker is given its own unique id, stored in `id`. While a worker is alive,
   * this is the key that indexes it in `cluster.workers`.
   */
  id: number;
  /**
   * The worker's process. In the primary this is a ChildProcess-like object (pid,
   * connected, exitCode, signalCode, kill(), send(), disconnect(), stdio streams and
   * the ChildProcess events); in a worker it is the global `process`.
   */
  process: child.ChildProcess;
  /**
   * Sends a message to a worker or the primary, optionally with a handle. In the primary
   * this sends to the worker's process; in a worker it sends to the primary.
   * Returns false when the channel is backed up (the message is still queued).
   */
  send(message: child.Serializable, callback?: (error: Error | null) => void): boolean;
  send(
    message: child.Serializable,
    sendHandle: child.SendHandle,
    callback?: (error: Error | null) => void,
  ): boolean;
  send(
    message: child.Serializable,
    sendHandle: child.SendHandle,
    options?: child.MessageOptions,
    callback?: (error: Error | null) => void,
  ): boolean;
  /**
   * Kills the worker. In the primary this sends `signal` to the worker's process; in a
   * worker it disconnects from the primary and exits.
   * @param signal the signal to send to the worker process. Default: `'SIGTERM'`.
   */
  kill(signal?: string): void;
  /** Alias of `kill()`. */
  destroy(signal?: string): void;
  /**
   * In a worker, closes all servers, waits for their 'close' and disconnects the IPC
   * channel. In the primary, asks the worker to do so. Sets `exitedAfterDisconnect`.
   * rust-cluster, in the primary: with `{ timeout }`, a worker still alive `timeout` ms
   * later is killed with SIGKILL (by the primary's I/O thread, even while its JavaScript
   * is busy).
   */
  disconnect(options?: cluster.StopOptions): this;
  /**
   * rust-cluster, in the primary: true once the worker is ready (see
   * `ClusterSettings.readyOn`) and until its stop begins.
   */
  isReady(): boolean;
  /** True while the worker is connected to its primary by the IPC channel. */
  isConnected(): boolean;
  /** True if the worker's process has terminated (by exiting or by a signal). */
  isDead(): boolean;
  /**
   * rust-cluster addition: the worker's figures, read by the Rust primary from `/proc`
   * now (no code runs in the worker). Node's `Worker` has no such method.
   */
  stats(): cluster.WorkerStats;
  /**
   * True if the worker exited because of `.disconnect()` or `.kill()`, false if it exited
   * any other way. (At run time it is `undefined` until the worker has exited or
   * disconnected; typed as `boolean` as in @types/node.)
   */
  exitedAfterDisconnect: boolean;
  /** Where the worker is in its life cycle (not part of Node's documented API). */
  state?: 'none' | 'online' | 'listening' | 'disconnected' | 'dead';
  /**
   * events.EventEmitter
   *   1. disconnect
   *   2. error
   *   3. exit
   *   4. listening
   *   5. message
   *   6. online
   *   7. ready (rust-cluster)
   */
  addListener(event: 'disconnect', listener: () => void): this;
  addListener(event: 'error', listener: (error: Error) => void): this;
  addListener(event: 'exit', listener: (code: number, signal: string) => void): this;
  addListener(event: 'listening', listener: (address: cluster.Address) => void): this;
  addListener(event: 'message', listener: (message: any, handle: net.Socket | net.Server) => void): this;
  addListener(event: 'online', listener: () => void): this;
  addListener(event: 'ready', listener: () => void): this;
  addListener<E extends string | symbol>(event: OtherEvent<E, WorkerEvent>, listener: (...args: any[]) => void): this;
  emit(event: 'disconnect'): boolean;
  emit(event: 'error', error: Error): boolean;
  emit(event: 'exit', code: number, signal: string): boolean;
  emit(event: 'listening', address: cluster.Address): boolean;
  emit(event: 'message', message: any, handle?: net.Socket | net.Server): boolean;
  emit(event: 'online'): boolean;
  emit(event: 'ready'): boolean;
  emit<E extends string | symbol>(event: OtherEvent<E, WorkerEvent>, ...args: any[]): boolean;
  on(event: 'disconnect', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'exit', listener: (code: number, signal: string) => void): this;
  on(event: 'listening', listener: (address: cluster.Address) => void): this;
  on(event: 'message', listener: (message: any, handle: net.Socket | net.Server) => void): this;
  on(event: 'online', listener: () => void): this;
  on(event: 'ready', listener: () => void): this;
  on<E extends string | symbol>(event: OtherEvent<E, WorkerEvent>, listener: (...args: any[]) => void): this;
  once(event: 'disconnect', listener: () => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  once(event: 'exit', listener: (code: number, signal: string) => void): this;
  once(event: 'listening', listener: (address: cluster.Address) => void): this;
  once(event: 'message', listener: (message: any, handle: net.Socket | net.Server) => void): this;
  once(event: 'online', listener: () => void): this;
  once(event: 'ready', listener: () => void): this;
  once<E extends string | symbol>(event: OtherEvent<E, WorkerEvent>, listener: (...args: any[]) => void): this;
  prependListener(event: 'disconnect', listener: () => void): this;
  prependListener(event: 'error', listener: (error: Error) => void): this;
  prependListener(event: 'exit', listener: (code: number, signal: string) => void): this;
  prependListener(event: 'listening', listener: (address: cluster.Address) => void): this;
  prependListener(event: 'message', listener: (message: any, handle: net.Socket | net.Server) => void): this;
  prependListener(event: 'online', listener: () => void): this;
  prependListener(event: 'ready', listener: () => void): this;
  prependListener<E extends string | symbol>(event: OtherEvent<E, WorkerEvent>, listener: (...args: any[]) => void): this;
  prependOnceListener(event: 'disconnect', listener: () => void): this;
  prependOnceListener(event: 'error', listener: (error: Error) => void): this;
  prependOnceListener(event: 'exit', listener: (code: number, signal: string) => void): this;
  prependOnceListener(event: 'listening', listener: (address: cluster.Address) => void): this;
  prependOnceListener(event: 'message', listener: (message: any, handle: net.Socket | net.Server) => void): this;
  prependOnceListener(event: 'online', listener: () => void): this;
  prependOnceListener(event: 'ready', listener: () => void): this;
  prependOnceListener<E extends string | symbol>(event: OtherEvent<E, WorkerEvent>, listener: (...args: any[]) => void): this;
  /** rust-cluster: as the cluster's 'unresponsive', 'memory' and 'recycle', without the worker. */
  on(event: 'unresponsive', listener: (info: cluster.UnresponsiveInfo) => void): this;
  on(event: 'memory', listener: (info: cluster.MemoryInfo) => void): this;
  on(event: 'recycle', listener: (info: cluster.RecycleInfo) => void): this;
  once(event: 'unresponsive', listener: (info: cluster.UnresponsiveInfo) => void): this;
  once(event: 'memory', listener: (info: cluster.MemoryInfo) => void): this;
  once(event: 'recycle', listener: (info: cluster.RecycleInfo) => void): this;
}

/** The Worker class under a name the `cluster` namespace can alias. */
type WorkerInstance = Worker;

/**
 * The cluster object: `require('rust-cluster')`. In the primary it is rust-cluster's
 * Rust-backed implementation; in a worker it is Node's own worker-side `cluster` object.
 */
declare const cluster: cluster.Cluster;

declare namespace cluster {
  /** The class of `cluster.workers[id]`, `cluster.worker` and `cluster.fork()`'s result. */
  type Worker = WorkerInstance;

  /**
   * A scheduling policy's name, as `NODE_CLUSTER_SCHED_POLICY` and rust-cluster's
   * `settings.schedulingPolicy` take it. `'reuseport'` and `'sticky'` are rust-cluster's.
   */
  type SchedulingPolicyName = 'none' | 'rr' | 'reuseport' | 'sticky';

  /** The IPC serialization of messages between the primary and its workers. */
  type SerializationType = 'json' | 'advanced';

  /** Options of the Worker constructor, as Node's internal Worker takes them. */
  interface WorkerOptions {
    id?: number | undefined;
    process?: child.ChildProcess | undefined;
    state?: Worker['state'] | undefined;
  }

  /**
   * The environment `cluster.fork(env)` adds to `process.env` for one worker: a plain
   * object (an object literal, `process.env`, or a value of an interface type) whose
   * values are strings, numbers, booleans or undefined. `E` is the object's own type.
   */
  type WorkerEnv<E> = E extends readonly unknown[] | ((...args: any[]) => unknown)
    ? never
    : E & { [K in keyof E]: string | number | boolean | undefined };

  /**
   * The settings `cluster.setupPrimary()` takes and `cluster.settings` holds (with their
   * defaults filled in, after `setupPrimary()` or the first `fork()`).
   */
  interface ClusterSettings {
    /** String arguments passed to the Node.js executable. Default: `process.execArgv`. */
    execArgv?: string[] | undefined;
    /** File path to the worker file. Default: `process.argv[1]`. */
    exec?: string | undefined;
    /** String arguments passed to the worker. Default: `process.argv.slice(2)`. */
    args?: readonly string[] | undefined;
    /** Whether to send the workers' output to the primary's stdio. Default: `false`. */
    silent?: boolean | undefined;
    /**
     * The workers' stdio, as for `child_process.spawn()`; an array must include
     * `'ipc'`. When given, overrides `silent`.
     */
    stdio?: child.StdioOptions | undefined;
    /** Sets the user identity of the worker processes. */
    uid?: number | undefined;
    /** Sets the group identity of the worker processes. */
    gid?: number | undefined;
    /**
     * The inspector port of each worker: a number, or a function called for each worker
     * that returns one. By default each worker gets its own port, counting up from the
     * primary's `process.debugPort`.
     */
    inspectPort?: number | (() => number) | undefined;
    /** The kind of serialization of IPC messages. Default: `'json'`. */
    serialization?: SerializationType | undefined;
    /** Current working directory of the worker processes. Default: the primary's. */
    cwd?: string | undefined;
    /** Hide the forked processes' console window (Windows only). Default: `false`. */
    windowsHide?: boolean | undefined;
    /**
     * rust-cluster addition: the scheduling policy, as one of the `cluster.SCHED_*`
     * constants or by name (`'none'`, `'rr'`, and where this version of rust-cluster
     * has them `'reuseport'`, `'sticky'`). `setupPrimary()` then sets
     * `cluster.schedulingPolicy` from it (before the policy is frozen). Node's `cluster`
     * has no such setting.
     */
    schedulingPolicy?: number | SchedulingPolicyName | undefined;
    /**
     * rust-cluster addition: the largest message (in bytes, an integer >= 1) a worker may
     * send; a worker that exceeds it broke the protocol: it gets an 'error' event
     * (`code: 'ERR_IPC_PROTOCOL'`) and is killed. Applies to workers forked afterwards.
     * Default: 256 MiB.
     */
    maxMessageBytes?: number | undefined;
    /**
     * rust-cluster addition: each worker sends a heartbeat every `interval` ms (a preload
     * of rust-cluster's, added to its execArgv); one silent for `timeout` ms is
     * unresponsive: 'unresponsive' is emitted, it gets no more connections, and it is
     * killed (after its stuck stack is taken through the inspector, printed as a
     * warning), then replaced if `restart` is on. `true`: the defaults. Default: off.
     */
    heartbeat?: boolean | HeartbeatSettings | undefined;
    /**
     * rust-cluster addition: a worker over this many bytes (or a size such as `'512M'`,
     * `'1.5G'`) for two samples in a row gets a 'memory' event and a graceful
     * replacement, one worker at a time. Default: no limit.
     */
    maxMemory?: number | string | undefined;
    /** rust-cluster addition: what `maxMemory` is compared with. Default: `'rss'`. */
    memoryMetric?: 'rss' | 'pss' | undefined;
    /** rust-cluster addition: ms between the `maxMemory` samples. Default: `1000`. */
    sampleInterval?: number | undefined;
    /**
     * rust-cluster addition: replace a worker gracefully after `connections` connections
     * (handed by the primary: `rr` and `sticky`) or `uptime` ms, each moved up by a random
     * amount up to `jitter` (in that limit's unit). Default: off.
     */
    recycle?: RecycleSettings | undefined;
    /**
     * rust-cluster addition: pin each worker, before exec, to one CPU of the primary's
     * allowed set in turn (`'spread'`, by slot), or to the given CPU lists by slot
     * (wrapping around). Default: not pinned.
     */
    cpuAffinity?: 'spread' | number[][] | undefined;
    /**
     * rust-cluster supervision: replace a worker that exits unexpectedly (not after
     * `disconnect()`, `kill()`, `shutdown()`, `reload()` or `scale()`), in its slot, after
     * `delay × factor^n` ms (n: the slot's consecutive unexpected exits, reset once a
     * worker of the slot ran `stableAfter` ms), capped at `maxDelay`, each delay drawn
     * from [d·(1−jitter), d]. More than `maxRestarts` unexpected exits within any
     * `window` ms: the slot gives up ('giveup'). `true` takes every default.
     */
    restart?: boolean | RestartOptions | undefined;
    /**
     * rust-cluster supervision: when a worker is ready: at its first 'listening'
     * (default), at 'online', or when it sends the message `'ready'`. Under 'rr' and
     * 'sticky' the primary hands a worker no connection before it is ready.
     */
    readyOn?: 'listening' | 'online' | 'message' | undefined;
    /** rust-cluster supervision: a worker not ready within this many ms is killed (SIGKILL) and counts as an unexpected exit. */
    startupTimeout?: number | undefined;
    /** rust-cluster supervision: the default deadline (ms) of `shutdown()`, `reload()`, `scale()` and the stop options. */
    shutdownTimeout?: number | undefined;
    /** rust-cluster supervision: on one of these signals the primary shuts down and exits 0; a second one kills the workers and exits 1. */
    shutdownSignals?: readonly NodeJS.Signals[] | undefined;
    /** rust-cluster supervision: run `reload()` on this signal. */
    reloadSignal?: NodeJS.Signals | undefined;
    /**
     * rust-cluster addition: serve Prometheus metrics (`path`, default `/metrics`) and the
     * probes `/healthz` and `/readyz` on `host:port` (host default `'127.0.0.1'`), from
     * threads of the Rust core. `/readyz` is 200 once `minReady` workers (default: all)
     * are ready, 503 from the start of a shutdown. Started by the first settings that
     * have it; see `cluster.metricsAddress()`.
     */
    metrics?: MetricsOptions | undefined;
    /**
     * rust-cluster addition: the workers' stdout and stderr are read by the primary line
     * by line and written to its own, prefixed `[worker N] ` (`'prefix'`) or as JSON lines
     * `{time, worker, pid, stream, line}` (`'json'`). `worker.process.stdout` is then null.
     */
    logFormat?: 'prefix' | 'json' | undefined;
  }

  /** rust-cluster: `metrics` of `ClusterSettings`. */
  interface MetricsOptions {
    /** 0 picks a free port. */
    port: number;
    /** An IP address. Default: `'127.0.0.1'`. */
    host?: string | undefined;
    /** Default: `'/metrics'`. */
    path?: string | undefined;
    /** `/readyz` is 200 once this many workers are ready. Default: every worker. */
    minReady?: number | undefined;
  }

  /** rust-cluster: where the metrics endpoint listens. */
  interface MetricsAddress {
    address: string;
    port: number;
    path: string;
  }

  /** `heartbeat` settings (ms). */
  interface HeartbeatSettings {
    /** Default: `1000`. */
    interval?: number | undefined;
    /** Must be greater than `interval`. Default: `10000`. */
    timeout?: number | undefined;
  }

  /** `recycle` settings: at least one of `connections` and `uptime`. */
  interface RecycleSettings {
    connections?: number | undefined;
    uptime?: number | undefined;
    /** Default: `0`. */
    jitter?: number | undefined;
  }

  /** A process's figures from `/proc`: CPU times in µs, memory in bytes, uptime in ms. */
  interface ProcessStats {
    pid: number;
    uptime: number;
    cpu: { user: number; system: number };
    /** CPU share over the last sample (100 = one core). */
    cpuPercent: number;
    rss: number;
    pss: number;
    fds: number;
    threads: number;
  }

  /** `worker.stats()`. */
  interface WorkerStats extends ProcessStats {
    id: number;
    state: string;
    ready: boolean;
    /** Connections the primary handed it (`rr` and `sticky`). */
    connections: number;
    /** Workers that held its slot before it. */
    restarts: number;
    /** Its last heartbeat's worst event-loop delay (ms); only with `heartbeat` on. */
    eventLoopDelay?: number | null;
  }

  /** `cluster.stats()`. */
  interface ClusterStats {
    primary: ProcessStats;
    workers: WorkerStats[];
  }

  interface UnresponsiveInfo {
    /** When its last heartbeat came (epoch ms), null if it never beat. */
    lastBeat: number | null;
    /** The worst event-loop delay its last heartbeat reported (ms). */
    eventLoopDelay: number | null;
  }

  interface MemoryInfo {
    rss: number;
    pss: number | null;
    limit: number;
  }

  interface RecycleInfo {
    reason: 'connections' | 'uptime';
    connections: number;
    uptime: number;
  }

  /** rust-cluster: `restart` of `ClusterSettings`, with its defaults. */
  interface RestartOptions {
    /** Default: 100 (ms). */
    delay?: number | undefined;
    /** Default: 10000 (ms). */
    maxDelay?: number | undefined;
    /** Default: 2 (at least 1). */
    factor?: number | undefined;
    /** 0 to 1. Default: 0. */
    jitter?: number | undefined;
    /** Default: 30000 (ms). */
    stableAfter?: number | undefined;
    /** Default: 10. */
    maxRestarts?: number | undefined;
    /** Default: 60000 (ms). */
    window?: number | undefined;
  }

  /** rust-cluster: a stop with a deadline. */
  interface StopOptions {
    /** Kill (SIGKILL) what is still alive after this many ms. Default: `settings.shutdownTimeout` (none). */
    timeout?: number | undefined;
  }

  /** rust-cluster: options of `cluster.reload()`. */
  interface ReloadOptions extends StopOptions {
    /** How many workers are replaced at a time. Default: 1. */
    concurrency?: number | undefined;
  }

  /** rust-cluster: what `cluster.reload()` resolves to and 'reload' reports. */
  interface ReloadResult {
    /** `[oldId, newId]` for each replaced worker. */
    replaced: Array<[number, number]>;
  }

  /** rust-cluster: the 'restart' event's details. */
  interface RestartInfo {
    /** Counts from 1 since the slot was last stable. */
    attempt: number;
    /** The delay waited, in ms. */
    delay: number;
    /** The predecessor's exit code and signal. */
    code: number | null;
    signal: string | null;
  }

  /** rust-cluster: the 'giveup' event's details. */
  interface GiveUpInfo {
    restarts: number;
    window: number;
  }

  /** rust-cluster: `cluster.reload()` failed; `worker` is the replacement that did. */
  interface ReloadError extends Error {
    code: 'ERR_CLUSTER_RELOAD_FAILED';
    worker: Worker;
  }

  /** What the 'listening' events report about the worker's server. */
  interface Address {
    address: string;
    port: number;
    /**
     * `4` (TCPv4), `6` (TCPv6), `-1` (Unix domain socket), `'udp4'` or `'udp6'`.
     */
    addressType: number | 'udp4' | 'udp6';
  }

  interface Cluster extends EventEmitter {
    /** @deprecated since Node v16.0.0: use `isPrimary`. */
    readonly isMaster: boolean;
    /** True if this process is the primary (`process.env.NODE_UNIQUE_ID` is undefined). */
    readonly isPrimary: boolean;
    /** True if this process is a worker (the negation of `isPrimary`). */
    readonly isWorker: boolean;
    /** The Worker class (the class declared above: this namespace's `Worker` is a type only). */
    readonly Worker: typeof Worker;
    /**
     * The active workers, by `worker.id`. A worker is removed once it has both
     * disconnected and exited. Only in the primary; `undefined` in a worker.
     */
    readonly workers?: NodeJS.Dict<Worker>;
    /** The current worker object. Only in a worker; `undefined` in the primary. */
    readonly worker?: Worker;
    /**
     * The settings in use, with their defaults, after `setupPrimary()` or the first
     * `fork()`. Not intended to be changed or set manually.
     */
    readonly settings: ClusterSettings;
    /**
     * The scheduling policy, `SCHED_RR` (the primary distributes connections) or
     * `SCHED_NONE` (the operating system does); rust-cluster may also accept
     * `SCHED_REUSEPORT` and `SCHED_STICKY`. Frozen once `setupPrimary()` is called or
     * the first worker is forked. Can also be set with `NODE_CLUSTER_SCHED_POLICY`
     * (`'rr'` or `'none'`; rust-cluster also takes its own policies' names there) or,
     * in rust-cluster, with `setupPrimary({ schedulingPolicy })`.
     */
    schedulingPolicy: number;
    /** Leave connection distribution to the operating system. Its value is `1`. */
    readonly SCHED_NONE: number;
    /** Round-robin: the primary accepts connections and hands them to workers. Its value is `2`. */
    readonly SCHED_RR: number;
    /**
     * rust-cluster addition (also in a worker's cluster object, where Node's has no such
     * constant): a scheduling policy in which the kernel spreads connections over
     * SO_REUSEPORT listeners, one per worker. Its value is `3`.
     */
    readonly SCHED_REUSEPORT: number;
    /**
     * rust-cluster addition (also in a worker's cluster object, where Node's has no such
     * constant): a scheduling policy that keeps sending a client's connections to the
     * same worker. Its value is `4`.
     */
    readonly SCHED_STICKY: number;
    /**
     * Changes the default 'fork' behavior; the settings then show in `cluster.settings`
     * and apply to later `fork()` calls. Emits 'setup'. Primary only.
     */
    setupPrimary(settings?: ClusterSettings): void;
    /** rust-cluster: where the metrics endpoint listens, or null when it does not. */
    metricsAddress(): MetricsAddress | null;
    /** @deprecated since Node v16.0.0: use `setupPrimary()`. */
    setupMaster(settings?: ClusterSettings): void;
    /**
     * Spawns a new worker process. Primary only.
     * @param env key/value pairs added to the worker's environment (values are
     *   converted to strings; `undefined` ones are left out).
     */
    fork<E extends object = {}>(env?: WorkerEnv<E>): Worker;
    /**
     * Calls `.disconnect()` on each worker in `cluster.workers`; when they are all
     * disconnected, their servers are closed and `callback` is called. Primary only.
     */
    disconnect(callback?: () => void): void;
    /** rust-cluster: the same, killing what is still alive after `options.timeout` ms. */
    disconnect(options: StopOptions, callback?: () => void): void;
    /**
     * rust-cluster: stops restarts and any reload, then disconnects every worker with the
     * deadline (default `settings.shutdownTimeout`); resolves when every worker has exited.
     */
    shutdown(options?: StopOptions): Promise<void>;
    /**
     * rust-cluster: rolling, surge-first restart of every worker with the current settings:
     * a replacement is forked into each slot and must be ready before its predecessor is
     * stopped. Rejects with a `ReloadError` if a replacement fails (the old workers keep
     * serving). A call during a reload returns the running reload's promise.
     */
    reload(options?: ReloadOptions): Promise<ReloadResult>;
    /**
     * rust-cluster: forks or retires (newest first, gracefully) until `n` workers are alive
     * and ready; with `restart` on, `n` is the count the primary keeps.
     */
    scale(n: number): Promise<void>;
    /** rust-cluster addition: the primary's and every worker's figures from `/proc`. */
    stats(): ClusterStats;
    /**
     * rust-cluster addition: the CPUs this process may really use: its affinity mask,
     * bounded by the cgroup v2 `cpu.max` quota (`os.availableParallelism()` ignores it).
     */
    availableParallelism(): number;
    /** rust-cluster: a worker missed its heartbeats for `heartbeat.timeout` ms. */
    on(event: 'unresponsive', listener: (worker: Worker, info: UnresponsiveInfo) => void): this;
    /** rust-cluster: a worker stayed over `maxMemory`; it is being replaced. */
    on(event: 'memory', listener: (worker: Worker, info: MemoryInfo) => void): this;
    /** rust-cluster: a worker reached a `recycle` limit; it is being replaced. */
    on(event: 'recycle', listener: (worker: Worker, info: RecycleInfo) => void): this;
    once(event: 'unresponsive', listener: (worker: Worker, info: UnresponsiveInfo) => void): this;
    once(event: 'memory', listener: (worker: Worker, info: MemoryInfo) => void): this;
    once(event: 'recycle', listener: (worker: Worker, info: RecycleInfo) => void): this;
    /**
     * events.EventEmitter
     *   1. disconnect
     *   2. exit
     *   3. fork
     *   4. listening
     *   5. message
     *   6. online
     *   7. setup
     *   8. ready, restart, giveup, reload (rust-cluster supervision)
     */
    addListener(event: 'disconnect', listener: (worker: Worker) => void): this;
    addListener(event: 'exit', listener: (worker: Worker, code: number, signal: string) => void): this;
    addListener(event: 'fork', listener: (worker: Worker) => void): this;
    addListener(event: 'listening', listener: (worker: Worker, address: Address) => void): this;
    addListener(event: 'message', listener: (worker: Worker, message: any, handle: net.Socket | net.Server) => void): this;
    addListener(event: 'online', listener: (worker: Worker) => void): this;
    addListener(event: 'setup', listener: (settings: ClusterSettings) => void): this;
    addListener(event: 'ready', listener: (worker: Worker) => void): this;
    addListener(event: 'restart', listener: (worker: Worker, previous: Worker, info: RestartInfo) => void): this;
    addListener(event: 'giveup', listener: (worker: Worker, info: GiveUpInfo) => void): this;
    addListener(event: 'reload', listener: (result: ReloadResult) => void): this;
    addListener<E extends string | symbol>(event: OtherEvent<E, ClusterEvent>, listener: (...args: any[]) => void): this;
    emit(event: 'disconnect', worker: Worker): boolean;
    emit(event: 'exit', worker: Worker, code: number, signal: string): boolean;
    emit(event: 'fork', worker: Worker): boolean;
    emit(event: 'listening', worker: Worker, address: Address): boolean;
    emit(event: 'message', worker: Worker, message: any, handle?: net.Socket | net.Server): boolean;
    emit(event: 'online', worker: Worker): boolean;
    emit(event: 'setup', settings: ClusterSettings): boolean;
    emit(event: 'ready', worker: Worker): boolean;
    emit(event: 'restart', worker: Worker, previous: Worker, info: RestartInfo): boolean;
    emit(event: 'giveup', worker: Worker, info: GiveUpInfo): boolean;
    emit(event: 'reload', result: ReloadResult): boolean;
    emit<E extends string | symbol>(event: OtherEvent<E, ClusterEvent>, ...args: any[]): boolean;
    on(event: 'disconnect', listener: (worker: Worker) => void): this;
    on(event: 'exit', listener: (worker: Worker, code: number, signal: string) => void): this;
    on(event: 'fork', listener: (worker: Worker) => void): this;
    on(event: 'listening', listener: (worker: Worker, address: Address) => void): this;
    on(event: 'message', listener: (worker: Worker, message: any, handle: net.Socket | net.Server) => void): this;
    on(event: 'online', listener: (worker: Worker) => void): this;
    on(event: 'setup', listener: (settings: ClusterSettings) => void): this;
    on(event: 'ready', listener: (worker: Worker) => void): this;
    on(event: 'restart', listener: (worker: Worker, previous: Worker, info: RestartInfo) => void): this;
    on(event: 'giveup', listener: (worker: Worker, info: GiveUpInfo) => void): this;
    on(event: 'reload', listener: (result: ReloadResult) => void): this;
    on<E extends string | symbol>(event: OtherEvent<E, ClusterEvent>, listener: (...args: any[]) => void): this;
    once(event: 'disconnect', listener: (worker: Worker) => void): this;
    once(event: 'exit', listener: (worker: Worker, code: number, signal: string) => void): this;
    once(event: 'fork', listener: (worker: Worker) => void): this;
    once(event: 'listening', listener: (worker: Worker, address: Address) => void): this;
    once(event: 'message', listener: (worker: Worker, message: any, handle: net.Socket | net.Server) => void): this;
    once(event: 'online', listener: (worker: Worker) => void): this;
    once(event: 'setup', listener: (settings: ClusterSettings) => void): this;
    once(event: 'ready', listener: (worker: Worker) => void): this;
    once(event: 'restart', listener: (worker: Worker, previous: Worker, info: RestartInfo) => void): this;
    once(event: 'giveup', listener: (worker: Worker, info: GiveUpInfo) => void): this;
    once(event: 'reload', listener: (result: ReloadResult) => void): this;
    once<E extends string | symbol>(event: OtherEvent<E, ClusterEvent>, listener: (...args: any[]) => void): this;
    prependListener(event: 'disconnect', listener: (worker: Worker) => void): this;
    prependListener(event: 'exit', listener: (worker: Worker, code: number, signal: string) => void): this;
    prependListener(event: 'fork', listener: (worker: Worker) => void): this;
    prependListener(event: 'listening', listener: (worker: Worker, address: Address) => void): this;
    prependListener(event: 'message', listener: (worker: Worker, message: any, handle: net.Socket | net.Server) => void): this;
    prependListener(event: 'online', listener: (worker: Worker) => void): this;
    prependListener(event: 'setup', listener: (settings: ClusterSettings) => void): this;
    prependListener(event: 'ready', listener: (worker: Worker) => void): this;
    prependListener(event: 'restart', listener: (worker: Worker, previous: Worker, info: RestartInfo) => void): this;
    prependListener(event: 'giveup', listener: (worker: Worker, info: GiveUpInfo) => void): this;
    prependListener(event: 'reload', listener: (result: ReloadResult) => void): this;
    prependListener<E extends string | symbol>(event: OtherEvent<E, ClusterEvent>, listener: (...args: any[]) => void): this;
    prependOnceListener(event: 'disconnect', listener: (worker: Worker) => void): this;
    prependOnceListener(event: 'exit', listener: (worker: Worker, code: number, signal: string) => void): this;
    prependOnceListener(event: 'fork', listener: (worker: Worker) => void): this;
    prependOnceListener(event: 'listening', listener: (worker: Worker, address: Address) => void): this;
    prependOnceListener(event: 'message', listener: (worker: Worker, message: any, handle: net.Socket | net.Server) => void): this;
    prependOnceListener(event: 'online', listener: (worker: Worker) => void): this;
    prependOnceListener(event: 'setup', listener: (settings: ClusterSettings) => void): this;
    prependOnceListener(event: 'ready', listener: (worker: Worker) => void): this;
    prependOnceListener(event: 'restart', listener: (worker: Worker, previous: Worker, info: RestartInfo) => void): this;
    prependOnceListener(event: 'giveup', listener: (worker: Worker, info: GiveUpInfo) => void): this;
    prependOnceListener(event: 'reload', listener: (result: ReloadResult) => void): this;
    prependOnceListener<E extends string | symbol>(event: OtherEvent<E, ClusterEvent>, listener: (...args: any[]) => void): this;
  }
}

export = cluster;
