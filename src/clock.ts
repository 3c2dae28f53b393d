/**
 * The one source of time. Everything that reads the time or waits for it takes a `Clock`,
 * so that tests can drive refresh schedules, expiry and fault latencies in virtual time
 * without sleeping.
 */

/** A scheduled callback; `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Runs `callback` once, `delayMs` from now (negative delays count as 0). The timer does not
   * keep the process alive: whoever needs the process to stay up holds something else (a server).
   */
  setTimeout(callback: () => void, delayMs: number): Timer;
}

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface ScheduledTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told to. Timers fire, in due order, inside `advance`; a timer
 * scheduled by a firing timer fires in the same `advance` if it falls due within it.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, ScheduledTimer>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    if (!Number.isFinite(startMs))
      throw new RangeError(`ManualClock: start ${startMs} is not finite`);
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): Timer {
    const id = this.#nextId++;
    this.#timers.set(id, { id, dueAt: this.#now + Math.max(0, delayMs), callback });
    return { cancel: () => void this.#timers.delete(id) };
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** When the earliest pending timer falls due, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    return this.#earliest()?.dueAt;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ${ms} is not a non-negative number`);
    const target = this.#now + ms;
    for (let timer = this.#earliest(); timer && timer.dueAt <= target; timer = this.#earliest()) {
      this.#timers.delete(timer.id);
      this.#now = timer.dueAt;
      timer.callback();
    }
    this.#now = target;
  }

  #earliest(): ScheduledTimer | undefined {
    let earliest: ScheduledTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (!earliest || timer.dueAt < earliest.dueAt) earliest = timer;
    }
    return earliest;
  }
}
