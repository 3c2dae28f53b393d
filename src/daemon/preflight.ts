/**
 * Everything the daemon refuses at start that can be known without the network, in one place:
 * `credcache serve` runs it before starting the daemon and `credcache check-config` runs it
 * alone, so a configuration that passes the one passes the other. It checks the file and the
 * `CREDCACHE_*` environment (config.ts), the region calls go to (region.ts), and the token file:
 * readable by the rules of auth.ts, or missing in a folder where the daemon can create it. Every
 * problem is reported at once. What only listening can tell (an address in use or not of this
 * host) is left to the start itself.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Config, type ValidFields, loadConfig } from '../config/config.js';
import { type Region, resolveRegion } from '../config/region.js';
import {
  checkPrivateDirectory,
  defaultTokenFile,
  privateFolders,
  readTokenFile,
} from './http/auth.js';

export interface Preflight {
  /** The configuration, with `upstream.region` set to the region resolved, when one is. */
  readonly config: Config;
  /** The region calls go to and where it came from; undefined: the local upstream's own. */
  readonly region: Region | undefined;
}

export interface PreflightOptions {
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Calls go to a local endpoint the command line starts (the built-in emulator), which brings
   * its own region when nothing else names one.
   */
  readonly localUpstream?: boolean;
}

/**
 * Loads the configuration at `path` (or from the environment alone) and checks everything the
 * daemon needs from outside it; throws a `ConfigError` naming every problem.
 */
export async function preflight(
  path: string | undefined,
  options: PreflightOptions = {},
): Promise<Preflight> {
  const env = options.env ?? process.env;
  let region: Region | undefined;
  const config = await loadConfig(path, env, async (fields: ValidFields) => {
    const problems: string[] = [];
    if (fields.upstream) {
      region = await resolveRegion(fields.upstream.region, env);
      if (region === undefined && !options.localUpstream) {
        problems.push(
          'upstream.region: no region: set upstream.region, AWS_REGION or AWS_DEFAULT_REGION, or a region in the AWS profile',
        );
      }
    }
    if (fields.auth) problems.push(...tokenProblems(fields.auth, env));
    return problems;
  });
  if (region === undefined) return { config, region };
  return { config: { ...config, upstream: { ...config.upstream, region: region.name } }, region };
}

/**
 * Whether the daemon can read its token file, or create it when missing: the rules of
 * `readTokenFile`, and for the default location the folders' own (`checkPrivateDirectory`).
 * Nothing is created or written here.
 */
function tokenProblems(auth: NonNullable<ValidFields['auth']>, env: NodeJS.ProcessEnv): string[] {
  if (auth.disabled || auth.token !== undefined) return [];
  const configured = auth.tokenFile !== undefined;
  const path = auth.tokenFile ?? defaultTokenFile(env);
  const field = configured ? 'auth.tokenFile' : 'default token location';
  try {
    if (!configured) {
      for (const dir of privateFolders(path)) if (existsSync(dir)) checkPrivateDirectory(dir);
    }
    readTokenFile(path, field);
    return [];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      return [error instanceof Error ? error.message : String(error)];
    }
  }
  const problem = cannotCreateIn(dirname(path));
  return problem === undefined
    ? []
    : [`${field}: ${path} is missing and cannot be created: ${problem}`];
}

/** Why files cannot be created in `dir` (made first when missing), or undefined when they can. */
function cannotCreateIn(dir: string): string | undefined {
  let current = dir;
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(current).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = dirname(current);
      if (code === 'ENOENT' && parent !== current) {
        current = parent;
        continue;
      }
      return `${current}: ${code ?? String(error)}`;
    }
    if (!isDirectory) return `${current} is not a directory`;
    try {
      accessSync(current, constants.W_OK | constants.X_OK);
      return undefined;
    } catch {
      return `${current} is not writable by this user`;
    }
  }
}
