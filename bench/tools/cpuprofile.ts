/**
 * Summarises a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per process): where the
 * sampled time went, by function (self time: the function itself was running) and by module
 * (a package under node_modules, a file of dist/ or src/, Node's internals, the garbage
 * collector). For finding what dominates a benchmark's server process.
 *
 *   npx tsx bench/tools/cpuprofile.ts FILE.cpuprofile [--top 25] [--match TEXT…]
 *
 * `--match TEXT` also prints the inclusive time (the function and everything it called) of the
 * functions whose name contains TEXT.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderTable } from '../lib/markdown.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function isProfile(value: unknown): value is Profile {
  if (typeof value !== 'object' || value === null) return false;
  const { nodes, samples, timeDeltas } = value as Record<string, unknown>;
  return Array.isArray(nodes) && Array.isArray(samples) && Array.isArray(timeDeltas);
}

/** A short name for where a function lives. */
function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules !== -1) {
    const rest = url.slice(inModules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const own = /\/(dist|src|bench)\/(.*)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

interface ProfileSummary {
  readonly totalMs: number;
  readonly byFunction: readonly { name: string; where: string; selfMs: number }[];
  readonly byModule: readonly { module: string; selfMs: number }[];
  /** Inclusive time of the functions whose name contains one of `match`. */
  readonly inclusive: readonly { name: string; where: string; totalMs: number }[];
}

function summarise(profile: Profile, match: readonly string[] = []): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    // timeDeltas[i] is the time before sample i; the sample's own span is the next delta.
    const delta = profile.timeDeltas[index + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  });
  const functions = new Map<string, { name: string; where: string; selfMs: number }>();
  const modules = new Map<string, number>();
  const inclusive = new Map<string, { name: string; where: string; totalMs: number }>();
  const label = (frame: CallFrame) => frame.functionName || '(anonymous)';
  const where = (frame: CallFrame) =>
    frame.url === '' ? '' : `${moduleOf(frame.url, frame.functionName)}:${frame.lineNumber + 1}`;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const frame = node.callFrame;
    const key = `${label(frame)} ${where(frame)}`;
    const entry = functions.get(key) ?? { name: label(frame), where: where(frame), selfMs: 0 };
    entry.selfMs += us / 1000;
    functions.set(key, entry);
    const module = moduleOf(frame.url, frame.functionName);
    modules.set(module, (modules.get(module) ?? 0) + us / 1000);
    if (match.length === 0) continue;
    // Charge this sample once to every matching function on its stack.
    const seen = new Set<string>();
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parent.get(cursor)) {
      const frameOf = byId.get(cursor)?.callFrame;
      if (!frameOf || !match.some((text) => label(frameOf).includes(text))) continue;
      const fnKey = `${label(frameOf)} ${where(frameOf)}`;
      if (seen.has(fnKey)) continue;
      seen.add(fnKey);
      const total = inclusive.get(fnKey) ?? {
        name: label(frameOf),
        where: where(frameOf),
        totalMs: 0,
      };
      total.totalMs += us / 1000;
      inclusive.set(fnKey, total);
    }
  }
  const desc = <T>(list: T[], pick: (item: T) => number) => list.sort((a, b) => pick(b) - pick(a));
  return {
    totalMs: totalUs / 1000,
    byFunction: desc([...functions.values()], (f) => f.selfMs),
    byModule: desc(
      [...modules].map(([module, selfMs]) => ({ module, selfMs })),
      (m) => m.selfMs,
    ),
    inclusive: desc([...inclusive.values()], (f) => f.totalMs),
  };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, match: { type: 'string', multiple: true } },
  });
  const [file] = positionals;
  if (file === undefined)
    throw new Error('usage: cpuprofile.ts FILE.cpuprofile [--top N] [--match TEXT…]');
  const profile: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isProfile(profile)) throw new Error(`${file}: not a V8 CPU profile`);
  const top = Number(values.top);
  const summary = summarise(profile, values.match ?? []);
  const share = (ms: number) => `${((ms / summary.totalMs) * 100).toFixed(1)}%`;
  const out: string[] = [`Sampled ${(summary.totalMs / 1000).toFixed(2)} s.`];
  out.push(
    renderTable(
      ['Module', 'Self ms', 'Share'],
      summary.byModule.slice(0, top).map((m) => [m.module, m.selfMs.toFixed(0), share(m.selfMs)]),
      ['left', 'right', 'right'],
    ),
    renderTable(
      ['Function (self)', 'Where', 'Self ms', 'Share'],
      summary.byFunction
        .slice(0, top)
        .map((f) => [f.name, f.where, f.selfMs.toFixed(0), share(f.selfMs)]),
      ['left', 'left', 'right', 'right'],
    ),
  );
  if (summary.inclusive.length > 0) {
    out.push(
      renderTable(
        ['Function (inclusive)', 'Where', 'Total ms', 'Share'],
        summary.inclusive.map((f) => [f.name, f.where, f.totalMs.toFixed(0), share(f.totalMs)]),
        ['left', 'left', 'right', 'right'],
      ),
    );
  }
  process.stdout.write(`${out.join('\n\n')}\n`);
}

main();
