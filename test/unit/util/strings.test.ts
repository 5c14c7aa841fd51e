import { describe, expect, it } from 'vitest';
import { detach } from '../../../src/util/strings.js';

describe('detach', () => {
  it('returns the same text for short, scratch-sized and long strings, latin1 bytes included', () => {
    const body = `${'x'.repeat(1000)}metric_123456 caf\u00e9_\u00ff\u0080 ${'y'.repeat(300)}`;
    for (const [start, end] of [
      [1000, 1005], // under 13: returned as it is
      [1000, 1013], // the shortest sliced string
      [1000, 1022], // with chars from 0x80 to 0xff
      [900, 1156], // exactly the scratch buffer's size
      [700, 1323], // longer than the scratch buffer
    ]) {
      const s = body.slice(start, end);
      expect(detach(s)).toBe(s);
    }
    expect(detach(undefined)).toBeUndefined();
    // One after another: the reused buffer must not leak a longer predecessor's tail.
    expect(detach('abcdefghijklmnopqrstuvwxyz')).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(detach('0123456789abcd')).toBe('0123456789abcd');
  });
});
