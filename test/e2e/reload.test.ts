// Config reload (SIGHUP, POST /-/reload) of a running ./proxy: a query section over a real
// Prometheus 2.42 with backfilled data and a shard section over a small upstream. Reloads add server
// groups, refuse broken configs while the old one keeps serving, let an in-flight query finish on
// the layer it started on, and move shard endpoints to a new num_shards without a 503 window.
// The QueryLayerSlot's drain rules are checked on their own first, with stand-in layers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Hono } from 'hono';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_END_MS, generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import { waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { QueryLayerSlot, type SlotLayer } from '../../src/server/query-layer-slot.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';
import { writeFileSync } from 'node:fs';
import { parseConfigText } from '../../src/config/load.js';
import { initHash } from '../../src/shard/hash.js';
import { ShardService } from '../../src/shard/shard-service.js';

const silent = pino({ level: 'silent' });
const ENV = {} as never;

/** A stand-in query layer whose /slow requests wait until released. */
function fakeLayer(name: string) {
  const waiting: (() => void)[] = [];
  let closed = false;
  const api = new Hono();
  api.get('/who', (c) => c.text(name));
  api.get('/slow', async (c) => {
    await new Promise<void>((r) => waiting.push(r));
    return c.text(`${name} slow`);
  });
  const layer: SlotLayer = {
    api,
    close: async () => {
      closed = true;
    },
  };
  return {
    layer,
    release: () => waiting.splice(0).forEach((r) => r()),
    get closed() {
      return closed;
    },
    get waiting() {
      return waiting.length;
    },
  };
}

const req = (path: string) => new Request(`http://x/api/v1${path}`);

describe('QueryLayerSlot', () => {
  it('serves each request on the layer current when it arrived and closes a replaced layer once it is idle', async () => {
    const slot = new QueryLayerSlot(silent);
    const a = fakeLayer('a');
    const b = fakeLayer('b');
    slot.swap(a.layer, 60_000);
    const slow = slot.fetch(req('/slow'), ENV);
    await waitFor(async () => a.waiting === 1, 2000, 'slow request on a');
    slot.swap(b.layer, 60_000);
    expect(await (await slot.fetch(req('/who'), ENV))!.text()).toBe('b');
    expect(a.closed).toBe(false);
    expect(slot.retiringCount).toBe(1);
    a.release();
    expect(await (await slow)!.text()).toBe('a slow');
    await waitFor(async () => a.closed, 2000, 'a closed');
    expect(b.closed).toBe(false);
    expect(slot.retiringCount).toBe(0);
  });

  it('closes an idle replaced layer at once and a busy one at its drain limit', async () => {
    const slot = new QueryLayerSlot(silent);
    const a = fakeLayer('a');
    const b = fakeLayer('b');
    const c = fakeLayer('c');
    slot.swap(a.layer, 60_000);
    slot.swap(b.layer, 50);
    await waitFor(async () => a.closed, 2000, 'idle layer closed');
    const stuck = slot.fetch(req('/slow'), ENV);
    await waitFor(async () => b.waiting === 1, 2000, 'request on b');
    slot.swap(c.layer, 50);
    await waitFor(async () => b.closed, 2000, 'busy layer closed at its drain limit');
    b.release();
    expect(await (await stuck)!.text()).toBe('b slow');
  });

  it('close() on shutdown closes the current layer and a busy replaced one without waiting for its drain', async () => {
    const slot = new QueryLayerSlot(silent);
    const a = fakeLayer('a');
    const b = fakeLayer('b');
    slot.swap(a.layer, 60_000);
    const stuck = slot.fetch(req('/slow'), ENV);
    await waitFor(async () => a.waiting === 1, 2000, 'request on a');
    slot.swap(b.layer, 600_000);
    await slot.close();
    expect([a.closed, b.closed]).toEqual([true, true]);
    expect(slot.retiringCount).toBe(0);
    expect(await slot.fetch(req('/who'), ENV)).toBeUndefined();
    a.release();
    await stuck;
  });

  it('answers undefined without a layer or for a path the layer does not have, and passes errors on', async () => {
    const slot = new QueryLayerSlot(silent);
    expect(await slot.fetch(req('/who'), ENV)).toBeUndefined();
    const a = fakeLayer('a');
    a.layer.api.get('/boom', () => {
      throw new Error('kaputt');
    });
    slot.swap(a.layer, 1000);
    expect(await slot.fetch(req('/nope'), ENV)).toBeUndefined();
    await expect(slot.fetch(req('/boom'), ENV)).rejects.toThrow('kaputt');
    expect(slot.inflight).toBe(0);
    slot.swap(undefined, 1000);
    expect(await slot.fetch(req('/who'), ENV)).toBeUndefined();
    await waitFor(async () => a.closed, 2000, 'layer closed when the section went away');
  });
});

