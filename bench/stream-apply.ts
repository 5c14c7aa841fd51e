// The centre's work per applied scrape, in process and without NATS: the real NatsSource and
// ShardService, handed gzipped scrapes as the consumer would (one at a time, the event loop turning
// in between, so each is published as a set), and each shard's OpenMetrics body asked for gzipped
// once per round of all targets, as the Prometheus scraping the shards does once per interval.
// bench/stream.ts measures the same thing end to end; this one isolates the centre's own code, so a
// change to the apply path can be A/B-tested in seconds (run two builds alternately) and profiled
// (node --cpu-prof, --trace-gc). Values change every round, as an exporter's counters do.
// Usage: node [--trace-gc] dist-tools/bench/stream-apply.js [--targets=200] [--series=1000] [--rounds=30] [--warmup=5]

import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { handedMessage, offlineCentre } from '../dev/stream-consumer.js';
import { HEADER } from '../src/stream/message.js';
import { exporterBody, numArg } from './stream-body.js';

const TARGETS = numArg('targets', 200);
const SERIES = numArg('series', 1000);
const ROUNDS = numArg('rounds', 30);
const WARMUP = numArg('warmup', 5);
/** Bodies with different values, used in turn (precompressed: the edge's gzip is not the centre's work). */
const VARIANTS = 4;

/** CPU seconds by thread: the main thread, and all the others together (V8's GC and compiler helpers, libuv's pool). */
function threads(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const secs = (Number(f[11]) + Number(f[12])) / 100;
    if (tid === String(process.pid)) main += secs;
    else others += secs;
  }
  return { main, others };
}

// Never connected: messages are handed to the consumer's own entry point instead.
const { svc, deliver } = await offlineCentre({ scrapeInterval: '1h', maxAge: '1h', log: pino({ level: 'silent' }) });
await svc.start();

const variants = Array.from({ length: VARIANTS }, () => gzipSync(exporterBody(SERIES), { level: 7 }));
const turn = () => new Promise((r) => setImmediate(r));
let seq = 0;
let acked = 0;
let served = 0;
const t0 = Date.now() - ROUNDS * 1000;

async function round(r: number): Promise<void> {
  for (let i = 0; i < TARGETS; i++) {
    const h = new Map<string, string>([
      [HEADER.publisher, 'bench'],
      [HEADER.job, 'bench'],
      [HEADER.instance, `127.0.0.1:${10000 + i}`],
      [HEADER.scrapeTime, String(t0 + r * 1000 + i)],
      [HEADER.duration, '0.002'],
      [HEADER.result, 'success'],
      [HEADER.contentType, 'text/plain; version=0.0.4'],
      [HEADER.contentEncoding, 'gzip'],
      [HEADER.msgId, `bench/bench/${i}/${r}`],
    ]);
    const m = handedMessage({
      subject: `promfront.scrapes.bench.bench.${i}`,
      seq: ++seq,
      data: variants[(r + i) % VARIANTS],
      headers: h,
      settle: (how) => how === 'ack' && acked++,
    });
    deliver(m);
    await turn();
  }
  // The downstream Prometheus: each shard once per interval, OpenMetrics, gzip.
  for (const s of svc.current!.shards) served += s.omGzip.length;
}

for (let r = 0; r < WARMUP; r++) await round(r);
const window0Us = process.hrtime.bigint() / 1000n;
const cpu0 = process.cpuUsage();
const th0 = threads();
const wall0 = performance.now();
for (let r = WARMUP; r < WARMUP + ROUNDS; r++) await round(r);
const wall = performance.now() - wall0;
const cpu = process.cpuUsage(cpu0);
const th1 = threads();
const n = ROUNDS * TARGETS;
const ms = (x: number) => ((x / n) * 1000).toFixed(3);
console.log(
  `${TARGETS} targets x ${SERIES} series, ${ROUNDS} rounds (${n} applied, ${acked} acked), load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
);
console.log(
  `CPU per applied scrape ${ms((cpu.user + cpu.system) / 1e6)} ms (main thread ${ms(th1.main - th0.main)}, other threads ${ms(th1.others - th0.others)}); wall ${(wall / n).toFixed(3)} ms; heap used ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB; served ${(served / 1e6).toFixed(1)} MB gzip`,
);
// With --cpu-prof: the measured rounds' part of the profile (bench/cpu-profile.ts takes a start time).
console.log(`measured from ${window0Us} µs (process.hrtime)`);
await svc.stop();
