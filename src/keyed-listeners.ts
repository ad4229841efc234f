/** Callbacks by key: those waiting for one event per key (a task's end), and those taking every event of a key (a workflow's). */

/** Callbacks per key, each called with every value fired for its key until it is undone. */
export class KeyedListeners<T> {
  protected readonly byKey = new Map<string, Set<(value: T) => void>>();

  /** Calls `fn` when `key` fires; returns what undoes it. */
  add(key: string, fn: (value: T) => void): () => void {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (!set.size && this.byKey.get(key) === set) this.byKey.delete(key);
    };
  }

  /** Whether anything listens to `key`. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Calls every callback of `key` (a callback may undo itself meanwhile). */
  fire(key: string, value: T) {
    for (const fn of [...(this.byKey.get(key) ?? [])]) fn(value);
  }

  /** Calls every callback of every key. */
  fireAll(value: T) {
    for (const key of [...this.byKey.keys()]) this.fire(key, value);
  }

  /** Callbacks waiting, over every key (for leak checks). */
  get size() {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }
}

/** Callbacks waiting for one event per key (a task's end, a workflow's end), each called once. */
export class OnceListeners<T> extends KeyedListeners<T> {
  /** Calls, and forgets, every callback waiting for `key`. */
  override fire(key: string, value: T) {
    const set = this.byKey.get(key);
    this.byKey.delete(key);
    for (const fn of set ?? []) fn(value);
  }
}
