/**
 * `CREDCACHE_*` environment variables over the configuration file: every scalar field of the
 * schema as `CREDCACHE_<SECTION>_<FIELD>` in upper snake case, plus the aliases below. The
 * environment wins over the file.
 */
import { z } from 'zod';
import { schema } from './schema.js';

/** Environment variables read besides `CREDCACHE_<SECTION>_<FIELD>`. */
const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  CREDCACHE_TOKEN_FILE: ['auth', 'tokenFile'],
  CREDCACHE_TOKEN: ['auth', 'token'],
};

type Scalar = 'string' | 'number' | 'boolean';

/** Every scalar field of the schema, by its environment variable name. */
function environmentFields(): Map<string, { path: string[]; kind: Scalar }> {
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
  for (const [name, { path, kind }] of environmentFields()) {
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
