// Rebuilding a group from Pushgateway's /api/v1/metrics JSON (src/push/group-text.ts) and the
// resendable push body (src/push/forward.ts ReplayBody).
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PushBodyTooLargeError } from '../../../src/errors.js';
import { ReplayBody } from '../../../src/push/forward.js';
import { type ApiGroup, groupText, pushTime } from '../../../src/push/group-text.js';

// The shape Pushgateway 1.5.1 answers (recorded from the Debian binary's /api/v1/metrics).
const group: ApiGroup = {
  labels: { job: 'shape', inst: '1' },
  last_push_successful: true,
  h: {
    type: 'HISTOGRAM',
    help: 'a "hist"\\ with\nnewline',
    metrics: [{ buckets: { '1': '1' }, count: '2', sum: '3', labels: { inst: '1', instance: '', job: 'shape' } }],
  },
  s: { type: 'SUMMARY', metrics: [{ quantiles: { '0.5': '1' }, count: '3', sum: '2', labels: { inst: '1', instance: '', job: 'shape', k: 'v' } }] },
  c: { type: 'COUNTER', metrics: [{ labels: { a: 'x"y\\z\n', inst: '1', instance: '', job: 'shape' }, value: '5' }] },
  u: { type: 'UNTYPED', metrics: [{ labels: { instance: '', job: 'shape', inst: '1' }, value: 'NaN' }] },
  push_time_seconds: { type: 'GAUGE', metrics: [{ labels: { job: 'shape', inst: '1', instance: '' }, value: '1.7965851899123137e+09' }] },
  push_failure_time_seconds: { type: 'GAUGE', metrics: [{ labels: { job: 'shape', inst: '1', instance: '' }, value: '0' }] },
};

describe('groupText', () => {
  it("writes every family with its type, help and values, without the group's labels or Pushgateway's own families", () => {
    expect(groupText(group)).toBe(
      [
        '# HELP h a "hist"\\\\ with\\nnewline',
        '# TYPE h histogram',
        'h_bucket{le="1"} 1',
        'h_bucket{le="+Inf"} 2',
        'h_sum 3',
        'h_count 2',
        '# TYPE s summary',
        's{k="v",quantile="0.5"} 1',
        's_sum{k="v"} 2',
        's_count{k="v"} 3',
        '# TYPE c counter',
        'c{a="x\\"y\\\\z\\n"} 5',
        '# TYPE u untyped',
        'u NaN',
        '',
      ].join('\n'),
    );
  });

  it('writes only the families asked for', () => {
    expect(groupText(group, new Set(['c']))).toBe('# TYPE c counter\nc{a="x\\"y\\\\z\\n"} 5\n');
  });

  it('reads the push time', () => {
    expect(pushTime(group)).toBeCloseTo(1796585189.9123137, 3);
    expect(pushTime({ labels: { job: 'x' } })).toBe(0);
  });
});

describe('ReplayBody', () => {
  const chunks = ['alpha ', 'beta ', 'gamma'];
  const collect = async (it: AsyncIterable<Buffer>) => {
    let s = '';
    for await (const c of it) s += c.toString();
    return s;
  };

  it('gives a second pass every byte again, including those the first pass left unread', async () => {
    const body = new ReplayBody(Readable.from(chunks.map((c) => Buffer.from(c))), 1024);
    const first = body.stream();
    expect((await first.next()).value?.toString()).toBe('alpha ');
    await first.return(undefined);
    expect(await collect(body.stream())).toBe('alpha beta gamma');
    expect(await collect(body.stream())).toBe('alpha beta gamma');
  });

  it('fails past the limit and says so', async () => {
    const body = new ReplayBody(Readable.from(chunks.map((c) => Buffer.from(c))), 8);
    await expect(collect(body.stream())).rejects.toBeInstanceOf(PushBodyTooLargeError);
    expect(body.clientFailure).toBeInstanceOf(PushBodyTooLargeError);
  });
});
