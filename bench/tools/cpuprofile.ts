/**
 * Summarises a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per process): where the
 * sampled time went, by function (self time: the function itself was running; total: it was on
 * the stack) and by module (a package under node_modules, a file of dist/ or src/, Node's
 * internals, the garbage collector). For finding what dominates a benchmark's server process;
 * the daemon scenario prints the same summary of its profiled run in docs/benchmarks.md.
 *
 *   npx tsx bench/tools/cpuprofile.ts FILE.cpuprofile [--top 25] [--match TEXT…]
 *
 * `--match TEXT` also prints the total time (the function and everything it called) of the
 * functions whose name contains TEXT.
 */
import { parseArgs } from 'node:util';
import { readProfile, summariseProfile } from '../lib/cpuprofile.js';
import { renderTable } from '../lib/markdown.js';

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, match: { type: 'string', multiple: true } },
  });
  const [file] = positionals;
  if (file === undefined)
    throw new Error('usage: cpuprofile.ts FILE.cpuprofile [--top N] [--match TEXT…]');
  const top = Number(values.top);
  const summary = summariseProfile(readProfile(file));
  const share = (ms: number) => `${((ms / summary.totalMs) * 100).toFixed(1)}%`;
  const out: string[] = [
    `Sampled ${(summary.totalMs / 1000).toFixed(2)} s busy, ${(summary.idleMs / 1000).toFixed(2)} s idle; shares are of the busy time.`,
  ];
  out.push(
    renderTable(
      ['Module', 'Self ms', 'Share'],
      summary.byModule.slice(0, top).map((m) => [m.module, m.selfMs.toFixed(0), share(m.selfMs)]),
      ['left', 'right', 'right'],
    ),
    renderTable(
      ['Function (self)', 'Where', 'Self ms', 'Self', 'Total'],
      summary.byFunction
        .slice(0, top)
        .map((f) => [f.name, f.where, f.selfMs.toFixed(0), share(f.selfMs), share(f.totalMs)]),
      ['left', 'left', 'right', 'right', 'right'],
    ),
  );
  const match = values.match ?? [];
  if (match.length > 0) {
    out.push(
      renderTable(
        ['Function (total)', 'Where', 'Total ms', 'Share'],
        summary.byFunction
          .filter((f) => match.some((text) => f.name.includes(text)))
          .sort((a, b) => b.totalMs - a.totalMs)
          .map((f) => [f.name, f.where, f.totalMs.toFixed(0), share(f.totalMs)]),
        ['left', 'left', 'right', 'right'],
      ),
    );
  }
  process.stdout.write(`${out.join('\n\n')}\n`);
}

main();
