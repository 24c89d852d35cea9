'use strict';
// 3. spawn: fork -> online / listening for 1, 4 and 8 workers, and disconnect -> all exited.
const path = require('node:path');
const { runScenario } = require('../lib/proc');

const SCRIPT = path.join(__dirname, '..', 'scenarios', 'spawn.js');

module.exports = {
  name: 'spawn',
  cases() {
    return [1, 4, 8].map((workers) => ({
      name: `spawn ${workers} worker${workers > 1 ? 's' : ''}`,
      impls: ['builtin', 'rust'],
      metrics: [
        { key: 'onlineMs', label: 'fork -> all online ms', better: 'lower' },
        { key: 'listeningMs', label: 'fork -> all listening ms', better: 'lower' },
        { key: 'exitMs', label: 'disconnect -> all exited ms', better: 'lower' },
      ],
      run: (impl) => runScenario(SCRIPT, { impl, env: { BENCH_WORKERS: workers }, stdin: 'ignore' }),
    }));
  },
};
