// The request fast path's share of a request's cost (src/server/fast-path.ts): the same build
// started twice, with the fast path and with PROMFRONT_FAST_PATH=0 (every request through the Hono
// app), optionally a third proxy of another build (--compare=<its dist dir>), all in front of one
// Prometheus that scrapes itself, asked the same requests in turn. Prints, per request kind and
// proxy, the wall median and the proxy process's CPU per request (utime + stime from
// /proc/<pid>/stat over the run, so neighbours' load does not count), and Prometheus's median.
//
//   npm run build && npm run build:tools
//   node dist-tools/bench/fast-path.js [--requests=1000] [--compare=/path/to/other/dist]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startPrometheus, waitFor } from '../dev/prometheus-process.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const REQUESTS = Number(arg('requests') ?? 1000);
const COMPARE = arg('compare');
const OWN_CLI = fileURLToPath(new URL('../../dist/src/server/cli.js', import.meta.url));
const TICKS_PER_SECOND = 100;

interface Target {
  name: string;
  port: number;
  pid?: number;
  times: number[];
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function get(port: number, path: string, method = 'GET', body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) } : {};
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startProxy(cli: string, promPort: number, env: Record<string, string>): Promise<{ child: ChildProcess; port: number; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'promfront-fast-path-bench-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  results_cache: {enabled: false}\n  server_groups:\n    - name: one\n      static_configs: [{targets: ["127.0.0.1:${promPort}"]}]\n`,
  );
  const child = spawn(process.execPath, [cli, `--config=${config}`], { stdio: 'ignore', env: { ...process.env, ...env } });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, 30_000, 'proxy ready');
  return { child, port, dir };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main(): Promise<void> {
  // Prometheus scrapes itself, so `up` has a sample.
  const promPort = await freePort();
  const prom = await startPrometheus({
    port: promPort,
    configYaml: `global: {scrape_interval: 1s}\nscrape_configs: [{job_name: prometheus, static_configs: [{targets: ["127.0.0.1:${promPort}"]}]}]\n`,
  });
  const procs = [
    { name: 'fast path', ...(await startProxy(OWN_CLI, promPort, {})) },
    { name: 'through the app (PROMFRONT_FAST_PATH=0)', ...(await startProxy(OWN_CLI, promPort, { PROMFRONT_FAST_PATH: '0' })) },
    ...(COMPARE ? [{ name: `other build (${COMPARE})`, ...(await startProxy(join(COMPARE, 'src/server/cli.js'), promPort, {})) }] : []),
  ];
  await new Promise((r) => setTimeout(r, 2500));
  const now = Math.floor(Date.now() / 1000);
  const kinds: [string, string, string?, string?][] = [
    ['up, instant (pushed whole)', `/api/v1/query?query=up&time=${now}`],
    ['vector(1)', `/api/v1/query?query=vector(1)&time=${now}`],
    ['up, instant, POSTed form', '/api/v1/query', 'POST', `query=up&time=${now}`],
    ['up, range 5 min at 15 s', `/api/v1/query_range?query=up&start=${now - 300}&end=${now}&step=15`],
  ];
  console.log(
    `# bench/fast-path.ts, ${new Date().toISOString()}, ${REQUESTS} requests of each kind to each target, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log('| request | target | wall median | CPU per request |');
  console.log('| --- | --- | --- | --- |');
  for (const [label, path, method, body] of kinds) {
    const targets: Target[] = [
      { name: 'Prometheus direct', port: promPort, times: [] },
      ...procs.map((p) => ({ name: p.name, port: p.port, pid: p.child.pid, times: [] })),
    ];
    const cpu = new Map<Target, number>();
    for (const t of targets) {
      // Warm-up: long enough for V8 to optimize this kind's path (with 50 the first kind measured
      // paid for compiling: 1.6-1.9x the CPU of the same kind asked again).
      for (let i = 0; i < 300; i++) await get(t.port, path, method, body);
      if (t.pid) cpu.set(t, cpuSeconds(t.pid));
    }
    for (let i = 0; i < REQUESTS; i++) {
      // Rotated so no target always goes first.
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(i + k) % targets.length];
        const t0 = performance.now();
        await get(t.port, path, method, body);
        t.times.push(performance.now() - t0);
      }
    }
    for (const t of targets) {
      const perReq = t.pid ? `${Math.round(((cpuSeconds(t.pid) - cpu.get(t)!) / REQUESTS) * 1e6)} µs` : '';
      console.log(`| ${label} | ${t.name} | ${median(t.times).toFixed(2)} ms | ${perReq} |`);
    }
  }
  console.log(
    `# load average after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const p of procs) {
    p.child.kill('SIGTERM');
    rmSync(p.dir, { recursive: true, force: true });
  }
  await prom.stop();
  agent.destroy();
}

await main();
