// Wrong usages: each line after `// @ts-expect-error` must fail to type-check (tsc
// reports an unused directive, TS2578, if the declarations ever let one through).
import cluster from 'rust-cluster';
import type { Address, ClusterSettings, Worker } from 'rust-cluster';
import net from 'node:net';

declare const worker: Worker;

// ---- listeners of the wrong shape for a known cluster event ----
// @ts-expect-error exit's code is a number
cluster.on('exit', (w, code: string) => {});
// @ts-expect-error exit's signal is a string
cluster.once('exit', (w, code, signal: number) => {});
// @ts-expect-error exit has no fourth argument
cluster.on('exit', (w: Worker, code: number, signal: string, extra: unknown) => {});
// @ts-expect-error fork passes a Worker
cluster.on('fork', (w: string) => {});
// @ts-expect-error listening's address is an Address, not a string
cluster.addListener('listening', (w, address: string) => {});
// @ts-expect-error listening's address is not net.AddressInfo (no `family`)
cluster.on('listening', (w, address: net.AddressInfo) => {});
// @ts-expect-error message's handle is a net.Socket or net.Server
cluster.prependListener('message', (w, m, handle: string) => {});
// @ts-expect-error online passes only the worker
cluster.prependOnceListener('online', (w: Worker, extra: string) => {});
// @ts-expect-error setup passes the settings, not a worker
cluster.on('setup', (settings: Worker) => {});
// @ts-expect-error disconnect passes a Worker
cluster.on('disconnect', (w: number) => {});

// ---- emit with the wrong arguments ----
// @ts-expect-error exit's code is a number
cluster.emit('exit', worker, 'zero', 'SIGTERM');
// @ts-expect-error fork needs the worker
cluster.emit('fork');
// @ts-expect-error listening needs an Address
cluster.emit('listening', worker, { address: '::', port: '80', addressType: 6 });
// @ts-expect-error setup takes settings
cluster.emit('setup', worker);

// ---- fork, setupPrimary, disconnect ----
// @ts-expect-error env is an object
cluster.fork(123);
// @ts-expect-error env is an object, not a string
cluster.fork('PORT=3000');
// @ts-expect-error env values are strings, numbers or booleans
cluster.fork({ CONFIG: { nested: true } });
// @ts-expect-error env is not an array
cluster.fork(['PORT=3000']);
// @ts-expect-error serialization is 'json' or 'advanced'
cluster.setupPrimary({ serialization: 'xml' });
// @ts-expect-error inspectPort is a number or a function returning one
cluster.setupPrimary({ inspectPort: '9229' });
// @ts-expect-error inspectPort's function returns a number
cluster.setupPrimary({ inspectPort: () => '9229' });
// @ts-expect-error exec is a path string
cluster.setupPrimary({ exec: 42 });
// @ts-expect-error execArgv is an array
cluster.setupMaster({ execArgv: '--inspect' });
// @ts-expect-error args are strings
cluster.setupPrimary({ args: [1, 2] });
// @ts-expect-error stdio entries are IOTypes, 'ipc', streams, fds or null
cluster.setupPrimary({ stdio: ['pipe', 'pipe', 'pipe', 'socket'] });
// @ts-expect-error silent is a boolean
cluster.setupPrimary({ silent: 'yes' });
// @ts-expect-error a scheduling policy is a SCHED_* number or a policy name
cluster.setupPrimary({ schedulingPolicy: 'random' });
// @ts-expect-error unknown setting
cluster.setupPrimary({ workers: 4 });
// @ts-expect-error the argument is a callback
cluster.disconnect(42);
// @ts-expect-error a settings object must not have wrong types either
const badSettings: ClusterSettings = { windowsHide: 1 };

// ---- read-only and possibly-absent members ----
// @ts-expect-error isPrimary is read-only
cluster.isPrimary = false;
// @ts-expect-error SCHED_RR is read-only
cluster.SCHED_RR = 3;
// @ts-expect-error settings is read-only (use setupPrimary)
cluster.settings = {};
// @ts-expect-error workers is undefined in a worker process
Object.keys(cluster.workers);
// @ts-expect-error workers[id] may be undefined
cluster.workers![1].send('x');
// @ts-expect-error worker is undefined in the primary
cluster.worker.id;
// @ts-expect-error the policy constants are read-only
cluster.SCHED_STICKY = 5;

// ---- Worker ----
// @ts-expect-error send needs a message
worker.send();
// @ts-expect-error a Symbol is not serializable
worker.send(Symbol('x'));
// @ts-expect-error the second argument is a handle or a callback
worker.send('x', 'not a handle');
// @ts-expect-error kill takes a signal name
worker.kill({ signal: 'SIGTERM' });
// @ts-expect-error disconnect takes no arguments
worker.disconnect(true);
// @ts-expect-error id is a number
const workerId: string = worker.id;
// @ts-expect-error state is one of the life-cycle names
worker.state = 'running';
// @ts-expect-error exit's code is a number
worker.on('exit', (code: string) => {});
// @ts-expect-error error passes an Error
worker.on('error', (error: string) => {});
// @ts-expect-error online passes nothing
worker.on('online', (x: number) => {});
// @ts-expect-error listening passes an Address
worker.once('listening', (address: string) => {});
// @ts-expect-error disconnect passes nothing
worker.prependListener('disconnect', (w: Worker) => {});
// @ts-expect-error worker exit has no worker argument
worker.on('exit', (w: Worker, code: number) => {});
// @ts-expect-error emit('exit') needs a number code
worker.emit('exit', '1', 'SIGTERM');
// @ts-expect-error the Worker constructor takes an options object
new cluster.Worker(7);

// ---- Address ----
// @ts-expect-error addressType is a number, 'udp4' or 'udp6'
const badAddress: Address = { address: '::1', port: 80, addressType: 'tcp6' };
// @ts-expect-error port is a number
const badPort: Address = { address: '::1', port: '80', addressType: 6 };

export { badSettings, workerId, badAddress, badPort };
