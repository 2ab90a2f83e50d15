// The entry of the bundled CLI (scripts/build-cli.sh): run as a script it runs the command
// line; while Node builds the startup snapshot (`node --build-snapshot`) it loads the modules
// of the most used commands and the client and runs `ps` and `version` once against a
// stand-in daemon (snapshot-warmup.ts), so that a run from the snapshot starts with them
// evaluated and compiled, and makes `main` the snapshot's main function (its argv: node,
// then the args).

import { startupSnapshot } from 'node:v8';
import { loadCommandModule, main } from './main.js';

/** Loaded into the snapshot: version, info, ps, run/create, the lifecycle commands. */
const PRELOADED = ['system', 'ps', 'run', 'lifecycle'];

if (startupSnapshot.isBuildingSnapshot()) {
  for (const m of PRELOADED) void loadCommandModule(m);
  void import('./connect.js');
  void import('./snapshot-warmup.js').then((w) => w.warmUp());
  startupSnapshot.setDeserializeMainFunction(() => void main(process.argv.slice(1)));
} else {
  void main(process.argv.slice(2));
}
