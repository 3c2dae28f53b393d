#!/usr/bin/env node
// Entry point of the `credcache` command; the code lives in dist/ (built by `npm ci` / `npm run build`).
import { setFlagsFromString } from 'node:v8';

// A sidecar is judged by its resident memory, so two V8 heap settings trade a little collector
// work for it. Both are read by V8 whenever it resizes the heap, so setting them here, before
// anything is loaded, is enough (unlike --max-semi-space-size, which counts only on the command
// line); one that is also given to node on its command line or in NODE_OPTIONS is left alone.
// - --semi-space-growth-factor=1: the young generation stays at its initial two 1 MB
//   semi-spaces. Left to grow, it reaches 2 × 8 MB while the modules load (2 × 16 MB under
//   load) and stays so until V8's memory reducer notices the process idling, ~10 s later:
//   ~5 MB more idle, ~25 MB more after load. The price: ~6 % more CPU per hit under load (more
//   young collections). `NODE_OPTIONS=--max-semi-space-size=4` instead costs no CPU, ~4 MB.
// - --heap-growing-percent=20: the old generation may grow 20 % past what the last full
//   collection kept, not up to 4× (V8's default for a fast collector): after a burst of 10,000
//   new keys the process holds ~110 MB instead of ~185 MB (~145 MB with a growing young
//   generation). Such a burst of misses takes ~25 % more CPU with both settings.
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
for (const [flag, name] of [
  ['--semi-space-growth-factor=1', 'semi-space'],
  ['--heap-growing-percent=20', 'heap-growing'],
]) {
  if (!given.some((option) => option.includes(name))) setFlagsFromString(flag);
}

const { main } = await import('../dist/cli/cli.js');

process.exitCode = await main(process.argv.slice(2));
