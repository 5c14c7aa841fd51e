// The demo's synthetic Ceph-like exporter: body size per series, the same series in both formats, families, determinism.

import { gunzipSync } from 'node:zlib';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXED_SERIES, generateExposition, negotiateFormat, startSyntheticExporter, type SyntheticExporter } from '../../../dev/synthetic.js';

const T0 = 1_700_000_002_000;

interface Line {
  name: string;
  labels: string;
  value: number;
  ts: string | undefined;
}

/** Just enough parsing for these checks: name, raw label text, value, timestamp. */
function samples(text: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)(?: (\S+))?$/.exec(line);
    if (!m) throw new Error(`unparseable line: ${line}`);
    out.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]), ts: m[4] });
  }
  return out;
}

function seriesKey(s: Line): string {
  return s.name + s.labels;
}

describe('generateExposition', () => {
  it.each([1000, 50_000])('produces %i series (±2%%) in both formats', (n) => {
    for (const format of ['text', 'openmetrics'] as const) {
      const s = samples(generateExposition({ series: n, format, timeMs: T0 }));
      expect(Math.abs(s.length - n) / n).toBeLessThanOrEqual(0.02);
      expect(new Set(s.map(seriesKey)).size).toBe(s.length);
    }
  });

  it('averages roughly 100–130 bytes per series', () => {
    const text = generateExposition({ series: 50_000, format: 'text', timeMs: T0 });
    const perSeries = Buffer.byteLength(text) / 50_000;
    expect(perSeries).toBeGreaterThanOrEqual(100);
    expect(perSeries).toBeLessThanOrEqual(130);
  });

  it('is deterministic and depends on the seed and the step only', () => {
    const a = generateExposition({ series: 5000, format: 'text', timeMs: T0, seed: 3 });
    expect(generateExposition({ series: 5000, format: 'text', timeMs: T0, seed: 3 })).toBe(a);
    // Same 5 s step.
    expect(generateExposition({ series: 5000, format: 'text', timeMs: T0 + 2900, seed: 3 })).toBe(a);
    expect(generateExposition({ series: 5000, format: 'text', timeMs: T0, seed: 4 })).not.toBe(a);
    expect(generateExposition({ series: 5000, format: 'text', timeMs: T0 + 5000, seed: 3 })).not.toBe(a);
  });

  it('has the same series and values in text and OpenMetrics', () => {
    const text = samples(generateExposition({ series: 3000, format: 'text', timeMs: T0 }));
    const om = samples(generateExposition({ series: 3000, format: 'openmetrics', timeMs: T0 }));
    expect(om.map((s) => `${seriesKey(s)} ${s.value}`)).toEqual(text.map((s) => `${seriesKey(s)} ${s.value}`));
  });

  it('declares every family and uses the format-specific counter, info, stateset and unit conventions', () => {
    const text = generateExposition({ series: 3000, format: 'text', timeMs: T0 });
    const om = generateExposition({ series: 3000, format: 'openmetrics', timeMs: T0 });
    expect(text).toContain('# TYPE ceph_osd_op_w_total counter\n');
    expect(om).toContain('# TYPE ceph_osd_op_w counter\n');
    expect(om).toMatch(/\nceph_osd_op_w_total\{/);
    expect(om).toContain('# UNIT ceph_osd_op_r_latency_seconds seconds\n');
    expect(text).not.toContain('# UNIT');
    expect(om).toContain('# TYPE ceph_cluster info\n');
    expect(om).toContain('# TYPE ceph_health_state stateset\n');
    expect(text).toContain('# TYPE ceph_cluster_info gauge\n');
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(text).not.toContain('# EOF');
    // Escapes and UTF-8 in label values, an escaped backslash in a HELP.
    expect(text).toContain('\\"prod\\"');
    expect(text).toContain('C:\\\\ceph\\\\fs');
    expect(text).toContain('metadata\\nreplicated');
    expect(text).toContain('東京');
    expect(text).toMatch(/# HELP \S+ .*C:\\\\ceph/);

    for (const body of [text, om]) {
      const declared = new Set<string>();
      const helped = new Set<string>();
      const seen: string[] = [];
      for (const line of body.split('\n')) {
        const t = /^# TYPE (\S+) (\S+)$/.exec(line);
        if (t) declared.add(t[1]);
        const h = /^# HELP (\S+) /.exec(line);
        if (h) helped.add(h[1]);
        if (t) seen.push(t[1]);
      }
      expect([...declared].sort()).toEqual([...helped].sort());
      // Families are declared once (contiguous).
      expect(new Set(seen).size).toBe(seen.length);
      // Every sample belongs to the family declared last before it.
      let current = '';
      for (const line of body.split('\n')) {
        const t = /^# TYPE (\S+) (\S+)$/.exec(line);
        if (t) current = t[1]!;
        if (line === '' || line.startsWith('#')) continue;
        const name = line.slice(0, line.search(/[{ ]/));
        const ok = [current, `${current}_total`, `${current}_bucket`, `${current}_sum`, `${current}_count`, `${current}_info`].includes(name);
        expect(ok, `${name} under ${current}`).toBe(true);
      }
    }
  });

  it('keeps histogram buckets cumulative, ascending and ending in +Inf = _count', () => {
    const s = samples(generateExposition({ series: 6000, format: 'text', timeMs: T0 }));
    const byHist = new Map<string, { le: number; v: number }[]>();
    const counts = new Map<string, number>();
    for (const x of s) {
      if (x.name.endsWith('_bucket')) {
        const le = /,le="([^"]+)"\}$/.exec(x.labels)![1];
        const key = x.name.slice(0, -7) + x.labels.replace(/,le="[^"]+"\}$/, '}');
        if (!byHist.has(key)) byHist.set(key, []);
        byHist.get(key)!.push({ le: le === '+Inf' ? Infinity : Number(le), v: x.value });
      } else if (x.name.endsWith('_latency_seconds_count')) {
        counts.set(x.name.slice(0, -6) + x.labels, x.value);
      }
    }
    expect(byHist.size).toBeGreaterThan(100);
    for (const [key, buckets] of byHist) {
      expect(buckets.length).toBeGreaterThanOrEqual(10);
      expect(buckets.length).toBeLessThanOrEqual(15);
      expect(buckets[buckets.length - 1].le).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) {
        expect(buckets[i].le).toBeGreaterThan(buckets[i - 1].le);
        expect(buckets[i].v).toBeGreaterThanOrEqual(buckets[i - 1].v);
      }
      expect(counts.get(key)).toBe(buckets[buckets.length - 1].v);
    }
  });

  it('lets counters, buckets, _sum and _count only grow from one step to the next, and gauges move', () => {
    const a = samples(generateExposition({ series: 6000, format: 'text', timeMs: T0 }));
    const b = samples(generateExposition({ series: 6000, format: 'text', timeMs: T0 + 60_000 }));
    expect(b.map(seriesKey)).toEqual(a.map(seriesKey));
    let grew = 0;
    let gaugesMoved = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      if (/(_total|_bucket|_sum|_count)$/.test(x.name)) {
        expect(y.value, seriesKey(x)).toBeGreaterThanOrEqual(x.value);
        if (y.value > x.value) grew++;
      } else if (x.value !== y.value) {
        gaugesMoved++;
      }
    }
    expect(grew).toBeGreaterThan(a.length / 2);
    expect(gaugesMoved).toBeGreaterThan(100);
  });

  it('attaches step timestamps: milliseconds in text, seconds in OpenMetrics', () => {
    const text = samples(generateExposition({ series: 1000, format: 'text', timeMs: T0, withTimestamps: true }));
    const om = samples(generateExposition({ series: 1000, format: 'openmetrics', timeMs: T0, withTimestamps: true }));
    expect(new Set(text.map((s) => s.ts))).toEqual(new Set(['1700000000000']));
    expect(new Set(om.map((s) => s.ts))).toEqual(new Set(['1700000000.000']));
    expect(samples(generateExposition({ series: 1000, format: 'text', timeMs: T0 })).every((s) => s.ts === undefined)).toBe(true);
  });

  it('emits only the fixed families for tiny series counts', () => {
    expect(samples(generateExposition({ series: 1, format: 'text', timeMs: T0 })).length).toBe(FIXED_SERIES);
    expect(samples(generateExposition({ series: 100, format: 'openmetrics', timeMs: T0 })).length).toBe(100);
  });
});

