const cluster = require('rust-cluster');

cluster.setupPrimary({ schedulingPolicy: 'sticky', maxMessageBytes: 1 << 20 });
// the same policy, Node's way: cluster.schedulingPolicy = cluster.SCHED_STICKY;
// or: NODE_CLUSTER_SCHED_POLICY=sticky node app.js
console.log(JSON.stringify({ policy: cluster.schedulingPolicy, maxMessageBytes: cluster.settings.maxMessageBytes }));
