// Push latency and loss through promfront's Pushgateway routing against pushing to one Pushgateway
// directly and through other forwarders, all in the same run (docs/push.md,
// docs/performance.md#push-routing). Run by hand:
//   npm run bench:push [-- --pushers=500 --rounds=3 --serial=1000 --series=10,1000 --hono --profile]
// Starts four Debian prometheus-pushgateway processes (one for the direct runs, three behind the
// proxy), the built proxy, and in front of the direct Pushgateway the floors: haproxy and nginx
// (bench/push-peers.ts) and a bare node:http + undici forward (bench/push-floor.ts; --hono adds
// the Hono ones), all on loopback, and stops them at the end. The one-pusher run interleaves the
// endpoints push by push, so load that comes and goes hits all of them alike, once per body size
// (a batch job's push of 10 and of 1,000 series); it also reports each forwarder's CPU time per
// push (from /proc, so busy neighbours do not count). --profile writes a V8 CPU profile of the
// proxy and prints its top functions and files.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { answers200, freePort, terminate, trackChild, waitFor } from '../dev/prometheus-process.js';
import { profileIn, summarizeProfile } from './cpu-profile.js';
import { cpuSeconds, startHaproxy, startNginx } from './push-peers.js';
import { percentile } from './query-measure.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'dist/src/server/cli.js');
const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const PUSHERS = arg('pushers', 500);
const ROUNDS = arg('rounds', 3);
const SERIAL = arg('serial', 1000);
const PROFILE = process.argv.includes('--profile');
const HONO = process.argv.includes('--hono');
// Another build of promfront (its dist/ directory) measured beside this one, behind the same Pushgateways: an A/B of a change.
const COMPARE = process.argv.find((a) => a.startsWith('--compare='))?.split('=')[1];
const EXTRA = (process.argv.find((a) => a.startsWith('--floors='))?.split('=')[1] ?? '').split(',').filter(Boolean);
const SERIES = (process.argv.find((a) => a.startsWith('--series='))?.split('=')[1] ?? '10,1000').split(',').map(Number);
const FLOOR = fileURLToPath(new URL('./push-floor.js', import.meta.url));

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

/** A batch job's push: one gauge family with `series` series, all with `value`. */
function pushBody(series: number, value: number): string {
  let text = '# HELP bench_value A value a batch job reports.\n# TYPE bench_value gauge\n';
  for (let i = 0; i < series; i++) text += `bench_value{series="s${String(i).padStart(4, '0')}",stage="load"} ${value}\n`;
  return text;
}

async function push(base: string, p: string, body: string): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  try {
    const r = await request(`${base}${p}`, { method: 'PUT', body, dispatcher: agent });
    await r.body.dump();
    return { ms: performance.now() - t0, ok: r.statusCode === 200 };
  } catch {
    return { ms: performance.now() - t0, ok: false };
  }
}

interface Wave {
  lat: number[];
  lost: number;
  seconds: number;
}

/** One wave: PUSHERS pushers at once, one push each (group p<i> of the job), all to `base`. */
async function wave(base: string, tag: string, round: number, into: Wave): Promise<void> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PUSHERS }, async (_, i) => {
      const res = await push(base, `/metrics/job/bench_${tag}/pusher/p${i}`, pushBody(10, round));
      into.lat.push(res.ms);
      if (!res.ok) into.lost++;
    }),
  );
  into.seconds += (performance.now() - t0) / 1000;
}

/** ROUNDS rounds; in each, a wave to the direct Pushgateway, then one through the proxy (interleaved, so both see the same load). */
async function concurrent(direct: string, proxy: string): Promise<[Wave, Wave]> {
  const d: Wave = { lat: [], lost: 0, seconds: 0 };
  const p: Wave = { lat: [], lost: 0, seconds: 0 };
  for (let r = 1; r <= ROUNDS; r++) {
    await wave(direct, 'direct', r, d);
    await wave(proxy, 'proxy', r, p);
  }
  return [d, p];
}

