// The remote-write queue against an in-process HTTP receiver that decodes what it gets: the
// WriteRequest's bytes (labels, values, timestamps, StaleNaN), retries on 5xx and 429 until the
// receiver takes the samples, no retry on 4xx, `capacity` samples buffered per shard, and the bound:
// beyond max_pending_samples the oldest are dropped and counted, and every sample is accounted for
// (sent + failed + dropped = in).

import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { remoteWriteSchema } from '../../../src/config/rules.js';
import { labelsFromRecord } from '../../../src/model/labels.js';
import { ProtoReader } from '../../../src/remote/protobuf.js';
import { snappyDecompress } from '../../../src/remote/snappy.js';
import { WriteQueue, encodeWriteRequest, type WriteSample } from '../../../src/rules/remote-write.js';

interface Decoded {
  labels: Record<string, string>;
  samples: { v: number; t: number; staleBits: boolean }[];
}

function decode(buf: Uint8Array): Decoded[] {
  const out: Decoded[] = [];
  const r = new ProtoReader(buf);
  while (!r.done) {
    expect(r.tag()).toBe(1);
    const ts = r.message();
    const d: Decoded = { labels: {}, samples: [] };
    while (!ts.done) {
      const f = ts.tag();
      const m = ts.message();
      if (f === 1) {
        let name = '';
        let value = '';
        while (!m.done) {
          const lf = m.tag();
          if (lf === 1) name = m.string();
          else value = m.string();
        }
        d.labels[name] = value;
      } else {
        let v = 0;
        let t = 0;
        let stale = false;
        while (!m.done) {
          const sf = m.tag();
          if (sf === 1) {
            const lo = m.fixed64Bits();
            const hi = m.hi;
            stale = lo === 2 && hi === 0x7ff00000;
            v = new Float64Array(new Uint32Array([lo, hi]).buffer)[0];
          } else t = m.int64();
        }
        d.samples.push({ v, t, staleBits: stale });
      }
    }
    out.push(d);
  }
  return out;
}

const log = pino({ level: 'silent' });
let server: Server | undefined;
let queue: WriteQueue | undefined;

afterEach(async () => {
  await queue?.stop();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  queue = undefined;
});

/**
 * A receiver answering with `status()` for each request (after `delayMs`); decoded bodies of 2xx
 * answers are kept, and the most requests it held at once is counted.
 */
