// A failure that repeats is logged when it starts, as a reminder every few minutes, and when it ends.

import { describe, expect, it } from 'vitest';
import { RepeatedFailureLog } from '../../../src/util/failure-log.js';

function recorder() {
  const lines: [string, string, Record<string, unknown>][] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push([level, msg, obj as Record<string, unknown>]);
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('RepeatedFailureLog', () => {
  it('logs the first failure, a reminder once the period passed, and the recovery once', () => {
    const { lines, log } = recorder();
    let now = 1_000_000;
    const f = new RepeatedFailureLog(log, 'warn', 60_000, () => now);
    f.failed('a', { source: 'a' }, 'scrape failed');
    for (let i = 0; i < 5; i++) {
      now += 10_000;
      f.failed('a', { source: 'a' }, 'scrape failed');
    }
    expect(lines.map((l) => l[1])).toEqual(['scrape failed']);
    now += 10_000; // 60 s after the first line
    f.failed('a', { source: 'a' }, 'scrape failed');
    expect(lines[1]).toEqual(['warn', 'scrape failed (still failing)', { source: 'a', failures: 7, failing_since: new Date(1_000_000).toISOString() }]);
    now += 5_000;
    f.succeeded('a', { source: 'a' }, 'scrape succeeded again');
    f.succeeded('a', { source: 'a' }, 'scrape succeeded again');
    expect(lines.slice(2)).toEqual([['info', 'scrape succeeded again', { source: 'a', failures: 7, failed_for_secs: 65 }]]);
    expect(f.isFailing('a')).toBe(false);
  });

  it('keeps keys apart and never logs a success that followed no failure', () => {
    const { lines, log } = recorder();
    const f = new RepeatedFailureLog(log, 'error');
    f.succeeded('a', {}, 'ok');
    f.failed('a', {}, 'a broke');
    f.failed('b', {}, 'b broke');
    f.failed('a', {}, 'a broke');
    expect(lines.map((l) => [l[0], l[1]])).toEqual([
      ['error', 'a broke'],
      ['error', 'b broke'],
    ]);
  });
});