describe('negotiateFormat', () => {
  const both = ['text', 'openmetrics'] as const;
  it('follows the Accept header and the allowed formats', () => {
    expect(negotiateFormat(undefined, both)).toBe('text');
    expect(negotiateFormat('*/*', both)).toBe('text');
    expect(
      negotiateFormat(
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
        both,
      ),
    ).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text; version=1.0.0; charset=utf-8', ['text'])).toBe('text');
    expect(negotiateFormat('text/plain;q=1,application/openmetrics-text;q=0.5', both)).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0', both)).toBe('text');
  });
});

describe('startSyntheticExporter', () => {
  let exp: SyntheticExporter | undefined;
  afterEach(async () => {
    await exp?.close();
    exp = undefined;
  });

  function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    // node:http rather than fetch, so that gzip is not decoded behind our back.
    return new Promise((resolve, reject) => {
      http
        .get(url, { headers }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  }

  it('serves text by default, OpenMetrics when asked, gzip when accepted, the same body within a step', async () => {
    let now = T0;
    exp = await startSyntheticExporter({ series: 2000, port: 0, stepMs: 5000, now: () => now });
    expect(exp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const plain = await get(exp.url);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe(generateExposition({ series: 2000, format: 'text', timeMs: T0 }));

    const om = await get(exp.url, { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' });
    expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.body.toString('utf8')).toBe(generateExposition({ series: 2000, format: 'openmetrics', timeMs: T0 }));

    const gz = await get(exp.url, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);

    now = T0 + 2999; // same step (T0 is 2 s into its step)
    const again = await get(exp.url);
    expect(again.body.equals(plain.body)).toBe(true);

    now = T0 + 3000; // next step
    const next = await get(exp.url);
    expect(next.body.equals(plain.body)).toBe(false);

    expect(exp.scrapes).toBe(5);
    expect((await get(exp.url.replace('/metrics', '/nope'))).status).toBe(404);
    expect(exp.scrapes).toBe(5);
  });

  it('serves only the formats it is allowed to', async () => {
    exp = await startSyntheticExporter({ series: 500, formats: ['text'] });
    const res = await get(exp.url, { accept: 'application/openmetrics-text;version=1.0.0' });
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('answers concurrent scrapes of a fresh step with one identical body', async () => {
    exp = await startSyntheticExporter({ series: 20_000, stepMs: 3_600_000 });
    const bodies = await Promise.all([get(exp.url), get(exp.url), get(exp.url, { 'accept-encoding': 'gzip' })]);
    expect(bodies[0].body.equals(bodies[1].body)).toBe(true);
    expect(gunzipSync(bodies[2].body).equals(bodies[0].body)).toBe(true);
    expect(exp.scrapes).toBe(3);
  });
});