async function receiver(status: () => number, delayMs = 0): Promise<{ url: string; got: Decoded[]; requests: () => number; maxInFlight: () => number }> {
  const got: Decoded[] = [];
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        inFlight--;
        requests++;
        const s = status();
        expect(req.headers['content-encoding']).toBe('snappy');
        expect(req.headers['x-prometheus-remote-write-version']).toBe('0.1.0');
        if (s < 300) got.push(...decode(snappyDecompress(Buffer.concat(chunks))));
        res.writeHead(s);
        res.end(s < 300 ? '' : 'no');
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`,
    got,
    requests: () => requests,
    maxInFlight: () => maxInFlight,
  };
}

function samples(n: number, series = 10, t0 = 1_700_000_000_000): WriteSample[] {
  return Array.from({ length: n }, (_, i) => ({ labels: labelsFromRecord({ __name__: 'm', s: String(i % series) }), t: t0 + i, v: i }));
}

function makeQueue(url: string, queueConfig: Record<string, unknown> = {}): WriteQueue {
  const cfg = remoteWriteSchema.parse({ url, queue_config: { batch_send_deadline: '10ms', min_backoff: '5ms', max_backoff: '20ms', ...queueConfig } });
  queue = new WriteQueue(cfg, log);
  return queue;
}

describe('remote write', () => {
  it('encodes labels, values, timestamps and staleness markers', () => {
    const l = labelsFromRecord({ __name__: 'up', job: 'x' });
    const d = decode(
      encodeWriteRequest([
        { labels: l, t: 1000, v: 1.5 },
        { labels: l, t: 2000, v: 0, stale: true },
        { labels: labelsFromRecord({ __name__: 'b' }), t: 3000, v: -2 },
      ]),
    );
    expect(d.map((s) => s.labels)).toEqual([{ __name__: 'up', job: 'x' }, { __name__: 'b' }]);
    expect(d[0].samples.map((s) => [s.t, s.staleBits, s.staleBits ? 'stale' : s.v])).toEqual([
      [1000, false, 1.5],
      [2000, true, 'stale'],
    ]);
    expect(d[1].samples).toEqual([{ t: 3000, v: -2, staleBits: false }]);
  });

  it('encodes non-ASCII and long label values exactly', () => {
    const long = 'x'.repeat(300);
    const d = decode(encodeWriteRequest([{ labels: labelsFromRecord({ __name__: 'm', a: 'é€😀', b: long }), t: 5, v: 1 }]));
    expect(d[0].labels).toEqual({ __name__: 'm', a: 'é€😀', b: long });
  });

  it('sends from several shards at once between min_shards and max_shards, each series still in order across reshards', async () => {
    const r = await receiver(() => 200, 10);
    const q = makeQueue(r.url, { max_samples_per_send: 25, min_shards: 1, max_shards: 6 });
    let most = 0;
    for (let i = 0; i < 6; i++) {
      q.append(samples(300, 60, 1_700_000_000_000 + i * 1000));
      most = Math.max(most, q.shardCount);
      await new Promise((res) => setTimeout(res, 15));
    }
    await q.flush(10_000);
    expect(q.pending).toBe(0);
    expect(q.stats.samplesSent).toBe(1800);
    expect(most).toBe(6);
    expect(r.maxInFlight()).toBeGreaterThan(1);
    expect(r.maxInFlight()).toBeLessThanOrEqual(6);
    const perSeries = new Map<string, number[]>();
    for (const s of r.got) perSeries.set(s.labels.s, [...(perSeries.get(s.labels.s) ?? []), ...s.samples.map((x) => x.t)]);
    expect(perSeries.size).toBe(60);
    for (const ts of perSeries.values()) {
      expect(ts).toHaveLength(30);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    }
  });

  it('buffers at most capacity samples per shard besides its batch in flight; the rest wait in arrival order and all arrive in order', async () => {
    const r = await receiver(() => 200, 150);
    const q = makeQueue(r.url, { capacity: 30, max_samples_per_send: 10, min_shards: 1, max_shards: 1 });
    q.append(samples(100, 2));
    // 10 in flight, 30 buffered by the one shard, 60 waiting for room (Prometheus stops reading its WAL).
    expect(q.pending).toBe(100);
    expect(q.backlogSize).toBe(60);
    await q.flush(10_000);
    expect(q.backlogSize).toBe(0);
    expect(q.stats.samplesSent).toBe(100);
    const ts = r.got.flatMap((s) => s.samples.map((x) => x.t));
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(ts).toHaveLength(100);
  });

  it('retries 5xx and 429 until the receiver takes every sample, in order per series', async () => {
    let n = 0;
    const r = await receiver(() => (++n <= 3 ? 503 : n <= 5 ? 429 : 200));
    const q = makeQueue(r.url);
    q.append(samples(1000));
    await q.flush(5000);
    expect(q.stats.samplesSent).toBe(1000);
    expect(q.stats.samplesRetried).toBeGreaterThan(0);
    expect(q.stats.samplesFailed).toBe(0);
    const perSeries = new Map<string, number[]>();
    for (const s of r.got) perSeries.set(s.labels.s, [...(perSeries.get(s.labels.s) ?? []), ...s.samples.map((x) => x.t)]);
    expect(perSeries.size).toBe(10);
    for (const ts of perSeries.values()) {
      expect(ts).toHaveLength(100);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    }
  });

  it('does not retry 4xx: the batch is counted as failed', async () => {
    const r = await receiver(() => 400);
    const q = makeQueue(r.url, { max_samples_per_send: 1000 });
    q.append(samples(40, 1));
    await q.flush(2000);
    expect(q.stats.samplesFailed).toBe(40);
    expect(q.stats.samplesRetried).toBe(0);
    expect(r.requests()).toBe(1);
    expect(q.stats.lastError).toMatch(/HTTP status 400/);
  });

  it('holds at most max_pending_samples while the receiver is down, drops the oldest, and accounts for every sample', async () => {
    let down = true;
    const r = await receiver(() => (down ? 503 : 200));
    const q = makeQueue(r.url, { max_pending_samples: 400, max_samples_per_send: 50 });
    for (let i = 0; i < 10; i++) {
      q.append(samples(200, 40, 1_700_000_000_000 + i * 1000));
      await new Promise((res) => setTimeout(res, 5));
      expect(q.pending).toBeLessThanOrEqual(400);
    }
    expect(q.stats.samplesDropped).toBeGreaterThan(1000);
    down = false;
    await q.flush(5000);
    expect(q.pending).toBe(0);
    const st = q.stats;
    expect(st.samplesSent + st.samplesFailed + st.samplesDropped).toBe(st.samplesIn);
    const received = r.got.reduce((n, s) => n + s.samples.length, 0);
    expect(received).toBe(st.samplesSent);
    // What survived is the newest: the last append's samples all arrived.
    const newest = r.got.flatMap((s) => s.samples.map((x) => x.t)).filter((t) => t >= 1_700_000_009_000);
    expect(newest).toHaveLength(200);
  });
});
