/**
 * The one source of time. Everything that reads the time or waits for it takes a `Clock`,
 * so that tests can drive refresh schedules, expiry and fault latencies in virtual time
 * without sleeping.
 */
import {
  createTask,
  schedule as cronSchedule,
  parse as parseCron,
  validate as isCronExpression,
} from 'node-cron';

/** A scheduled callback; `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Milliseconds from an arbitrary origin, never going backwards, sub-millisecond: for durations. */
  monotonic(): number;
  /**
   * Runs `callback` once, `delayMs` from now (negative delays count as 0). The timer does not
   * keep the process alive: whoever needs the process to stay up holds something else (a server).
   */
  setTimeout(callback: () => void, delayMs: number): Timer;
  /**
   * Runs `callback` at every second matching the six-field cron `expression` (evaluated in UTC),
   * until cancelled. Like `setTimeout`, it does not keep the process alive.
   */
  schedule(expression: string, callback: () => void): Timer;
}

/** Cron expressions are read in UTC, so a schedule means the same on every host. */
const CRON_TIMEZONE = 'Etc/UTC';

function checkCronExpression(expression: string): void {
  if (!isCronExpression(expression)) {
    throw new RangeError(`schedule: ${JSON.stringify(expression)} is not a cron expression`);
  }
}

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  schedule(expression, callback) {
    checkCronExpression(expression);
    const task = cronSchedule(expression, callback, {
      timezone: CRON_TIMEZONE,
      noOverlap: true,
      unref: true,
    });
    return { cancel: () => void task.destroy() };
  },
};

/** How far ahead the manual clock looks for a cron expression's next match (a leap year). */
const MANUAL_CRON_HORIZON_MS = 366 * 86_400_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

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

  /** Virtual time is monotonic: durations measured on it are the advances made meanwhile. */
  monotonic(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): Timer {
    const id = this.#nextId++;
    this.#timers.set(id, { id, dueAt: this.#now + Math.max(0, delayMs), callback });
    return { cancel: () => void this.#timers.delete(id) };
  }

  /**
   * Fires `callback` at each matching second, as a one-shot timer re-armed after every run.
   * node-cron's own matcher decides, so a schedule means here what it means on the system clock.
   */
  schedule(expression: string, callback: () => void): Timer {
    checkCronExpression(expression);
    const matcher = createTask(expression, () => undefined, { timezone: CRON_TIMEZONE });
    const fields = parseCron(expression);
    const allowed = {
      second: new Set(fields.second),
      minute: new Set(fields.minute),
      hour: new Set(fields.hour),
    };
    const nextMatch = (): number => {
      const first = Math.floor(this.#now / 1000) * 1000 + 1000;
      // Second by second, skipping whole hours, minutes and days the fields rule out; the
      // matcher has the last word on every candidate.
      for (let at = first; at <= first + MANUAL_CRON_HORIZON_MS;) {
        const date = new Date(at);
        if (!allowed.hour.has(date.getUTCHours())) at = Math.floor(at / HOUR_MS + 1) * HOUR_MS;
        else if (!allowed.minute.has(date.getUTCMinutes()))
          at = Math.floor(at / 60_000 + 1) * 60_000;
        else if (!allowed.second.has(date.getUTCSeconds())) at += 1000;
        else if (matcher.match(date)) return at;
        else at = Math.floor(at / DAY_MS + 1) * DAY_MS; // the day fields rule out this day
      }
      throw new RangeError(`ManualClock.schedule: ${expression} does not match within a year`);
    };
    let current: Timer | undefined;
    let cancelled = false;
    const arm = (): void => {
      current = this.setTimeout(() => {
        callback();
        if (!cancelled) arm();
      }, nextMatch() - this.#now);
    };
    try {
      arm();
    } catch (error) {
      void matcher.destroy();
      throw error;
    }
    return {
      cancel: () => {
        cancelled = true;
        current?.cancel();
        void matcher.destroy();
      },
    };
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
