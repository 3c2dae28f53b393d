/**
 * Payloads due at given clock times, kept in a binary min-heap and handed to one callback by
 * one clock timer set for the earliest. Ten thousand refreshes then cost ten thousand small heap
 * nodes rather than ten thousand Node timers (each with a different delay, each its own timer
 * list), and no closure each: a node is the only object per key.
 *
 * A key has at most one pending node: scheduling it again replaces the earlier one, which stays
 * in the heap until it surfaces and is then skipped.
 */
import type { Clock, Timer } from '../clock.js';

interface Node<T> {
  readonly at: number;
  readonly id: string;
  readonly seq: number;
  readonly payload: T;
}

export class DueQueue<T> {
  readonly #clock: Clock;
  readonly #onDue: (payload: T) => void;
  readonly #heap: Node<T>[] = [];
  /** The pending node of each id; a node in the heap that is not here was replaced or cancelled. */
  readonly #pending = new Map<string, Node<T>>();
  #seq = 0;
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
    const node = { at, id, seq: ++this.#seq, payload };
    this.#pending.set(id, node);
    this.#push(node);
    this.#compactIfStale();
    if (at < this.#timerAt) this.#arm();
  }

  /** Drops the pending payload of `id`, if any. */
  cancel(id: string): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.clear();
    else this.#compactIfStale();
  }

  /** Nodes in the heap, pending or replaced (for tests). */
  get heapSize(): number {
    return this.#heap.length;
  }

  /** Rebuilds the heap from the pending nodes once replaced nodes outnumber them. */
  #compactIfStale(): void {
    if (this.#heap.length <= 2 * this.#pending.size + 64) return;
    this.#heap.length = 0;
    for (const node of this.#pending.values()) this.#push(node);
    this.#arm();
  }

  /** When the payload of `id` is due, if one is pending. */
  dueAt(id: string): number | undefined {
    return this.#pending.get(id)?.at;
  }

  /** Ids with a pending payload. */
  ids(): IterableIterator<string> {
    return this.#pending.keys();
  }

  /** Drops every pending payload and the timer. */
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
    const due: T[] = [];
    for (let top = this.#heap[0]; top && top.at <= now; top = this.#heap[0]) {
      this.#pop();
      if (this.#pending.get(top.id) === top) {
        this.#pending.delete(top.id);
        due.push(top.payload);
      }
    }
    this.#arm();
    for (const payload of due) this.#onDue(payload);
  }

  #push(node: Node<T>): void {
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
function before<T>(a: Node<T>, b: Node<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
