// The exact types of the API (as @types/node's `cluster` gives them), checked with an
// exact-equality helper: a declaration that drifts to `any` or to another type fails.
import cluster from 'rust-cluster';
import type { Address, ClusterSettings, Worker } from 'rust-cluster';
import { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import net from 'node:net';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
/** Compiles only if `Actual` is exactly `Expected`. */
function exact<Expected>() {
  return <Actual>(value: Actual, ..._check: Equal<Actual, Expected> extends true ? [] : [never]): Actual => value;
}

// ---- the cluster object ----
const emitter: EventEmitter = cluster;
exact<boolean>()(cluster.isPrimary);
exact<boolean>()(cluster.isMaster);
exact<boolean>()(cluster.isWorker);
exact<NodeJS.Dict<Worker> | undefined>()(cluster.workers);
exact<Worker | undefined>()(cluster.worker);
exact<ClusterSettings>()(cluster.settings);
exact<number>()(cluster.schedulingPolicy);
exact<number>()(cluster.SCHED_NONE);
exact<number>()(cluster.SCHED_RR);
exact<number>()(cluster.SCHED_REUSEPORT);
exact<number>()(cluster.SCHED_STICKY);
exact<typeof cluster.Worker>()(cluster.Worker);
exact<Worker>()(cluster.fork());
exact<Worker>()(cluster.fork({ PORT: 8000, ROLE: 'api', DEBUG: true, UNSET: undefined }));
exact<Worker>()(cluster.fork(process.env));
interface MyEnv { NODE_ENV: string; PORT: number }
declare const myEnv: MyEnv;
exact<Worker>()(cluster.fork(myEnv)); // an interface, not only an object literal
exact<void>()(cluster.setupPrimary());
exact<void>()(cluster.setupMaster({ exec: 'worker.js' }));
exact<void>()(cluster.disconnect());
exact<void>()(cluster.disconnect(() => {}));
cluster.schedulingPolicy = cluster.SCHED_NONE;
cluster.schedulingPolicy = cluster.SCHED_REUSEPORT;
cluster.schedulingPolicy = cluster.SCHED_STICKY; // under strict, as the README writes it

// Every setting, with each accepted form.
const settings: ClusterSettings = {
  exec: 'worker.js',
  args: ['--use', 'https'] as const,
  execArgv: ['--max-old-space-size=256'],
  silent: true,
  stdio: ['ignore', 'pipe', 'inherit', 'ipc', 5, null, undefined],
  cwd: '/tmp',
  uid: 1000,
  gid: 1000,
  inspectPort: 9229,
  serialization: 'advanced',
  windowsHide: false,
  schedulingPolicy: cluster.SCHED_RR,
  maxMessageBytes: 1 << 20,
};
cluster.setupPrimary(settings);
cluster.setupPrimary({ stdio: 'pipe', inspectPort: () => 9230, serialization: 'json' });
cluster.setupPrimary({ schedulingPolicy: 'sticky' });
// @ts-expect-error a byte count, not a size string
cluster.setupPrimary({ maxMessageBytes: '1M' });
exact<number | 'none' | 'rr' | 'reuseport' | 'sticky' | undefined>()(cluster.settings.schedulingPolicy);
exact<number | (() => number) | undefined>()(cluster.settings.inspectPort);
exact<'json' | 'advanced' | undefined>()(cluster.settings.serialization);
exact<readonly string[] | undefined>()(cluster.settings.args);
exact<string[] | undefined>()(cluster.settings.execArgv);

// ---- the cluster's events: exact listener arguments ----
cluster.on('disconnect', (worker) => { exact<Worker>()(worker); });
cluster.on('exit', (worker, code, signal) => {
  exact<Worker>()(worker);
  exact<number>()(code);
  exact<string>()(signal);
});
cluster.on('fork', (worker) => { exact<Worker>()(worker); });
cluster.on('listening', (worker, address) => {
  exact<Worker>()(worker);
  exact<Address>()(address);
  exact<number | 'udp4' | 'udp6'>()(address.addressType);
});
cluster.on('message', (worker, message, handle) => {
  exact<Worker>()(worker);
  exact<any>()(message);
  exact<net.Socket | net.Server>()(handle);
});
cluster.on('online', (worker) => { exact<Worker>()(worker); });
cluster.on('setup', (s) => { exact<ClusterSettings>()(s); });
// The same overloads on every listener-adding method, each returning the cluster.
exact<typeof cluster>()(cluster.addListener('exit', (w, code: number, signal: string) => {}));
exact<typeof cluster>()(cluster.once('listening', (w, a: Address) => {}));
exact<typeof cluster>()(cluster.prependListener('message', (w, m, h: net.Socket | net.Server) => {}));
exact<typeof cluster>()(cluster.prependOnceListener('setup', (s: ClusterSettings) => {}));
// Other event names still take any listener (EventEmitter's catch-all).
cluster.on('custom', (a: string, b: number) => {});
cluster.on(Symbol('custom'), () => {});
declare const someEvent: string;
cluster.on(someEvent, (...args: unknown[]) => {});
// Inherited EventEmitter methods.
cluster.removeListener('exit', () => {});
cluster.off('fork', () => {});
exact<number>()(cluster.listenerCount('exit'));

// emit, with each event's arguments.
declare const w: Worker;
exact<boolean>()(cluster.emit('disconnect', w));
exact<boolean>()(cluster.emit('exit', w, 0, 'SIGTERM'));
exact<boolean>()(cluster.emit('fork', w));
exact<boolean>()(cluster.emit('listening', w, { address: '::', port: 80, addressType: 6 }));
exact<boolean>()(cluster.emit('listening', w, { address: '0.0.0.0', port: 53, addressType: 'udp4' }));
exact<boolean>()(cluster.emit('message', w, { any: 'thing' }));
exact<boolean>()(cluster.emit('message', w, 'text', new net.Socket()));
exact<boolean>()(cluster.emit('online', w));
exact<boolean>()(cluster.emit('setup', {}));
exact<boolean>()(cluster.emit('custom', 1, 2, 3));

// ---- Worker ----
const worker = cluster.fork();
const workerEmitter: EventEmitter = worker;
exact<number>()(worker.id);
exact<ChildProcess>()(worker.process);
exact<boolean>()(worker.exitedAfterDisconnect);
exact<'none' | 'online' | 'listening' | 'disconnected' | 'dead' | undefined>()(worker.state);
exact<boolean>()(worker.isConnected());
exact<boolean>()(worker.isDead());
exact<Worker>()(worker.disconnect());
exact<void>()(worker.kill());
exact<void>()(worker.kill('SIGKILL'));
exact<void>()(worker.destroy());
exact<void>()(worker.destroy('SIGINT'));
exact<boolean>()(worker.send('hello'));
exact<boolean>()(worker.send({ cmd: 'x' }, (error) => { exact<Error | null>()(error); }));
exact<boolean>()(worker.send({ cmd: 'socket' }, new net.Socket()));
exact<boolean>()(worker.send('server', net.createServer(), { keepOpen: true }, () => {}));
exact<boolean>()(worker.send(42n));
worker.on('disconnect', () => {});
worker.on('error', (error) => { exact<Error>()(error); });
worker.on('exit', (code, signal) => { exact<number>()(code); exact<string>()(signal); });
worker.on('listening', (address) => { exact<Address>()(address); });
worker.on('message', (message, handle) => {
  exact<any>()(message);
  exact<net.Socket | net.Server>()(handle);
});
worker.on('online', () => {});
worker.on('custom', (x: unknown) => {});
exact<Worker>()(worker.addListener('exit', () => {}));
exact<Worker>()(worker.once('listening', (a) => { exact<Address>()(a); }));
exact<Worker>()(worker.prependListener('error', (e) => { exact<Error>()(e); }));
exact<Worker>()(worker.prependOnceListener('message', (m) => {}));
exact<boolean>()(worker.emit('exit', 1, 'SIGKILL'));
exact<boolean>()(worker.emit('error', new Error('x')));
exact<boolean>()(worker.emit('online'));

// The Worker class: instanceof narrows, subclasses and direct construction type-check.
declare const unknownValue: unknown;
if (unknownValue instanceof cluster.Worker) exact<Worker>()(unknownValue);
class TrackedWorker extends cluster.Worker {
  tracked = true;
}
exact<TrackedWorker>()(new TrackedWorker({ id: 7, state: 'none' }));
exact<Worker>()(new cluster.Worker());

// Worker side: cluster.worker is the process's own Worker.
if (cluster.isWorker && cluster.worker) {
  cluster.worker.send({ cmd: 'ready' });
  cluster.worker.on('disconnect', () => process.exit(0));
}

export { emitter, workerEmitter };
