// Downstream warnings carried to the fan-out: the header codec, and the sink that survives wrappers.

import { describe, expect, it } from 'vitest';
import { collectDownstreamWarnings, decodeWarningsHeader, encodeWarningsHeader, reportDownstreamWarnings } from '../../../src/query/downstream/warnings.js';

describe('downstream warnings', () => {
  it('round-trips through the header, non-Latin-1 text included, and cuts a huge list saying so', () => {
    const ws = ['server group "down" failed: target "h:1": request failed', 'température ✓'];
    const v = encodeWarningsHeader(ws);
    expect(/^[\x20-\x7e]*$/.test(v)).toBe(true);
    expect(decodeWarningsHeader(v)).toEqual(ws);
    const many = Array.from({ length: 1000 }, (_, i) => `warning number ${i}`);
    const cut = decodeWarningsHeader(encodeWarningsHeader(many));
    expect(cut.length).toBeLessThan(1000);
    expect(cut[cut.length - 1]).toMatch(/^\d+ more warnings left out$/);
    expect(decodeWarningsHeader('%7Bnot')).toEqual(['malformed x-promfront-warnings header']);
  });

  it('collects what is reported inside the call, through awaits, and nothing outside it', async () => {
    const a: string[] = [];
    const b: string[] = [];
    reportDownstreamWarnings(['lost']);
    await Promise.all([
      collectDownstreamWarnings(a, async () => {
        await new Promise((r) => setTimeout(r, 5));
        reportDownstreamWarnings(['from a']);
      }),
      collectDownstreamWarnings(b, async () => {
        reportDownstreamWarnings(['from b']);
        await Promise.resolve();
      }),
    ]);
    expect(a).toEqual(['from a']);
    expect(b).toEqual(['from b']);
  });
});
