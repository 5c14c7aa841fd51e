// Fleet benchmark (docs/fleet.md, issue 13's targets): 10,000 registered targets over 50 groups.
//   1. computing an assignment (parse the keys, rendezvous with bounded loads), in process;
//   2. /sd/fleet answer time under 50 members polling every 5 s, against the real ./proxy
//      (dist/src/server/cli.js) reading a real etcd (Debian etcd-server);
//   3. targets moved when one group leaves, as that proxy counts them, against the ideal 1/N;
//   4. etcd's range requests during 30 s of steady state (no periodic full reads expected).
//
//   npm run bench:fleet [-- --poll-seconds=60]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, trackChild, waitFor } from '../dev/prometheus-process.js';
import type { KeyValue } from '../src/fleet/etcd-client.js';
import { assign, DEFAULT_MAX_LOAD } from '../src/fleet/rendezvous.js';
import { parseMembers, parseTargets, type Invalid } from '../src/fleet/view.js';
import { median, percentile } from './query-measure.js';

const TARGETS = 10_000;
const GROUPS = 50;
const pollSeconds = Number(process.argv.find((a) => a.startsWith('--poll-seconds='))?.split('=')[1] ?? 60);
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const targetKey = (i: number): string => `/registry/svc${i % 7}/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9100`;

async function post(base: string, p: string, body: unknown): Promise<any> {
  const r = await fetch(`${base}${p}`, { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

function inProcessAssignment(): void {
  let rev = 0;
  const kv = (key: string, value: string): KeyValue => ({ key, value, createRevision: ++rev, modRevision: rev, lease: '1' });
  const members = Array.from({ length: GROUPS }, (_, g) => kv(`/promfront/members/shard-${g}/10.200.0.${g}:9090`, '{"id":"x"}'));
  const targets = Array.from({ length: TARGETS }, (_, i) => kv(targetKey(i), ''));
  const times: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < 20; run++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const invalid: Invalid[] = [];
    const groups = parseMembers('/promfront', members, invalid);
    const ts = parseTargets('/registry', targets, invalid);
    assign(
      ts.map((t) => t.key),
      groups.keys(),
      DEFAULT_MAX_LOAD,
    );
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  console.log(
    `assignment of ${TARGETS} targets over ${GROUPS} groups (parse + assign, in process, 20 runs): wall median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms; CPU median ${median(cpu).toFixed(1)} ms, min ${Math.min(...cpu).toFixed(1)} ms`,
  );
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, load average ${loadavg()[0].toFixed(1)} (shared with other helpers' builds and tests)`);
  inProcessAssignment();

  const dir = mkdtempSync(path.join(tmpdir(), 'promfront-bench-fleet-'));
  const children: ChildProcess[] = [];
  try {
    const [client, peer, proxyPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${client}`;
    const etcd = spawn(
      '/usr/bin/etcd',
      [
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=default=http://127.0.0.1:${peer}`,
        '--log-level=warn',
      ],
      { stdio: 'ignore' },
    );
    trackChild(etcd);
    children.push(etcd);
    await waitFor(async () => (await fetch(`${etcdUrl}/health`).catch(() => undefined))?.ok === true, 30_000, 'etcd');
    // Targets in transactions of 100 puts (etcd allows 128 operations per transaction).
    for (let i = 0; i < TARGETS; i += 100) {
      await post(etcdUrl, '/v3/kv/txn', { success: Array.from({ length: 100 }, (_, j) => ({ request_put: { key: b64(targetKey(i + j)), value: '' } })) });
    }
    const lease = (await post(etcdUrl, '/v3/lease/grant', { TTL: 600 })).ID as string;
    for (let g = 0; g < GROUPS; g++) {
      await post(etcdUrl, '/v3/kv/put', { key: b64(`/promfront/members/shard-${g}/10.200.0.${g}:9090`), value: b64('{"id":"bench"}'), lease });
    }

    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      `listen: 127.0.0.1:${proxyPort}\nlog_level: warn\nfleet:\n  etcd: {endpoints: ["${etcdUrl}"], prefix: /promfront}\n  targets: {etcd_prefix: /registry}\n`,
    );
    const proxy = spawn(process.execPath, [path.resolve('dist/src/server/cli.js'), `--config=${config}`], { stdio: 'ignore' });
    trackChild(proxy);
    children.push(proxy);
    const base = `http://127.0.0.1:${proxyPort}`;
    const status = async (): Promise<any> => ((await (await fetch(`${base}/status`)).json()) as { fleet: any }).fleet;
    await waitFor(async () => (await status().catch(() => undefined))?.targets === TARGETS, 60_000, 'proxy reading the fleet');

    // 50 members poll their group every 5 s, phases spread; every answer timed.
    const latencies: number[] = [];
    let bytes = 0;
    const end = Date.now() + pollSeconds * 1000;
    await Promise.all(
      Array.from({ length: GROUPS }, async (_, g) => {
        await sleep((5000 * g) / GROUPS);
        while (Date.now() < end) {
          const t0 = performance.now();
          const r = await fetch(`${base}/sd/fleet?group=shard-${g}`);
          const body = await r.arrayBuffer();
          latencies.push(performance.now() - t0);
          bytes = body.byteLength;
          await sleep(5000);
        }
      }),
    );
    console.log(
      `/sd/fleet under ${GROUPS} members polling every 5 s for ${pollSeconds} s: ${latencies.length} answers (~${bytes} bytes each), p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms`,
    );

    // Steady state: what etcd served in 30 s with nothing changing.
    const ranges = async (): Promise<number> => {
      const text = await (await fetch(`${etcdUrl}/metrics`)).text();
      const m = /^etcd_debugging_mvcc_range_total (\S+)$/m.exec(text) ?? /^etcd_mvcc_range_total (\S+)$/m.exec(text);
      return m ? Number(m[1]) : NaN;
    };
    const r0 = await ranges();
    await sleep(30_000);
    console.log(`etcd range requests during 30 s of steady state: ${(await ranges()) - r0}`);

    // One group leaves.
    const movedBefore = (await status()).moves as number;
    await post(etcdUrl, '/v3/kv/deleterange', { key: b64('/promfront/members/shard-17/10.200.0.17:9090') });
    await waitFor(async () => Object.keys((await status()).groups).length === GROUPS - 1, 30_000, 'the group gone');
    const moved = ((await status()).moves as number) - movedBefore;
    console.log(
      `one of ${GROUPS} groups leaves: ${moved} of ${TARGETS} targets moved (${((100 * moved) / TARGETS).toFixed(2)}%; ideal 1/N = ${(100 / GROUPS).toFixed(2)}%, ${((moved / (TARGETS / GROUPS) - 1) * 100).toFixed(1)}% over)`,
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