/**
 * One pusher: `rounds` pushes of `series` series to each endpoint, one at a time, the endpoints
 * taking turns (order rotated each round). Every push replaces the same group, deleted at the end:
 * the direct Pushgateway and the proxy's owner then hold the same groups while they are measured
 * (a Pushgateway's push costs more the more it holds).
 */
async function serial(bases: string[], tag: string, series: number, rounds = SERIAL): Promise<{ lat: number[][]; failed: number }> {
  const lat = bases.map(() => [] as number[]);
  const bodies = Array.from({ length: 10 }, (_, v) => pushBody(series, v));
  let failed = 0;
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < bases.length; j++) {
      const k = (i + j) % bases.length;
      const r = await push(bases[k], `/metrics/job/bench_serial/run/${tag}`, bodies[i % 10]);
      lat[k].push(r.ms);
      if (!r.ok) failed++;
    }
  }
  // Through every endpoint: the proxy's DELETE reaches all of its Pushgateways.
  for (const b of bases) await (await request(`${b}/metrics/job/bench_serial/run/${tag}`, { method: 'DELETE', dispatcher: agent })).body.dump();
  return { lat, failed };
}

async function startFloor(mode: string, upstream: string): Promise<{ base: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [FLOOR, mode, String(port), upstream], { stdio: 'inherit' });
  trackChild(child);
  await waitFor(() => answers200(`http://127.0.0.1:${port}/-/ready`), 20_000, `floor server ${mode}`);
  return { base: `http://127.0.0.1:${port}`, child };
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
  if (lat.length === 0) return 'no pushes';
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
  const profDir = path.join(dir, 'prof');
  const proxy = spawn(process.execPath, [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), CLI, `--config=${configFile}`], {
    stdio: 'inherit',
  });
  trackChild(proxy, [dir]);
  const listenB = `127.0.0.1:${await freePort()}`;
  let proxyB: ChildProcess | undefined;
  if (COMPARE) {
    const configB = path.join(dir, 'config-b.yaml');
    fs.writeFileSync(configB, fs.readFileSync(configFile, 'utf8').replace(`listen: ${listen}`, `listen: ${listenB}`));
    proxyB = spawn(process.execPath, [path.join(COMPARE, 'src/server/cli.js'), `--config=${configB}`], { stdio: 'inherit' });
    trackChild(proxyB);
  }
  const floors = [
    await startFloor('bare', direct.address),
    ...(HONO ? [await startFloor('hono-forward', direct.address), await startFloor('hono', direct.address)] : []),
  ];
  const extra = await Promise.all(EXTRA.map((m) => startFloor(m, direct.address)));
  const haproxy = await startHaproxy(direct.address);
  const nginx = await startNginx(direct.address);
  try {
    const ringOf3 = (at: string) => async () =>
      (await answers200(`http://${at}/-/healthy`)) && ((await (await fetch(`http://${at}/sd/pushgateways`)).json()) as unknown[]).length === 3;
    await waitFor(ringOf3(listen), 30_000, 'three healthy Pushgateways');
    if (proxyB) await waitFor(ringOf3(listenB), 30_000, 'three healthy Pushgateways behind the compared proxy');
    const d = `http://${direct.address}`;
    const p = `http://${listen}`;
    // In table order; a pid is a forwarder whose CPU time per push is reported.
    const peers: { name: string; base: string; pid?: number }[] = [
      { name: 'direct to one Pushgateway', base: d },
      { name: 'haproxy 2.6 (http mode, keep-alive)', base: haproxy.base, pid: haproxy.child.pid },
      { name: 'nginx 1.22 (upstream keepalive)', base: nginx.base, pid: nginx.child.pid },
      { name: 'bare node:http + undici Pool', base: floors[0].base, pid: floors[0].child.pid },
      { name: 'promfront (3 Pushgateways)', base: p, pid: proxy.pid },
      ...(HONO
        ? [
            { name: 'Hono route forwarding', base: floors[1].base, pid: floors[1].child.pid },
            { name: 'empty Hono route (no Pushgateway)', base: floors[2].base, pid: floors[2].child.pid },
          ]
        : []),
      ...(proxyB ? [{ name: `promfront ${path.basename(COMPARE!)}`, base: `http://${listenB}`, pid: proxyB.pid }] : []),
      ...extra.map((f, i) => ({ name: `floor ${EXTRA[i]}`, base: f.base, pid: f.child.pid })),
    ];
    const bases = peers.map((x) => x.base);
    // Warm-up (connections, JIT), not measured.
    await serial(bases, 'warm', SERIES[SERIES.length - 1], 200);
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    for (const series of SERIES) {
      const load = loadavg();
      const cpu0 = peers.map((x) => (x.pid ? cpuSeconds(x.pid) : 0));
      const { lat, failed } = await serial(bases, `s${series}`, series);
      const cpu1 = peers.map((x) => (x.pid ? cpuSeconds(x.pid) : 0));
      const p50direct = percentile(lat[0], 50);
      console.log(
        `one pusher, ${series} series per push (${pushBody(series, 1).length} bytes), ${SERIAL} pushes to each, interleaved, ${failed} failed (load average at its start ${load.map((x) => x.toFixed(1)).join(' ')}):`,
      );
      peers.forEach((x, i) => {
        const ratio = i === 0 ? '' : `   p50 ${(percentile(lat[i], 50) / p50direct).toFixed(2)}x direct`;
        const cpu = x.pid ? `, CPU ${(((cpu1[i] - cpu0[i]) / SERIAL) * 1e6).toFixed(0)} us/push` : '';
        console.log(`  ${x.name.padEnd(38)} ${summary(lat[i])}${cpu}${ratio}`);
      });
    }
    const load2 = loadavg();
    const [cDirect, cProxy] = await concurrent(d, p);
    const gotDirect = await census([direct.address], 'bench_direct');
    const gotProxy = await census(
      behind.map((b) => b.address),
      'bench_proxy',
    );
    const wrong = (m: Map<string, string[]>) => PUSHERS - [...m.values()].filter((v) => v.length === 1 && v[0] === String(ROUNDS)).length;
    console.log(
      `${PUSHERS} concurrent pushers x ${ROUNDS} rounds, direct and proxy waves alternating (load average at its start ${load2.map((x) => x.toFixed(1)).join(' ')}):`,
    );
    console.log(
      `  direct to one Pushgateway: ${summary(cDirect.lat)}, ${(cDirect.lat.length / cDirect.seconds).toFixed(0)} pushes/s, failed ${cDirect.lost}, groups missing or wrong ${wrong(gotDirect)}`,
    );
    console.log(
      `  through the proxy (3):     ${summary(cProxy.lat)}, ${(cProxy.lat.length / cProxy.seconds).toFixed(0)} pushes/s, failed ${cProxy.lost}, groups missing, duplicated or wrong ${wrong(gotProxy)}   median ratio ${(percentile(cProxy.lat, 50) / percentile(cDirect.lat, 50)).toFixed(2)}x`,
    );
  } finally {
    await terminate(proxy, 5000);
    if (proxyB) await terminate(proxyB, 5000);
    for (const f of [...floors, ...extra]) await terminate(f.child, 5000);
    await haproxy.stop();
    await nginx.stop();
    for (const g of [direct, ...behind]) await terminate(g.child, 5000);
    if (PROFILE) {
      const file = profileIn(profDir);
      fs.copyFileSync(file, path.join(tmpdir(), 'promfront-bench-push.cpuprofile'));
      console.log(`proxy CPU profile kept in ${path.join(tmpdir(), 'promfront-bench-push.cpuprofile')}`);
      const prof = summarizeProfile(file, 25);
      console.log(`proxy CPU profile: ${prof.busyMs.toFixed(0)} ms busy`);
      for (const f of prof.topFiles) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.file}`);
      for (const f of prof.topFunctions) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name} ${f.where}`);
    }
    await agent.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
