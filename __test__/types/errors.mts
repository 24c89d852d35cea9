// Wrong usages of the ES module entry (index.d.mts): only index.mjs's named exports
// exist. Checked against index.d.mts directly, whatever "exports" maps `import` to.
// @ts-expect-error index.mjs exports no `on` (use the default export's)
import { on } from '../../index.mjs';
import { fork, setupPrimary, Worker } from '../../index.mjs';

// @ts-expect-error env is an object
fork(123);
// @ts-expect-error serialization is 'json' or 'advanced'
setupPrimary({ serialization: 'xml' });
// @ts-expect-error send needs a message
fork().send();
// @ts-expect-error Worker is a class, so `Worker` as a type is its instance
const notAWorker: Worker = { id: 1 };

export { on, notAWorker };
