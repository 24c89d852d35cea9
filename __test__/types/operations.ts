// rust-cluster's operations settings: the metrics endpoint and worker log lines.
import cluster = require('rust-cluster');

cluster.setupPrimary({ metrics: { port: 9100 } });
cluster.setupPrimary({ metrics: { port: 0, host: '0.0.0.0', path: '/stats', minReady: 1 }, logFormat: 'json' });
cluster.setupPrimary({ logFormat: 'prefix' });
const where = cluster.metricsAddress();
if (where !== null) {
  const port: number = where.port;
  const url = `http://${where.address}:${port}${where.path}`;
  void url;
}
// @ts-expect-error the port is required
cluster.setupPrimary({ metrics: { host: '127.0.0.1' } });
// @ts-expect-error no such format
cluster.setupPrimary({ logFormat: 'xml' });
