/**
 * Where the daemon's resident memory goes, for the daemon scenario: run by plain `node` (as the
 * daemon is), it reads its own RSS with nothing loaded, after importing the daemon's
 * dependencies one after another (each import's step is what it adds to those before it), and
 * after starting the daemon in this process (`serve` from dist/cli/, the given configuration,
 * the built-in emulator, logs silenced) and idling; then the V8 heap's part of that RSS.
 *
 *   node bench/hosts/memory-probe.mjs --config FILE --idle-ms 5000
 *
 * Prints one JSON line: `{"msg":"memory","steps":[{"label","rss"}…],"idle":{rss,heapTotal,…}}`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import process from 'node:process';
import { URL } from 'node:url';

const argument = (name) => {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
};
const configFile = argument('--config');
const idleMs = Number(argument('--idle-ms') ?? '5000');
if (configFile === undefined) throw new Error('--config FILE is required');

/** Third-party packages the daemon imports, then the daemon's own code (dist/). */
const IMPORTS = [
  'commander',
  'zod',
  'yaml',
  'pino',
  'prom-client',
  'lru-cache',
  'node-cron',
  'express',
  '@aws-sdk/client-lakeformation',
  '@aws-sdk/client-redshift-serverless',
];
const dist = (path) => new URL(`../../dist/${path}`, import.meta.url).href;

const steps = [];
const step = async (label) => {
  await sleep(100);
  steps.push({ label, rss: process.memoryUsage().rss });
};

await step('node, nothing imported');
for (const name of IMPORTS) {
  await import(name);
  await step(`+ ${name}`);
}
const { loadConfig } = await import(dist('config/config.js'));
const { createLogger } = await import(dist('daemon/logger.js'));
const { serve } = await import(dist('cli/serve.js'));
await import(dist('cli/cli.js'));
await step('+ credcache (dist/, emulator included)');

const config = await loadConfig(configFile);
const serving = await serve({ config, emulator: {}, logger: createLogger('silent') });
await step('+ serve --emulator: listening, targets warm');
await sleep(idleMs);
const memory = process.memoryUsage();
const spaces = Object.fromEntries(
  getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]),
);
await serving.shutdown();
process.stdout.write(
  `${JSON.stringify({
    msg: 'memory',
    steps,
    idle: {
      rss: memory.rss,
      heapTotal: memory.heapTotal,
      heapUsed: memory.heapUsed,
      external: memory.external,
      spaces,
    },
  })}\n`,
);
