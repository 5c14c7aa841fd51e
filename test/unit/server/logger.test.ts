// The log line formats: logfmt (default) and JSON lines, both with level names and ISO times.

import { describe, expect, it } from 'vitest';
import { createLogger, jsonLineToLogfmt } from '../../../src/server/logger.js';

function capture(format?: 'logfmt' | 'json') {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format, destination: { write: (l: string) => void lines.push(l) } });
  return { lines, log };
}

const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;

describe('logger', () => {
  it('writes logfmt by default: ts, level name, component, msg first, then the fields, quoted where needed', () => {
    const { lines, log } = capture();
    log
      .child({ component: 'shard' })
      .warn(
        { source: 'http://a:9100/metrics', reason: 'timeout', err: 'timeout after 10s (no "answer")', n: 3, ok: false, groups: ['a', 'b'] },
        'scrape failed',
      );
    log.debug('not shown at info');
    expect(lines).toHaveLength(1);
    const line = lines[0];
    expect(line).toMatch(new RegExp(`^ts=${ISO.source} level=warn component=shard msg="scrape failed" `));
    expect(line).toContain(' source=http://a:9100/metrics reason=timeout err="timeout after 10s (no \\"answer\\")" n=3 ok=false groups="[\\"a\\",\\"b\\"]"\n');
    expect(line.split('\n')).toHaveLength(2);
  });

  it('keeps a multi-line value on one line', () => {
    expect(jsonLineToLogfmt('{"level":"error","msg":"a\\nb","v":""}')).toBe('level=error msg="a\\nb" v=""\n');
  });

  it('writes JSON lines with --log.format=json: level names, ts in ISO 8601, no pid or hostname', () => {
    const { lines, log } = capture('json');
    log.info({ listen: '127.0.0.1:9099' }, 'promfront listening');
    const obj = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(obj).toEqual({ level: 'info', ts: expect.stringMatching(ISO), listen: '127.0.0.1:9099', msg: 'promfront listening' });
  });
});
