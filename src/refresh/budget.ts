/**
 * The shared upstream budget: every AWS call, whoever makes it, takes a slot (at most
 * `maxConcurrent` at once) and a token (at most `ratePerSecond` on average, bursts of `burst`).
 *
 * Waiting calls form three queues, served in this order:
 * 1. `reserved`: configured targets' standing jobs. They go first and may use every slot, while
 *    other calls leave `reservedSlots` free for them, so no flood of other keys (nor a hung
 *    upstream holding every other slot) can let a target expire.
 * 2. `on_demand`: a client waiting on a miss. Bounded: at most `maxQueue` wait at once and each
 *    waits at most `maxWaitMs` for its turn; beyond either the call is refused at once with
 *    `BudgetExceeded`, which the daemon answers 503 `UpstreamThrottled` with `Retry-After`.
 * 3. `background`: refreshes ahead of expiry, which can wait. One a client comes to wait on
 *    (its `urgency` raised) moves to the end of the on-demand queue at once.
 *
 * Each queue is first come, first served, and a key is in at most one of them at a time (the
 * cache's single flight): a key whose client retries in a loop goes to the back each time, so it
 * cannot starve other keys. A call whose `signal` is aborted while it waits (its client hung up,
 * its entry left the cache) leaves its queue and never costs an upstream call.
 */
import { LoadCancelled, type Priority, type Queue, cancellation } from '../cache/fetcher.js';
import type { Clock, Timer } from '../clock.js';
import { UpstreamError } from '../providers/errors.js';

/** Upstream calls in flight at once. */
export const DEFAULT_MAX_CONCURRENT = 8;
/** Upstream calls per second, on average. */
export const DEFAULT_RATE_PER_SECOND = 20;
/** Longest a client's miss waits for its turn (`upstream.maxWaitSeconds`, default 10 s). */
export const DEFAULT_MAX_WAIT_MS = 10_000;
/** Most client misses waiting at once (`upstream.maxQueue`, default 1000). */
export const DEFAULT_MAX_QUEUE = 1_000;
/** Longest `Retry-After` the budget suggests. */
const MAX_RETRY_AFTER_MS = 60_000;

export type { Queue } from '../cache/fetcher.js';

export interface UpstreamBudgetOptions {
  readonly clock: Clock;
  readonly maxConcurrent?: number;
  readonly ratePerSecond?: number;
  /** Calls that may start at once after a quiet spell; default: `ratePerSecond`. */
  readonly burst?: number;
  readonly maxWaitMs?: number;
  readonly maxQueue?: number;
  /**
   * Slots only reserved calls may take (default 0; the engine keeps 1 when targets are
   * configured). Must leave at least one slot for the rest.
   */
  readonly reservedSlots?: number;
}

export interface Ticket {
  /** The queue to wait in; when it rises, the call moves to the end of the higher queue. */
  readonly priority: Priority;
  readonly signal?: AbortSignal;
  /** Told when the call leaves its queue and starts. */
  readonly started?: () => void;
}

/**
 * The budget refused a client's miss: too many waiting, or it waited too long. To its callers it
 * is throttling (retryable, never cached, never evicting), as AWS's own would be, with its own
 * estimate of when trying again has a fair chance.
 */
export class BudgetExceeded extends UpstreamError {
  constructor(
    readonly reason: 'queue_full' | 'wait_exceeded',
    /** When trying again has a fair chance, in ms. */
    readonly retryAfterMs: number,
    message: string,
  ) {
    super('Throttled', 'BudgetExceeded', message);
  }
}

interface Waiter {
  queue: Queue;
  readonly start: () => void;
  readonly fail: (error: Error) => void;
  deadline: Timer | undefined;
}

