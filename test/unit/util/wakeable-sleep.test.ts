import { describe, expect, it } from 'vitest';
import { WakeableSleep } from '../../../src/util/wakeable-sleep.js';

describe('WakeableSleep', () => {
  it('ends a long sleep at once when woken, and a short one by itself', async () => {
    const s = new WakeableSleep();
    const t0 = performance.now();
    const long = s.sleep(60_000);
    setTimeout(() => s.wake(), 20);
    await long;
    expect(performance.now() - t0).toBeLessThan(30_000);
    await s.sleep(5);
    s.wake(); // nothing in progress: no effect, no error
  });
});