describe('ShardService.inheritFrom', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });
  const service = (url: string, numShards: number, interval: string) => {
    const cfg = parseConfigText(
      // Bodies are compared with the upstream's as written: no identity labels (docs/shard-identity.md).
      `shard:\n  num_shards: ${numShards}\n  source_identity: false\n  scrape_interval: ${interval}\n  scrape_timeout: 1s\n  sources:\n    - url: ${url}\n`,
    ).shard!;
    const svc = new ShardService(cfg, silent);
    cleanup.push(() => svc.stop());
    return svc;
  };
  const served = (svc: ShardService) => svc.current!.shards.flatMap((sh) => seriesLines(Buffer.concat(sh.text).toString())).sort();

  it('keeps serving an unchanged source whose first scrape after a reload fails, and its counters go on', async () => {
    const up = await startUpstream(UPSTREAM_BODY);
    cleanup.push(() => up.close());
    await initHash();
    const old = service(up.url, 2, '15s');
    await old.runCycle();
    up.mode = '500';
    await old.runCycle();
    expect(old.sources[0].failures).toBe(1);

    const same = service(up.url, 2, '30s');
    same.inheritFrom(old);
    const ready = same.whenReady();
    await same.runCycle();
    expect(await ready).toBe(true);
    expect(served(same)).toEqual(UPSTREAM_SERIES);
    expect(same.sources[0]).toMatchObject({ up: false, failures: 2, series: UPSTREAM_SERIES.length });

    // Series are split by shard when scraped: with another num_shards they cannot be reused.
    const resharded = service(up.url, 3, '15s');
    resharded.inheritFrom(old);
    await resharded.runCycle();
    expect(served(resharded)).toEqual([]);
    expect(resharded.sources[0]).toMatchObject({ up: false, failures: 2 });

    // A source with other settings starts afresh.
    const other = service(`${up.url}?x=1`, 2, '15s');
    other.inheritFrom(old);
    await other.runCycle();
    expect(served(other)).toEqual([]);
    expect(other.sources[0].failures).toBe(1);
  });

  it('whenReady answers false when the service stops before its first cycle', async () => {
    const svc = service('http://127.0.0.1:1/metrics', 1, '15s');
    const ready = svc.whenReady();
    await svc.stop();
    expect(await ready).toBe(false);
  });
});

/**
 * A downstream that answers Prometheus's JSON API through `target`; while `holding`, requests wait
 * until release() (a query that is slow for as long as the test needs).
 */
