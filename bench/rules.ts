// Rules benchmark, run by hand (`npm run bench:rules`), results in docs/performance.md.
//
//   1. Remote-write throughput: the rules' WriteQueue (src/rules/remote-write.ts) in this process
//      sending 1,000,000 samples of 10,000 series to a real Prometheus 2.42 receiver
//      (--web.enable-remote-write-receiver): samples/s until everything is acknowledged, and the
//      queue's memory (heap growth at the peak of pending samples).
//   2. Evaluation round: 500 recording and 100 alerting rules of dashboard shapes (sums of rates by
//      label, ratios, histogram quantiles) over an exporter split into 2 shards, each scraped by
//      its own Prometheus behind ./proxy as 2 server groups; the same rule file evaluated by one
//      reference Prometheus scraping everything. Reports promfront's round durations
//      (promfront_rule_group_last_duration_seconds) of the 3 rounds after its first, their median
//      against prometheus_rule_group_last_duration_seconds, and the CPU-seconds per round of
//      promfront, of the Prometheus it reads and of the reference, at a 15 s interval.
//
//   npm run bench:rules [-- --skip-write] [-- --skip-eval] [-- --cpu-prof=DIR] [-- --baseline=DIR] [-- --repeat=N]
//   (--cpu-prof writes the proxy's V8 CPU profiles, one per thread, into DIR; --baseline=DIR is
//   another checkout built with `npm run build:tools`: its queue and its ./proxy are measured in the
//   same run, interleaved with this checkout's, N times each)

import fs from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startPrometheus, waitFor, type PrometheusProcess } from '../dev/prometheus-process.js';
import { remoteWriteSchema } from '../src/config/rules.js';
import { labelsFromRecord } from '../src/model/labels.js';
import { WriteQueue, type WriteSample } from '../src/rules/remote-write.js';
import { startProxyProcess, type ProxyProcess } from './query-procs.js';

const args = new Set(process.argv.slice(2));

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const cpuProfDir = flag('cpu-prof');
const baselineDir = flag('baseline');
const repeat = Number(flag('repeat') ?? 1);

/** What is measured: this checkout, and with --baseline the other one, interleaved. */
interface Variant {
  name: string;
  /** Its ./proxy's entry point (dist/src/server/cli.js). */
  cli?: string;
  queue: typeof WriteQueue;
  schema: typeof remoteWriteSchema;
}

async function variants(): Promise<Variant[]> {
  const here: Variant = { name: 'this checkout', queue: WriteQueue, schema: remoteWriteSchema };
  if (baselineDir === undefined) return [here];
  const dist = path.resolve(baselineDir, 'dist', 'src');
  const rw = (await import(pathToFileURL(path.join(dist, 'rules', 'remote-write.js')).href)) as { WriteQueue: typeof WriteQueue };
  const cfg = (await import(pathToFileURL(path.join(dist, 'config', 'rules.js')).href)) as { remoteWriteSchema: typeof remoteWriteSchema };
  return [here, { name: `baseline ${baselineDir}`, cli: path.join(dist, 'server', 'cli.js'), queue: rw.WriteQueue, schema: cfg.remoteWriteSchema }];
}

