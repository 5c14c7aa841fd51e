// The centre rebuilds its shard bodies only when a pushed source moved: a cycle after which nothing
// was applied (and nothing expired) keeps the bodies it has, and an applied scrape is served at the
// next cycle. Driven through the real NatsSource (messages handed to it as the consumer would) and
// the real ShardService, without a NATS server.

import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { parseConfigText } from '../../../src/config/load.js';
import { buildShards } from '../../../src/shard/build.js';
import { initHash } from '../../../src/shard/hash.js';
import { ShardService } from '../../../src/shard/shard-service.js';
import { StreamingIngest } from '../../../src/shard/stream-ingest.js';
import { HEADER } from '../../../src/stream/message.js';
import { NatsSource } from '../../../src/stream/nats-source.js';

const log = pino({ level: 'silent' });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

let seq = 0;
/** A message as the consumer hands it over; records how it was settled. */
function message(instance: string, scrapeTimeMs: number, body: string): JsMsg & { settled: string[] } {
  const h = new Map<string, string>([
    [HEADER.publisher, 'edge'],
    [HEADER.job, 'node'],
    [HEADER.instance, instance],
    [HEADER.scrapeTime, String(scrapeTimeMs)],
    [HEADER.duration, '0.01'],
    [HEADER.result, 'success'],
    [HEADER.contentType, 'text/plain; version=0.0.4'],
    [HEADER.contentEncoding, 'gzip'],
  ]);
  const settled: string[] = [];
  const m = {
    subject: `promfront.scrapes.edge.node.${instance}`,
    seq: ++seq,
    data: gzipSync(body),
    headers: { get: (name: string) => h.get(name) ?? '' },
    redelivered: false,
    info: { deliveryCount: 1 },
    ack: () => settled.push('ack'),
    nak: () => settled.push('nak'),
    term: () => settled.push('term'),
    settled,
  };
  return m as unknown as JsMsg & { settled: string[] };
}

async function centre(maxAge = '1m'): Promise<{ svc: ShardService; src: NatsSource; deliver: (m: JsMsg) => void }> {
  await initHash();
  const config = parseConfigText(`
shard:
  num_shards: 2
  scrape_interval: 1m
  sources:
    - nats: {servers: ["nats://127.0.0.1:1"], subjects: ["promfront.scrapes.>"], durable: central}
      max_age: ${maxAge}
`);
  let src: NatsSource | undefined;
  const svc = new ShardService(config.shard!, log, (c, ctx) => (src = new NatsSource(c, ctx.numShards, ctx.log)));
  stops.push(() => svc.stop());
  // The consumer's own entry point: apply, then ack (never started, so no connection is attempted).
  const deliver = (m: JsMsg): void => (src as unknown as { handle(m: JsMsg): void }).handle(m);
  return { svc, src: src!, deliver };
}

function served(svc: ShardService): string {
  return svc.current!.shards.map((s) => Buffer.concat(s.text).toString('latin1')).join('');
}

