/** A handle returned by {@link SimClock.setTimer}. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * Time as the simulated cluster sees it: timestamps, kubelet delays, progress deadlines and Job backoff all read
 * it, so tests can move it forward instead of sleeping.
 */
export interface SimClock {
  /** Milliseconds since the epoch, in simulated time. */
  now(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
  /**
   * Moves simulated time forward by `ms`, firing due timers in order and letting the cluster react to each before
   * the next. On a real clock this only adds an offset (timers due earlier fire at once).
   */
  advance(ms: number): Promise<void>;
  /** Ratio of simulated to real time for a real clock (2 = twice as fast); a manual clock ignores it. */
  setSpeed(speed: number): void;
  readonly mode: 'real' | 'manual';
}

interface PendingTimer {
  id: number;
  due: number;
  fn: () => void;
}

type Settle = () => Promise<void>;

let nextTimerId = 1;

/** Real time, optionally sped up. Timers are node timers, unref'ed so a forgotten cluster never holds the process. */
export class RealClock implements SimClock {
  readonly mode = 'real' as const;
  private base = Date.now();
  private realBase = Date.now();
  private speed: number;
  private readonly timers = new Map<number, { timer: NodeJS.Timeout; due: number; fn: () => void }>();

  constructor(speed = 1) {
    this.speed = speed;
  }

  now(): number {
    return this.base + (Date.now() - this.realBase) * this.speed;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = nextTimerId++;
    this.arm(id, this.now() + Math.max(0, delayMs), fn);
    return { id };
  }

  private arm(id: number, due: number, fn: () => void): void {
    const wait = Math.max(0, (due - this.now()) / this.speed);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, wait);
    timer.unref();
    this.timers.set(id, { timer, due, fn });
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t.timer);
    this.timers.delete(handle.id);
  }

  setSpeed(speed: number): void {
    if (!(speed > 0)) throw new Error('kube-sim: clock speed must be positive');
    this.base = this.now();
    this.realBase = Date.now();
    this.speed = speed;
    this.rearm();
  }

  advance(ms: number): Promise<void> {
    this.base += ms;
    this.rearm();
    return Promise.resolve();
  }

  private rearm(): void {
    for (const [id, t] of [...this.timers]) {
      clearTimeout(t.timer);
      this.arm(id, t.due, t.fn);
    }
  }
}

/**
 * Time that only moves when told to. Zero-delay timers still run on their own (on the next macrotask) so that a
 * cluster whose kubelet delays are zero converges without anyone advancing the clock.
 */
export class ManualClock implements SimClock {
  readonly mode = 'manual' as const;
  private current: number;
  private readonly pending = new Map<number, PendingTimer>();
  private readonly settles = new Set<Settle>();
  private advancing: Promise<void> = Promise.resolve();

  constructor(start = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = nextTimerId++;
    if (delayMs <= 0) {
      const t: PendingTimer = { id, due: this.current, fn };
      this.pending.set(id, t);
      setImmediate(() => {
        if (this.pending.delete(id)) fn();
      });
    } else this.pending.set(id, { id, due: this.current + delayMs, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.pending.delete(handle.id);
  }

  setSpeed(): void {
    // A manual clock has no rate; accepted so callers need not know which clock a cluster uses.
  }

  /** Registers work that must quiesce between two timers (the cluster's controller queues). */
  onSettle(settle: Settle): () => void {
    this.settles.add(settle);
    return () => this.settles.delete(settle);
  }

  advance(ms: number): Promise<void> {
    // Serialised: two concurrent advances would otherwise interleave their timers out of order.
    const run = this.advancing.then(() => this.run(this.current + ms));
    this.advancing = run.catch(() => undefined);
    return run;
  }

  private async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((r) => setImmediate(r));
      await Promise.all([...this.settles].map((s) => s()));
    }
  }

  private async run(target: number): Promise<void> {
    await this.settle();
    for (;;) {
      let next: PendingTimer | undefined;
      for (const t of this.pending.values())
        if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
      if (!next) break;
      this.pending.delete(next.id);
      if (next.due > this.current) this.current = next.due;
      next.fn();
      await this.settle();
    }
    this.current = Math.max(this.current, target);
    await this.settle();
  }
}
