/**
 * The shared upstream budget: every AWS call, whoever makes it, takes a slot (at most
 * `maxConcurrent` at once) and a token (at most `ratePerSecond` on average, bursts of `burst`).
 * Waiting calls form two queues; a client waiting on a miss (`on_demand`) always goes before a
 * background refresh, which can wait. A waiting refresh that a client comes to wait on (its
 * credential ran out meanwhile) joins the on-demand queue then: otherwise that client would wait
 * for as long as other clients' misses keep coming.
 */
import type { Lane } from '../cache/credential-cache.js';
import type { Clock, Timer } from '../clock.js';

/** Upstream calls in flight at once. */
export const DEFAULT_MAX_CONCURRENT = 8;
/** Upstream calls per second, on average. */
export const DEFAULT_RATE_PER_SECOND = 20;

export interface UpstreamBudgetOptions {
  readonly clock: Clock;
  readonly maxConcurrent?: number;
  readonly ratePerSecond?: number;
  /** Calls that may start at once after a quiet spell; default: `ratePerSecond`. */
  readonly burst?: number;
}

interface Waiter {
  readonly start: () => void;
}

export class UpstreamBudget {
  readonly #clock: Clock;
  readonly #maxConcurrent: number;
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #queues: Record<Lane, Waiter[]> = { on_demand: [], background: [] };
  #active = 0;
  #tokens: number;
  #refilledAt: number;
  #wakeUp: Timer | undefined;

  constructor(options: UpstreamBudgetOptions) {
    this.#clock = options.clock;
    this.#maxConcurrent = positive(
      'maxConcurrent',
      options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    );
    const rate = positive('ratePerSecond', options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND);
    this.#ratePerMs = rate / 1000;
    this.#burst = positive('burst', options.burst ?? Math.max(1, rate));
    this.#tokens = this.#burst;
    this.#refilledAt = this.#clock.now();
  }

  /**
   * Runs `call` when the budget allows, on-demand calls first; resolves or rejects with it. A
   * background call still waiting when `urgent` settles moves to the end of the on-demand queue.
   */
  run<T>(lane: Lane, call: () => Promise<T>, urgent?: Promise<unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          call()
            .then(resolve, reject)
            .finally(() => {
              this.#active -= 1;
              this.#dispatch();
            });
        },
      };
      this.#queues[lane].push(waiter);
      if (lane === 'background' && urgent) void urgent.then(() => this.#promote(waiter));
      this.#dispatch();
    });
  }

  /** A background call a client now waits on goes on as on-demand, unless it has started. */
  #promote(waiter: Waiter): void {
    const at = this.#queues.background.indexOf(waiter);
    if (at === -1) return;
    this.#queues.background.splice(at, 1);
    this.#queues.on_demand.push(waiter);
    this.#dispatch();
  }

  /** Calls waiting for the budget, per lane. */
  get waiting(): Record<Lane, number> {
    return { on_demand: this.#queues.on_demand.length, background: this.#queues.background.length };
  }

  /** Calls running now. */
  get active(): number {
    return this.#active;
  }

  #dispatch(): void {
    this.#refill();
    while (this.#active < this.#maxConcurrent && this.#tokens >= 1) {
      const next = this.#queues.on_demand.shift() ?? this.#queues.background.shift();
      if (!next) return;
      this.#tokens -= 1;
      this.#active += 1;
      next.start();
    }
    const waiting = this.#queues.on_demand.length + this.#queues.background.length;
    if (waiting > 0 && this.#active < this.#maxConcurrent && this.#tokens < 1 && !this.#wakeUp) {
      // Out of tokens: come back when the next one is due.
      const delay = Math.ceil((1 - this.#tokens) / this.#ratePerMs);
      this.#wakeUp = this.#clock.setTimeout(() => {
        this.#wakeUp = undefined;
        this.#dispatch();
      }, delay);
    }
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) * this.#ratePerMs);
    this.#refilledAt = now;
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name}: must be a positive number, got ${value}`);
  }
  return value;
}
