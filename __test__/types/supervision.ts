// rust-cluster's supervision API: settings, methods and events, with their exact types.
import cluster from 'rust-cluster';
import type { Worker, ReloadResult, RestartInfo, GiveUpInfo, ReloadError } from 'rust-cluster';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function exact<Expected>() {
  return <Actual>(value: Actual, ..._check: Equal<Actual, Expected> extends true ? [] : [never]): Actual => value;
}

cluster.setupPrimary({
  restart: { delay: 100, maxDelay: 10000, factor: 2, jitter: 0.2, stableAfter: 30000, maxRestarts: 10, window: 60000 },
  readyOn: 'message',
  startupTimeout: 10000,
  shutdownTimeout: 5000,
  shutdownSignals: ['SIGTERM', 'SIGINT'],
  reloadSignal: 'SIGUSR2',
});
cluster.setupPrimary({ restart: true });
// @ts-expect-error readyOn takes only 'listening', 'online' or 'message'
cluster.setupPrimary({ readyOn: 'x' });
// @ts-expect-error a signal name
cluster.setupPrimary({ reloadSignal: 'SIGFOO' });

const worker = cluster.fork();
exact<boolean>()(worker.isReady());
exact<Worker>()(worker.disconnect({ timeout: 200 }));
exact<Promise<void>>()(cluster.shutdown({ timeout: 1000 }));
exact<Promise<void>>()(cluster.shutdown());
exact<Promise<ReloadResult>>()(cluster.reload({ concurrency: 2, timeout: 5000 }));
exact<Promise<void>>()(cluster.scale(4));
cluster.disconnect({ timeout: 500 }, () => {});
// @ts-expect-error scale takes a count
cluster.scale('4');

cluster.on('ready', (w) => exact<Worker>()(w));
worker.on('ready', () => {});
cluster.on('restart', (w, previous, info) => {
  exact<Worker>()(previous);
  exact<RestartInfo>()(info);
  exact<number>()(info.attempt);
});
cluster.on('giveup', (w, info) => exact<GiveUpInfo>()(info));
cluster.on('reload', ({ replaced }) => exact<Array<[number, number]>>()(replaced));
cluster.reload().catch((err: ReloadError) => exact<'ERR_CLUSTER_RELOAD_FAILED'>()(err.code));
