// Worker script for 13-setup.js (the guide's `exec: 'worker.js'`); not part
// of the guide. It reports how it was started, then disconnects so that the
// example ends.
const cluster = require('rust-cluster');

console.log(`worker.js: worker ${cluster.worker.id} (pid ${process.pid}) isWorker=${cluster.isWorker} args=${JSON.stringify(process.argv.slice(2))}`);
cluster.worker.disconnect();
