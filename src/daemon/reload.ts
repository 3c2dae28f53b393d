/**
 * The configuration a running daemon works with, and its reload (SIGHUP). A new configuration is
 * validated as at start, and its token source opened, before anything changes; then what a
 * running daemon can take is applied at once: targets, file sinks, the allow-list, the default duration,
 * the token source and the log level. A configuration that fails changes nothing: its reasons are
 * logged and the running one stays. Settings only a restart can apply (listeners, the upstream
 * clients and budget, cache sizes) keep their running values and are named in a warning.
 */
import { type Config, ConfigError } from '../config/config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { CredentialEngine } from '../refresh/engine.js';
import type { TokenAuth } from './http/auth.js';
import { type RequestRules, requestRules } from './http/requests.js';
import type { Logger } from './logger.js';
import type { TargetChanges, Targets } from './targets.js';
import type { Sinks } from '../sinks/sinks.js';

/** What a reload applies; a change anywhere else waits for a restart. */
const RELOADABLE: readonly string[] = [
  'targets',
  'sinks',
  'allow',
  'auth',
  'log',
  'upstream.durationSeconds',
];

/** Sections whose fields are compared one by one (the rest are compared whole). */
const SECTIONS: readonly string[] = ['server', 'auth', 'cache', 'upstream', 'allow', 'log'];

export type ReloadOutcome =
  | {
      readonly outcome: 'success';
      readonly targets: TargetChanges;
      /** Changed settings that keep their running value until a restart. */
      readonly restartNeeded: readonly string[];
    }
  | { readonly outcome: 'failure'; readonly problems: readonly string[] };

export interface RunningConfigOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'configReload'>;
  readonly targets: Targets;
  readonly sinks: Pick<Sinks, 'replace'>;
  readonly engine: Pick<CredentialEngine, 'setTargets'>;
  /** Opens the token source of a configuration (may create the token file; throws when unusable). */
  readonly auth: (config: Config) => TokenAuth;
}

export class RunningConfig {
  readonly #options: RunningConfigOptions;
  #config: Config;
  #auth: TokenAuth;
  #rules: RequestRules;
  /** The reloads in order: one at a time. */
  #chain: Promise<unknown> = Promise.resolve();
  /** A reload asked for and not yet begun: further requests join it. */
  #queued: Promise<ReloadOutcome> | undefined;

  constructor(options: RunningConfigOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#auth = options.auth(options.config);
    this.#rules = requestRules(options.config);
  }

  /** The configuration in effect (restart-only settings as the daemon started). */
  get config(): Config {
    return this.#config;
  }

  /** The token check in use. */
  get auth(): TokenAuth {
    return this.#auth;
  }

  /** The request rules in use (allow-list, default durations). */
  get rules(): RequestRules {
    return this.#rules;
  }

  /** Whether an `Authorization` header value carries the token in use (for the HTTP front). */
  readonly check = (header: string | undefined): boolean => this.#auth.check(header);

  /** Whether a password is the token in use, exactly (for the PostgreSQL proxies). */
  readonly isToken = (password: string): boolean => this.#auth.matches(password);

  /**
   * Loads the configuration again with `load` and applies it, or keeps the running one when it
   * fails. Reloads run one at a time; asking while one waits to begin joins it.
   */
  reload(load: () => Promise<Config>): Promise<ReloadOutcome> {
    if (this.#queued) return this.#queued;
    const queued = this.#chain.then(() => {
      this.#queued = undefined;
      return this.#reloadOnce(load);
    });
    this.#queued = queued;
    this.#chain = queued;
    return queued;
  }

  async #reloadOnce(load: () => Promise<Config>): Promise<ReloadOutcome> {
    const { logger, metrics } = this.#options;
    const running = this.#config;
    let next: Config;
    let auth = this.#auth;
    try {
      next = await load();
      // A new token source is opened before anything changes: a file that cannot be used fails
      // the reload, and the running token stays.
      if (!sameValue(next.auth, running.auth)) auth = this.#options.auth(next);
    } catch (error) {
      const problems =
        error instanceof ConfigError
          ? error.problems.map((problem) => `${error.origin}: ${problem}`)
          : [error instanceof Error ? error.message : String(error)];
      metrics.configReload('failure');
      logger.error({ problems }, 'configuration reload refused; the running configuration is kept');
      return { outcome: 'failure', problems };
    }
    const restartNeeded = changedSettings(running, next).filter(
      (path) => !RELOADABLE.some((prefix) => path === prefix || path.startsWith(`${prefix}.`)),
    );
    const applied: Config = {
      ...running,
      targets: next.targets,
      sinks: next.sinks,
      allow: next.allow,
      auth: next.auth,
      log: next.log,
      upstream: { ...running.upstream, durationSeconds: next.upstream.durationSeconds },
    };
    const tokenSourceChanged = auth !== this.#auth;
    this.#config = applied;
    this.#auth = auth;
    this.#rules = requestRules(applied);
    logger.level = applied.log.level;
    const { targets, sinks, engine } = this.#options;
    const changes = targets.replace(applied);
    // Sinks whose target already holds its credential are written now; the rest as it arrives.
    sinks.replace(applied.sinks);
    // New targets' first loads go on in the background; /readyz and /v1/status show them.
    void engine.setTargets(targets.all().map((target) => target.key));
    metrics.configReload('success');
    logger.info(
      {
        origin: next.origin,
        targets: { ...changes, total: targets.size },
        sinks: applied.sinks.length,
        tokenSourceChanged,
        logLevel: applied.log.level,
      },
      'configuration reloaded',
    );
    if (restartNeeded.length > 0) {
      logger.warn(
        { settings: restartNeeded },
        'configuration reloaded, but these changed settings apply only after a restart; their running values are kept',
      );
    }
    return { outcome: 'success', targets: changes, restartNeeded };
  }
}

/** The settings (`section.field`, or a top-level field) whose values differ. */
function changedSettings(a: Config, b: Config): string[] {
  const changed: string[] = [];
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  names.delete('origin');
  for (const name of names) {
    const left = (a as unknown as Record<string, unknown>)[name];
    const right = (b as unknown as Record<string, unknown>)[name];
    if (SECTIONS.includes(name) && isRecord(left) && isRecord(right)) {
      for (const field of new Set([...Object.keys(left), ...Object.keys(right)])) {
        if (!sameValue(left[field], right[field])) changed.push(`${name}.${field}`);
      }
    } else if (!sameValue(left, right)) {
      changed.push(name);
    }
  }
  return changed;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
