'use strict';
// `node -r rust-cluster/register app.js`: in the primary, make require('cluster') and
// require('node:cluster') resolve to rust-cluster, so libraries that use the built-in
// module run on rust-cluster unchanged. Workers keep Node's own worker-side module.
const Module = require('module');
const path = require('path');

if (!require('cluster').isWorker) {
  const target = path.join(__dirname, 'index.js');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveCluster(request, parent, ...rest) {
    if ((request === 'cluster' || request === 'node:cluster') && parent?.filename !== target) {
      return target;
    }
    return resolve.call(this, request, parent, ...rest);
  };
}
