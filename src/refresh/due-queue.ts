/**
 * Callbacks due at given clock times, kept in a binary min-heap and driven by one clock timer
 * set for the earliest. Ten thousand refreshes then cost ten thousand small heap nodes rather
 * than ten thousand Node timers (each with a different delay, each its own timer list).
 *
 * A key has at most one pending callback: scheduling it again replaces the earlier one, which
 * stays in the heap until it surfaces and is then skipped.
 */
import type { Clock, Timer } from '../clock.js';

interface Node {
  readonly at: number;
  readonly id: string;
  readonly seq: number;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class DueQueue {
  readonly #clock: Clock;
  readonly #heap: Node[] = [];
  readonly #pending = new Map<string, Pending>();
  #seq = 0;
  #timer: Timer | undefined;
  #timerAt = Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Runs `run` at clock time `at` (or soon, if that has passed), replacing any pending one for `id`. */
  schedule(id: string, at: number, run: () => void): void {
    const seq = ++this.#seq;
    this.#pending.set(id, { at, seq, run });
    this.#push({ at, id, seq });
    this.#compactIfStale();
    if (at < this.#timerAt) this.#arm();
  }

  /** Drops the pending callback of `id`, if any. */
  cancel(id: string): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.clear();
    else this.#compactIfStale();
  }

  /** Nodes in the heap, pending or replaced (for tests). */
  get heapSize(): number {
    return this.#heap.length;
  }

  /** Rebuilds the heap from the pending callbacks once replaced nodes outnumber them. */
  #compactIfStale(): void {
    if (this.#heap.length <= 2 * this.#pending.size + 64) return;
    this.#heap.length = 0;
    for (const [id, { at, seq }] of this.#pending) this.#push({ at, id, seq });
    this.#arm();
  }

  /** When the callback of `id` is due, if one is pending. */
  dueAt(id: string): number | undefined {
    return this.#pending.get(id)?.at;
  }

  /** Drops every pending callback and the timer. */
  clear(): void {
    this.#pending.clear();
    this.#heap.length = 0;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  get size(): number {
    return this.#pending.size;
  }

  #arm(): void {
    this.#timer?.cancel();
    const top = this.#heap[0];
    if (!top) {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    this.#timerAt = top.at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), top.at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    const due: (() => void)[] = [];
    for (let top = this.#heap[0]; top && top.at <= now; top = this.#heap[0]) {
      this.#pop();
      const pending = this.#pending.get(top.id);
      if (pending?.seq === top.seq) {
        this.#pending.delete(top.id);
        due.push(pending.run);
      }
    }
    this.#arm();
    for (const run of due) run();
  }

  #push(node: Node): void {
    const heap = this.#heap;
    heap.push(node);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent];
      if (!above || !before(node, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = node;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = last;
      let at = -1;
      const l = heap[left];
      const r = heap[right];
      if (l && before(l, smallest)) {
        smallest = l;
        at = left;
      }
      if (r && before(r, smallest)) {
        smallest = r;
        at = right;
      }
      if (at === -1) break;
      heap[i] = smallest;
      i = at;
    }
    heap[i] = last;
  }
}

/** Earlier first; at equal times, in the order scheduled. */
function before(a: Node, b: Node): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
