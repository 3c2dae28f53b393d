/**
 * The access log of refused requests: one line for each request answered with an error — its
 * method, route pattern, status, code and reason (the error's message, which names the field at
 * fault and never carries the token) — warn for 401 and 403, info otherwise. At most `burst`
 * lines per `windowMs`: past that, refusals are counted by status and the count is logged when
 * the window ends, so a local process hammering the port with wrong tokens cannot flood the log.
 */
import type { Clock } from '../../clock.js';
import { LogBudget } from '../log-budget.js';
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
  readonly #logger: Logger;
  readonly #budget: LogBudget;

  constructor(options: RefusalLogOptions) {
    this.#logger = options.logger;
    this.#budget = new LogBudget({
      clock: options.clock,
      ...(options.burst !== undefined && { burst: options.burst }),
      ...(options.windowMs !== undefined && { windowMs: options.windowMs }),
      report: (byStatus, windowSeconds) => {
        const total = Object.values(byStatus).reduce((sum, count) => sum + count, 0);
        this.#logger.warn(
          { suppressed: total, byStatus, windowSeconds },
          'more requests were refused than the access log shows; counted here',
        );
      },
    });
  }

  note(refusal: Refusal): void {
    if (!this.#budget.admit(String(refusal.status))) return;
    const { method, route, status, code } = refusal;
    const reason =
      refusal.reason.length > MAX_REASON
        ? `${refusal.reason.slice(0, MAX_REASON)}…`
        : refusal.reason;
    const fields = { method, route, status, code, reason };
    if (status === 401 || status === 403) this.#logger.warn(fields, 'request refused');
    else this.#logger.info(fields, 'request refused');
  }

  /** Cancels the pending count line (shutdown). */
  stop(): void {
    this.#budget.stop();
  }
}