describe('rebuild on change', () => {
  it('a cycle with nothing applied builds nothing; an applied scrape is served at the next cycle', async () => {
    const { svc, deliver } = await centre();
    const t0 = Date.now() - 1000;
    const first = message('a:9100', t0, '# TYPE x gauge\nx 1\n');
    deliver(first);
    expect(first.settled).toEqual(['ack']);
    await svc.runCycle();
    const built = svc.current;
    expect(served(svc)).toContain(`x{instance="a:9100",job="node"} 1 ${t0}\n`);

    // Nothing arrived: the same bodies (the same object), counted as an unchanged cycle.
    await svc.runCycle();
    await svc.runCycle();
    expect(svc.current).toBe(built);
    expect(svc.unchangedCycles).toBe(2);

    // A newer scrape of the target: served at the very next cycle, the old value gone.
    deliver(message('a:9100', t0 + 500, '# TYPE x gauge\nx 2\n'));
    await svc.runCycle();
    expect(svc.current).not.toBe(built);
    expect(served(svc)).toContain(`x{instance="a:9100",job="node"} 2 ${t0 + 500}\n`);
    expect(served(svc)).not.toContain(`x{instance="a:9100",job="node"} 1 `);
    expect(svc.unchangedCycles).toBe(2);

    // A skipped message (an older scrape) changes nothing: no rebuild.
    const rebuilt = svc.current;
    const late = message('a:9100', t0 + 100, '# TYPE x gauge\nx 3\n');
    deliver(late);
    expect(late.settled).toEqual(['ack']);
    await svc.runCycle();
    expect(svc.current).toBe(rebuilt);
  });

  it('a target expiring after max_age is a change: the next cycle rebuilds without it', async () => {
    const { svc, deliver } = await centre('2s');
    deliver(message('a:9100', Date.now() - 1500, '# TYPE x gauge\nx 1\n'));
    deliver(message('b:9100', Date.now() + 60_000, '# TYPE x gauge\nx 5\n'));
    await svc.runCycle();
    expect(served(svc)).toContain('instance="a:9100"');
    const built = svc.current;
    await new Promise((r) => setTimeout(r, 700));
    await svc.runCycle();
    expect(svc.current).not.toBe(built);
    expect(served(svc)).not.toContain('instance="a:9100"');
    expect(served(svc)).toContain('x{instance="b:9100",job="node"} 5 ');
  });

  it('a service with URL sources still builds every cycle (their scrape is new data each time)', async () => {
    await initHash();
    const config = parseConfigText(`
shard:
  num_shards: 1
  scrape_interval: 1m
  scrape_timeout: 200ms
  sources:
    - url: http://127.0.0.1:1/metrics
`);
    const svc = new ShardService(config.shard!, log);
    stops.push(() => svc.stop());
    await svc.runCycle();
    const built = svc.current;
    await svc.runCycle();
    expect(svc.current).not.toBe(built);
    expect(svc.unchangedCycles).toBe(0);
  });
});

describe('duplicate series across pushed targets', () => {
  function target(labels: [string, string][], body: string) {
    const ingest = new StreamingIngest('text', 2, labels, 1000);
    ingest.write(Buffer.from(body));
    return ingest.finish();
  }

  it('targets that differ in a label they all carry are never compared; those that agree are, and the first wins', async () => {
    await initHash();
    const body = '# TYPE x gauge\nx{k="1"} 1\nx{k="2"} 2\n';
    const a = target(
      [
        ['instance', 'a'],
        ['job', 'j'],
      ],
      body,
    );
    const b = target(
      [
        ['instance', 'b'],
        ['job', 'j'],
      ],
      body,
    );
    // Same instance and job as `a` (two publishers with one target name): the same series, served once.
    const a2 = target(
      [
        ['instance', 'a'],
        ['job', 'j'],
      ],
      '# TYPE x gauge\nx{k="1"} 9\nx{k="3"} 3\n',
    );
    const set = await buildShards([a, b, a2], 2, 1);
    const text = set.shards.map((s) => Buffer.concat(s.text).toString('latin1')).join('');
    const lines = text.split('\n').filter((l) => l.startsWith('x{'));
    expect(lines.sort()).toEqual(
      [
        'x{instance="a",job="j",k="1"} 1 1000',
        'x{instance="a",job="j",k="2"} 2 1000',
        'x{instance="a",job="j",k="3"} 3 1000',
        'x{instance="b",job="j",k="1"} 1 1000',
        'x{instance="b",job="j",k="2"} 2 1000',
      ].sort(),
    );
    expect(set.duplicatesDropped).toEqual([0, 0, 1]);
  });

  it('a source without added labels is still compared with every other', async () => {
    await initHash();
    const a = target(
      [
        ['instance', 'a'],
        ['job', 'j'],
      ],
      '# TYPE x gauge\nx{k="1"} 1\n',
    );
    const plain = target([], '# TYPE x gauge\nx{instance="a",job="j",k="1"} 7 1000\nx{k="2"} 2\n');
    const set = await buildShards([a, plain], 2, 1);
    const text = set.shards.map((s) => Buffer.concat(s.text).toString('latin1')).join('');
    expect(text).toContain('x{instance="a",job="j",k="1"} 1 1000\n');
    expect(text).not.toContain(' 7 1000');
    expect(set.duplicatesDropped).toEqual([0, 1]);
  });
});
