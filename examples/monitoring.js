// `npm start` demo: the guide's "Complete Event Monitoring Example"
// (examples/guide/14-complete-monitoring.js, unchanged) plus Ctrl-C handling.
//
//   PORT=8000 npm start      # then: curl http://127.0.0.1:8000/
//
// Ctrl-C sends SIGINT to the whole process group: the primary disconnects
// every worker (so none is restarted) and exits 0 once they are gone; the
// workers ignore the SIGINT and end when the primary disconnects them.
// Workers re-run this file (process.argv[1]), so both branches live here.
const cluster = require('rust-cluster');

if (cluster.isMaster) {
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n>>> ${signal} received, disconnecting all workers\n`);
    cluster.disconnect(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  // Ignore Ctrl-C in workers: the primary's disconnect ends them.
  process.on('SIGINT', () => {});
}

require('./guide/14-complete-monitoring.js');
