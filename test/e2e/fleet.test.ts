// The etcd fleet against a real etcd (Debian etcd-server): registration with leases, the
// rendezvous assignment served as HTTP SD by every promfront alike, a group killed and back (moves
// counted), bad keys counted, etcd down (assignment frozen and flagged) and back, and a 3-node etcd
// cluster losing its leader. Most members run in-process (the same capability ./proxy runs); one
// group is a real ./proxy process, so the wiring and a crash (SIGKILL, no clean leave) are real.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { waitFor } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { etcdPut, startEtcdCluster, waitHealthy, type EtcdCluster } from '../support/etcd.js';

interface SdGroup {
  targets: string[];
  labels: Record<string, string>;
}
interface Member {
  name: string;
  group: string;
  get(path: string): Promise<Response>;
  status(): Promise<any>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

const yamlFor = (endpoints: string[], group: string, address: string, listen = '127.0.0.1:1'): string => `
listen: ${listen}
log_level: warn
fleet:
  etcd:
    endpoints: [${endpoints.map((e) => `"${e}"`).join(', ')}]
    prefix: /promfront
    lease_ttl: 2s
    request_timeout: 1s
  register:
    address: ${address}
    group: ${group}
  targets:
    etcd_prefix: /registry
  handover_overlap: 3s
`;

async function inProcess(endpoints: string[], group: string, address: string): Promise<Member> {
  const config = parseConfigText(yamlFor(endpoints, group, address));
  const fleet = new Fleet(config, { log: pino({ level: 'silent' }), configFile: undefined, listen: '127.0.0.1:1', queryApi: () => Promise.resolve(undefined) });
  await fleet.start();
  return {
    name: `${group}/${address}`,
    group,
    get: (path) => Promise.resolve(fleet.fetch(new Request(`http://promfront${path}`))!),
    status: () => Promise.resolve(JSON.parse(JSON.stringify(fleet.status()))),
    metrics: () => Promise.resolve(fleet.metrics()),
    stop: () => fleet.stop(),
  };
}

async function asProcess(endpoints: string[], group: string, address: string): Promise<Member & { proxy: ProxyProcess }> {
  const proxy = await startProxy((listen) => yamlFor(endpoints, group, address, listen));
  return {
    name: `${group}/${address} (./proxy)`,
    group,
    proxy,
    get: (path) => fetch(`${proxy.url}${path}`),
    status: async () => ((await (await fetch(`${proxy.url}/status`)).json()) as { fleet: unknown }).fleet,
    metrics: async () => (await fetch(`${proxy.url}/metrics`)).text(),
    stop: () => proxy.stop(),
  };
}

async function sd(m: Member, group: string): Promise<{ revision: string; groups: SdGroup[] }> {
  const r = await m.get(`/sd/fleet?group=${group}`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toContain('application/json');
  return { revision: r.headers.get('x-promfront-fleet-revision')!, groups: (await r.json()) as SdGroup[] };
}

/** Group to sorted "service/address" of its own (not handed-over) targets, as `m` serves them. */
async function assignment(m: Member, groups: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const g of groups) {
    const { groups: list } = await sd(m, g);
    out.set(
      g,
      list
        .filter((x) => x.labels.__meta_promfront_handover === 'false')
        .map((x) => `${x.labels.service}/${x.targets[0]}`)
        .sort(),
    );
  }
  return out;
}

function ownerMap(a: Map<string, string[]>): Map<string, string> {
  const o = new Map<string, string>();
  for (const [g, ts] of a) for (const t of ts) o.set(t, g);
  return o;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in metrics`);
  return Number(m[1]);
}

const GROUPS = ['shard-0', 'shard-1', 'shard-2', 'shard-3'];
const TARGETS = Array.from({ length: 60 }, (_, i) => `10.1.${Math.floor(i / 20)}.${i % 20}:9100`);

describe('fleet over one etcd node', () => {
  let etcd: EtcdCluster;
  let members: Member[] = [];
  let crashed: (Member & { proxy: ProxyProcess }) | undefined;
  const ep = (): string[] => etcd.endpoints;

  /** Waits until every running member sees `groups` live and `targets` targets assigned. */
  async function converged(ms: Member[], groups: number, targets: number): Promise<void> {
    await waitFor(
      async () => {
        for (const m of ms) {
          const s = await m.status();
          const assigned = Object.values(s.groups as Record<string, { targets: number }>).reduce((a, g) => a + g.targets, 0);
          if (Object.keys(s.groups).length !== groups || assigned !== targets) return false;
        }
        return true;
      },
      20_000,
      `${groups} groups and ${targets} targets everywhere`,
    );
  }

  beforeAll(async () => {
    etcd = await startEtcdCluster(1);
    for (const t of TARGETS) await etcdPut(ep()[0], `/registry/node/${t}`);
    members = [
      await inProcess(ep(), 'shard-0', '127.0.0.1:19090'),
      await inProcess(ep(), 'shard-0', '127.0.0.1:19091'),
      await inProcess(ep(), 'shard-1', '127.0.0.1:19092'),
      await inProcess(ep(), 'shard-2', '127.0.0.1:19093'),
    ];
    crashed = await asProcess(ep(), 'shard-3', '127.0.0.1:19094');
    members.push(crashed);
  });

  afterAll(async () => {
    await Promise.allSettled(members.map((m) => m.stop()));
    await etcd?.stop();
  });

  it('assigns each of 60 targets to exactly one of 4 groups, replicas alike, spread within ±25%', async () => {
    await converged(members, 4, 60);
    const first = await assignment(members[0], GROUPS);
    const seen = [...first.values()].flat();
    expect(seen.length).toBe(60);
    expect(new Set(seen)).toEqual(new Set(TARGETS.map((t) => `node/${t}`)));
    for (const [, ts] of first) {
      expect(ts.length).toBeGreaterThanOrEqual(15 * 0.75);
      expect(ts.length).toBeLessThanOrEqual(15 * 1.25);
    }
    // Every promfront (both shard-0 replicas, the other groups, the ./proxy process) serves the same
    // assignment from the same revision.
    const rev = (await sd(members[0], 'shard-0')).revision;
    for (const m of members.slice(1)) {
      expect(await assignment(m, GROUPS), m.name).toEqual(first);
      expect((await sd(m, 'shard-0')).revision, m.name).toBe(rev);
    }
    const one = (await sd(crashed!, 'shard-1')).groups[0];
    expect(one.labels).toMatchObject({
      service: 'node',
      __meta_promfront_service: 'node',
      __meta_promfront_group: 'shard-1',
      __meta_promfront_handover: 'false',
    });
    const members0 = (await (await members[2].get('/sd/fleet/members?group=shard-0')).json()) as SdGroup[];
    expect(members0).toEqual([{ targets: ['127.0.0.1:19090', '127.0.0.1:19091'], labels: { __meta_promfront_group: 'shard-0' } }]);
    expect((await members[0].get('/sd/fleet')).status).toBe(400);
  });

  it('a clean stop leaves at once; a crashed group leaves after the lease TTL and ~1/N of targets come back with it', async () => {
    await converged(members, 4, 60);
    // Clean stop of one shard-0 replica: gone well before its 2 s lease could expire.
    const leaving = members.splice(1, 1)[0];
    const t0 = Date.now();
    await leaving.stop();
    await waitFor(async () => ((await members[0].status()).groups['shard-0']?.members.length ?? 0) === 1, 5_000, 'shard-0 down to one member');
    expect(Date.now() - t0).toBeLessThan(1_500);

    const before = ownerMap(await assignment(members[0], GROUPS));
    const movesBefore = metric(await members[0].metrics(), 'promfront_fleet_targets_moved_total');
    // shard-3 crashes: SIGKILL, no revoke. Its targets go to the others once its lease expires.
    crashed!.proxy.child.kill('SIGKILL');
    members = members.filter((m) => m !== crashed);
    const killedAt = Date.now();
    await converged(members, 3, 60);
    expect(Date.now() - killedAt).toBeGreaterThan(500);
    const without = ownerMap(await assignment(members[0], GROUPS));
    expect([...without.values()].every((g) => g !== 'shard-3')).toBe(true);
    const movedOut = [...before].filter(([t, g]) => without.get(t) !== g).length;
    expect(movedOut).toBeGreaterThanOrEqual(before.size / 4 - 4);
    // Targets that were not on shard-3 mostly stay (bounded loads may shift a few more).
    expect(movedOut).toBeLessThanOrEqual(Math.ceil(60 / 4) + 6);
    expect(metric(await members[0].metrics(), 'promfront_fleet_targets_moved_total') - movesBefore).toBe(movedOut);

    // shard-3 is back: about 1/N of the targets move back, and the moves are counted.
    crashed = await asProcess(ep(), 'shard-3', '127.0.0.1:19094');
    members.push(crashed);
    await converged(members, 4, 60);
    const back = ownerMap(await assignment(members[0], GROUPS));
    const movedBack = [...without].filter(([t, g]) => back.get(t) !== g).length;
    expect(movedBack).toBeGreaterThanOrEqual(60 / 4 - 4);
    expect(movedBack).toBeLessThanOrEqual(60 / 4 + 6);
    expect(metric(await members[0].metrics(), 'promfront_fleet_targets_moved_total') - movesBefore).toBe(movedOut + movedBack);
    // The groups that lost targets to shard-3 keep serving them for the hand-over overlap.
    const lost = [...without].find(([t, g]) => back.get(t) === 'shard-3' && g !== 'shard-3')!;
    const old = await sd(
      members.find((m) => m.group === lost[1])!,
      lost[1],
    );
    expect(old.groups.some((x) => `${x.labels.service}/${x.targets[0]}` === lost[0] && x.labels.__meta_promfront_handover === 'true')).toBe(true);
  });

  it('counts bad keys, bad addresses and duplicate claims, and keeps assigning', async () => {
    await converged(members, 4, 60);
    const base = ep()[0];
    await etcdPut(base, '/promfront/garbage', 'x');
    await etcdPut(base, '/promfront/members/shard-9/not-an-address', '{"id":"a"}');
    await etcdPut(base, '/promfront/members/bad group!/10.9.9.9:9090', '{"id":"b"}');
    await etcdPut(base, '/promfront/members/shard-9/127.0.0.1:19092', '{"id":"c"}');
    await etcdPut(base, '/promfront/members/shard-8/10.9.9.8:9090', 'not json');
    await etcdPut(base, '/registry/node/nonsense');
    await etcdPut(base, '/registry/node-without-instance');
    await etcdPut(base, '/registry/node/10.9.9.9:9100', '{"labels": {"__bad": 1}}');
    const want = { key: 3, address: 2, value: 2, duplicate: 1 };
    for (const m of members) {
      await waitFor(
        async () => {
          const s = await m.status();
          const by: Record<string, number> = {};
          for (const i of s.invalid_keys as { reason: string }[]) by[i.reason] = (by[i.reason] ?? 0) + 1;
          return JSON.stringify(by) === JSON.stringify(want) || (by.key === 3 && by.address === 2 && by.value === 2 && by.duplicate === 1);
        },
        10_000,
        `${m.name} counting the bad keys`,
      );
    }
    const text = await members[0].metrics();
    expect(text).toMatch(/^promfront_fleet_invalid_keys\{reason="key"\} 3$/m);
    expect(text).toMatch(/^promfront_fleet_invalid_keys\{reason="duplicate"\} 1$/m);
    const s = await members[0].status();
    expect(Object.keys(s.groups).sort()).toEqual(GROUPS);
    expect(s.groups['shard-1'].members).toEqual(['127.0.0.1:19092']);
    expect(JSON.stringify(s.invalid_keys)).toContain('127.0.0.1:19092 is already a member of group shard-1');
    await converged(members, 4, 60);
  });

  it('etcd down: the last assignment is served, frozen and flagged; etcd back: registration and watches resume', async () => {
    await converged(members, 4, 60);
    const before = await assignment(members[0], GROUPS);
    await etcd.nodes[0].kill();
    for (const m of members) await waitFor(async () => (await m.status()).assignment_frozen === true, 10_000, `${m.name} flagging etcd down`);
    expect(metric(await members[0].metrics(), 'promfront_fleet_etcd_up')).toBe(0);
    const r = await members[0].get('/sd/fleet?group=shard-0');
    expect(r.headers.get('x-promfront-fleet-etcd')).toBe('unreachable');
    expect(await assignment(members[0], GROUPS)).toEqual(before);
    // Down longer than the lease TTL: the leases may be gone when etcd returns.
    await new Promise((res) => setTimeout(res, 2_500));
    expect(await assignment(crashed!, GROUPS)).toEqual(before);

    await etcd.nodes[0].restart();
    await waitHealthy(etcd.nodes);
    for (const m of members) await waitFor(async () => (await m.status()).etcd.reachable === true, 15_000, `${m.name} reaching etcd again`);
    // The watch resumed: a target registered now reaches everyone.
    await etcdPut(ep()[0], '/registry/node/10.1.9.9:9100');
    await converged(members, 4, 61);
    for (const m of members) expect((await m.status()).registration.registered).toBe(true);
  });
});

describe('fleet over a 3-node etcd cluster', () => {
  let etcd: EtcdCluster;
  const members: Member[] = [];
  afterAll(async () => {
    await Promise.allSettled(members.map((m) => m.stop()));
    await etcd?.stop();
  });

  it('keeps registering and assigning when the etcd leader is killed', async () => {
    etcd = await startEtcdCluster(3);
    for (const t of TARGETS.slice(0, 20)) await etcdPut(etcd.endpoints[0], `/registry/node/${t}`);
    members.push(await inProcess(etcd.endpoints, 'a', '127.0.0.1:29090'), await inProcess(etcd.endpoints, 'b', '127.0.0.1:29091'));
    await waitFor(async () => Object.keys((await members[1].status()).groups).length === 2 && (await members[1].status()).targets === 20, 15_000, 'two groups');
    const leader = await etcd.leader();
    await leader.kill();
    const alive = etcd.nodes.filter((n) => n !== leader);
    // Registration continues through the new leader: a third member joins and everyone sees it.
    members.push(await inProcess(etcd.endpoints, 'c', '127.0.0.1:29092'));
    await etcdPut(alive[0].clientUrl, '/registry/node/10.2.0.1:9100');
    for (const m of members) {
      await waitFor(
        async () => {
          const s = await m.status();
          return Object.keys(s.groups).length === 3 && s.targets === 21 && s.etcd.reachable === true;
        },
        20_000,
        `${m.name} following the cluster after the leader was killed`,
      );
    }
    // Leases are renewed on the new leader: past two TTLs every member is still there.
    await new Promise((res) => setTimeout(res, 4_500));
    const s = await members[0].status();
    expect(Object.keys(s.groups).sort()).toEqual(['a', 'b', 'c']);
    const a = await assignment(members[0], ['a', 'b', 'c']);
    expect([...a.values()].flat().length).toBe(21);
    expect(await assignment(members[2], ['a', 'b', 'c'])).toEqual(a);
  });
});
