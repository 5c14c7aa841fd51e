// The nats source's published shard bodies are made on request from a snapshot of its targets:
// they must be byte for byte what buildShards writes for the same targets in the same order (family
// order, headers, split families, the duplicate-series rule), in both formats, gzipped or not.

import { gunzipSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { deliverTo, handedMessage } from '../../../dev/stream-consumer.js';
import { parseConfigText } from '../../../src/config/load.js';
import { buildShards, type ShardSet } from '../../../src/shard/build.js';
import { initHash } from '../../../src/shard/hash.js';
import { madeGzipBytes } from '../../../src/shard/pushed-source.js';
import { HEADER } from '../../../src/stream/message.js';
import { NatsSource } from '../../../src/stream/nats-source.js';

const log = pino({ level: 'silent' });
let seq = 0;

function message(
  publisher: string,
  instance: string,
  body: string,
  opts: { contentType?: string; failed?: boolean; duration?: string; labels?: Record<string, string> } = {},
): JsMsg {
  const h = new Map<string, string>([
    [HEADER.publisher, publisher],
    [HEADER.job, 'node'],
    [HEADER.instance, instance],
    [HEADER.scrapeTime, String(Date.now() - 1000 + seq)],
    [HEADER.duration, opts.duration ?? '0.01'],
    [HEADER.result, opts.failed ? 'failure' : 'success'],
    [HEADER.contentType, opts.contentType ?? 'text/plain; version=0.0.4'],
    [HEADER.labels, JSON.stringify(opts.labels ?? { dc: 'x' })],
  ]);
  if (!opts.failed) h.set(HEADER.contentEncoding, 'gzip');
  else h.set(HEADER.error, 'connection refused');
  return handedMessage({ subject: 's', seq: ++seq, data: opts.failed ? Buffer.alloc(0) : gzipSync(body), headers: h });
}

const TEXT_A = `# HELP app_requests_total Requests.
# TYPE app_requests_total counter
app_requests_total{code="200"} 1027
app_requests_total{code="500"} 3
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.1"} 5
app_latency_seconds_bucket{le="+Inf"} 10
app_latency_seconds_sum 3.5
app_latency_seconds_count 10
# TYPE up gauge
up 1
`;

const OM_B = `# TYPE rpc counter
# HELP rpc RPCs "served".
rpc_total{m="get"} 17 # {trace_id="abc"} 1.0 123.456
rpc_created{m="get"} 1700000000.5
# TYPE lat histogram
lat_bucket{le="1.0"} 2
lat_bucket{le="+Inf"} 3
lat_sum 1.5
lat_count 3
lat_created 1700000001
# TYPE temp gauge
temp{room="x"} NaN
# EOF
`;

function text(chunks: readonly Buffer[]): string {
  return Buffer.concat(chunks).toString('latin1');
}

function servingSource(numShards: number): { src: NatsSource; deliver: (m: JsMsg) => void; set: () => ShardSet } {
  const config = parseConfigText(`
shard:
  num_shards: ${numShards}
  sources:
    - nats: {servers: ["nats://127.0.0.1:1"], subjects: ["promfront.scrapes.>"], durable: central}
`);
  const src = new NatsSource(config.shard!.sources[0] as never, numShards, log);
  let set: ShardSet | undefined;
  src.serveShards((s) => (set = s), { gzipLevel: 1 });
  return { src, deliver: deliverTo(src), set: () => set! };
}

describe('served bodies', () => {
  it("serve a target's later scrapes from its templates (its series and its meta series) exactly as a full parse of that scrape alone", async () => {
    await initHash();
    const warm = servingSource(2);
    const scrapes: [string, string][] = [
      [TEXT_A, '0.01'],
      [TEXT_A.replace('1027', '1028'), '0.25'],
      [TEXT_A.replace('1027', '1029').replace('3.5', '7'), '1.5e-3'],
      // As the edge prints a measured duration: the shortest round trip of a double, 19 fraction digits.
      [TEXT_A.replace('1027', '1030'), '0.0012345678901234567'],
    ];
    for (const [body, duration] of scrapes) {
      const m = message('edge-1', 'a:1', body, { duration });
      warm.deliver(m);
      // The reference: a source that never saw this target before parses the scrape in full.
      const fresh = servingSource(2);
      fresh.deliver(m);
      await new Promise((r) => setImmediate(r));
      for (let k = 0; k < 2; k++) {
        const got = warm.set().shards[k];
        const want = fresh.set().shards[k];
        expect(text(got.om)).toBe(text(want.om));
        expect(text(got.text)).toBe(text(want.text));
        expect(got.omBytes).toBe(want.omBytes);
        expect(got.textBytes).toBe(want.textBytes);
        expect(gunzipSync(got.omGzip).toString('latin1')).toBe(text(want.om));
      }
      const all = warm
        .set()
        .shards.map((s) => text(s.text))
        .join('');
      expect(all).toMatch(
        new RegExp(`^scrape_duration_seconds\\{dc="x",instance="a:1",job="node"\\} ${String(Number(duration)).replace('.', '\\.')} \\d+$`, 'm'),
      );
    }
    expect((warm.src.status() as { applied_from_template: number }).applied_from_template).toBe(3);
  });

  it('are what buildShards writes for the same targets, in both formats, gzipped or not, duplicates included', async () => {
    await initHash();
    const { src, deliver, set } = servingSource(3);
    deliver(message('edge-1', 'a:1', TEXT_A));
    deliver(message('edge-1', 'b:1', OM_B, { contentType: 'application/openmetrics-text; version=1.0.0' }));
    deliver(message('edge-1', 'c:1', '', { failed: true }));
    // The same job and instance from a second publisher: what it shares with the first is served once.
    deliver(message('edge-2', 'a:1', TEXT_A.replace('1027', '99').replace('code="500"', 'code="404"')));
    deliver(message('edge-1', 'd:1', TEXT_A));
    // A second scrape of d:1 with other values: applied from the first one's template.
    deliver(message('edge-1', 'd:1', TEXT_A.replace('1027', '1030').replace('3.5', '4.25')));
    await new Promise((r) => setImmediate(r));
    expect((src.status() as { applied_from_template: number }).applied_from_template).toBe(1);

    const want = await buildShards(src.collect(Date.now()), 3, 1);
    const got = set();
    expect(got.shards.length).toBe(3);
    for (let k = 0; k < 3; k++) {
      const g = got.shards[k];
      const w = want.shards[k];
      expect(text(g.text)).toBe(text(w.text));
      expect(text(g.om)).toBe(text(w.om));
      expect(g.textBytes).toBe(w.textBytes);
      expect(g.omBytes).toBe(w.omBytes);
      expect(g.series).toBe(w.series);
      expect(g.families).toBe(w.families);
      expect(madeGzipBytes(g, false)).toBeUndefined();
      expect(gunzipSync(g.textGzip).toString('latin1')).toBe(text(w.text));
      expect(gunzipSync(g.omGzip).toString('latin1')).toBe(text(w.om));
      expect(madeGzipBytes(g, false)).toBe(g.textGzip.length);
    }
    const all = got.shards.map((s) => text(s.text)).join('');
    // The second publisher's copy of a series the first one has is left out; its own series stay.
    expect(all).toContain('app_requests_total{dc="x",instance="a:1",job="node",code="200"} 1027 ');
    expect(all).not.toContain('app_requests_total{dc="x",instance="a:1",job="node",code="200"} 99 ');
    expect(all).toContain('app_requests_total{dc="x",instance="a:1",job="node",code="404"} 3 ');
    // The scrape's own `up` is the same series as the one the centre adds: served once.
    expect(all.match(/^up\{dc="x",instance="a:1",job="node"\} /gm)?.length).toBe(1);
    expect(all).toContain('up{dc="x",instance="c:1",job="node"} 0 ');
    expect(all).toContain('app_requests_total{dc="x",instance="d:1",job="node",code="200"} 1030 ');
    expect(got.duplicatesDropped.reduce((a, b) => a + b, 0)).toBe(want.duplicatesDropped.reduce((a, b) => a + b, 0));
    expect(want.duplicatesDropped.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('from templated scrapes of two publishers with the same job and instance: what buildShards writes, shared series once', async () => {
    await initHash();
    const { src, deliver, set } = servingSource(2);
    const second = (v: string) => TEXT_A.replace('1027', v).replace('code="500"', 'code="404"');
    for (const [a, b] of [
      ['1027', '99'],
      ['1028', '98'],
      ['1029', '97'],
    ]) {
      deliver(message('edge-1', 'a:1', TEXT_A.replace('1027', a)));
      deliver(message('edge-2', 'a:1', second(b)));
    }
    await new Promise((r) => setImmediate(r));
    expect((src.status() as { applied_from_template: number }).applied_from_template).toBe(4);
    const want = await buildShards(src.collect(Date.now()), 2, 1);
    const got = set();
    for (let k = 0; k < 2; k++) {
      expect(text(got.shards[k].text)).toBe(text(want.shards[k].text));
      expect(text(got.shards[k].om)).toBe(text(want.shards[k].om));
      expect(got.shards[k].textBytes).toBe(want.shards[k].textBytes);
      expect(got.shards[k].omBytes).toBe(want.shards[k].omBytes);
      expect(got.shards[k].series).toBe(want.shards[k].series);
    }
    const all = got.shards.map((s) => text(s.text)).join('');
    expect(all).toContain('app_requests_total{dc="x",instance="a:1",job="node",code="200"} 1029 ');
    expect(all).not.toContain('app_requests_total{dc="x",instance="a:1",job="node",code="200"} 97 ');
    expect(all).toContain('app_requests_total{dc="x",instance="a:1",job="node",code="404"} 3 ');
    expect(all.match(/^up\{dc="x",instance="a:1",job="node"\} /gm)?.length).toBe(1);
    expect(got.duplicatesDropped[0]).toBe(want.duplicatesDropped.reduce((a, b) => a + b, 0));
    expect(got.duplicatesDropped[0]).toBeGreaterThan(0);
  });

  it("serve a target's new labels from the scrape whose header changed them", async () => {
    await initHash();
    const { deliver, set } = servingSource(1);
    deliver(message('edge-1', 'a:1', TEXT_A));
    deliver(message('edge-1', 'a:1', TEXT_A.replace('1027', '1028')));
    deliver(message('edge-1', 'a:1', TEXT_A.replace('1027', '1029'), { labels: { dc: 'y', rack: 'r1' } }));
    await new Promise((r) => setImmediate(r));
    const all = text(set().shards[0].text);
    expect(all).toContain('app_requests_total{dc="y",instance="a:1",job="node",rack="r1",code="200"} 1029 ');
    expect(all).toContain('up{dc="y",instance="a:1",job="node",rack="r1"} 1 ');
    expect(all).not.toContain('dc="x"');
  });

  it('gzipped first from a body small enough for Node to take from its shared Buffer pool: no other Buffer is written over', async () => {
    await initHash();
    const { deliver, set } = servingSource(1);
    const tiny = '# TYPE t gauge\nt 1\n';
    deliver(message('edge-1', 'a:1', tiny));
    await new Promise((r) => setImmediate(r));
    expect(gunzipSync(set().shards[0].textGzip).toString('latin1')).toContain('instance="a:1"');
    // Small Buffers come from the same pool slab as a small body; the next body must not land in them.
    const probes = Array.from({ length: 32 }, () => Buffer.allocUnsafe(64).fill(7));
    deliver(message('edge-1', 'b:1', tiny.replace('t 1', 't 2')));
    await new Promise((r) => setImmediate(r));
    const again = set().shards[0].textGzip;
    expect(gunzipSync(again).toString('latin1')).toContain('instance="b:1"');
    for (const p of probes) expect(p.every((b) => b === 7)).toBe(true);
  });

  it('gzipped first (the plain body written through a reused scratch Buffer), shard after shard and set after set, are still what buildShards writes', async () => {
    await initHash();
    const { src, deliver, set } = servingSource(3);
    // Sets of growing size, shards of different sizes: the scratch Buffer is outgrown, and larger than the next body.
    const sizes = [3, 40, 2, 400, 5];
    for (const [round, n] of sizes.entries()) {
      for (let i = 0; i < n; i++) deliver(message('edge-1', `t${round}-${i}:1`, TEXT_A.replace('1027', String(1000 + i))));
      await new Promise((r) => setImmediate(r));
      const want = await buildShards(src.collect(Date.now()), 3, 1);
      const got = set();
      const zipped = got.shards.map((g) => [g.omGzip, g.textGzip]);
      for (let k = 0; k < 3; k++) {
        expect(gunzipSync(zipped[k][0]).toString('latin1')).toBe(text(want.shards[k].om));
        expect(gunzipSync(zipped[k][1]).toString('latin1')).toBe(text(want.shards[k].text));
        // Asked for plain afterwards: made on its own, the same bytes.
        expect(text(got.shards[k].text)).toBe(text(want.shards[k].text));
      }
    }
  });
});
