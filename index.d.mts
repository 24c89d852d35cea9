// Type definitions for rust-cluster's ES module entry, index.mjs: the default export is
// the cluster object (the same object as require('rust-cluster'), typed in index.d.ts),
// and the named exports are exactly the ones index.mjs declares.

import cluster from './index.js';

export default cluster;

/** True if this process is the primary. */
export declare const isPrimary: boolean;
/** @deprecated since Node v16.0.0: use `isPrimary`. */
export declare const isMaster: boolean;
/** True if this process is a worker. */
export declare const isWorker: boolean;
/** The Worker class (`cluster.Worker`). */
export declare const Worker: typeof cluster.Worker;
/** A worker, as `cluster.workers[id]`, `cluster.worker` and `fork()` give it. */
export type Worker = cluster.Worker;
/** `cluster.SCHED_NONE`: leave connection distribution to the operating system. */
export declare const SCHED_NONE: number;
/** `cluster.SCHED_RR`: round-robin distribution by the primary. */
export declare const SCHED_RR: number;
/** `cluster.SCHED_REUSEPORT` (rust-cluster): one SO_REUSEPORT socket per worker, the kernel balances. */
export declare const SCHED_REUSEPORT: number;
/** `cluster.SCHED_STICKY` (rust-cluster): round-robin where a client address keeps its worker. */
export declare const SCHED_STICKY: number;
/** The worker map at import time (the same object as `cluster.workers`). */
export declare const workers: typeof cluster.workers;
/** The settings at import time (as with node:cluster's named exports). */
export declare const settings: typeof cluster.settings;
/** The scheduling policy at import time. */
export declare const schedulingPolicy: typeof cluster.schedulingPolicy;
/** `cluster.fork()`. */
export declare const fork: typeof cluster.fork;
/** `cluster.disconnect()`. */
export declare const disconnect: typeof cluster.disconnect;
/** `cluster.setupPrimary()`. */
export declare const setupPrimary: typeof cluster.setupPrimary;
/** @deprecated since Node v16.0.0: use `setupPrimary`. */
export declare const setupMaster: typeof cluster.setupMaster;

/** `cluster.shutdown()` (rust-cluster). */
export declare const shutdown: typeof cluster.shutdown;
/** `cluster.reload()` (rust-cluster). */
export declare const reload: typeof cluster.reload;
/** `cluster.scale()` (rust-cluster). */
export declare const scale: typeof cluster.scale;
/** `cluster.stats()` (rust-cluster). */
export declare const stats: typeof cluster.stats;
/** `cluster.availableParallelism()` (rust-cluster). */
export declare const availableParallelism: typeof cluster.availableParallelism;

export type Address = cluster.Address;
export type Cluster = cluster.Cluster;
export type ClusterSettings = cluster.ClusterSettings;
export type SchedulingPolicyName = cluster.SchedulingPolicyName;
export type SerializationType = cluster.SerializationType;
export type WorkerEnv<E> = cluster.WorkerEnv<E>;
export type WorkerOptions = cluster.WorkerOptions;