async function remoteWriteThroughput(v: Variant): Promise<void> {
  const receiver = await startPrometheus({ configYaml: 'global: {}\n', extraArgs: ['--web.enable-remote-write-receiver'] });
  try {
    const SERIES = 10_000;
    const ROUNDS = 100;
    const cfg = v.schema.parse({
      url: `${receiver.url}/api/v1/write`,
      // capacity: several batches per shard, as Prometheus recommends (its default since 2.44: 10,000).
      queue_config: { capacity: 10_000, max_samples_per_send: 2000, batch_send_deadline: '50ms', max_pending_samples: 2_000_000 },
    });
    const q = new v.queue(cfg, pino({ level: 'silent' }));
    const labels = Array.from({ length: SERIES }, (_, i) => labelsFromRecord({ __name__: 'bench_recorded', job: `job-${i % 50}`, instance: `i-${i}` }));
    const t0 = Date.now() - ROUNDS * 1000;
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    let peakHeap = heap0;
    let peakPending = 0;
    const start = performance.now();
    const ourCpu0 = process.cpuUsage();
    const theirCpu0 = cpuSeconds(receiver.pid);
    for (let r = 0; r < ROUNDS; r++) {
      const batch: WriteSample[] = labels.map((l, i) => ({ labels: l, t: t0 + r * 1000, v: r * i }));
      q.append(batch);
      peakPending = Math.max(peakPending, q.pending);
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      await sleep(0);
    }
    while (q.pending > 0) {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      await sleep(5);
    }
    await q.flush(60_000);
    const secs = (performance.now() - start) / 1000;
    const ourCpuUs = process.cpuUsage(ourCpu0);
    const ourCpu = (ourCpuUs.user + ourCpuUs.system) / 1e6;
    const theirCpu = cpuSeconds(receiver.pid) - theirCpu0;
    const n = SERIES * ROUNDS;
    const got = (await receiver.query('count(count_over_time(bench_recorded[10m]))')) as { value: [number, string] }[];
    console.log(
      `[${v.name}] remote write: ${n} samples in ${secs.toFixed(2)} s = ${Math.round(n / secs)} samples/s; sent ${q.stats.samplesSent}, failed ${q.stats.samplesFailed}, ` +
        `dropped ${q.stats.samplesDropped}, retried ${q.stats.samplesRetried}; receiver holds ${got[0]?.value[1]} series; ` +
        `peak pending ${peakPending}, peak heap growth ${((peakHeap - heap0) / 1e6).toFixed(1)} MB, shards at the end ${q.shardCount}; load ${loadavg()[0].toFixed(1)}`,
    );
    console.log(
      `[${v.name}] remote write CPU: promfront (this process: encode, snappy, HTTP) ${ourCpu.toFixed(2)} s = ${Math.round(n / ourCpu)} samples per CPU-second; ` +
        `receiving Prometheus ${theirCpu.toFixed(2)} s = ${Math.round(n / theirCpu)} samples per CPU-second; wall ${secs.toFixed(2)} s on 2 shared cores`,
    );
    await q.stop();
  } finally {
    await receiver.stop();
  }
}

const JOBS = 50;
const INSTANCES = 20;
const CODES = ['200', '404', '500', '503'];
const LE = ['0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf'];

function exposition(jobs: number[], tick: number): string {
  const out: string[] = [];
  for (const j of jobs) {
    for (let i = 0; i < INSTANCES; i++) {
      const base = `job_name="job-${j}",pod="p-${i}"`;
      for (const c of CODES) out.push(`http_requests_total{${base},code="${c}"} ${(tick * (j + i + 1) * (c === '200' ? 10 : 1)).toFixed(0)}`);
      LE.forEach((le, k) => out.push(`http_request_duration_seconds_bucket{${base},le="${le}"} ${tick * (k + 1) * (i + 1)}`));
    }
  }
  return out.join('\n') + '\n';
}

