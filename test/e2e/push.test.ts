// Pushgateway HA routing end to end (src/push, docs/push.md): three real Pushgateways behind the
// built ./proxy. Each group lands on exactly one Pushgateway however it is spelt, real clients
// (Python's prometheus_client, curl) work unchanged, a dead Pushgateway does not stop pushes, its
// return moves its groups back without leaving copies (Prometheus scraping through /sd/pushgateways
// sees each series once with the last value), and DELETE removes a group everywhere.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { groupsOf, startPushgateway, type PushgatewayProcess } from '../support/pushgateway.js';
import { parseGroupingKey } from '../../src/push/grouping-key.js';
import { rankMembers } from '../../src/push/ring.js';
import { initHash } from '../../src/shard/hash.js';
import { runCli, startProxy, type ProxyProcess } from '../support/proxy.js';

const GROUPS = 500;

interface Group {
  job: string;
  labels: Record<string, string>;
}

/** Group i: a job shared by ten groups, a run label, and every few groups a value needing @base64 or escapes. */
function group(i: number): Group {
  const labels: Record<string, string> = { run: `r${i}`, zone: `z${i % 4}` };
  if (i % 3 === 0) labels.path = `/data/${i}/x`;
  if (i % 5 === 0) labels.note = `a b+é ${i}`;
  if (i % 7 === 0) labels.empty = '';
  return { job: `batch${i % 50}`, labels };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const b64url = (v: string) => Buffer.from(v).toString('base64url');
const pct = (v: string) => [...Buffer.from(v)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** One random spelling of the group's push path: label order, @base64 with or without padding, percent escapes. */
function spell(g: Group, r: () => number): string {
  const seg = (name: string, v: string): string => {
    const pick = r();
    if (v === '') return pick < 0.5 ? `${name}@base64/=` : `${name}/`;
    if (v.includes('/') || pick < 0.33) return `${name}@base64/${b64url(v)}${pick < 0.15 ? '='.repeat((4 - (b64url(v).length % 4)) % 4) : ''}`;
    if (pick < 0.66) return `${name}/${pct(v)}`;
    return /^[A-Za-z0-9_.-]+$/.test(v) ? `${name}/${v}` : `${name}/${encodeURIComponent(v)}`;
  };
  const pairs = Object.entries(g.labels).sort(() => r() - 0.5);
  const parts = pairs.map(([k, v]) => seg(k, v));
  // A plain-spelt empty value only parses as the last pair ("name/" then the end of the path).
  const emptyIdx = parts.findIndex((p) => p.endsWith('/') && !p.endsWith('@base64/'));
  if (emptyIdx !== -1) parts.push(parts.splice(emptyIdx, 1)[0].slice(0, -1) + '@base64/=');
  const job = r() < 0.3 ? `job@base64/${b64url(g.job)}` : `job/${g.job}`;
  return `/metrics/${job}${parts.length ? '/' : ''}${parts.join('/')}`;
}

const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
const groupKey = (g: Group) => keyOf({ job: g.job, ...g.labels });

/** Where each group is: key → addresses holding it, and the value of its metric there. */
async function census(pgws: PushgatewayProcess[]): Promise<Map<string, { address: string; value: string | undefined }[]>> {
  const out = new Map<string, { address: string; value: string | undefined }[]>();
  for (const p of pgws) {
    for (const g of await groupsOf(p)) {
      const k = keyOf(g.labels);
      const list = out.get(k) ?? [];
      list.push({ address: p.address, value: g.e2e_value?.metrics?.[0]?.value });
      out.set(k, list);
    }
  }
  return out;
}

async function pushAll(proxy: ProxyProcess, value: number, seed: number, method = 'PUT'): Promise<number[]> {
  const r = rng(seed);
  const paths = Array.from({ length: GROUPS }, (_, i) => spell(group(i), r));
  const codes: number[] = new Array(GROUPS);
  let next = 0;
  await Promise.all(
    Array.from({ length: 25 }, async () => {
      while (next < GROUPS) {
        const i = next++;
        const res = await fetch(`${proxy.url}${paths[i]}`, { method, body: `# TYPE e2e_value gauge\ne2e_value ${value}\n` });
        await res.text();
        codes[i] = res.status;
      }
    }),
  );
  return codes;
}

async function ownerOf(proxy: ProxyProcess, g: Group): Promise<string> {
  const path = `/metrics/job@base64/${b64url(g.job)}/${Object.entries(g.labels)
    .map(([k, v]) => `${k}@base64/${v === '' ? '=' : b64url(v)}`)
    .join('/')}`;
  const res = await fetch(`${proxy.url}/api/v1/push/owner?path=${encodeURIComponent(path)}`);
  const doc = (await res.json()) as { data: { pushgateway: string } };
  return doc.data.pushgateway;
}

async function pushStatus(proxy: ProxyProcess): Promise<any> {
  return ((await (await fetch(`${proxy.url}/status`)).json()) as { push: any }).push;
}

describe('push: three Pushgateways behind the proxy', () => {
  const pgws: PushgatewayProcess[] = [];
  let proxy: ProxyProcess;
  let prom: PrometheusProcess | undefined;

  beforeAll(async () => {
    await initHash();
    for (let i = 0; i < 3; i++) pgws.push(await startPushgateway());
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
push:
  pushgateways:
    static_configs: [{targets: [${pgws.map((p) => `"${p.address}"`).join(', ')}], labels: {tier: batch}}]
  health_check_interval: 500ms
  max_body_size: 64KiB
`,
    );
    await waitFor(async () => (await pushStatus(proxy)).pushgateways.every((p: any) => p.healthy), 10_000, 'all Pushgateways healthy');
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await proxy?.stop();
    for (const p of pgws) await p.stop();
  });

  it('lands each of 500 groups, spelt at random, on exactly one Pushgateway: the one the owner endpoint names; a respelling replaces', async () => {
    expect(await pushAll(proxy, 1, 1)).toEqual(new Array(GROUPS).fill(200));
    // The same groups again, spelt differently (other label orders and encodings), with a new value.
    expect(await pushAll(proxy, 2, 2)).toEqual(new Array(GROUPS).fill(200));
    const where = await census(pgws);
    const spread = new Map<string, number>();
    for (let i = 0; i < GROUPS; i++) {
      const g = group(i);
      const copies = where.get(groupKey(g));
      expect(copies, `group ${i}`).toHaveLength(1);
      expect(copies![0].value).toBe('2');
      expect(copies![0].address).toBe(await ownerOf(proxy, g));
      spread.set(copies![0].address, (spread.get(copies![0].address) ?? 0) + 1);
    }
    expect(where.size).toBe(GROUPS);
    expect(spread.size).toBe(3);
  });

  it("answers a malformed path, a body over the limit and a timestamped push with a clear or the Pushgateway's own error", async () => {
    const odd = await fetch(`${proxy.url}/metrics/job/j/a`, { method: 'PUT', body: 'x 1\n' });
    expect(odd.status).toBe(400);
    expect(await odd.text()).toBe('odd number of components in label string "/a"\n');
    // %2F is a separator to Pushgateway: the proxy reads it the same way, so the answer is the same.
    const slash = await fetch(`${proxy.url}/metrics/job/j/path/a%2Fb`, { method: 'PUT', body: 'x 1\n' });
    const direct = await fetch(`${pgws[0].url}/metrics/job/j/path/a%2Fb`, { method: 'PUT', body: 'x 1\n' });
    expect([slash.status, await slash.text()]).toEqual([direct.status, await direct.text()]);
    const big = await fetch(`${proxy.url}/metrics/job/big`, { method: 'PUT', body: `big_value 1\n${'# filler\n'.repeat(10_000)}` });
    expect(big.status).toBe(413);
    expect(await big.text()).toContain('push.max_body_size');
    const stamped = await fetch(`${proxy.url}/metrics/job/stamped`, { method: 'PUT', body: 'stamped_value 1 1700000000000\n' });
    expect(stamped.status).toBe(400);
    expect(await stamped.text()).toContain('pushed metrics must not have timestamps');
    const where = await census(pgws);
    expect(where.has(keyOf({ job: 'big' }))).toBe(false);
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toMatch(/promfront_push_refused_total\{reason="bad_path"\} [1-9]/);
    expect(metrics).toMatch(/promfront_push_refused_total\{reason="too_large"\} [1-9]/);
  });

  it('works unchanged for Python prometheus_client push_to_gateway / pushadd_to_gateway / delete_from_gateway and curl', async () => {
    const host = new URL(proxy.url).host;
    const py = (code: string) => {
      const r = spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8', timeout: 30_000 });
      if (r.error) throw new Error(`/usr/bin/python3 missing (Debian python3-prometheus-client): ${r.error.message}`);
      expect(r.status, r.stderr).toBe(0);
    };
    const prelude = `
import sys
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, pushadd_to_gateway, delete_from_gateway
reg = CollectorRegistry()
gk = {'run': 'py/1', 'blank': '', 'name': 'a b'}
`;
    const pyKey = keyOf({ job: 'pyjob', run: 'py/1', blank: '', name: 'a+b' });
    py(`${prelude}
Gauge('py_one', 'first', registry=reg).set(1)
push_to_gateway('${host}', job='pyjob', registry=reg, grouping_key=gk)
`);
    let where = await census(pgws);
    expect(where.get(pyKey)).toHaveLength(1);
    py(`${prelude}
Gauge('py_two', 'second', registry=reg).set(2)
pushadd_to_gateway('${host}', job='pyjob', registry=reg, grouping_key=gk)
`);
    const holder = pgws.find((p) => p.address === where.get(pyKey)![0].address)!;
    const g = (await groupsOf(holder)).find((x) => keyOf(x.labels) === pyKey)!;
    expect(Object.keys(g)).toEqual(expect.arrayContaining(['py_one', 'py_two']));
    py(`${prelude}
delete_from_gateway('${host}', job='pyjob', grouping_key=gk)
`);
    where = await census(pgws);
    expect(where.has(pyKey)).toBe(false);

    const curl = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--data-binary', '@-', `${proxy.url}/metrics/job/curljob/run/c1`], {
      input: '# TYPE curl_value counter\ncurl_value 42\n',
      encoding: 'utf8',
    });
    expect(curl.stdout).toBe('200');
    where = await census(pgws);
    expect(where.get(keyOf({ job: 'curljob', run: 'c1' }))).toHaveLength(1);

    // A client that asks for 100 Continue (older curl and others do for larger bodies) is answered
    // by the proxy's own server; the header is not passed on, and the owner stays in the ring.
    const expecting = spawnSync(
      'curl',
      ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Expect: 100-continue', '--data-binary', '@-', `${proxy.url}/metrics/job/curljob/run/c2`],
      { input: `# TYPE curl_value counter\n${Array.from({ length: 200 }, (_, i) => `curl_value{i="${i}"} ${i}\n`).join('')}`, encoding: 'utf8' },
    );
    expect(expecting.stdout).toBe('200');
    where = await census(pgws);
    expect(where.get(keyOf({ job: 'curljob', run: 'c2' }))).toHaveLength(1);
    const sd = (await (await fetch(`${proxy.url}/sd/pushgateways`)).json()) as unknown[];
    expect(sd).toHaveLength(3);
  });

  it('keeps accepting pushes while a Pushgateway is dead; after it returns, every group exists once, with the last value, also for Prometheus', async () => {
    const victim = pgws[1];
    await victim.stop();
    // Pushed at once, before any health check noticed: the victim's groups fail over to their next owner.
    expect(await pushAll(proxy, 3, 3)).toEqual(new Array(GROUPS).fill(200));
    await waitFor(async () => !(await pushStatus(proxy)).pushgateways.find((p: any) => p.address === victim.address).healthy, 5000, 'victim out of the ring');
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toMatch(/promfront_push_retries_total [1-9]/);

    const movedBefore = (await pushStatus(proxy)).groups_moved as number;
    await victim.restart();
    // One group the victim owns is pushed over and over while it returns and its groups move back:
    // the last push must win over the moved copy.
    const all = pgws.map((p) => p.address);
    const hot = Array.from({ length: GROUPS }, (_, i) => group(i)).find((g) => rankMembers(parseGroupingKey(spell(g, rng(1))).key, all)[0] === victim.address)!;
    let hotValue = 100;
    let stop = false;
    const hotLoop = (async () => {
      while (!stop) {
        const res = await fetch(`${proxy.url}${spell(hot, rng(hotValue))}`, { method: 'PUT', body: `# TYPE e2e_value gauge\ne2e_value ${++hotValue}\n` });
        await res.text();
        expect(res.status).toBe(200);
      }
    })();
    await waitFor(async () => (await pushStatus(proxy)).pushgateways.every((p: any) => p.healthy), 10_000, 'victim back in the ring');
    await waitFor(async () => ((await pushStatus(proxy)).groups_moved as number) > movedBefore, 15_000, 'groups moved back to the victim');
    // Let the hot loop run past the move, then stop it and let the rebalance settle.
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await hotLoop;
    await waitFor(async () => (await pushStatus(proxy)).last_rebalance?.failed === 0, 10_000, 'a clean rebalance');

    const where = await census(pgws);
    let onVictim = 0;
    for (let i = 0; i < GROUPS; i++) {
      const g = group(i);
      const copies = where.get(groupKey(g))!;
      expect(copies, `group ${i}`).toHaveLength(1);
      expect(copies[0].address).toBe(await ownerOf(proxy, g));
      if (copies[0].address === victim.address) onVictim++;
      expect(copies[0].value).toBe(groupKey(hot) === groupKey(g) ? String(hotValue) : '3');
    }
    expect(onVictim).toBeGreaterThan(50);

    // Prometheus finds the Pushgateways through the proxy's HTTP SD, with the job `scrape-config` prints.
    const printed = runCli(['scrape-config', `--config=${proxy.configFile}`]);
    expect(printed.code, printed.stderr).toBe(0);
    const job = (parse(printed.stdout) as { scrape_configs: any[] }).scrape_configs[0];
    expect(job.honor_labels).toBe(true);
    expect(job.http_sd_configs[0].url).toBe(`${proxy.url}/sd/pushgateways`);
    prom = await startPrometheus({ configYaml: `global: {scrape_interval: 1s}\nscrape_configs:\n  - ${JSON.stringify({ ...job, scrape_interval: '1s' })}\n` });
    await waitFor(async () => Number((await prom!.query('count(e2e_value)'))[0]?.value[1] ?? 0) >= GROUPS, 20_000, 'Prometheus scraped every group');
    const series = (await prom.query('e2e_value')) as { metric: Record<string, string>; value: [number, string] }[];
    const seen = new Map<string, string[]>();
    for (const s of series) {
      const { __name__: _n, instance: _i, tier: _t, ...labels } = s.metric;
      seen.set(keyOf(labels), [...(seen.get(keyOf(labels)) ?? []), s.value[1]]);
    }
    for (let i = 0; i < GROUPS; i++) {
      const g = group(i);
      const labels = Object.fromEntries(Object.entries({ job: g.job, ...g.labels }).filter(([, v]) => v !== ''));
      expect(seen.get(keyOf(labels)), `group ${i}`).toEqual([groupKey(hot) === groupKey(g) ? String(hotValue) : '3']);
    }
  }, 90_000);

  it('DELETE through the proxy removes the group from every Pushgateway, stale copies included', async () => {
    const g = group(7);
    const owner = await ownerOf(proxy, g);
    const other = pgws.find((p) => p.address !== owner)!;
    // A stale copy on a Pushgateway that does not own the group (as a direct push leaves one).
    const direct = await fetch(`${other.url}${spell(g, rng(9))}`, { method: 'PUT', body: '# TYPE e2e_value gauge\ne2e_value 9\n' });
    expect(direct.status).toBe(200);
    expect((await census(pgws)).get(groupKey(g))).toHaveLength(2);
    const res = await fetch(`${proxy.url}${spell(g, rng(10))}`, { method: 'DELETE' });
    expect(res.status).toBe(202);
    expect((await census(pgws)).has(groupKey(g))).toBe(false);
  });
});
