// Guide 4 "Cluster Events", Setup Event.
// Changes from the guide: the require line is added; `exec` points at
// ./worker.js next to this file (the guide's 'worker.js' is relative to the
// current directory); one cluster.fork() is added at the bottom so the
// settings are actually used. The worker (worker.js) prints its arguments and
// disconnects, after which the example ends.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  cluster.on('setup', (settings) => {
    console.log('Cluster settings:', settings);
  });

  cluster.setupMaster({
    exec: require('path').join(__dirname, 'worker.js'), // guide: exec: 'worker.js'
    args: ['--use', 'https'],
    silent: false
  });

  // ---- added so the snippet runs (not in the guide) ----
  cluster.fork();
}
