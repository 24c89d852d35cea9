'use strict';
// systemd's side of the primary: the variables systemd hands a service's main process,
// taken once when the primary's module loads. The work is the core's (socket adoption:
// core/src/activation.rs); this module only reads the environment, and removes what
// belongs to the primary alone from it, so workers (whose environment is built from
// process.env) never see it. Nothing happens unless the variables are set for this very
// process: without them, behaviour is Node's.

// sd_listen_fds(3): meant for the process whose pid LISTEN_PID names.
const ACTIVATION = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'];

let adopted = 0;

/** Adopts the sockets systemd passed to this process; returns how many. */
function adoptPassedSockets() {
  const env = process.env;
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== process.pid) return adopted;
  // Close-on-exec at once (before anything else can spawn a child): the addon does it.
  adopted = require('../binding').adoptListenFds(env.LISTEN_PID, env.LISTEN_FDS, env.LISTEN_FDNAMES);
  for (const key of ACTIVATION) delete env[key];
  return adopted;
}

module.exports = { adoptPassedSockets };
