/**
 * Readiness: every configured target holds a credential that can be served, and the daemon is
 * not shutting down. Failing targets are named with the last reason their load failed.
 */
import type { CredentialCache } from '../cache/credential-cache.js';
import type { Clock } from '../clock.js';
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
  readonly #targets: Targets;
  readonly #lastFailure = new Map<string, string>();
  #shuttingDown = false;

  constructor(clock: Clock, cache: CredentialCache, targets: Targets) {
    this.#clock = clock;
    this.#cache = cache;
    this.#targets = targets;
  }

  /** Remembers why the load of a target's key failed (cleared by the next success). */
  recordFailure(keyId: string, reason: string | undefined): void {
    for (const target of this.#targets.all()) {
      if (target.key.id !== keyId) continue;
      if (reason === undefined) this.#lastFailure.delete(target.name);
      else this.#lastFailure.set(target.name, reason);
    }
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
      const reason =
        this.#lastFailure.get(name) ??
        (entry ? 'credential below minRemainingSeconds' : 'no credential yet');
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
