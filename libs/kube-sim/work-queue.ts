/**
 * Deduplicating queue of reconcile calls, drained on the next macrotask. Controllers enqueue a key per object they
 * need to look at; many store events for one object within a tick cost one reconcile.
 */
export class WorkQueue {
  private readonly queued = new Map<string, () => void>();
  private scheduled = false;
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly onError: (key: string, err: unknown) => void) {}

  enqueue(key: string, fn: () => void): void {
    // Re-inserting moves nothing: the first position keeps its turn, the latest closure wins.
    this.queued.set(key, fn);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    this.draining = true;
    let budget = 10_000;
    while (this.queued.size > 0 && budget-- > 0) {
      const first = this.queued.entries().next();
      if (first.done) break;
      const [key, fn] = first.value;
      this.queued.delete(key);
      try {
        fn();
      } catch (err) {
        this.onError(key, err);
      }
    }
    this.draining = false;
    if (this.queued.size > 0) this.schedule();
    else {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  get size(): number {
    return this.queued.size;
  }

  /** Resolves once nothing is queued. */
  whenIdle(): Promise<void> {
    if (this.queued.size === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
