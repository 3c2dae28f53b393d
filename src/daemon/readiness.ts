/**
 * Readiness: every configured target holds a credential that can be served, and the daemon is
 * not shutting down. Failing targets are named with the AWS error code their last attempt ended
 * with (the refresher's failure state; never AWS's message text, which may carry ARNs).
 */
import type { CredentialCache } from '../cache/credential-cache.js';
import type { Clock } from '../clock.js';
import type { RefreshScheduler } from '../refresh/scheduler.js';
import type { Targets } from './targets.js';

export interface TargetState {
  readonly name: string;
  readonly ready: boolean;
  /** Seconds of validity left, when a credential is held. */
  readonly remainingSeconds?: number;
  /** Why it is not ready. */
  readonly reason?: string;
}

export class Readiness {
  readonly #clock: Clock;
  readonly #cache: CredentialCache;
  readonly #scheduler: RefreshScheduler;
  readonly #targets: Targets;
  #shuttingDown = false;

  constructor(clock: Clock, cache: CredentialCache, scheduler: RefreshScheduler, targets: Targets) {
    this.#clock = clock;
    this.#cache = cache;
    this.#scheduler = scheduler;
    this.#targets = targets;
  }

  shutDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  targets(): TargetState[] {
    return this.#targets.all().map(({ name, key }) => {
      const entry = this.#cache.peek(key);
      const remainingSeconds = entry
        ? Math.max(0, Math.floor((entry.issued.expiration - this.#clock.now()) / 1000))
        : undefined;
      if (entry && this.#cache.servable(entry)) return { name, ready: true, remainingSeconds };
      const failure = this.#scheduler.failures(key);
      const reason = failure
        ? `${failure.lastError.awsName} (${failure.consecutive} failed ${failure.consecutive === 1 ? 'attempt' : 'attempts'} in a row; retrying)`
        : entry
          ? 'credential below minRemainingSeconds'
          : 'no credential yet';
      return {
        name,
        ready: false,
        ...(remainingSeconds !== undefined && { remainingSeconds }),
        reason,
      };
    });
  }

  ready(): boolean {
    return !this.#shuttingDown && this.targets().every((target) => target.ready);
  }
}
