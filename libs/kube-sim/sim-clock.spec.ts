import { describe, expect, it } from 'vitest';
import { ManualClock } from './sim-clock';

describe('ManualClock', () => {
  it('fires timers in due order, each at its own time, only when advanced', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(300, () => fired.push(`c@${clock.now()}`));
    clock.setTimer(100, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(50, () => fired.push(`b@${clock.now()}`));
    });
    const cancelled = clock.setTimer(200, () => fired.push('never'));
    clock.clearTimer(cancelled);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toEqual([]);
    await clock.advance(200);
    expect(fired).toEqual(['a@100', 'b@150']);
    expect(clock.now()).toBe(200);
    await clock.advance(100);
    expect(fired).toEqual(['a@100', 'b@150', 'c@300']);
  });

  it('runs zero-delay timers without being advanced', async () => {
    const clock = new ManualClock(0);
    let ran = false;
    clock.setTimer(0, () => (ran = true));
    await new Promise((r) => setImmediate(r));
    expect(ran).toBe(true);
  });
});
