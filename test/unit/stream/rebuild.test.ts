// The centre serves an applied scrape as soon as the consumer yields, not at the next cycle, and a
// message that changes nothing publishes nothing; a service with URL sources still builds every
// cycle. Driven through the real NatsSource (messages handed to it as the consumer would) and the
// real ShardService, without a NATS server.

import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { handedMessage, offlineCentre } from '../../../dev/stream-consumer.js';
import { parseConfigText } from '../../../src/config/load.js';
import { buildShards } from '../../../src/shard/build.js';
import { initHash } from '../../../src/shard/hash.js';
import { ShardService } from '../../../src/shard/shard-service.js';
import { StreamingIngest } from '../../../src/shard/stream-ingest.js';
import { HEADER } from '../../../src/stream/message.js';
import type { NatsSource } from '../../../src/stream/nats-source.js';

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
  const m = handedMessage({
    subject: `promfront.scrapes.edge.node.${instance}`,
    seq: ++seq,
    data: gzipSync(body),
    headers: h,
    settle: (how) => settled.push(how),
  });
  return Object.assign(m, { settled });
}

async function centre(maxAge = '1m'): Promise<{ svc: ShardService; src: NatsSource; deliver: (m: JsMsg) => void }> {
  // Never connected: start() is the consumer's loop, which these tests replace by handing messages over.
  const { svc, src, deliver } = await offlineCentre({ scrapeInterval: '1m', maxAge, log });
  stops.push(() => svc.stop());
  return { svc, src, deliver };
}

function served(svc: ShardService): string {
  return svc.current!.shards.map((s) => Buffer.concat(s.text).toString('latin1')).join('');
}

describe('served as soon as applied', () => {
  const turn = () => new Promise((r) => setImmediate(r));

  it('an applied scrape is served once the consumer yields, without waiting for a cycle; a skipped one publishes nothing', async () => {
    const { svc, deliver } = await centre();
    await svc.start();
    const t0 = Date.now() - 1000;
    const first = message('a:9100', t0, '# TYPE x gauge\nx 1\n');
    deliver(first);
    expect(first.settled).toEqual(['ack']);
    await turn();
    const built = svc.current;
    expect(served(svc)).toContain(`x{instance="a:9100",job="node"} 1 ${t0}\n`);

    // A newer scrape of the target: served at once (the cycle is a minute), the old value gone.
    deliver(message('a:9100', t0 + 500, '# TYPE x gauge\nx 2\n'));
    await turn();
    expect(svc.current).not.toBe(built);
    expect(served(svc)).toContain(`x{instance="a:9100",job="node"} 2 ${t0 + 500}\n`);
    expect(served(svc)).not.toContain(`x{instance="a:9100",job="node"} 1 `);

    // A skipped message (an older scrape) changes nothing: no new set.
    const rebuilt = svc.current;
    const late = message('a:9100', t0 + 100, '# TYPE x gauge\nx 3\n');
    deliver(late);
    expect(late.settled).toEqual(['ack']);
    await turn();
    expect(svc.current).toBe(rebuilt);

    // Messages applied in one go become one set.
    deliver(message('b:9100', t0 + 600, '# TYPE x gauge\nx 4\n'));
    deliver(message('c:9100', t0 + 600, '# TYPE x gauge\nx 5\n'));
    await turn();
    expect(served(svc)).toContain('x{instance="b:9100",job="node"} 4 ');
    expect(served(svc)).toContain('x{instance="c:9100",job="node"} 5 ');
    // The service's own cycle builds nothing on top.
    const now = svc.current;
    await svc.runCycle();
    expect(svc.current).toBe(now);
  });

  it('a target expiring after max_age is a change: the next cycle publishes a set without it', async () => {
    const { svc, deliver } = await centre('2s');
    await svc.start();
    deliver(message('a:9100', Date.now() - 1500, '# TYPE x gauge\nx 1\n'));
    deliver(message('b:9100', Date.now() + 60_000, '# TYPE x gauge\nx 5\n'));
    await turn();
    expect(served(svc)).toContain('instance="a:9100"');
    const built = svc.current;
    await new Promise((r) => setTimeout(r, 700));
    await svc.runCycle();
    await turn();
    expect(svc.current).not.toBe(built);
    expect(served(svc)).not.toContain('instance="a:9100"');
    expect(served(svc)).toContain('x{instance="b:9100",job="node"} 5 ');
  });
});

describe('rebuild on change', () => {
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
