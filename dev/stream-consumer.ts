// Driving the centre's nats source without a nats-server: a message as its consumer hands it over
// (with the NATS client's own header object) and the consumer's entry point, and a shard service
// whose one source is such a never-connected nats source. Used by the in-process bench
// (bench/stream-apply.ts) and the stream unit tests.

import type { JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { parseConfigText } from '../src/config/load.js';
import { initHash } from '../src/shard/hash.js';
import { ShardService } from '../src/shard/shard-service.js';
import { NatsSource } from '../src/stream/nats-source.js';

/** How a handed-over message was settled. */
export type Settlement = 'ack' | 'nak' | 'term';

/** A message as the consumer hands it over, first delivery; `settle` is told of its ack, nak or term. */
export function handedMessage(m: {
  subject: string;
  seq: number;
  data: Uint8Array;
  headers: ReadonlyMap<string, string>;
  settle?: (how: Settlement) => void;
}): JsMsg {
  const h = headers();
  for (const [k, v] of m.headers) h.set(k, v);
  const settle = m.settle ?? (() => undefined);
  return {
    subject: m.subject,
    seq: m.seq,
    data: m.data,
    headers: h,
    redelivered: false,
    info: { deliveryCount: 1 },
    ack: () => settle('ack'),
    nak: () => settle('nak'),
    term: () => settle('term'),
  } as unknown as JsMsg;
}

/** The consumer's own entry point of `src`: apply, then settle. */
export function deliverTo(src: NatsSource): (m: JsMsg) => void {
  return (m) => (src as unknown as { handle(m: JsMsg): void }).handle(m);
}

/**
 * A shard service of 2 shards whose one source is a nats source that never connects: start() is
 * its consumer's loop, which the caller replaces by handing messages to `deliver`.
 */
export async function offlineCentre(opts: {
  scrapeInterval: string;
  maxAge: string;
  log: Logger;
}): Promise<{ svc: ShardService; src: NatsSource; deliver: (m: JsMsg) => void }> {
  await initHash();
  const config = parseConfigText(`
shard:
  num_shards: 2
  scrape_interval: ${opts.scrapeInterval}
  sources:
    - nats: {servers: ["nats://127.0.0.1:1"], subjects: ["promfront.scrapes.>"], durable: central}
      max_age: ${opts.maxAge}
`);
  let src: NatsSource | undefined;
  const svc = new ShardService(config.shard!, opts.log, (c, ctx) => (src = new NatsSource(c, ctx.numShards, ctx.log)));
  src!.start = () => Promise.resolve();
  return { svc, src: src!, deliver: deliverTo(src!) };
}
