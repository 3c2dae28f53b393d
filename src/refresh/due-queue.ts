/**
 * Payloads due at given clock times, kept in a binary min-heap and handed to one callback by
 * one clock timer set for the earliest. Ten thousand refreshes then cost ten thousand places in
 * the heap rather than ten thousand Node timers (each with a different delay, each its own timer
 * list), and no object each: the heap is four parallel arrays (due time, order of scheduling, id,
 * payload; the times unboxed in a double array), and a map from id to its place. A key has at
 * most one pending payload: scheduling it again moves its place, cancelling it removes it, so the
 * heap never holds replaced payloads.
 */
import type { Clock, Timer } from '../clock.js';

export class DueQueue<T> {
  readonly #clock: Clock;
  readonly #onDue: (payload: T) => void;
  /** The heap, by place: due time, then order of scheduling at equal times. */
  readonly #at: number[] = [];
  readonly #seq: number[] = [];
  readonly #ids: string[] = [];
  readonly #payloads: T[] = [];
  /** The place in the heap of each pending id. */
  readonly #places = new Map<string, number>();
  #nextSeq = 0;
  #timer: Timer | undefined;
  #timerAt = Infinity;

  /** `onDue` is given each payload when it falls due. */
  constructor(clock: Clock, onDue: (payload: T) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /**
   * Hands `payload` to `onDue` at clock time `at` (or soon, if that has passed), replacing any
   * pending one for `id`.
   */
  schedule(id: string, at: number, payload: T): void {
    const seq = ++this.#nextSeq;
    let place = this.#places.get(id);
    if (place === undefined) {
      place = this.#ids.length;
      this.#at.push(at);
      this.#seq.push(seq);
      this.#ids.push(id);
      this.#payloads.push(payload);
      this.#places.set(id, place);
      this.#up(place);
    } else {
      this.#at[place] = at;
      this.#seq[place] = seq;
      this.#payloads[place] = payload;
      this.#down(this.#up(place));
    }
    this.#arm();
  }

  /** Drops the pending payload of `id`, if any. */
  cancel(id: string): void {
    const place = this.#places.get(id);
    if (place === undefined) return;
    this.#remove(place);
    if (this.#ids.length === 0) this.clear();
  }

  /** Places in the heap (for tests): one per pending payload. */
  get heapSize(): number {
    return this.#ids.length;
  }

  /** When the payload of `id` is due, if one is pending. */
  dueAt(id: string): number | undefined {
    const place = this.#places.get(id);
    return place === undefined ? undefined : this.#at[place];
  }

  /** Ids with a pending payload. */
  ids(): IterableIterator<string> {
    return this.#places.keys();
  }

  /** Drops every pending payload and the timer. */
  clear(): void {
    this.#places.clear();
    this.#at.length = 0;
    this.#seq.length = 0;
    this.#ids.length = 0;
    this.#payloads.length = 0;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  get size(): number {
    return this.#ids.length;
  }

  /** The timer for the earliest due time, unless it is set for it already. */
  #arm(): void {
    const top = this.#at[0];
    if (top === this.#timerAt && this.#timer) return;
    this.#timer?.cancel();
    if (top === undefined) {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    this.#timerAt = top;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), top - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    const due: T[] = [];
    while (this.#ids.length > 0 && (this.#at[0] as number) <= now) {
      due.push(this.#payloads[0] as T);
      this.#remove(0);
    }
    this.#arm();
    for (const payload of due) this.#onDue(payload);
  }

  /** Takes the payload at `place` out of the heap. */
  #remove(place: number): void {
    this.#places.delete(this.#ids[place] as string);
    const last = this.#ids.length - 1;
    if (place !== last) {
      this.#move(last, place);
      this.#down(this.#up(place));
    }
    this.#at.pop();
    this.#seq.pop();
    this.#ids.pop();
    this.#payloads.pop();
  }

  /** Copies what is at `from` to `to`, and records `to` as its place. */
  #move(from: number, to: number): void {
    this.#at[to] = this.#at[from] as number;
    this.#seq[to] = this.#seq[from] as number;
    const id = this.#ids[from] as string;
    this.#ids[to] = id;
    this.#payloads[to] = this.#payloads[from] as T;
    this.#places.set(id, to);
  }

  /** Earlier first; at equal times, in the order scheduled. */
  #before(a: number, b: number): boolean {
    const at = this.#at as number[];
    const aAt = at[a] as number;
    const bAt = at[b] as number;
    return aAt < bAt || (aAt === bAt && (this.#seq[a] as number) < (this.#seq[b] as number));
  }

  #swap(a: number, b: number): void {
    const at = this.#at[a] as number;
    const seq = this.#seq[a] as number;
    const id = this.#ids[a] as string;
    const payload = this.#payloads[a] as T;
    this.#move(b, a);
    this.#at[b] = at;
    this.#seq[b] = seq;
    this.#ids[b] = id;
    this.#payloads[b] = payload;
    this.#places.set(id, b);
  }

  /** Moves the payload at `place` up while it is due before its parent; returns its place. */
  #up(place: number): number {
    let i = place;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
    return i;
  }

  /** Moves the payload at `place` down while a child is due before it. */
  #down(place: number): void {
    const size = this.#ids.length;
    let i = place;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < size && this.#before(left, smallest)) smallest = left;
      if (right < size && this.#before(right, smallest)) smallest = right;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }
}
