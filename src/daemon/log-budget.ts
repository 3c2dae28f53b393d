/**
 * A budget of log lines for events a local process can cause at will (refused requests, refused
 * proxy connections): at most `burst` lines per `windowMs`; past that, events are only counted by
 * a label, and the counts are handed to `report` once when the window ends — so a process
 * hammering a port with wrong tokens cannot flood the log, and nothing goes unmentioned.
 */
import type { Clock, Timer } from '../clock.js';

export interface LogBudgetOptions {
  readonly clock: Clock;
  /** Lines per window before events are only counted (default 20). */
  readonly burst?: number;
  /** Default 10 s. */
  readonly windowMs?: number;
  /** Told, when a window with suppressed events ends, how many there were by label. */
  readonly report: (suppressed: Readonly<Record<string, number>>, windowSeconds: number) => void;
}

export class LogBudget {
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #report: LogBudgetOptions['report'];
  #windowStart = Number.NEGATIVE_INFINITY;
  #logged = 0;
  #suppressed = new Map<string, number>();
  #flush: Timer | undefined;

  constructor(options: LogBudgetOptions) {
    this.#clock = options.clock;
    this.#burst = options.burst ?? 20;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#report = options.report;
  }

  /** True: log this event now. False: it was counted under `label`, to be reported. */
  admit(label: string): boolean {
    const now = this.#clock.monotonic();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged < this.#burst) {
      this.#logged += 1;
      return true;
    }
    this.#suppressed.set(label, (this.#suppressed.get(label) ?? 0) + 1);
    this.#flush ??= this.#clock.setTimeout(
      () => this.#flushCounts(),
      this.#windowStart + this.#windowMs - now,
    );
    return false;
  }

  #flushCounts(): void {
    this.#flush = undefined;
    const counts = Object.fromEntries(this.#suppressed);
    this.#suppressed = new Map();
    this.#report(counts, this.#windowMs / 1000);
  }

  /** Cancels the pending count (shutdown). */
  stop(): void {
    this.#flush?.cancel();
    this.#flush = undefined;
  }
}
