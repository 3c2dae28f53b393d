/**
 * Summaries of a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per process): where
 * the sampled time went, by function — self time (the function itself was running) and total
 * time (it was on the stack) — and by module (a package under node_modules, a file of dist/ or
 * src/, Node's internals, the garbage collector). Frames of dist/ are named by their src/ file
 * and line through dist's source maps when there are some.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based. */
  readonly lineNumber: number;
  /** 0-based. */
  readonly columnNumber?: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface Profile {
  readonly nodes: readonly ProfileNode[];
  /** Microseconds, on the clock of `process.hrtime` (CLOCK_MONOTONIC on Linux). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export function isProfile(value: unknown): value is Profile {
  if (typeof value !== 'object' || value === null) return false;
  const { nodes, samples, timeDeltas, startTime } = value as Record<string, unknown>;
  return (
    Array.isArray(nodes) &&
    Array.isArray(samples) &&
    Array.isArray(timeDeltas) &&
    typeof startTime === 'number'
  );
}

export function readProfile(file: string): Profile {
  const profile: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isProfile(profile)) throw new Error(`${file}: not a V8 CPU profile`);
  return profile;
}

/** A short name for where a function lives. */
export function moduleOf(url: string, functionName: string): string {
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

const sourceMaps = new Map<string, SourceMap | undefined>();

/** The source map of a `file://…/dist/….js` URL, when its `.js.map` is there. */
function sourceMapOf(url: string): SourceMap | undefined {
  if (!url.startsWith('file://') || !url.endsWith('.js')) return undefined;
  if (sourceMaps.has(url)) return sourceMaps.get(url);
  let map: SourceMap | undefined;
  try {
    const file = `${fileURLToPath(url)}.map`;
    if (existsSync(file)) map = new SourceMap(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    map = undefined;
  }
  sourceMaps.set(url, map);
  return map;
}

/** `module:line` of a frame, 1-based; a dist/ frame as its src/ file and line when mapped. */
export function frameWhere(frame: CallFrame): string {
  if (frame.url === '') return '';
  if (frame.url.startsWith('node:')) return `${frame.url}:${frame.lineNumber + 1}`;
  const map = sourceMapOf(frame.url);
  if (map) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber ?? 0) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
      const source = /\/(src|bench)\/(.*)$/.exec(entry.originalSource);
      if (source) return `${source[1]}/${source[2]}:${entry.originalLine + 1}`;
    }
  }
  return `${moduleOf(frame.url, frame.functionName)}:${frame.lineNumber + 1}`;
}

export const frameName = (frame: CallFrame): string => frame.functionName || '(anonymous)';

export interface FunctionTime {
  readonly name: string;
  readonly where: string;
  /** Time the function itself was running, ms. */
  readonly selfMs: number;
  /** Time it was on the stack (itself and what it called; once per sample), ms. */
  readonly totalMs: number;
}

export interface ProfileSummary {
  /** Sampled time counted (in the window, `(idle)` left out), ms. */
  readonly totalMs: number;
  /** Sampled `(idle)` time in the window, ms: the thread waited for I/O. */
  readonly idleMs: number;
  readonly samples: number;
  /** By self time, descending. */
  readonly byFunction: readonly FunctionTime[];
  readonly byModule: readonly { readonly module: string; readonly selfMs: number }[];
}

export interface SummaryOptions {
  /** Only samples taken in this span of `process.hrtime` time, µs (both ends included). */
  readonly windowUs?: { readonly from: number; readonly to: number };
}

/**
 * Where the sampled time went. A sample stands for the time until the next sample. `(idle)` is
 * reported apart and left out of the totals, so shares are of the time the thread was busy.
 */
export function summariseProfile(profile: Profile, options: SummaryOptions = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  let totalUs = 0;
  let idleUs = 0;
  let samples = 0;
  profile.samples.forEach((id, index) => {
    at += profile.timeDeltas[index] ?? 0;
    // timeDeltas[i] is the time before sample i; the sample's own span is the next delta.
    const span = profile.timeDeltas[index + 1] ?? 0;
    const window = options.windowUs;
    if (window && (at < window.from || at > window.to)) return;
    if (byId.get(id)?.callFrame.functionName === '(idle)') {
      idleUs += span;
      return;
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + span);
    totalUs += span;
    samples += 1;
  });
  const functions = new Map<string, { name: string; where: string; selfUs: number }>();
  const inclusive = new Map<string, number>();
  const modules = new Map<string, number>();
  const keyOf = (frame: CallFrame) => `${frameName(frame)} ${frame.url}:${frame.lineNumber}`;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const key = keyOf(frame);
    const entry = functions.get(key) ?? {
      name: frameName(frame),
      where: frameWhere(frame),
      selfUs: 0,
    };
    entry.selfUs += us;
    functions.set(key, entry);
    const module = moduleOf(frame.url, frame.functionName);
    modules.set(module, (modules.get(module) ?? 0) + us);
    // Charge this node's samples once to every function on its stack.
    const seen = new Set<string>();
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parent.get(cursor)) {
      const up = byId.get(cursor)?.callFrame;
      if (!up) continue;
      const upKey = keyOf(up);
      if (seen.has(upKey)) continue;
      seen.add(upKey);
      inclusive.set(upKey, (inclusive.get(upKey) ?? 0) + us);
      if (!functions.has(upKey)) {
        functions.set(upKey, { name: frameName(up), where: frameWhere(up), selfUs: 0 });
      }
    }
  }
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    samples,
    byFunction: [...functions]
      .map(([key, f]) => ({
        name: f.name,
        where: f.where,
        selfMs: f.selfUs / 1000,
        totalMs: (inclusive.get(key) ?? 0) / 1000,
      }))
      .sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs),
    byModule: [...modules]
      .map(([module, us]) => ({ module, selfMs: us / 1000 }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}
