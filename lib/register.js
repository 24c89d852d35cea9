'use strict';
// `node -r rust-cluster/register app.js` (or NODE_OPTIONS=-r rust-cluster/register): in
// the primary, make require('cluster'), require('node:cluster') and (Node >= 20.6, through
// the hooks in lib/register-hooks.mjs) `import ... from 'node:cluster'` / `from 'cluster'`
// resolve to rust-cluster, so libraries that use the built-in module run on rust-cluster
// unchanged. Workers keep Node's own worker-side module.
const Module = require('module');
const path = require('path');
const { pathToFileURL } = require('url');

if (!require('cluster').isWorker) {
  const target = path.join(__dirname, '..', 'index.js');
  const isCluster = (request, parent) =>
    (request === 'cluster' || request === 'node:cluster') && parent?.filename !== target;

  // require('node:cluster') never reaches _resolveFilename: Module._load returns
  // `node:` built-ins directly, so it is redirected here.
  const load = Module._load;
  Module._load = function loadCluster(request, parent, ...rest) {
    return load.call(this, isCluster(request, parent) ? target : request, parent, ...rest);
  };
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveCluster(request, parent, ...rest) {
    if (isCluster(request, parent)) return target;
    return resolve.call(this, request, parent, ...rest);
  };

  if (typeof Module.register === 'function') {
    Module.register('./register-hooks.mjs', pathToFileURL(__filename));
  }
}
