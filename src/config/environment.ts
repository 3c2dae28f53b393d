/**
 * `CREDCACHE_*` environment variables over the configuration file: every scalar field of the
 * schema as `CREDCACHE_<SECTION>_<FIELD>` in upper snake case, plus the aliases below. The
 * environment wins over the file. An empty value counts as unset (the file or the default
 * stands), as a template that leaves `VAR=` blank means. A `CREDCACHE_*` variable that names
 * no field is a problem naming the variable, whatever its value, with the closest real name
 * when one is near: a misspelt variable never silently leaves a default in place.
 */
import { z } from 'zod';
import { schema } from './schema.js';

/** Environment variables read besides `CREDCACHE_<SECTION>_<FIELD>`. */
const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  CREDCACHE_TOKEN_FILE: ['auth', 'tokenFile'],
  CREDCACHE_TOKEN: ['auth', 'token'],
};

/**
 * `CREDCACHE_*` variables that are not fields and are allowed: the configuration file's path
 * (read by the command line), and the configuration text the ECS init container writes to the
 * file (read by its shell, never by credcache; allowed so one environment can serve both).
 */
const NOT_FIELDS: ReadonlySet<string> = new Set(['CREDCACHE_CONFIG', 'CREDCACHE_CONFIG_YAML']);

const PREFIX = 'CREDCACHE_';

/** A suggestion is made when the closest name is at most this many edits away. */
const MAX_SUGGESTION_DISTANCE = 3;

type Scalar = 'string' | 'number' | 'boolean';

/**
 * Every scalar field of the schema, by its environment variable name; `lists` gets the names
 * of the fields that only the file can set (lists and sections).
 */
function environmentFields(
  lists = new Map<string, string>(),
): Map<string, { path: string[]; kind: Scalar }> {
  const fields = new Map<string, { path: string[]; kind: Scalar }>();
  const visit = (shape: Record<string, z.ZodType>, path: string[]) => {
    for (const [name, field] of Object.entries(shape)) {
      const inner = unwrap(field);
      const at = [...path, name];
      if (inner instanceof z.ZodObject && path.length === 0) {
        visit(inner.shape, [name]);
      } else if (inner instanceof z.ZodNumber) {
        fields.set(envName(at), { path: at, kind: 'number' });
      } else if (inner instanceof z.ZodBoolean) {
        fields.set(envName(at), { path: at, kind: 'boolean' });
      } else if (
        inner instanceof z.ZodString ||
        inner instanceof z.ZodEnum ||
        inner instanceof z.ZodUnion
      ) {
        fields.set(envName(at), { path: at, kind: 'string' });
      } else {
        lists.set(envName(at), at.join('.'));
      }
    }
  };
  visit(schema.shape, []);
  for (const [name, path] of Object.entries(ENV_ALIASES)) {
    fields.set(name, { path: [...path], kind: 'string' });
  }
  return fields;
}

/** The schema under its optional, default, nullable and transform wrappers (zod's public API). */
function unwrap(type: z.ZodType): z.ZodType {
  let current: z.ZodType = type;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

function envName(path: readonly string[]): string {
  return `CREDCACHE_${path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

/** Applies `CREDCACHE_*` variables over the parsed file; returns which path came from which. */
export function applyEnvironment(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  problems: string[],
): Map<string, string> {
  const sources = new Map<string, string>();
  const lists = new Map<string, string>();
  const fields = environmentFields(lists);
  problems.push(...unknownVariables(env, fields, lists));
  for (const [name, { path, kind }] of fields) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let parsed: unknown = value;
    if (kind === 'number') {
      parsed = /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    } else if (kind === 'boolean') {
      const lower = value.trim().toLowerCase();
      parsed = ['true', '1', 'yes'].includes(lower)
        ? true
        : ['false', '0', 'no'].includes(lower)
          ? false
          : value;
    }
    let container: Record<string, unknown> = raw;
    for (const part of path.slice(0, -1)) {
      const next = container[part];
      if (next === undefined || next === null) container[part] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) {
        problems.push(`${name}: cannot set ${path.join('.')}: ${part} is not a section`);
        break;
      }
      container = container[part] as Record<string, unknown>;
    }
    const last = path.at(-1);
    if (last !== undefined) container[last] = parsed;
    sources.set(path.join('.'), name);
  }
  return sources;
}

/** A problem for each `CREDCACHE_*` variable that names no field. */
function unknownVariables(
  env: NodeJS.ProcessEnv,
  fields: ReadonlyMap<string, unknown>,
  lists: ReadonlyMap<string, string>,
): string[] {
  const known = [...fields.keys(), ...NOT_FIELDS];
  const problems: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || fields.has(name) || NOT_FIELDS.has(name)) continue;
    const list = lists.get(name);
    if (list !== undefined) {
      problems.push(`${name}: ${list} is not a single value; set it in the configuration file`);
      continue;
    }
    const closest = closestName(name, known);
    problems.push(
      `${name}: names no configuration field${closest ? `; did you mean ${closest}?` : ''}`,
    );
  }
  return problems;
}

/** The name in `names` fewest edits from `name`, when it is near enough to be a misspelling. */
function closestName(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions of one character each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
