#!/usr/bin/env node
// Entry point of the `credcache` command; the code lives in dist/ (built by `npm ci` / `npm run build`).
import { setFlagsFromString } from 'node:v8';

// Keep V8's young generation at its initial size (two 1 MB semi-spaces). Left to grow, it
// reaches 2 × 8 MB while the modules load and stays there until V8's memory reducer notices
// the process idling (~10 s later), or 2 × 16 MB under load and until the load stops: 6 to 20 MB
// of resident memory for no measurable gain in requests per second. V8 reads this flag each
// time it resizes the young generation, so setting it before anything is loaded is enough
// (unlike --max-semi-space-size, which counts only on the command line); a semi-space size
// given to node there, or in NODE_OPTIONS, is left alone.
const nodeFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
if (!nodeFlags.some((flag) => flag.includes('semi-space'))) {
  setFlagsFromString('--semi-space-growth-factor=1');
}

const { main } = await import('../dist/daemon/cli.js');

process.exitCode = await main(process.argv.slice(2));
