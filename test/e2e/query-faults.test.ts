// Fault behaviour of the query layer, end to end: ./proxy over real Prometheus 2.42 servers holding
// the backfilled data set, and over tiny local servers for the faults a real server cannot produce
// (a hang, a stalled body, garbage, HTML, an error envelope). Expected error texts and status codes
// come from a real Prometheus wherever Prometheus produces them itself (the sample limit, the query
// timeout); the results of a proxy query are checked against a Prometheus holding the same data.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillTsdb, BACKFILL_END_MS, BACKFILL_START_MS, generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import { freePort, startPrometheus, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { askApi, sameData, type Answer, type Body } from '../support/api-answer.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const SECRET = 's3cret';
const AUTH = `Bearer ${SECRET}`;
const END = BACKFILL_END_MS / 1000;
const START = BACKFILL_START_MS / 1000;
/** A bound on any single request of this file: a proxy that hangs fails here with a clear message. */
const CLIENT_TIMEOUT_MS = 15_000;

/** Every response text this file received from a proxy, to check that none carries the secret. */
const proxyTexts: string[] = [];

async function ask(base: string, path: string, params: Record<string, string>): Promise<Answer> {
  const answer = await askApi(base, path, params, { timeoutMs: CLIENT_TIMEOUT_MS, strictJson: true });
  proxyTexts.push(answer.text);
  return answer;
}

const instant = (base: string, query: string, extra: Record<string, string> = {}) => ask(base, '/api/v1/query', { query, time: String(END), ...extra });
const range = (base: string, query: string, extra: Record<string, string> = {}) =>
  ask(base, '/api/v1/query_range', { query, start: String(START + 600), end: String(END), step: '60', ...extra });

/** The reference answer with `labels` added to every series (a group's labels, as the proxy adds them). */
function withLabels(b: Body, labels: Record<string, string>): Body {
  return { ...b, data: { ...b.data!, result: b.data!.result.map((s) => ({ ...s, metric: { ...s.metric, ...labels } })) } };
}

// ---------------------------------------------------------------------------------------------
// Fault servers

interface FaultServer {
  name: string;
  url: string;
  port: number;
  /** Authorization headers the server received (to show the secret was really sent). */
  auth: string[];
  close(): Promise<void>;
}

/** Accepts TCP connections and never answers a byte. */
async function hangingServer(): Promise<FaultServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    name: 'hang',
    url: `http://127.0.0.1:${port}`,
    port,
    auth: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** An HTTP server answering every request with `handler`; the Authorization header is recorded. */
