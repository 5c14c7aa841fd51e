// Measures NATS federation side by side in one run (issue 12's four figures): one edge promfront
// publishing TARGETS targets x SERIES series every INTERVAL through a local nats-server -js to a
// central promfront, and a Prometheus scraping the same targets directly. Reports: end-to-end lag
// (edge scrape time to the centre publishing the shard bodies that hold it, per applied scrape, from
// the centre's own record; and, as a check, to a poll of /metrics/shard/K seeing it), the centre's CPU per
// applied scrape against Prometheus's CPU per scrape, NATS bytes in against the raw exposition,
// and the edge's peak RSS. Usage:
//   npm run bench:stream -- [--targets=200] [--series=1000] [--interval=15] [--seconds=60] [--poll-ms=100] [--poll-seconds=20]
//     [--profile=DIR] [--compare=CHECKOUT] [--skip-backlog] [--trace-gc] [--node-flags=...] [--compare-node-flags=...]
// The CPU and the centre's lag record are measured while only a Prometheus scrapes the centre's
// shards (every interval, gzip, as in production); the poll runs afterwards, on its own, since
// polling whole shard bodies ten times a second is work a real centre does not do.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startPrometheus, terminate, trackChild, waitFor } from '../dev/prometheus-process.js';
import { exporterBody, numArg } from './stream-body.js';

const TARGETS = numArg('targets', 200);
const SERIES = numArg('series', 1000);
const INTERVAL = numArg('interval', 15);
const SECONDS = numArg('seconds', 60);
/** The edge's backlog_max_messages: small enough to fill within the bench once NATS is stopped. */
const BACKLOG = numArg('backlog', 1000);
/** The check by polling: /metrics/shard/K polled every POLL_MS for POLL_SECONDS, after the measured part. */
const POLL_MS = numArg('poll-ms', 100);
const POLL_SECONDS = numArg('poll-seconds', 20);
const SHARDS = 2;

function cpuSecs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks of 10 ms
}

