// A scrape applied from the previous one's template must be exactly what the full parse gives, and a
// body the template does not fit must be refused (then the full parse runs).

import { beforeAll, describe, expect, it } from 'vitest';
import { initHash } from '../../../src/shard/hash.js';
import type { SourceData } from '../../../src/shard/ingest.js';
import { StreamingIngest } from '../../../src/shard/stream-ingest.js';
import { plainValueEnd, ScrapeTemplate } from '../../../src/stream/scrape-template.js';
import { FlatWriter } from '../../../src/stream/served-bodies.js';

const LABELS: [string, string][] = [
  ['dc', 'x'],
  ['instance', 'a:1'],
  ['job', 'node'],
];

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

function full(body: string, ts: number, shards: number): SourceData {
  const ingest = new StreamingIngest('text', shards, LABELS, ts);
  ingest.write(Buffer.from(body, 'latin1'));
  return ingest.finish();
}

/** Everything served: per family and shard, both formats' bytes and the series count. */
function dump(d: SourceData): unknown {
  return {
    series: d.series,
    duplicates: d.duplicates,
    perShard: d.seriesPerShard,
    fixed: d.fixedLabels,
    families: [...d.families].map(([key, f]) => [
      key,
      f.info.textName,
      Array.from(f.parts, (p) =>
        p
          ? {
              series: p.series,
              om: Buffer.concat(p.om.buffers).toString('latin1'),
              text: Buffer.concat((p.text ?? p.om).buffers).toString('latin1'),
              split: p.split,
            }
          : null,
      ),
    ]),
  };
}

const BODY = (v: (i: number) => string) => `# HELP app_requests_total Requests "served".
# TYPE app_requests_total counter
app_requests_total{code="200",path="/a b"} ${v(0)}
app_requests_total{code="500",path="/a\\"b"} ${v(1)}
app_requests_total{ code = "404" , path="/c",} ${v(2)}
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.1"} ${v(3)}
app_latency_seconds_bucket{le="+Inf"} ${v(4)}
app_latency_seconds_sum ${v(5)}
app_latency_seconds_count ${v(6)}

# a comment
untyped_thing ${v(7)}
untyped_thing ${v(8)}
${Array.from({ length: 200 }, (_, i) => `many{i="${i}",job="own"} ${v(9 + i)}`).join('\n')}
`;

