// Guide 4 "Cluster Events", 5. 'exit' Event (basic example).
// Changes from the guide: the require line is added.
// The worker stays idle until something ends it (e.g. `kill <worker pid>`);
// then 'exit' is reported and the primary, with nothing left to do, exits.
const cluster = require('rust-cluster'); // added: the snippet has no require line

if (cluster.isMaster) {
  cluster.on('exit', (worker, code, signal) => {
    console.log(`Worker ${worker.id} died`);
    console.log(`Exit code: ${code}`);
    console.log(`Signal: ${signal}`);
  });

  const worker = cluster.fork();
}