function rulesFile(): string {
  const lines = ['groups:', '  - name: dashboards', '    interval: 15s', '    rules:'];
  for (let n = 0; n < 500; n++) {
    const j = n % JOBS;
    const shapes = [
      `sum by (pod) (rate(http_requests_total{job_name="job-${j}"}[1m]))`,
      `sum by (code) (rate(http_requests_total{job_name="job-${j}"}[1m]))`,
      `histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{job_name="job-${j}"}[1m])))`,
      `sum(rate(http_requests_total{job_name="job-${j}",code=~"5.."}[1m])) / sum(rate(http_requests_total{job_name="job-${j}"}[1m]))`,
      `max by (pod) (http_requests_total{job_name="job-${j}"})`,
    ];
    lines.push(`      - record: bench:r${n}`, `        expr: '${shapes[Math.floor(n / JOBS) % shapes.length]}'`);
  }
  for (let n = 0; n < 100; n++) {
    const j = n % JOBS;
    lines.push(
      `      - alert: Bench${n}`,
      `        expr: 'sum(rate(http_requests_total{job_name="job-${j}",code="500"}[1m])) / sum(rate(http_requests_total{job_name="job-${j}"}[1m])) > ${n % 2 === 0 ? '0.001' : '0.5'}'`,
      '        for: 1m',
      `        annotations: {summary: "{{ $value | humanizePercentage }} errors"}`,
    );
  }
  return lines.join('\n') + '\n';
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes('dashboards'));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function evaluationRound(vs: Variant[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-rules-'));
  const rules = path.join(dir, 'rules.yml');
  fs.writeFileSync(rules, rulesFile());
  const started = Date.now();
  const exporter = createServer((req, res) => {
    const tick = Math.floor((Date.now() - started) / 1000);
    const jobs = Array.from({ length: JOBS }, (_, j) => j).filter((j) => (req.url === '/a' ? j % 2 === 0 : req.url === '/b' ? j % 2 === 1 : true));
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(exposition(jobs, tick));
  });
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  const ex = `127.0.0.1:${(exporter.address() as { port: number }).port}`;
  const job = (n: string) => `  - job_name: ${n}\n    metrics_path: /${n}\n    static_configs: [{targets: ["${ex}"]}]\n`;
  const global = 'global: {scrape_interval: 5s, evaluation_interval: 15s}\n';
  let procs: PrometheusProcess[] = [];
  let receiver: PrometheusProcess | undefined;
  try {
    procs = await Promise.all([
      startPrometheus({ configYaml: `${global}scrape_configs:\n${job('a')}` }),
      startPrometheus({ configYaml: `${global}scrape_configs:\n${job('b')}` }),
      startPrometheus({ configYaml: `${global}rule_files: [${JSON.stringify(rules)}]\nscrape_configs:\n${job('a')}${job('b')}` }),
    ]);
    receiver = await startPrometheus({ configYaml: 'global: {}\n', extraArgs: ['--web.enable-remote-write-receiver'] });
    await sleep(12_000); // a few scrapes, so rate() has two points
    for (let r = 0; r < repeat; r++) {
      for (const v of vs) await evaluateWith(v, procs, receiver, dir, rules);
    }
  } finally {
    await Promise.all([...procs, receiver].map((x) => (x ? x.stop() : Promise.resolve())));
    exporter.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One ./proxy evaluating the rule file over the two shards: its round time after its first round
 * (which warms up), and the CPU-seconds per round of it, of the two Prometheus it reads, and of the
 * reference (which also scrapes everything) over the same rounds.
 */
async function evaluateWith(v: Variant, procs: PrometheusProcess[], receiver: PrometheusProcess, dir: string, rules: string): Promise<void> {
  let proxy: ProxyProcess | undefined;
  try {
    proxy = await startProxyProcess({
      groups: [[`127.0.0.1:${procs[0].port}`], [`127.0.0.1:${procs[1].port}`]],
      remoteRead: false,
      dir,
      cli: v.cli,
      ...(cpuProfDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProfDir)}`] } : {}),
      extraYaml: `rule_files: [${JSON.stringify(rules)}]\nremote_write: [{url: "${receiver.url}/api/v1/write"}]`,
    });
    const p = proxy;
    const rounds = async () => (await metric(p.url, 'promfront_rule_group_iterations_total')) ?? 0;
    await waitFor(async () => (await rounds()) >= 1, 120_000, 'the first round', 200);
    const cpu = () => [cpuSeconds(p.pid), cpuSeconds(procs[0].pid) + cpuSeconds(procs[1].pid), cpuSeconds(procs[2].pid)];
    const cpu0 = cpu();
    const r0 = await rounds();
    const durations: number[] = [];
    for (let want = r0 + 1; want <= r0 + 3; want++) {
      await waitFor(async () => (await rounds()) >= want, 120_000, `round ${want}`, 200);
      durations.push((await metric(p.url, 'promfront_rule_group_last_duration_seconds')) ?? NaN);
    }
    const n = (await rounds()) - r0;
    const [ours, downstream, reference] = cpu().map((c, i) => (c - cpu0[i]) / n);
    const theirs = await metric(procs[2].url, 'prometheus_rule_group_last_duration_seconds');
    const failures = await metric(p.url, 'promfront_rule_evaluation_failures_total');
    const missed = await metric(p.url, 'promfront_rule_group_iterations_missed_total');
    const median = [...durations].sort((a, b) => a - b)[1];
    console.log(
      `[${v.name}] evaluation round of 600 rules: promfront ${durations.map((d) => d.toFixed(3)).join(' / ')} s (median ${median.toFixed(3)} s; 2 server groups), ` +
        `Prometheus ${theirs?.toFixed(3)} s (all data), ratio ${(median / (theirs ?? NaN)).toFixed(2)}x; ` +
        `CPU-seconds per round: promfront ${ours.toFixed(2)}, the 2 downstream Prometheus ${downstream.toFixed(2)}, the reference (scrapes included) ${reference.toFixed(2)}; ` +
        `failures ${failures}, missed ${missed}; load ${loadavg()[0].toFixed(1)}`,
    );
  } finally {
    await proxy?.stop();
  }
}

const measured = await variants();
if (!args.has('--skip-write')) for (let r = 0; r < repeat; r++) for (const v of measured) await remoteWriteThroughput(v);
if (!args.has('--skip-eval')) await evaluationRound(measured);
