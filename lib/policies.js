'use strict';
// The scheduling policies: the one definition of their numbers and names. Node's own
// are SCHED_NONE and SCHED_RR; SCHED_REUSEPORT (one SO_REUSEPORT socket per worker, the
// kernel balances) and SCHED_STICKY (round-robin in Rust where a client address keeps
// its worker) are rust-cluster's.
const SCHED_NONE = 1;
const SCHED_RR = 2;
const SCHED_REUSEPORT = 3;
const SCHED_STICKY = 4;

const CONSTANTS = Object.freeze({ SCHED_NONE, SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY });

/** Each policy's name, as NODE_CLUSTER_SCHED_POLICY, settings and the core take it. */
const NAME_OF = Object.freeze({
  [SCHED_NONE]: 'none', [SCHED_RR]: 'rr', [SCHED_REUSEPORT]: 'reuseport', [SCHED_STICKY]: 'sticky',
});
const BY_NAME = Object.freeze({ none: SCHED_NONE, rr: SCHED_RR, reuseport: SCHED_REUSEPORT, sticky: SCHED_STICKY });

/** A policy given as a number or a name, or undefined when it is neither. */
function policyOf(value) {
  if (typeof value === 'string') return BY_NAME[value];
  return NAME_OF[value] === undefined ? undefined : value;
}

const ALLOWED = `must be one of ${Object.keys(CONSTANTS).map((k) => `cluster.${k}`).join(', ')} ` +
  `or their names ${Object.keys(BY_NAME).map((n) => `'${n}'`).join(', ')}`;

module.exports = { CONSTANTS, NAME_OF, BY_NAME, policyOf, ALLOWED, SCHED_NONE, SCHED_RR, SCHED_REUSEPORT, SCHED_STICKY };
