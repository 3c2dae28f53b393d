/**
 * Benchmark harness entry (`npm run bench`): runs the named scenarios (all by default), prints
 * the report as Markdown on stdout and writes it to docs/benchmarks.md.
 *
 *   npm run bench                       all scenarios, writes docs/benchmarks.md
 *   npm run bench -- emulator           only the named scenario(s): their sections of
 *                                       docs/benchmarks.md are replaced, the others kept
 *   npm run bench -- --quick            smaller counts and time limits; prints only
 *   npm run bench -- --no-write         print only
 *
 * Progress goes to stderr. Exits non-zero when a scenario fails or reports problems.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type RenderedScenario, environment, mergeDocument, renderDocument } from './lib/report.js';
import { SetupError } from './lib/wrk.js';
import { SCENARIOS } from './scenarios/index.js';

const OUTPUT = new URL('../docs/benchmarks.md', import.meta.url);

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench -- [--quick] [--no-write] [scenario…]\nscenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
    );
    return 0;
  }
  const unknown = positionals.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
    );
    return 2;
  }
  const selected =
    positionals.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => positionals.includes(s.name));

  const env = environment();
  const results: RenderedScenario[] = [];
  const started = Date.now();
  for (const scenario of selected) {
    process.stderr.write(`[bench] ${scenario.name}: starting\n`);
    const report = await scenario.run({
      quick: values.quick,
      progress: (message) => process.stderr.write(`[bench] ${scenario.name}: ${message}\n`),
    });
    results.push({ scenario, report });
  }
  process.stderr.write(`[bench] done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const document = renderDocument(env, results);
  process.stdout.write(document);
  if (!values['no-write'] && !values.quick) {
    await mkdir(new URL('.', OUTPUT), { recursive: true });
    // A subset of the scenarios replaces its own sections and keeps the others'.
    const existing =
      selected.length < SCENARIOS.length
        ? await readFile(OUTPUT, 'utf8').catch(() => undefined)
        : undefined;
    await writeFile(
      OUTPUT,
      existing === undefined ? document : mergeDocument(existing, env, results, SCENARIOS),
    );
    process.stderr.write(`[bench] wrote ${fileURLToPath(OUTPUT)}\n`);
  }
  return results.some(({ report }) => report.failed) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof SetupError) {
      // A missing tool: one line saying how to get it.
      process.stderr.write(`[bench] ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
