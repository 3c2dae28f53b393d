/**
 * The one source of time. Everything that reads the time or waits for it takes a `Clock`,
 * so that tests can drive refresh schedules, expiry and fault latencies in virtual time
 * without sleeping.
 */
import { createTask, parse as parseCron, validate as isCronExpression } from 'node-cron';

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

/** How far ahead a cron expression's next match is looked for (a leap year). */
const CRON_HORIZON_MS = 366 * 86_400_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The matching seconds of a six-field cron expression, read in UTC. Seconds, minutes and hours
 * are checked here, on the date's UTC fields; node-cron's own matcher has the last word on the
 * day fields, and is only made when the expression restricts them: it formats every date it
 * checks with `Intl.DateTimeFormat`, whose first use maps about 6 MB of ICU data and code into
 * the process. The housekeeping schedule (every 15 s) never needs it.
 */
class CronMatches {
  readonly #second: ReadonlySet<number>;
  readonly #minute: ReadonlySet<number>;
  readonly #hour: ReadonlySet<number>;
  readonly #days: ReturnType<typeof createTask> | undefined;

  constructor(readonly expression: string) {
    if (!isCronExpression(expression)) {
      throw new RangeError(`schedule: ${JSON.stringify(expression)} is not a cron expression`);
    }
    const fields = parseCron(expression);
    this.#second = new Set(fields.second);
    this.#minute = new Set(fields.minute);
    this.#hour = new Set(fields.hour);
    const everyDay =
      everyOf(fields.dayOfMonth, 1, 31) &&
      everyOf(fields.month, 1, 12) &&
      everyOf(fields.dayOfWeek, 0, 6);
    this.#days = everyDay
      ? undefined
      : createTask(expression, () => undefined, { timezone: CRON_TIMEZONE });
  }

  /** The first matching second after the second `afterMs` falls in; throws past the horizon. */
  next(afterMs: number): number {
    const first = Math.floor(afterMs / 1000) * 1000 + 1000;
    // Second by second, skipping whole hours, minutes and days the fields rule out.
    for (let at = first; at <= first + CRON_HORIZON_MS;) {
      const date = new Date(at);
      if (!this.#hour.has(date.getUTCHours())) at = Math.floor(at / HOUR_MS + 1) * HOUR_MS;
      else if (!this.#minute.has(date.getUTCMinutes())) at = Math.floor(at / 60_000 + 1) * 60_000;
      else if (!this.#second.has(date.getUTCSeconds())) at += 1000;
      else if (!this.#days || this.#days.match(date)) return at;
      else at = Math.floor(at / DAY_MS + 1) * DAY_MS; // the day fields rule out this day
    }
    throw new RangeError(`schedule: ${this.expression} does not match within a year`);
  }

  destroy(): void {
    void this.#days?.destroy();
  }
}

/** Whether a parsed field holds every value from `min` to `max` (and nothing else). */
function everyOf(values: readonly (number | string)[], min: number, max: number): boolean {
  const set = new Set(values);
  if (set.size !== max - min + 1) return false;
  for (let value = min; value <= max; value++) if (!set.has(value)) return false;
  return true;
}

/**
 * Runs `callback` at each match of `matches`, as a chain of one-shot timers on `setTimer`,
 * each re-armed after its run, even one that throws (from the later of the time it ran and the
 * time it was due, so a timer that fires a little early does not fire twice for one second).
 */
function cronTimer(
  matches: CronMatches,
  now: () => number,
  setTimer: (callback: () => void, delayMs: number) => Timer,
  callback: () => void,
): Timer {
  let current: Timer | undefined;
  let cancelled = false;
  const arm = (after: number): void => {
    const due = matches.next(after);
    current = setTimer(() => {
      try {
        callback();
      } finally {
        if (!cancelled) arm(Math.max(now(), due));
      }
    }, due - now());
  };
  try {
    arm(now());
  } catch (error) {
    matches.destroy();
    throw error;
  }
  return {
    cancel: () => {
      cancelled = true;
      current?.cancel();
      matches.destroy();
    },
  };
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
    return cronTimer(new CronMatches(expression), Date.now, systemClock.setTimeout, callback);
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
   * Fires `callback` at each matching second, as a one-shot timer re-armed after every run,
   * on the same matches as the system clock.
   */
  schedule(expression: string, callback: () => void): Timer {
    return cronTimer(
      new CronMatches(expression),
      () => this.#now,
      (run, delayMs) => this.setTimeout(run, delayMs),
      callback,
    );
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