interface Gate {
  port: number;
  received: number;
  holding: boolean;
  release(): void;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

async function startGate(target: string): Promise<Gate> {
  const held: (() => void)[] = [];
  const state = { port: 0, received: 0, holding: false, sockets: new Set<Socket>() } as Gate;
  state.release = () => {
    state.holding = false;
    held.splice(0).forEach((go) => go());
  };
  const server: Server = createServer((rq, rs) => {
    state.received++;
    const answer = () => {
      fetch(`${target}${rq.url}`)
        .then(async (r) => {
          rs.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') ?? 'text/plain' });
          rs.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch((err: unknown) => {
          rs.writeHead(502);
          rs.end(String(err));
        });
    };
    if (state.holding) held.push(answer);
    else answer();
  });
  // Idle connections stay open until the client closes them, so their closing shows the pool closed.
  server.keepAliveTimeout = 300_000;
  server.on('connection', (s: Socket) => {
    state.sockets.add(s);
    s.on('close', () => state.sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    state.release();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return state;
}

type Vector = { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };

async function instant(base: string, query: string, time: number): Promise<Vector> {
  const res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: String(time) }).toString()}`);
  return (await res.json()) as Vector;
}

/** `{group: value}` of a `... by (group)` answer. */
function byGroup(v: Vector): Record<string, number> {
  expect(v.status, JSON.stringify(v)).toBe('success');
  return Object.fromEntries(v.data.result.map((s) => [s.metric.group ?? '', Number(s.value[1])]));
}

function seriesLines(body: string): string[] {
  return body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

const UPSTREAM_BODY = `# HELP app_requests_total Requests.
# TYPE app_requests_total counter
${Array.from({ length: 300 }, (_, i) => `app_requests_total{path="/p${i}",code="200"} ${i}`).join('\n')}
# TYPE app_temperature gauge
${Array.from({ length: 40 }, (_, i) => `app_temperature{room="r${i}"} ${i / 4}`).join('\n')}
`;
const UPSTREAM_SERIES = seriesLines(UPSTREAM_BODY).sort();

interface Group {
  name: string;
  target: string;
  labels?: Record<string, string>;
}

describe('config reload of a running proxy', () => {
  let prom: PrometheusProcess;
  let upstream: Upstream;
  let gate: Gate;
  let proxy: ProxyProcess;
  const time = BACKFILL_END_MS / 1000;
  let upCount = 0;
  let upOffsetCount = 0;

  const render = (listen: string, o: { groups?: Group[]; numShards?: number | null; logLevel?: string; extra?: string }) => {
    const lines = [`listen: ${listen}`, `log_level: ${o.logLevel ?? 'info'}`];
    if (o.groups) {
      lines.push('query:', '  semantics: prometheus-2', '  server_groups:');
      for (const g of o.groups) {
        // The gate in front of Prometheus passes the JSON API only.
        lines.push(`    - name: ${g.name}`, `      static_configs: [{targets: ["${g.target}"]}]`, '      remote_read: false');
        if (g.labels) lines.push(`      labels: ${JSON.stringify(g.labels)}`);
      }
    }
    if (o.numShards !== null) {
      // source_identity off: shard bodies are compared with the upstream's lines as written.
      lines.push(
        'shard:',
        `  num_shards: ${o.numShards ?? 2}`,
        '  source_identity: false',
        '  scrape_interval: 2s',
        '  sources:',
        `    - url: ${upstream.url}`,
      );
    }
    if (o.extra) lines.push(o.extra);
    return `${lines.join('\n')}\n`;
  };
  const write = (o: Parameters<typeof render>[1]) => writeFileSync(proxy.configFile, render(`127.0.0.1:${proxy.port}`, o));
  const reload = async (method = 'POST') => {
    const res = await fetch(`${proxy.url}/-/reload`, { method });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  const reloadMetrics = async () => {
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    const value = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      if (!m) throw new Error(`${name} missing from /metrics`);
      return Number(m[1]);
    };
    return { ok: value('promfront_config_last_reload_successful'), at: value('promfront_config_last_reload_success_timestamp_seconds') };
  };
  const shardStatus = async (id: number) => (await fetch(`${proxy.url}/metrics/shard/${id}`)).status;
  const allShardSeries = async (n: number) => {
    const lines: string[] = [];
    for (let k = 0; k < n; k++) {
      const res = await fetch(`${proxy.url}/metrics/shard/${k}`);
      expect(res.status).toBe(200);
      lines.push(...seriesLines(await res.text()));
    }
    return lines.sort();
  };

  /** Waits for a log line matching every pattern (output reaches us through a pipe, a bit later). */
  const logged = (what: string, ...patterns: RegExp[]) =>
    waitFor(
      async () =>
        proxy
          .logs()
          .split('\n')
          .some((l) => patterns.every((p) => p.test(l))),
      10_000,
      `log line: ${what}`,
    );

  const promTarget = () => `127.0.0.1:${prom.port}`;

  beforeAll(async () => {
    prom = await startBackfilledPrometheus(generateBackfillData());
    upstream = await startUpstream(UPSTREAM_BODY);
    gate = await startGate(prom.url);
    // The expected answers come from the Prometheus itself.
    const direct = async (q: string) => Number((await instant(prom.url, q, time)).data.result[0].value[1]);
    upCount = await direct('count(up)');
    upOffsetCount = await direct('count(up offset 1m)');
    expect(upCount).toBeGreaterThan(0);
    proxy = await startProxy((listen) => render(listen, { groups: [{ name: 'a', target: promTarget(), labels: { group: 'a' } }] }), {
      args: ['--web.enable-lifecycle'],
    });
    await waitFor(async () => (await shardStatus(0)) === 200, 20_000, 'first shard cycle');
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([prom?.stop(), upstream?.close(), gate?.close()]);
  });

  it('starts with one server group, a successful load in /metrics, and answers GET /-/reload with 405', async () => {
    expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ a: upCount });
    const m = await reloadMetrics();
    expect(m.ok).toBe(1);
    expect(m.at).toBeGreaterThan(Date.now() / 1000 - 120);
    const get = await reload('GET');
    expect(get).toEqual({ status: 405, body: 'Only POST or PUT requests allowed', type: expect.stringMatching(/^text\/plain/) });
  });

  it('(a) POST /-/reload adds a server group with labels', async () => {
    const before = await reloadMetrics();
    write({
      groups: [
        { name: 'a', target: promTarget(), labels: { group: 'a' } },
        { name: 'b', target: promTarget(), labels: { group: 'b' } },
      ],
    });
    expect(await reload()).toMatchObject({ status: 200, body: '' });
    expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ a: upCount, b: upCount });
    expect(byGroup(await instant(proxy.url, 'count by (group) (up{group="b"})', time))).toEqual({ b: upCount });
    const after = await reloadMetrics();
    expect(after.ok).toBe(1);
    expect(after.at).toBeGreaterThan(before.at);
    // Only the query section changed: the shard service runs on untouched.
    await logged('query-only reload', /completed loading of configuration file/, /"changed":\["query"\]/);
    expect(proxy.logs()).not.toMatch(/new shard configuration/);
    // PUT works as in Prometheus.
    expect((await reload('PUT')).status).toBe(200);
  });

  it('(b) SIGHUP reloads likewise', async () => {
    write({
      groups: [
        { name: 'a', target: promTarget(), labels: { group: 'a' } },
        { name: 'b', target: promTarget(), labels: { group: 'b' } },
        { name: 'c', target: promTarget(), labels: { group: 'c' } },
      ],
    });
    const done = () => proxy.logs().match(/completed loading of configuration file/g)?.length ?? 0;
    const before = done();
    proxy.child.kill('SIGHUP');
    await waitFor(async () => 'c' in byGroup(await instant(proxy.url, 'count by (group) (up)', time)), 10_000, 'group c after SIGHUP');
    expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ a: upCount, b: upCount, c: upCount });
    expect(proxy.child.exitCode).toBeNull();
    await waitFor(async () => done() > before, 10_000, 'SIGHUP reload logged');
  });

  it('(c) a broken config is refused with every problem named; the old one keeps serving until it is fixed', async () => {
    const good = await reloadMetrics();
    const bad = render(`127.0.0.1:${proxy.port}`, { groups: [{ name: 'a', target: 'no-port-here', labels: { group: 'a' } }], numShards: 0 });
    writeFileSync(proxy.configFile, bad);
    const res = await reload();
    expect(res.status).toBe(500);
    expect(res.body).toMatch(/^failed to reload config: invalid config .*config\.yaml:\n/);
    expect(res.body).toMatch(/^ {2}query\.server_groups\.0\.static_configs\.0\.targets\.0: must be host:port$/m);
    expect(res.body).toMatch(/^ {2}shard\.num_shards: /m);
    await logged(
      'reload failure',
      /config reload failed/,
      /"query\.server_groups\.0\.static_configs\.0\.targets\.0: must be host:port"/,
      /"shard\.num_shards: /,
    );

    // Everything of the previous config still answers.
    expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ a: upCount, b: upCount, c: upCount });
    expect(await allShardSeries(2)).toEqual(UPSTREAM_SERIES);
    const failed = await reloadMetrics();
    expect(failed.ok).toBe(0);
    expect(failed.at).toBe(good.at);

    // A YAML syntax error too, through SIGHUP.
    writeFileSync(proxy.configFile, 'query: [\n');
    proxy.child.kill('SIGHUP');
    await logged('SIGHUP reload failure', /config reload failed/, /"problems":\["yaml: /);
    expect((await reloadMetrics()).ok).toBe(0);

    write({ groups: [{ name: 'a', target: promTarget(), labels: { group: 'a' } }] });
    expect((await reload()).status).toBe(200);
    const fixed = await reloadMetrics();
    expect(fixed.ok).toBe(1);
    expect(fixed.at).toBeGreaterThan(good.at);
    expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ a: upCount });
  });

  it('(d) a query in flight finishes on the layer it started on; the old pools close once it is done', async () => {
    write({ groups: [{ name: 'slow', target: `127.0.0.1:${gate.port}`, labels: { group: 'slow' } }] });
    expect((await reload()).status).toBe(200);
    // Two selectors evaluated one after the other (an aggregation's parameter comes before its
    // argument; a binary operation's sides would run at once): the second downstream request is
    // made after the reload below, through the old layer's pool.
    const query = 'count by (group) (topk(scalar(count(up offset 1m)), up))';
    const received = gate.received;
    gate.holding = true;
    const inFlight = instant(proxy.url, query, time);
    try {
      await waitFor(async () => gate.received > received, 10_000, 'the slow query reached the downstream');

      write({ groups: [{ name: 'fast', target: promTarget(), labels: { group: 'fast' } }] });
      expect((await reload()).status).toBe(200);
      // New queries already go to the new layer while the old one is still busy.
      expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ fast: upCount });
      expect(gate.received).toBe(received + 1);
    } finally {
      gate.release();
    }

    expect(byGroup(await inFlight)).toEqual({ slow: Math.min(upCount, upOffsetCount) });
    expect(gate.received).toBe(received + 2);
    // The gate keeps idle connections for minutes: only the proxy closing its pool ends them.
    await waitFor(async () => gate.sockets.size === 0, 15_000, 'old layer closed its downstream connections');
  });

  it("(e) a new num_shards is served after the new service's first cycle, with no 503 in between", async () => {
    const groups = [{ name: 'a', target: promTarget(), labels: { group: 'a' } }];
    expect(await allShardSeries(2)).toEqual(UPSTREAM_SERIES);
    // A slow exporter makes the new service's first cycle take a while.
    upstream.delayMs = 1200;
    try {
      for (const [from, to] of [
        [2, 4],
        [4, 1],
      ] as const) {
        write({ groups, numShards: to });
        expect((await reload()).status).toBe(200);
        const seen = new Map<number, Set<number>>();
        const ids = Array.from({ length: Math.max(from, to) + 1 }, (_, k) => k);
        await waitFor(
          async () => {
            const codes = await Promise.all(ids.map(shardStatus));
            codes.forEach((code, k) => (seen.get(k) ?? seen.set(k, new Set()).get(k)!).add(code));
            return ((await (await fetch(`${proxy.url}/status`)).json()) as { num_shards: number }).num_shards === to;
          },
          20_000,
          `num_shards ${to} served`,
          25,
        );
        for (const [k, codes] of seen) expect([...codes], `shard ${k} while moving from ${from} to ${to}`).not.toContain(503);
        // The old count answered for a while: the transition was observed, not skipped.
        expect([...seen.get(to === 4 ? 3 : 1)!]).toContain(to === 4 ? 404 : 200);
        expect(await allShardSeries(to)).toEqual(UPSTREAM_SERIES);
        expect(await shardStatus(to)).toBe(404);
      }
    } finally {
      upstream.delayMs = 0;
    }
    const status = (await (await fetch(`${proxy.url}/status`)).json()) as { sources: { failures: number; up: boolean }[] };
    expect(status.sources[0]).toMatchObject({ up: true, failures: 0 });
    expect(await reloadMetrics()).toMatchObject({ ok: 1 });
  });

  it('a reload while a new shard service is still in its first cycle replaces that one; the running one serves until the newest is ready', async () => {
    const groups = [{ name: 'a', target: promTarget(), labels: { group: 'a' } }];
    const counts = new Set<number>();
    const codes = new Set<number>();
    const numShards = async () => ((await (await fetch(`${proxy.url}/status`)).json()) as { num_shards: number }).num_shards;
    const before = await numShards();
    upstream.delayMs = 1200;
    try {
      write({ groups, numShards: 5 });
      expect((await reload()).status).toBe(200);
      write({ groups, numShards: 2 });
      expect((await reload()).status).toBe(200);
      await waitFor(
        async () => {
          const n = await numShards();
          counts.add(n);
          codes.add(await shardStatus(0));
          return n === 2;
        },
        20_000,
        'num_shards 2 served',
        25,
      );
    } finally {
      upstream.delayMs = 0;
    }
    expect([...counts].sort()).toEqual([before, 2].sort());
    expect([...codes]).toEqual([200]);
    expect(await allShardSeries(2)).toEqual(UPSTREAM_SERIES);
  });

  it('removing and re-adding the shard section: 404 without it, then served after the first cycle with no 503', async () => {
    const groups = [{ name: 'a', target: promTarget(), labels: { group: 'a' } }];
    write({ groups, numShards: null });
    expect((await reload()).status).toBe(200);
    const gone = await fetch(`${proxy.url}/metrics/shard/0`);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toMatch(/sharding is not configured/);
    expect((await fetch(`${proxy.url}/-/ready`)).status).toBe(200);

    upstream.delayMs = 800;
    try {
      write({ groups, numShards: 3 });
      expect((await reload()).status).toBe(200);
      const codes = new Set<number>();
      await waitFor(
        async () => {
          const code = await shardStatus(0);
          codes.add(code);
          return code === 200;
        },
        20_000,
        'shard section back',
        25,
      );
      expect([...codes]).not.toContain(503);
      expect(codes).toContain(404);
      expect(await allShardSeries(3)).toEqual(UPSTREAM_SERIES);
    } finally {
      upstream.delayMs = 0;
    }
  });

  it('log_level applies at once; a new listen address is refused with a warning and the old one keeps answering', async () => {
    const groups = [{ name: 'a', target: promTarget(), labels: { group: 'a' } }];
    write({ groups, numShards: 3, logLevel: 'debug' });
    expect((await reload()).status).toBe(200);
    expect(proxy.logs()).not.toMatch(/"level":"debug",/);
    await logged('debug line after log_level: debug', /"level":"debug",/, /scrape cycle done/);

    writeFileSync(proxy.configFile, render('127.0.0.1:1', { groups, numShards: 3 }));
    expect((await reload()).status).toBe(200);
    await logged(
      'listen warning',
      /"level":"warn",/,
      new RegExp(`"listen":"127\\.0\\.0\\.1:${proxy.port}","new_listen":"127\\.0\\.0\\.1:1"`),
      /restart promfront to apply it/,
    );
    expect(byGroup(await instant(proxy.url, 'count by (group) (up)', time))).toEqual({ a: upCount });
    expect(await reloadMetrics()).toMatchObject({ ok: 1 });
  });
});