describe('scrape template', () => {
  beforeAll(() => initHash());

  it('serves a body that differs only in values exactly as the full parse does', () => {
    for (const shards of [1, 3]) {
      const first = BODY((i) => String(i * 7));
      const t = ScrapeTemplate.make(first, shards, LABELS);
      expect(t).toBeDefined();
      const values = ['0', '-1.5', '1e-05', '12345678901234567', '3.25E+10', '0.000001', '7', '42'];
      const next = BODY((i) => values[i % values.length]);
      const got = t!.apply(bytes(next), 1_765_000_000_123);
      expect(got).toBeDefined();
      expect(dump(got!)).toEqual(dump(full(next, 1_765_000_000_123, shards)));
      // A whole millisecond and one where the float needs care, both formats.
      const again = t!.apply(bytes(first), 1_765_000_000_000);
      expect(dump(again!)).toEqual(dump(full(first, 1_765_000_000_000, shards)));
      // The duplicate (untyped_thing twice) is dropped as the full parse drops it.
      expect(got!.duplicates).toBe(1);
    }
  });

  it('refuses a body that is not the same text around the values', () => {
    const first = BODY((i) => String(i));
    const t = ScrapeTemplate.make(first, 2, LABELS)!;
    expect(t.apply(bytes(first.replace('Requests', 'Requests!')), 1000)).toBeUndefined();
    expect(t.apply(bytes(first.replace('untyped_thing 8\n', '')), 1000)).toBeUndefined();
    expect(t.apply(bytes(`${first}extra 1\n`), 1000)).toBeUndefined();
    expect(t.apply(bytes(first.replace('app_latency_seconds_sum 5', 'app_latency_seconds_sum NaN')), 1000)).toBeUndefined();
    expect(t.apply(bytes(first.replace('app_latency_seconds_sum 5', 'app_latency_seconds_sum 5 1700000000000')), 1000)).toBeUndefined();
    expect(t.apply(bytes(first.replace('app_latency_seconds_sum 5', 'app_latency_seconds_sum +Inf')), 1000)).toBeUndefined();
    expect(t.apply(bytes(first.slice(0, -1)), 1000)).toBeUndefined();
    // Bodies it does not cover make no template: timestamps of their own, unusual values, no final newline.
    expect(ScrapeTemplate.make('x 1 1700000000000\n', 2, LABELS)).toBeUndefined();
    expect(ScrapeTemplate.make('x NaN\n', 2, LABELS)).toBeUndefined();
    expect(ScrapeTemplate.make('x 1', 2, LABELS)).toBeUndefined();
    expect(ScrapeTemplate.make('x{a="1"} not-a-number\n', 2, LABELS)).toBeUndefined();
  });

  it('refuses a body with any one byte of the text around the values changed, wherever it is', () => {
    const first = BODY((i) => String(i));
    const t = ScrapeTemplate.make(first, 2, LABELS)!;
    const body = bytes(first);
    // The values' own bytes may change; every other byte is the template's text.
    const isValue = new Uint8Array(body.length);
    for (const m of first.matchAll(/ (\d+)\n/g)) isValue.fill(1, m.index + 1, m.index + 1 + m[1].length);
    let checked = 0;
    for (let at = 0; at < body.length; at++) {
      if (isValue[at]) continue;
      const changed = Buffer.from(body);
      changed[at] = changed[at] === 0x7e ? 0x21 : changed[at] + 1;
      expect(t.apply(changed, 1000), `byte ${at}`).toBeUndefined();
      checked++;
    }
    expect(checked).toBeGreaterThan(4000);
    expect(t.apply(body, 1000)).toBeDefined();
  });

  it('writes the same bytes straight into a served body as it hands out as buffers', () => {
    const first = BODY((i) => String(i));
    const t = ScrapeTemplate.make(first, 2, LABELS)!;
    const got = t.apply(bytes(BODY((i) => String(i * 3.5))), 1_765_000_000_123)!;
    for (const f of got.families.values()) {
      for (const p of f.parts) {
        if (!p) continue;
        for (const sink of [p.om, p.text!]) {
          // Room for only part of it at first: the writer grows under the lines.
          const w = new FlatWriter(3);
          w.write('<>');
          sink.writeTo(w);
          expect(Buffer.concat(w.finish()).toString('latin1')).toBe(`<>${Buffer.concat(sink.buffers).toString('latin1')}`);
          expect(w.bytes).toBe(2 + sink.bytes);
          expect(sink.readRange(1, 9)).toBe(Buffer.concat(sink.buffers).toString('latin1').slice(1, 9));
        }
      }
    }
  });

  it('reads values byte by byte exactly as the plain-value expression does', () => {
    const PLAIN_VALUE = /^-?(?:0|[1-9]\d{0,17})(?:\.\d{1,30})?(?:[eE][+-]?\d{1,2})?$/;
    const cases = [
      '0',
      '-0',
      '00',
      '01',
      '1',
      '-1',
      '123456789012345678',
      '1234567890123456789',
      '1.',
      '.5',
      '1.5',
      '1.12345678901234567',
      '1.123456789012345678',
      '0.0012345678901234567',
      '0.123456789012345678901234567890',
      '0.1234567890123456789012345678901',
      '1e5',
      '1E+05',
      '1e-5',
      '1e123',
      '1e',
      '1e+',
      '-',
      '',
      ' 1',
      '1 ',
      'NaN',
      '+Inf',
      '+1',
      '1.5e-10',
      '0.0',
      '0x1',
      '1_0',
      '9'.repeat(18),
    ];
    for (const v of cases) {
      const b = bytes(`${v}\n`);
      expect([v, plainValueEnd(b, 0)]).toEqual([v, PLAIN_VALUE.test(v) ? v.length : -1]);
      // Without the newline (the body's end): never a value.
      expect(plainValueEnd(bytes(v), 0)).toBe(-1);
    }
  });
});
