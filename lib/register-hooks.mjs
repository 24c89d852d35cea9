// Module customization hooks for `node -r rust-cluster/register` (registered by
// lib/register.js with module.register(), Node >= 20.6, in the primary only): make
// `import cluster from 'node:cluster'` / `from 'cluster'` resolve to rust-cluster, as
// lib/register.js does for require(). rust-cluster's own entry points keep the built-in.
const INDEX_MJS = new URL('../index.mjs', import.meta.url).href;
const INDEX_JS = new URL('../index.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if ((specifier === 'cluster' || specifier === 'node:cluster') &&
      context.parentURL !== INDEX_JS && context.parentURL !== INDEX_MJS) {
    // A require() that reaches the hooks (CommonJS loaded through import, Node >= 22)
    // must get the CommonJS module object, not the ES namespace.
    const url = context.conditions?.includes('require') ? INDEX_JS : INDEX_MJS;
    return { url, format: url === INDEX_JS ? 'commonjs' : 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
