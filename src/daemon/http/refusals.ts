/**
 * The access log of refused requests: one line for each request answered with an error — its
 * method, route pattern, status, code and reason (the error's message, which names the field at
 * fault and never carries the token) — warn for 401 and 403, info otherwise. At most `burst`
 * lines per `windowMs`: past that, refusals are counted by status and the count is logged when
 * the window ends, so a local process hammering the port with wrong tokens cannot flood the log.
 */
import type { Clock, Timer } from '../../clock.js';
import type { Logger } from '../logger.js';

export interface Refusal {
  readonly method: string;
  /** The route pattern, or `unmatched`. */
  readonly route: string;
  readonly status: number;
  readonly code: string;
  readonly reason: string;
}

export interface RefusalLogOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Lines logged per window before refusals are only counted (default 20). */
  readonly burst?: number;
  /** Default 10 s. */
  readonly windowMs?: number;
}

/** Longest reason logged: messages are short, but one may quote a long path or value. */
const MAX_REASON = 200;

export class RefusalLog {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #burst: number;
  readonly #windowMs: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #logged = 0;
  #suppressed = new Map<number, number>();
  #flush: Timer | undefined;

  constructor(options: RefusalLogOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#burst = options.burst ?? 20;
    this.#windowMs = options.windowMs ?? 10_000;
  }

  note(refusal: Refusal): void {
    const now = this.#clock.monotonic();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged < this.#burst) {
      this.#logged += 1;
      const { method, route, status, code } = refusal;
      const reason =
        refusal.reason.length > MAX_REASON
          ? `${refusal.reason.slice(0, MAX_REASON)}…`
          : refusal.reason;
      const fields = { method, route, status, code, reason };
      if (status === 401 || status === 403) this.#logger.warn(fields, 'request refused');
      else this.#logger.info(fields, 'request refused');
      return;
    }
    this.#suppressed.set(refusal.status, (this.#suppressed.get(refusal.status) ?? 0) + 1);
    this.#flush ??= this.#clock.setTimeout(
      () => this.#report(),
      this.#windowStart + this.#windowMs - now,
    );
  }

  /** Logs how many refusals went unlogged in the window that ended. */
  #report(): void {
    this.#flush = undefined;
    const byStatus = Object.fromEntries(
      [...this.#suppressed].map(([status, count]) => [String(status), count]),
    );
    const total = [...this.#suppressed.values()].reduce((sum, count) => sum + count, 0);
    this.#suppressed = new Map();
    this.#logger.warn(
      { suppressed: total, byStatus, windowSeconds: this.#windowMs / 1000 },
      'more requests were refused than the access log shows; counted here',
    );
  }

  /** Cancels the pending count line (shutdown). */
  stop(): void {
    this.#flush?.cancel();
    this.#flush = undefined;
  }
}
