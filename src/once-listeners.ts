/** Callbacks waiting for one event per key (a task's end, a workflow's end), each called once. */
export class OnceListeners<T> {
  readonly #byKey = new Map<string, Set<(value: T) => void>>();

  /** Calls `fn` once when `key` fires; returns what undoes it. */
  add(key: string, fn: (value: T) => void): () => void {
    let set = this.#byKey.get(key);
    if (!set) this.#byKey.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (!set.size && this.#byKey.get(key) === set) this.#byKey.delete(key);
    };
  }

  /** Calls, and forgets, every callback waiting for `key`. */
  fire(key: string, value: T) {
    const set = this.#byKey.get(key);
    this.#byKey.delete(key);
    for (const fn of set ?? []) fn(value);
  }

  /** Callbacks waiting, over every key (for leak checks). */
  get size() {
    let n = 0;
    for (const set of this.#byKey.values()) n += set.size;
    return n;
  }
}
