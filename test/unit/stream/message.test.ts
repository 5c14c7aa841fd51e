// The published scrape's wire form: subject tokens that cannot split or widen a subject, headers
// read back with every missing or malformed one named, and the body's size bound on decompression.

import { describe, expect, it } from 'vitest';
import { compress, decompress, HEADER, readHeaders, scrapeSubject, subjectToken } from '../../../src/stream/message.js';

function getter(h: Record<string, string>): (name: string) => string {
  return (name) => h[name] ?? '';
}

const good = {
  [HEADER.publisher]: 'edge-1',
  [HEADER.job]: 'node',
  [HEADER.instance]: '10.0.0.1:9100',
  [HEADER.scrapeTime]: '1700000000123',
  [HEADER.duration]: '0.25',
  [HEADER.result]: 'success',
  [HEADER.labels]: '{"dc":"eu"}',
  [HEADER.contentEncoding]: 'gzip',
};

describe('stream message', () => {
  it('escapes subject tokens', () => {
    expect(subjectToken('10.0.0.1:9100')).toBe('10%2E0%2E0%2E1%3A9100');
    expect(subjectToken('a*b>c d')).toBe('a%2Ab%3Ec%20d');
    expect(subjectToken('ü')).toBe('%C3%BC');
    expect(scrapeSubject('promfront.scrapes', 'e1', 'node', 'h:1')).toBe('promfront.scrapes.e1.node.h%3A1');
  });
  it('reads good headers', () => {
    expect(readHeaders(getter(good))).toEqual({
      publisher: 'edge-1',
      job: 'node',
      instance: '10.0.0.1:9100',
      labels: { dc: 'eu' },
      labelsText: good[HEADER.labels],
      scrapeTimeMs: 1700000000123,
      durationSecs: 0.25,
      success: true,
      error: undefined,
      contentType: undefined,
    });
  });
  it('names what is wrong', () => {
    expect(() => readHeaders(getter({ ...good, [HEADER.job]: '' }))).toThrow('missing header Promfront-Job');
    expect(() => readHeaders(getter({ ...good, [HEADER.scrapeTime]: 'yesterday' }))).toThrow('Promfront-Scrape-Time is not Unix milliseconds');
    expect(() => readHeaders(getter({ ...good, [HEADER.labels]: '{"a":1}' }))).toThrow('not an object of strings');
    expect(() => readHeaders(getter({ ...good, [HEADER.result]: 'maybe' }))).toThrow('neither success nor failure');
    expect(() => readHeaders(getter({ ...good, [HEADER.contentEncoding]: 'br' }))).toThrow('unsupported Content-Encoding "br"');
  });
  it('bounds decompression', async () => {
    const body = Buffer.alloc(100_000, 'a');
    const z = await compress(body, 6);
    expect(z.length).toBeLessThan(1000);
    expect(decompress(z, 100_000).equals(body)).toBe(true);
    expect(() => decompress(z, 99_999)).toThrow(RangeError);
  });
});