/** CPU seconds of the process's threads by name (main thread "main"; V8's GC and compiler helpers, libuv's pool, ...). */
function threadSecs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name =
      tid === String(pid)
        ? 'main'
        : stat
            .slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
            .replace(/[\d#-]+$/, '')
            .trim();
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** With --profile=DIR the centre runs under `node --cpu-prof` and leaves its profile in DIR. */
const PROFILE_DIR = process.argv.find((x) => x.startsWith('--profile='))?.slice('--profile='.length);

/**
 * With --compare=DIR a second centre, built from the checkout in DIR (`npm run build` there), consumes
 * the same stream under its own durable, scraped by the same downstream Prometheus: an A/B of two
 * builds on the same messages in the same run, which the machine's load cannot tilt.
 */
const COMPARE_DIR = process.argv.find((x) => x.startsWith('--compare='))?.slice('--compare='.length);

/**
 * With --trace-gc the centres run under `node --trace-gc`, and the collections each one made during
 * the measured minute are summed by kind (count and pause time on the main thread; the concurrent
 * marking on V8's threads shows in the per-thread CPU instead).
 */
const TRACE_GC = process.argv.includes('--trace-gc');
/**
 * --node-flags="--a --b": more flags for the centre's node (V8 settings to A/B, --trace-* output to
 * read); --compare-node-flags the same for the compared centre (default: the same flags). With
 * --compare pointing at this same checkout, an A/B of the flags alone.
 */
const flagsArg = (name: string): string[] | undefined =>
  process.argv
    .find((x) => x.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(' ')
    .filter((f) => f !== '');
const NODE_FLAGS = flagsArg('node-flags') ?? [];
const COMPARE_NODE_FLAGS = flagsArg('compare-node-flags') ?? NODE_FLAGS;

/** A centre's --trace-gc lines, collected only while `on`. */
class GcTrace {
  on = false;
  readonly lines: string[] = [];
  private rest = '';

  feed(chunk: Buffer): void {
    const text = this.rest + chunk.toString('latin1');
    const nl = text.lastIndexOf('\n');
    this.rest = text.slice(nl + 1);
    // With --node-flags=--trace-opt or --trace-deopt the (de)optimizations are kept too (read in the lines file).
    if (this.on) for (const l of text.slice(0, nl).split('\n')) if (/ ms: |optimiz|\[bailout/.test(l)) this.lines.push(l);
  }

  /** "Scavenge 123 (456 ms), Mark-Compact 4 (78 ms)": count and summed pause per kind. */
  summary(): string {
    const kinds = new Map<string, { n: number; ms: number; why: Map<string, number> }>();
    for (const l of this.lines) {
      // With --node-flags=--trace-incremental-marking: why each incremental marking began.
      const start = /\[IncrementalMarking\] Start \(([^)]*)\)/.exec(l);
      if (start) {
        const k = kinds.get('marking started') ?? { n: 0, ms: 0, why: new Map<string, number>() };
        k.n++;
        k.why.set(start[1], (k.why.get(start[1]) ?? 0) + 1);
        kinds.set('marking started', k);
        continue;
      }
      const m = / ms: ([A-Za-z-]+(?: \(reduce\))?)[^,]*, ([\d.]+) \/ [\d.]+ ms/.exec(l);
      if (!m) continue;
      // Why V8 collected: "allocation failure", "external memory pressure", "finalize incremental marking via task", ...
      const why = /current mu = [\d.]+\) ([^;]*)/.exec(l)?.[1] ?? '?';
      const k = kinds.get(m[1]) ?? { n: 0, ms: 0, why: new Map<string, number>() };
      k.n++;
      k.ms += Number(m[2]);
      k.why.set(why, (k.why.get(why) ?? 0) + 1);
      kinds.set(m[1], k);
    }
    return (
      [...kinds].map(([kind, { n, ms, why }]) => `${kind} ${n} (${ms.toFixed(0)} ms; ${[...why].map(([w, c]) => `${c} ${w}`).join(', ')})`).join(', ') || 'none'
    );
  }
}

async function startProxy(
  config: string,
  dir: string,
  name: string,
  profileDir?: string,
  root = join(import.meta.dirname, '../..'),
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; url: string; gc: GcTrace }> {
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `listen: 127.0.0.1:${port}\nlog_level: warn\n${config}`);
  const child = spawn(
    process.execPath,
    [
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      ...(TRACE_GC ? ['--trace-gc'] : []),
      ...nodeFlags,
      join(root, 'dist/src/server/cli.js'),
      `--config=${file}`,
    ],
    { stdio: ['ignore', TRACE_GC ? 'pipe' : 'ignore', 'inherit'] },
  );
  trackChild(child);
  const gc = new GcTrace();
  child.stdout?.on('data', (chunk: Buffer) => gc.feed(chunk));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/-/healthy`).catch(() => undefined))?.status === 200, 60_000, `${name} healthy`);
  return { child, url, gc };
}

/** The nats source's served-lag buckets (cumulative counts by upper bound, seconds) from /status. */
async function servedLag(url: string): Promise<{ count: number; buckets: [number, number][] }> {
  const st = (await (await fetch(`${url}/status`)).json()) as {
    sources: { stream?: { served_lag_secs: { count: number; buckets: { le: number; count: number }[] } } }[];
  };
  const lag = st.sources[0].stream!.served_lag_secs;
  return { count: lag.count, buckets: lag.buckets.map(({ le, count }): [number, number] => [le, count]) };
}

/** The q-quantile of the observations between two bucket readings: the upper bound of its bucket. */
function bucketQuantile(a: { count: number; buckets: [number, number][] }, b: { count: number; buckets: [number, number][] }, q: number): string {
  const n = b.count - a.count;
  const rank = q * n;
  for (let i = 0; i < b.buckets.length; i++) if (b.buckets[i][1] - a.buckets[i][1] >= rank) return `<= ${b.buckets[i][0]} s`;
  return `> ${b.buckets[b.buckets.length - 1][0]} s`;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'promfront-bench-stream-'));
const servers: Server[] = [];
const children: ChildProcess[] = [];
try {
  const payload = exporterBody(SERIES);
  const targets: string[] = [];
  for (let i = 0; i < TARGETS; i++) {
    const srv = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(payload);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push(srv);
    targets.push(`127.0.0.1:${(srv.address() as AddressInfo).port}`);
  }
  const natsPort = await freePort();
  const monPort = await freePort();
  const nats = spawn('nats-server', ['-js', '-sd', join(dir, 'js'), '-a', '127.0.0.1', '-p', String(natsPort), '-m', String(monPort)], { stdio: 'ignore' });
  trackChild(nats);
  children.push(nats);
  const varz = async () => (await (await fetch(`http://127.0.0.1:${monPort}/varz`)).json()) as { in_bytes: number };
  await waitFor(async () => (await fetch(`http://127.0.0.1:${monPort}/varz`).catch(() => undefined))?.status === 200, 20_000, 'nats-server');

  const edge = await startProxy(
    `publish:
  nats: {servers: ["nats://127.0.0.1:${natsPort}"]}
  publisher: bench
  scrape_interval: ${INTERVAL}s
  backlog_max_messages: ${BACKLOG}
  jobs:
    - job_name: bench
      static_configs: [{targets: ${JSON.stringify(targets)}}]
`,
    dir,
    'edge',
  );
  children.push(edge.child);
  const centreConfig = (durable: string): string => `shard:
  num_shards: ${SHARDS}
  scrape_interval: 1s
  sources:
    - nats: {servers: ["nats://127.0.0.1:${natsPort}"], subjects: ["promfront.scrapes.>"], durable: ${durable}}
      max_age: ${INTERVAL * 4}s
`;
  const centre = await startProxy(centreConfig('central'), dir, 'centre', PROFILE_DIR, undefined, NODE_FLAGS);
  children.push(centre.child);
  const other = COMPARE_DIR ? await startProxy(centreConfig('central-b'), dir, 'centre-b', undefined, COMPARE_DIR, COMPARE_NODE_FLAGS) : undefined;
  if (other) children.push(other.child);
  const centres = other ? [centre, other] : [centre];
  const prom = await startPrometheus({
    configYaml: JSON.stringify({ global: { scrape_interval: `${INTERVAL}s` }, scrape_configs: [{ job_name: 'direct', static_configs: [{ targets }] }] }),
  });
  // The centre's own downstream: one Prometheus scraping both shards, as `./proxy scrape-config` sets up.
  const downstream = await startPrometheus({
    configYaml: JSON.stringify({
      global: { scrape_interval: `${INTERVAL}s` },
      scrape_configs: centres.flatMap((c, i) =>
        Array.from({ length: SHARDS }, (_, k) => ({
          job_name: `centre-${i}-shard-${k}`,
          honor_labels: true,
          metrics_path: `/metrics/shard/${k}`,
          static_configs: [{ targets: [new URL(c.url).host] }],
        })),
      ),
    }),
  });

  // Steady state first: every target applied once at each centre (a target's first scrape is parsed
  // in full and makes its template, which a loaded machine can take well over an interval to get
  // through for 200 targets), then one more interval, then measure.
  for (const c of centres) {
    await waitFor(async () => (await metric(c.url, 'promfront_stream_targets')) >= TARGETS, 300_000, 'every target applied at the centre');
  }
  await new Promise((r) => setTimeout(r, INTERVAL * 1000 + 2000));
  const loadavg0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const applied0 = await metric(centre.url, 'promfront_stream_messages_applied_total');
  const templated0 = await metric(centre.url, 'promfront_stream_messages_templated_total');
  const otherApplied0 = other ? await metric(other.url, 'promfront_stream_messages_applied_total') : 0;
  // CPU so far of the centre (and by thread), of Prometheus and of the compared centre.
  const cpuNow = () => ({
    centre: cpuSecs(centre.child.pid!),
    prom: cpuSecs(prom.pid),
    threads: threadSecs(centre.child.pid!),
    other: other ? cpuSecs(other.child.pid!) : 0,
    otherThreads: other ? threadSecs(other.child.pid!) : new Map<string, number>(),
  });
  for (const c of centres) c.gc.on = true;
  const c0 = cpuNow();
  // On stderr at once, for tools attached to the centre (a heap sampler, perf) to time their window.
  process.stderr.write(`measuring ${SECONDS} s from ${new Date().toISOString()}\n`);
  const window0Us = process.hrtime.bigint() / 1000n;
  const in0 = (await varz()).in_bytes;
  const raw0 = await metric(edge.url, 'promfront_publish_scraped_bytes_total');
  const lag0 = await servedLag(centre.url);

  const seen = new Map<string, number>(); // `${instance} ${scrapeMs}` -> first time served
  const lags: number[] = [];
  // Where the lag is: the edge's queue before JetStream, and the centre's apply (scrape to applied).
  let backlogMax = 0;
  const applyLags: number[] = [];
  let pendingMax = 0;
  const consumerPending = async (): Promise<number> => {
    const jsz = (await (await fetch(`http://127.0.0.1:${monPort}/jsz?consumers=true`)).json()) as {
      account_details?: { stream_detail?: { consumer_detail?: { num_pending: number; num_ack_pending: number }[] }[] }[];
    };
    const c = jsz.account_details?.[0]?.stream_detail?.[0]?.consumer_detail?.[0];
    return c ? c.num_pending + c.num_ack_pending : NaN;
  };
  const end = Date.now() + SECONDS * 1000;
  let nextCentrePoll = 0;
  while (Date.now() < end) {
    const t0 = Date.now();
    backlogMax = Math.max(backlogMax, await metric(edge.url, 'promfront_publish_backlog_messages'));
    // The centre's /metrics only once an interval, as a Prometheus scraping it would: rendering it
    // every second is CPU the centre spends for the bench alone, and Prometheus has no such poll.
    if (t0 >= nextCentrePoll) {
      applyLags.push(await metric(centre.url, 'promfront_stream_publisher_lag_seconds'));
      nextCentrePoll = t0 + INTERVAL * 1000;
    }
    pendingMax = Math.max(pendingMax, await consumerPending());
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
  }
  const c1 = cpuNow();
  for (const c of centres) c.gc.on = false;
  const window1Us = process.hrtime.bigint() / 1000n;
  const lag1 = await servedLag(centre.url);
  const applied = (await metric(centre.url, 'promfront_stream_messages_applied_total')) - applied0;
  const templated = (await metric(centre.url, 'promfront_stream_messages_templated_total')) - templated0;
  const otherApplied = other ? (await metric(other.url, 'promfront_stream_messages_applied_total')) - otherApplied0 : 0;
  // The compared centre stops here: the poll below is for this build's lag alone.
  if (other) await terminate(other.child);
  const promScrapes = Number((await prom.query(`sum(count_over_time(up{job="direct"}[${SECONDS}s]))`))[0]?.value[1] ?? 0);
  const natsIn = (await varz()).in_bytes - in0;
  const raw = (await metric(edge.url, 'promfront_publish_scraped_bytes_total')) - raw0;
  const edgePeak = rssMb(edge.child.pid!, 'VmHWM');
  // The check: a scrape counts from the first poll that shows it; scrapes made before the poll began are left out.
  const pollStart = Date.now();
  const pollEnd = pollStart + POLL_SECONDS * 1000;
  while (Date.now() < pollEnd) {
    const t0 = Date.now();
    for (let k = 0; k < SHARDS; k++) {
      // Uncompressed: a gzip request would make the centre gzip the shard for this check alone.
      const text = await (await fetch(`${centre.url}/metrics/shard/${k}`, { headers: { accept: 'text/plain', 'accept-encoding': 'identity' } })).text();
      const now = Date.now();
      for (const m of text.matchAll(/^up\{instance="([^"]+)",job="bench"\} 1 (\d+)$/gm)) {
        const key = `${m[1]} ${m[2]}`;
        if (seen.has(key) || Number(m[2]) < pollStart) continue;
        seen.set(key, now);
        lags.push((now - Number(m[2])) / 1000);
      }
    }
    await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (Date.now() - t0))));
  }
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  console.log(
    `targets ${TARGETS} x ${SERIES} series every ${INTERVAL}s, measured ${SECONDS}s, then polled ${POLL_SECONDS}s, load average ${loadavg0} at the start, ${loadavg} at the end`,
  );
  console.log(
    `lag edge scrape -> served (the centre's record: the set holding the scrape published): n=${lag1.count - lag0.count} median ${bucketQuantile(lag0, lag1, 0.5)}, p99 ${bucketQuantile(lag0, lag1, 0.99)}`,
  );
  console.log(
    `lag edge scrape -> seen by a poll of /metrics/shard/K every ${POLL_MS} ms for ${POLL_SECONDS} s afterwards (adds up to one poll): n=${lags.length} median ${quantile(lags, 0.5).toFixed(2)} s, p99 ${quantile(lags, 0.99).toFixed(2)} s, max ${Math.max(...lags).toFixed(2)} s`,
  );
  console.log(
    `  of which scrape -> applied at the centre (promfront_stream_publisher_lag_seconds, sampled each poll): median ${quantile(applyLags, 0.5).toFixed(2)} s, max ${Math.max(...applyLags).toFixed(2)} s; edge backlog max ${backlogMax} messages, centre consumer pending max ${pendingMax} messages`,
  );
  console.log(
    `centre CPU per applied scrape: ${(((c1.centre - c0.centre) / applied) * 1000).toFixed(2)} ms (${applied} applied, ${templated} of them from the template, ${(c1.centre - c0.centre).toFixed(2)} s CPU, shard cycles included)`,
  );
  if (other) {
    const a = (c1.centre - c0.centre) / applied;
    const b = (c1.other - c0.other) / otherApplied;
    console.log(
      `  the same with the build in ${COMPARE_DIR}, side by side: ${(b * 1000).toFixed(2)} ms (${otherApplied} applied, ${(c1.other - c0.other).toFixed(2)} s CPU); this build / that one = ${(a / b).toFixed(2)}`,
    );
  }
  if (TRACE_GC) {
    console.log(`  collections during the minute (--trace-gc, pause on the main thread): ${centre.gc.summary()}`);
    if (other) console.log(`  the same with the build in ${COMPARE_DIR}: ${other.gc.summary()}`);
    // The lines themselves (heap sizes before and after each collection) for a closer look.
    writeFileSync(join(tmpdir(), 'promfront-bench-stream-gc.txt'), centre.gc.lines.join('\n') + '\n');
    if (other) writeFileSync(join(tmpdir(), 'promfront-bench-stream-gc-b.txt'), other.gc.lines.join('\n') + '\n');
    console.log(`  the collections' lines: ${join(tmpdir(), 'promfront-bench-stream-gc.txt')}${other ? ' and -gc-b.txt' : ''}`);
  }
  const byThread = [...c1.threads]
    .map(([name, secs]): [string, number] => [name, secs - (c0.threads.get(name) ?? 0)])
    .filter(([, secs]) => secs > 0)
    .sort((a, b) => b[1] - a[1]);
  console.log(`  by thread: ${byThread.map(([name, secs]) => `${name} ${((secs / applied) * 1000).toFixed(2)} ms`).join(', ')}`);
  if (other) {
    const otherByThread = [...c1.otherThreads]
      .map(([name, secs]): [string, number] => [name, secs - (c0.otherThreads.get(name) ?? 0)])
      .filter(([, secs]) => secs > 0)
      .sort((a, b) => b[1] - a[1]);
    console.log(
      `  by thread, the build in ${COMPARE_DIR}: ${otherByThread.map(([name, secs]) => `${name} ${((secs / otherApplied) * 1000).toFixed(2)} ms`).join(', ')}`,
    );
  }
  console.log(
    `Prometheus CPU per scrape of the same body: ${(((c1.prom - c0.prom) / promScrapes) * 1000).toFixed(2)} ms (${promScrapes} scrapes, ${(c1.prom - c0.prom).toFixed(2)} s CPU)`,
  );
  // The profile's sample times are on the same monotonic clock (see bench/cpu-profile.ts).
  if (PROFILE_DIR) console.log(`  the measured part in the centre's profile: ${window0Us} to ${window1Us} µs (process.hrtime)`);
  console.log(`wire: NATS in ${(natsIn / 1e6).toFixed(2)} MB for ${(raw / 1e6).toFixed(2)} MB raw exposition = ${((natsIn / raw) * 100).toFixed(1)}%`);
  console.log(`edge peak RSS ${edgePeak.toFixed(0)} MB (backlog empty: NATS up throughout)`);
  await prom.stop();
  await downstream.stop();

  // Edge memory with a full backlog: NATS stopped until the edge drops its oldest scrapes.
  // (--skip-backlog leaves it out, for profiling the centre.)
  if (!process.argv.includes('--skip-backlog')) {
    await terminate(nats);
    const fillStart = Date.now();
    await waitFor(
      async () => (await metric(edge.url, 'promfront_publish_backlog_dropped_total')) > 0,
      Math.max(120_000, ((BACKLOG / TARGETS) * INTERVAL + 2 * INTERVAL) * 1000),
      'the edge backlog to fill',
    );
    // One more interval with the backlog at its limit, then read the figures.
    await new Promise((r) => setTimeout(r, INTERVAL * 1000));
    const backlogMsgs = await metric(edge.url, 'promfront_publish_backlog_messages');
    const backlogBytes = await metric(edge.url, 'promfront_publish_backlog_bytes');
    const dropped = await metric(edge.url, 'promfront_publish_backlog_dropped_total');
    console.log(
      `edge with a full backlog (NATS stopped ${((Date.now() - fillStart) / 1000).toFixed(0)} s, backlog_max_messages ${BACKLOG}): ${backlogMsgs} messages, ${(backlogBytes / 1e6).toFixed(1)} MB held, ${dropped} dropped; RSS ${rssMb(edge.child.pid!, 'VmRSS').toFixed(0)} MB, peak ${rssMb(edge.child.pid!, 'VmHWM').toFixed(0)} MB (${edgePeak.toFixed(0)} MB peak before, with the backlog empty)`,
    );
  }
} finally {
  for (const c of children.reverse()) await terminate(c);
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
}
