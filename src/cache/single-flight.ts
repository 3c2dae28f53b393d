/**
 * At most one pending call per key: concurrent callers share the first caller's promise.
 * The entry is removed when the call settles, so the next call after that starts afresh.
 */
export class SingleFlight<T> {
  readonly #pending = new Map<string, Promise<T>>();

  /** The pending call for `id`, if any. */
  pending(id: string): Promise<T> | undefined {
    return this.#pending.get(id);
  }

  /** Joins the pending call for `id`, or starts `call` as the one; `joined` tells which. */
  run(id: string, call: () => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const existing = this.#pending.get(id);
    if (existing) return { promise: existing, joined: true };
    const promise: Promise<T> = Promise.resolve()
      .then(call)
      .finally(() => {
        if (this.#pending.get(id) === promise) this.#pending.delete(id);
      });
    this.#pending.set(id, promise);
    return { promise, joined: false };
  }

  get size(): number {
    return this.#pending.size;
  }
}