async function httpServer(name: string, handler: (auth: string, res: http.ServerResponse) => void): Promise<FaultServer> {
  const auth: string[] = [];
  const server = http.createServer((req, res) => {
    const a = req.headers.authorization ?? '';
    auth.push(a);
    handler(a, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    auth,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const stallingServer = () =>
  httpServer('stall', (_a, res) => {
    // Headers and the start of a valid answer, then nothing: the body never ends.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"status":"success","data":{"resultType":"matrix","result":[');
  });

// The next two echo the credentials they were sent, as some misconfigured gateways do: whatever a
// downstream says, the proxy must not repeat the secret.
const garbageServer = () =>
  httpServer('garbage', (a, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`not JSON, you sent ${a}`);
  });

const htmlServer = () =>
  httpServer('html', (a, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<html><body>Please log in (${a})</body></html>`);
  });

const error500Server = () =>
  httpServer('err500', (a, res) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'error', errorType: 'internal', error: `storage is broken (request had ${a})` }));
  });

// ---------------------------------------------------------------------------------------------

/** One server group of a proxy config, as YAML list item. */
function groupYaml(
  name: string,
  targets: number[],
  opts: { label?: string; timeout?: string; ignoreError?: boolean; auth?: boolean; jsonApi?: boolean } = {},
): string {
  const lines = [`    - name: ${name}`, `      static_configs: [{targets: [${targets.map((p) => `"127.0.0.1:${p}"`).join(', ')}]}]`];
  // The fault servers fake the JSON API: their groups read through it. The real Prometheus groups
  // read as configured by default (remote read, which Prometheus serves).
  if (opts.jsonApi) lines.push('      remote_read: false');
  if (opts.label !== undefined) lines.push(`      labels: {pf: "${opts.label}"}`);
  if (opts.timeout !== undefined) lines.push(`      timeout: ${opts.timeout}`);
  if (opts.ignoreError) lines.push('      ignore_error: true');
  if (opts.auth) lines.push(`      http_headers: {Authorization: "${AUTH}"}`);
  return lines.join('\n');
}

describe('query layer faults', () => {
  let replicaA: PrometheusProcess;
  let replicaB: PrometheusProcess;
  /** Same data, started with --query.max-samples=100: the reference for the sample-limit error. */
  let limited: PrometheusProcess;
  let faults: Record<'hang' | 'stall' | 'garbage' | 'html' | 'err500', FaultServer>;
  let refusedPort: number;
  /** Each fault in a group of its own, no ignore_error, max_concurrency 4. */
  let strict: ProxyProcess;
  /** The same groups with ignore_error. */
  let lenient: ProxyProcess;
  /** One group over replica B with max_samples 100. */
  let sampleLimited: ProxyProcess;
  /** One group of the two replicas A and B. */
  let ha: ProxyProcess;
  const proxies = (): ProxyProcess[] => [strict, lenient, sampleLimited, ha].filter(Boolean);

  const FAULTS = ['hang', 'stall', 'garbage', 'html', 'err500', 'refused'] as const;
  const portOf = (f: (typeof FAULTS)[number]): number => (f === 'refused' ? refusedPort : faults[f].port);
  const targetOf = (f: (typeof FAULTS)[number]): string => `http://127.0.0.1:${portOf(f)}`;

  beforeAll(async () => {
    const data = generateBackfillData();
    const [a, b, l, ...servers] = await Promise.all([
      startBackfilledPrometheus(data),
      startBackfilledPrometheus(data),
      startPrometheus({
        configYaml: 'global:\n  evaluation_interval: 1m\n',
        extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn', '--query.max-samples=100'],
        prepareDataDir: (dir) => backfillTsdb(data, dir),
      }),
      hangingServer(),
      stallingServer(),
      garbageServer(),
      htmlServer(),
      error500Server(),
    ]);
    replicaA = a;
    replicaB = b;
    limited = l;
    faults = Object.fromEntries(servers.map((s) => [s.name, s])) as typeof faults;
    refusedPort = await freePort();

    const faultGroups = (ignoreError: boolean) =>
      FAULTS.map((f) => groupYaml(f, [portOf(f)], { label: f, timeout: f === 'hang' ? '2s' : '1s', ignoreError, auth: true, jsonApi: true })).join('\n');
    [strict, lenient, sampleLimited, ha] = await Promise.all([
      startProxy(
        (listen) => `
listen: ${listen}
log_level: debug
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  semantics: prometheus-2
  timeout: 4s
  max_concurrency: 4
  server_groups:
${groupYaml('ok', [replicaB.port], { label: 'ok', timeout: '2s' })}
${faultGroups(false)}
${groupYaml('hang-long', [faults.hang.port], { label: 'hang-long', timeout: '30s', auth: true, jsonApi: true })}
`,
      ),
      startProxy(
        (listen) => `
listen: ${listen}
log_level: debug
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  semantics: prometheus-2
  timeout: 10s
  server_groups:
${groupYaml('ok', [replicaB.port], { label: 'ok', timeout: '2s' })}
${faultGroups(true)}
`,
      ),
      startProxy(
        (listen) => `
listen: ${listen}
log_level: debug
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  semantics: prometheus-2
  max_samples: 100
  server_groups:
${groupYaml('only', [replicaB.port])}
`,
      ),
      startProxy(
        (listen) => `
listen: ${listen}
log_level: debug
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  semantics: prometheus-2
  timeout: 10s
  server_groups:
${groupYaml('ha', [replicaA.port, replicaB.port], { timeout: '2s' })}
`,
      ),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(proxies().map((p) => p.stop()));
    await Promise.all([replicaA, replicaB, limited].filter(Boolean).map((p) => p.stop()));
    await Promise.all(Object.values(faults ?? {}).map((s) => s.close()));
  });

  /** `up` through the strict proxy's healthy group equals replica B's `up` plus the group label. */
  async function expectHealthyAnswer(proxy: ProxyProcess): Promise<void> {
    const ref = await instant(replicaB.url, 'up');
    expect(ref.body.data!.result.length, 'replica B has up series').toBeGreaterThan(0);
    const got = await instant(proxy.url, 'up{pf="ok"}');
    expect(got.status).toBe(200);
    expect(got.body.warnings).toBeUndefined();
    expect(sameData(withLabels(ref.body, { pf: 'ok' }), got.body)).toBeUndefined();
  }

  describe('a whole group failing without ignore_error: 503 "unavailable" naming the group and target', () => {
    const REASONS: Record<(typeof FAULTS)[number], RegExp> = {
      hang: /^timeout after 2s$/,
      stall: /^timeout after 1s$/,
      garbage: /^HTTP 200: invalid JSON: /,
      html: /^unexpected content type text\/html$/,
      err500: /^HTTP 500: internal: storage is broken \(request had .*\)$/,
      refused: /^request failed: .*ECONNREFUSED/,
    };
    for (const f of FAULTS) {
      it(`${f}: the query fails with the group's error, and the proxy answers the next query normally`, async () => {
        for (const ask of [instant, range]) {
          const got = await ask(strict.url, `sum(rate(http_requests_total{pf="${f}"}[5m]))`);
          expect(got.status, got.text).toBe(503);
          expect(got.body.status).toBe('error');
          expect(got.body.errorType).toBe('unavailable');
          const prefix = `server group "${f}" failed: target "${targetOf(f)}": `;
          expect(got.body.error!.startsWith(prefix), got.body.error).toBe(true);
          expect(got.body.error!.slice(prefix.length)).toMatch(REASONS[f]);
          expect(got.text).not.toContain(SECRET);
        }
        await expectHealthyAnswer(strict);
      });
    }
  });

  describe('a whole group failing with ignore_error: success with a warning naming the group', () => {
    it("every failing group is a warning; the data is the healthy group's", async () => {
      for (const ask of [instant, range]) {
        const [ref, got] = await Promise.all([ask(replicaB.url, 'up'), ask(lenient.url, 'up')]);
        expect(got.status, got.text).toBe(200);
        expect(sameData(withLabels(ref.body, { pf: 'ok' }), got.body)).toBeUndefined();
        const warnings = got.body.warnings ?? [];
        expect(warnings.length, JSON.stringify(warnings)).toBe(FAULTS.length);
        for (const f of FAULTS) {
          const w = warnings.filter((x) => x.startsWith(`server group "${f}" failed: target "${targetOf(f)}": `));
          expect(w.length, `warning for ${f} in ${JSON.stringify(warnings)}`).toBe(1);
        }
        expect(got.text).not.toContain(SECRET);
      }
    });

    it('a query touching only a failed group is an empty success with the warning', async () => {
      const got = await instant(lenient.url, 'up{pf="refused"}');
      expect(got.status).toBe(200);
      expect(got.body.data).toEqual({ resultType: 'vector', result: [] });
      expect(got.body.warnings).toEqual([
        expect.stringMatching(new RegExp(`^server group "refused" failed: target "${targetOf('refused')}": request failed: .*ECONNREFUSED`)),
      ]);
    });
  });

  describe('timeouts', () => {
    let prometheusTimeout: Answer;

    beforeAll(async () => {
      // Prometheus's own answer to a query that runs out of its `timeout`: 720k subquery steps
      // cannot finish in 100ms.
      prometheusTimeout = await instant(replicaB.url, 'sum_over_time(sum(rate(http_requests_total[5m]))[20h:100ms])', { timeout: '100ms' });
      expect(prometheusTimeout.status, prometheusTimeout.text).toBe(503);
    });

    it("a `timeout` shorter than the group timeout ends the query at the query timeout, with Prometheus's error", async () => {
      // hang-long's group timeout is 30s, the proxy's query timeout 4s: only the parameter can end this early.
      const got = await instant(strict.url, 'up{pf="hang-long"}', { timeout: '300ms' });
      expect(got.status).toBe(prometheusTimeout.status);
      expect(got.body).toEqual(prometheusTimeout.body);
      expect(got.ms).toBeLessThan(4_000);
      await expectHealthyAnswer(strict);
    });

    it('the configured query timeout bounds a longer group timeout', async () => {
      const got = await range(strict.url, 'up{pf="hang-long"}');
      expect(got.status).toBe(prometheusTimeout.status);
      expect(got.body).toEqual(prometheusTimeout.body);
      expect(got.ms).toBeLessThan(30_000 / 2);
    });

    it('with ignore_error, a query timeout is still an error, not a partial success', async () => {
      const got = await instant(lenient.url, 'up', { timeout: '300ms' });
      expect(got.body).toEqual(prometheusTimeout.body);
      expect(got.status).toBe(503);
    });

    it('concurrent queries on a hanging group do not hold up queries that do not touch it', async () => {
      // More hanging requests than max_concurrency (4) at once, each held until the query timeout (4s).
      let hangingDone = 0;
      const hanging = Array.from({ length: 6 }, () =>
        instant(strict.url, 'up{pf="hang-long"}').then((a) => {
          hangingDone++;
          return a;
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 5; i++) await expectHealthyAnswer(strict);
      // One more on the hanging group, queued behind the others, still ends at its own `timeout`.
      const queued = await instant(strict.url, 'up{pf="hang-long"}', { timeout: '300ms' });
      expect(queued.status, queued.text).toBe(503);
      expect(queued.body.errorType).toBe('timeout');
      expect(hangingDone, 'healthy queries were answered while the hanging ones were still waiting').toBe(0);
      for (const a of await Promise.all(hanging)) {
        expect(a.status).toBe(prometheusTimeout.status);
        expect(a.body).toEqual(prometheusTimeout.body);
      }
      await expectHealthyAnswer(strict);
    });
  });

  describe("the sample limit (max_samples) gives Prometheus's error", () => {
    for (const [kind, ask] of [
      ['instant', instant],
      ['range', range],
    ] as const) {
      it(`${kind}: a query over the limit fails as on a Prometheus with --query.max-samples=100; one under it succeeds`, async () => {
        const over = 'count_over_time(up[1h])';
        const [ref, got] = await Promise.all([ask(limited.url, over), ask(sampleLimited.url, over)]);
        expect(ref.status, ref.text).toBe(422);
        expect(got.status).toBe(ref.status);
        expect(got.body).toEqual(ref.body);

        // A range query over 2 steps only: 8 series of `up` stay under 100 samples.
        const under = 'sum(up)';
        const short = { start: String(END - 60), step: '60' };
        const [ref2, got2] = await Promise.all([ask(limited.url, under, short), ask(sampleLimited.url, under, short)]);
        expect(ref2.status, ref2.text).toBe(200);
        expect(sameData(ref2.body, got2.body)).toBeUndefined();
      });
    }
  });

  describe('HA: one replica killed mid-run', () => {
    const QUERIES = [
      'sum by (job) (rate(http_requests_total[5m]))',
      'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))',
      'max_over_time(temperature_celsius[15m])',
      'up',
    ];
    const run = () => Promise.all(QUERIES.flatMap((q) => [instant(ha.url, q), range(ha.url, q)]));

    it('answers are identical before, during and after the kill; afterwards they name the dead target', async () => {
      const before = await run();
      // The answers are right, not merely stable: they equal replica B's.
      const ref = await Promise.all(QUERIES.flatMap((q) => [instant(replicaB.url, q), range(replicaB.url, q)]));
      before.forEach((a, i) => {
        expect(a.body.warnings, a.text).toBeUndefined();
        expect(sameData(ref[i].body, a.body), `${i}`).toBeUndefined();
      });

      // Queries in flight while replica A dies by SIGKILL.
      const during = Promise.all([run(), run(), run()]);
      await new Promise((r) => setTimeout(r, 5));
      process.kill(replicaA.pid, 'SIGKILL');
      const duringAnswers = (await during).flat();
      // Wait until A's port refuses connections: the process is gone.
      for (;;) {
        const dead = await fetch(`${replicaA.url}/-/healthy`).then(
          () => false,
          () => true,
        );
        if (dead) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const after = await run();

      const check = (set: Answer[]) =>
        set.forEach((a, i) => {
          expect(a.status, a.text).toBe(200);
          expect(a.body.data, QUERIES[Math.floor(i / 2)]).toEqual(before[i].body.data);
        });
      for (let k = 0; k < 3; k++) check(duringAnswers.slice(k * before.length, (k + 1) * before.length));
      check(after);
      const deadTarget = `http://127.0.0.1:${replicaA.port}`;
      for (const a of duringAnswers) for (const w of a.body.warnings ?? []) expect(w).toContain(`server group "ha": target "${deadTarget}" failed: `);
      for (const a of after) {
        expect(a.body.warnings, a.text).toHaveLength(1);
        expect(a.body.warnings![0]).toMatch(
          new RegExp(`^server group "ha": target "${deadTarget.replace(/[.]/g, '\\.')}" failed: (remote read: )?request failed: .*ECONNREFUSED`),
        );
      }
    });
  });

  describe('secrets', () => {
    it('no response and no proxy log line carries the configured Authorization secret', async () => {
      const quick = ['stall', 'garbage', 'html', 'err500', 'refused'];
      for (const f of quick) await instant(strict.url, `up{pf="${f}"}`);
      const got = await range(lenient.url, `up{pf=~"${quick.join('|')}"}`);
      expect(got.body.warnings).toHaveLength(quick.length);
      // The secret was really sent (and echoed back by garbage, html and err500).
      for (const f of quick) if (f !== 'refused') expect(faults[f as keyof typeof faults].auth, f).toContain(AUTH);
      expect(proxyTexts.length).toBeGreaterThan(quick.length);
      for (const t of proxyTexts) expect(t).not.toContain(SECRET);
      for (const p of proxies()) expect(p.logs()).not.toContain(SECRET);
    });
  });
});
