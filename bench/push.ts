// Push latency and loss through promfront's Pushgateway routing against pushing to one Pushgateway
// directly, in the same run (docs/push.md, docs/performance.md#push-routing). Run by hand:
//   npm run bench:push [-- --pushers=500 --rounds=3]
// Starts four Debian prometheus-pushgateway processes (one for the direct runs, three behind the
// proxy) and the built proxy, all on loopback, and stops them at the end.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { answers200, freePort, terminate, trackChild, waitFor } from '../dev/prometheus-process.js';
import { percentile } from './query-measure.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'dist/src/server/cli.js');
const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const PUSHERS = arg('pushers', 500);
const ROUNDS = arg('rounds', 3);
const SERIAL = arg('serial', 300);

async function startPgw(): Promise<{ address: string; child: ChildProcess }> {
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn('prometheus-pushgateway', [`--web.listen-address=${address}`, '--persistence.file=', '--log.level=warn'], { stdio: 'ignore' });
  child.once('error', (e) => {
    throw new Error(`prometheus-pushgateway: ${e.message} (install Debian's prometheus-pushgateway)`);
  });
  trackChild(child);
  await waitFor(() => answers200(`http://${address}/-/ready`), 20_000, `pushgateway ${address}`);
  return { address, child };
}

const agent = new Agent({ connections: 1024, keepAliveTimeout: 30_000 });

async function push(base: string, p: string, value: number): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  try {
    const r = await request(`${base}${p}`, { method: 'PUT', body: `# TYPE bench_value gauge\nbench_value ${value}\n`, dispatcher: agent });
    await r.body.dump();
    return { ms: performance.now() - t0, ok: r.statusCode === 200 };
  } catch {
    return { ms: performance.now() - t0, ok: false };
  }
}

/** One pusher per group, each pushing ROUNDS times one after the other, all pushers at once. */
async function concurrent(base: string, tag: string): Promise<{ lat: number[]; lost: number; seconds: number }> {
  const lat: number[] = [];
  let lost = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PUSHERS }, async (_, i) => {
      for (let r = 1; r <= ROUNDS; r++) {
        const res = await push(base, `/metrics/job/bench_${tag}/pusher/p${i}`, r);
        lat.push(res.ms);
        if (!res.ok) lost++;
      }
    }),
  );
  return { lat, lost, seconds: (performance.now() - t0) / 1000 };
}

async function serial(base: string, tag: string): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < SERIAL; i++) lat.push((await push(base, `/metrics/job/bench_serial_${tag}/n/s${i % 50}`, i)).ms);
  return lat;
}

/** Groups of the job with their last value, over the given Pushgateways: key → values found. */
async function census(addresses: string[], job: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const a of addresses) {
    const r = await request(`http://${a}/api/v1/metrics`, { dispatcher: agent });
    const doc = (await r.body.json()) as { data: { labels: Record<string, string>; bench_value?: { metrics: { value: string }[] } }[] };
    for (const g of doc.data) {
      if (g.labels.job !== job) continue;
      const k = JSON.stringify(g.labels);
      out.set(k, [...(out.get(k) ?? []), g.bench_value?.metrics[0]?.value ?? '']);
    }
  }
  return out;
}

function summary(lat: number[]): string {
  return `p50 ${percentile(lat, 50).toFixed(2)} ms, p90 ${percentile(lat, 90).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms`;
}

async function main(): Promise<void> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const direct = await startPgw();
  const behind = [await startPgw(), await startPgw(), await startPgw()];
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-push-'));
  const listen = `127.0.0.1:${await freePort()}`;
  const configFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    configFile,
    `listen: ${listen}\nlog_level: warn\npush:\n  pushgateways:\n    static_configs: [{targets: [${behind.map((b) => `"${b.address}"`).join(', ')}]}]\n  health_check_interval: 5s\n`,
  );
  const proxy = spawn(process.execPath, [CLI, `--config=${configFile}`], { stdio: 'inherit' });
  trackChild(proxy, [dir]);
  try {
    await waitFor(() => answers200(`http://${listen}/-/healthy`), 30_000, 'proxy');
    await waitFor(
      async () => ((await (await fetch(`http://${listen}/sd/pushgateways`)).json()) as unknown[]).length === 3,
      20_000,
      'three healthy Pushgateways',
    );
    const d = `http://${direct.address}`;
    const p = `http://${listen}`;
    // Warm-up (connections, JIT), not measured.
    await serial(d, 'warm');
    await serial(p, 'warm');
    const serialDirect = await serial(d, 'd');
    const serialProxy = await serial(p, 'p');
    const cDirect = await concurrent(d, 'direct');
    const cProxy = await concurrent(p, 'proxy');
    const gotDirect = await census([direct.address], 'bench_direct');
    const gotProxy = await census(
      behind.map((b) => b.address),
      'bench_proxy',
    );
    const wrong = (m: Map<string, string[]>) => PUSHERS - [...m.values()].filter((v) => v.length === 1 && v[0] === String(ROUNDS)).length;
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    console.log(`one pusher, ${SERIAL} pushes one after the other:`);
    console.log(`  direct to one Pushgateway: ${summary(serialDirect)}`);
    console.log(
      `  through the proxy (3):     ${summary(serialProxy)}   median ratio ${(percentile(serialProxy, 50) / percentile(serialDirect, 50)).toFixed(2)}x`,
    );
    console.log(`${PUSHERS} concurrent pushers x ${ROUNDS} pushes each:`);
    console.log(
      `  direct to one Pushgateway: ${summary(cDirect.lat)}, ${(cDirect.lat.length / cDirect.seconds).toFixed(0)} pushes/s, failed ${cDirect.lost}, groups missing or wrong ${wrong(gotDirect)}`,
    );
    console.log(
      `  through the proxy (3):     ${summary(cProxy.lat)}, ${(cProxy.lat.length / cProxy.seconds).toFixed(0)} pushes/s, failed ${cProxy.lost}, groups missing, duplicated or wrong ${wrong(gotProxy)}   median ratio ${(percentile(cProxy.lat, 50) / percentile(cDirect.lat, 50)).toFixed(2)}x`,
    );
  } finally {
    await terminate(proxy, 5000);
    for (const g of [direct, ...behind]) await terminate(g.child, 5000);
    await agent.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