export class UpstreamBudget {
  readonly #clock: Clock;
  readonly #maxConcurrent: number;
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #maxWaitMs: number;
  readonly #maxQueue: number;
  #reservedSlots: number;
  readonly #queues: Record<Queue, Set<Waiter>> = {
    reserved: new Set(),
    on_demand: new Set(),
    background: new Set(),
  };
  #active = 0;
  #tokens: number;
  #refilledAt: number;
  #wakeUp: Timer | undefined;
  #closed = false;

  constructor(options: UpstreamBudgetOptions) {
    this.#clock = options.clock;
    this.#maxConcurrent = positive(
      'maxConcurrent',
      options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    );
    const rate = positive('ratePerSecond', options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND);
    this.#ratePerMs = rate / 1000;
    this.#burst = positive('burst', options.burst ?? Math.max(1, rate));
    this.#maxWaitMs = positive('maxWaitMs', options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS);
    this.#maxQueue = positive('maxQueue', options.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.#reservedSlots = this.#checkReserved(options.reservedSlots ?? 0);
    this.#tokens = this.#burst;
    // Durations come from the monotonic clock: a wall clock stepped back must not drain the bucket.
    this.#refilledAt = this.#clock.monotonic();
  }

  /** Runs `call` when the budget allows; resolves or rejects with it, or with the budget's refusal. */
  run<T>(call: () => Promise<T>, ticket: Ticket): Promise<T> {
    const { signal } = ticket;
    if (signal?.aborted) return Promise.reject(cancellation(signal));
    if (this.#closed) return Promise.reject(new LoadCancelled('the upstream budget is closed'));
    const queue = ticket.priority.queue;
    if (queue === 'on_demand' && this.#queues.on_demand.size >= this.#maxQueue) {
      return Promise.reject(
        new BudgetExceeded(
          'queue_full',
          this.#retryAfterMs(),
          `upstream budget: ${this.#maxQueue} misses already wait for an upstream call (upstream.maxQueue)`,
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (this.#leave(waiter)) reject(cancellation(signal as AbortSignal));
      };
      const waiter: Waiter = {
        queue,
        deadline: undefined,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          ticket.started?.();
          let running: Promise<T>;
          try {
            running = call();
          } catch (error) {
            running = Promise.reject(error as Error);
          }
          running.then(resolve, reject).finally(() => {
            this.#active -= 1;
            this.#dispatch();
          });
        },
        fail: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#enqueue(waiter, queue);
      ticket.priority.watch((to) => this.#promote(waiter, to));
      this.#dispatch();
    });
  }

  /** Calls waiting for the budget, per queue. */
  get waiting(): Record<Queue, number> {
    return {
      reserved: this.#queues.reserved.size,
      on_demand: this.#queues.on_demand.size,
      background: this.#queues.background.size,
    };
  }

  /** Calls running now. */
  get active(): number {
    return this.#active;
  }

  #enqueue(waiter: Waiter, queue: Queue): void {
    waiter.queue = queue;
    this.#queues[queue].add(waiter);
    if (queue !== 'on_demand') return;
    waiter.deadline = this.#clock.setTimeout(() => {
      waiter.deadline = undefined;
      if (!this.#leave(waiter)) return;
      waiter.fail(
        new BudgetExceeded(
          'wait_exceeded',
          this.#retryAfterMs(),
          `upstream budget: no upstream call free within upstream.maxWaitSeconds (${this.#maxWaitMs / 1000} s)`,
        ),
      );
    }, this.#maxWaitMs);
  }

  /** Takes a waiting call out of its queue; false when it is not waiting (it started, or left). */
  #leave(waiter: Waiter): boolean {
    if (!this.#queues[waiter.queue].delete(waiter)) return false;
    waiter.deadline?.cancel();
    waiter.deadline = undefined;
    return true;
  }

  /**
   * A waiting call whose priority rose moves to the end of its new queue, unless it has started.
   * A refresh a client joins moves to the misses' queue even when `maxQueue` are waiting there:
   * the client is already waiting, and there is at most one such refresh per cached key.
   */
  #promote(waiter: Waiter, to: Queue): void {
    if (!this.#leave(waiter)) return;
    this.#enqueue(waiter, to);
    this.#dispatch();
  }

  /**
   * Changes how many slots only reserved calls may take (the configured targets changed); calls
   * that may start now, start.
   */
  reserveSlots(slots: number): void {
    this.#reservedSlots = this.#checkReserved(slots);
    this.#dispatch();
  }

  #checkReserved(slots: number): number {
    if (!Number.isSafeInteger(slots) || slots < 0 || slots >= this.#maxConcurrent) {
      throw new RangeError(
        `reservedSlots: must be a whole number below maxConcurrent (${this.#maxConcurrent}), got ${slots}`,
      );
    }
    return slots;
  }

  /** Stops: no call starts from now on, and the token timer is cancelled. */
  close(): void {
    this.#closed = true;
    this.#wakeUp?.cancel();
    this.#wakeUp = undefined;
  }

  /** How long the client misses waiting now take to drain at the configured rate. */
  #retryAfterMs(): number {
    const drain = Math.ceil((this.#queues.on_demand.size + 1) / this.#ratePerMs);
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(1_000, drain));
  }

  #next(): Waiter | undefined {
    const { reserved, on_demand, background } = this.#queues;
    if (reserved.size > 0) return first(reserved);
    if (this.#active >= this.#maxConcurrent - this.#reservedSlots) return undefined;
    return first(on_demand) ?? first(background);
  }

  #dispatch(): void {
    if (this.#closed) return;
    this.#refill();
    while (this.#active < this.#maxConcurrent && this.#tokens >= 1) {
      const next = this.#next();
      if (!next) break;
      this.#leave(next);
      this.#tokens -= 1;
      this.#active += 1;
      next.start();
    }
    const waiting =
      this.#queues.reserved.size + this.#queues.on_demand.size + this.#queues.background.size;
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
    const now = this.#clock.monotonic();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) * this.#ratePerMs);
    this.#refilledAt = now;
  }
}

function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name}: must be a positive number, got ${value}`);
  }
  return value;
}
