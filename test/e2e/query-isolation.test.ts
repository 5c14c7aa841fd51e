// Isolation of the query layer in its own thread, end to end: ./proxy with a shard section over a
// fake exporter and a query section over a fake downstream API. CPU-heavy queries must not delay
// /-/healthy or shard serving nor fail scrapes; a query thread that dies (here: past its heap limit)
// answers 503 and comes back; a reload swaps the thread's layer; a client that goes away cancels
// its downstream reads; a client that reads nothing loses its connection at the write timeout.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { startApiServer, type ApiServer } from '../support/api-server.js';
import { runCli, startProxy, writeTemp, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

/** CPU-bound evaluation with no downstream data, about 0.5 s on an idle core: a subquery of 1,440,000 steps. */
const HEAVY = 'sum_over_time(vector(1)[4h:10ms])';
const q = (query: string) => `/api/v1/query?${new URLSearchParams({ query }).toString()}`;

function config(listen: string, upstream: Upstream, apis: ApiServer[], level = 'info'): string {
  return [
    `listen: ${listen}`,
    `log_level: ${level}`,
    'shard:',
    '  num_shards: 2',
    '  scrape_interval: 1s',
    '  sources:',
    `    - url: ${upstream.url}`,
    'query:',
    '  server_groups:',
    // The raw read path is what these tests load and cancel (a lone server would otherwise be asked
    // who it is first, and answer whole queries).
    ...apis.flatMap((a) => ['    - static_configs:', `        - targets: ['${a.host}:${a.port}']`, '      remote_read: false', '      pushdown: false']),
    '',
  ].join('\n');
}

async function metric(proxy: ProxyProcess, name: string): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (lines.length === 0) throw new Error(`no ${name} in /metrics`);
  return lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function timed(url: string, timeoutMs = 30_000): Promise<{ ms: number; status: number }> {
  const t = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  return { ms: performance.now() - t, status: res.status };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('query thread', () => {
  let upstream: Upstream;
  let a: ApiServer;
  let b: ApiServer;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    upstream = await startUpstream('# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n');
    a = await startApiServer({ name: 'a' });
    b = await startApiServer({ name: 'b' });
    proxy = await startProxy((listen) => config(listen, upstream, [a]), {
      args: ['--web.write-timeout=1s', '--query.thread-heap-limit=128', '--web.enable-lifecycle'],
    });
    await until('the first shard cycle', async () => (await fetch(`${proxy.url}/-/ready`)).status === 200);
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([upstream?.close(), a?.close(), b?.close()]);
  });

  it('keeps /-/healthy and /metrics/shard/0 quick and scrapes succeeding while waves of heavy queries run', async () => {
    const failuresBefore = await metric(proxy, 'promfront_source_scrape_failures_total');
    const started = performance.now();
    // Waves of 25 concurrent heavy queries until the thread has been busy for at least 3 s, however fast the machine.
    const queries = (async () => {
      const all: Awaited<ReturnType<typeof timed>>[] = [];
      do all.push(...(await Promise.all(Array.from({ length: 25 }, () => timed(`${proxy.url}${q(HEAVY)}`, 150_000)))));
      while (performance.now() - started < 3000);
      return all;
    })();
    let done = false;
    void queries.finally(() => (done = true));
    const health: number[] = [];
    const shard: number[] = [];
    while (!done) {
      const h = await timed(`${proxy.url}/-/healthy`);
      const s = await timed(`${proxy.url}/metrics/shard/0`);
      expect([h.status, s.status]).toEqual([200, 200]);
      health.push(h.ms);
      shard.push(s.ms);
      await new Promise((r) => setTimeout(r, 100));
    }
    const answers = await queries;
    const loadMs = performance.now() - started;
    expect(answers.map((x) => x.status)).toEqual(answers.map(() => 200));
    // The load was real: the queries kept the thread busy for seconds.
    expect(loadMs).toBeGreaterThan(3000);
    expect(answers.length).toBeGreaterThanOrEqual(25);
    expect(health.length).toBeGreaterThan(10);
    // Order of magnitude, not a tight timing: on one event loop these waited for whole queries.
    expect(Math.max(...health)).toBeLessThan(1000);
    expect(Math.max(...shard)).toBeLessThan(1000);
    expect(await metric(proxy, 'promfront_source_scrape_failures_total')).toBe(failuresBefore);
  }, 200_000);

  it('cancels the downstream read in the thread when the client goes away', async () => {
    let cancelled = false;
    let asked = false;
    b.override = (req, res) => {
      asked = true;
      // Hold the answer: only a cancellation from the proxy ends this request.
      req.socket.once('close', () => (cancelled = true));
      setTimeout(() => res.destroyed || res.end(), 20_000).unref();
      return true;
    };
    writeFileSync(proxy.configFile, config(`127.0.0.1:${proxy.port}`, upstream, [b]));
    expect((await fetch(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    try {
      const ctl = new AbortController();
      const pending = fetch(`${proxy.url}${q('up')}`, { signal: ctl.signal }).catch(() => undefined);
      await until('the downstream being asked', async () => asked, 10_000);
      ctl.abort();
      await pending;
      await until('the downstream request being cancelled', async () => cancelled, 5000);
      // Nothing of the request is left waiting on the main thread.
      await until('no request in flight', async () => (await metric(proxy, 'promfront_query_thread_requests_in_flight')) === 0, 5000);
    } finally {
      b.override = undefined;
    }
  }, 60_000);

  it('swaps the thread layer on reload: the new server group answers', async () => {
    const serverOf = async () => {
      const body = (await (await fetch(`${proxy.url}${q('up')}`)).json()) as { data: { result: { metric: { server: string } }[] } };
      return body.data.result.map((r) => r.metric.server);
    };
    writeFileSync(proxy.configFile, config(`127.0.0.1:${proxy.port}`, upstream, [a]));
    expect((await fetch(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    expect(await serverOf()).toEqual(['a']);
    writeFileSync(proxy.configFile, config(`127.0.0.1:${proxy.port}`, upstream, [b]));
    expect((await fetch(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    expect(await serverOf()).toEqual(['b']);
    // A config whose query section cannot be used is refused and the thread's layer stays.
    writeFileSync(
      proxy.configFile,
      config(`127.0.0.1:${proxy.port}`, upstream, [a]).replace(
        'remote_read: false',
        'remote_read: false\n      http_client:\n        tls_config:\n          ca_file: /nonexistent/ca.pem',
      ),
    );
    const refused = await fetch(`${proxy.url}/-/reload`, { method: 'POST' });
    expect(refused.status).toBe(500);
    expect(await refused.text()).toContain('ca_file');
    expect(await serverOf()).toEqual(['b']);
  }, 60_000);

  it('passes a reloaded log_level to the thread: its request log lines stop at warn and come back at info', async () => {
    const marker = (n: number) => `vector(${n}424242)`;
    const logged = (n: number) => proxy.logs().includes(`"query":"${marker(n)}"`);
    writeFileSync(proxy.configFile, config(`127.0.0.1:${proxy.port}`, upstream, [a], 'warn'));
    expect((await fetch(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${proxy.url}${q(marker(1))}`)).status).toBe(200);
    writeFileSync(proxy.configFile, config(`127.0.0.1:${proxy.port}`, upstream, [a], 'info'));
    expect((await fetch(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${proxy.url}${q(marker(2))}`)).status).toBe(200);
    await until('the info line of the second query', async () => logged(2), 5000);
    expect(logged(1)).toBe(false);
  }, 30_000);

  it('refuses a body over 32 MiB with 413 without reading it, and keeps serving', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(proxy.port, '127.0.0.1');
      let out = '';
      sock.on('data', (d) => (out += d.toString()));
      sock.on('close', () => resolve(out));
      sock.on('error', reject);
      sock.write(
        `POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${40 * 1024 * 1024}\r\n\r\nquery=1`,
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('request body too large');
    expect(await metric(proxy, 'promfront_query_requests_refused_total')).toBe(1);
    expect((await fetch(`${proxy.url}${q('1+1')}`)).status).toBe(200);
  }, 30_000);

  it('closes the connection of a client that reads nothing of a large answer at the write timeout', async () => {
    // About 30 MB of answer: more than the socket buffers on both sides hold.
    const pad = 'x'.repeat(10_000);
    a.override = (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (!u.pathname.endsWith('/api/v1/query')) return false;
      const t = (Math.round(Number(u.searchParams.get('time')) * 1000) - 1) / 1000;
      const result = Array.from({ length: 3000 }, (_, i) => ({ metric: { __name__: 'big', i: String(i), pad }, values: [[t, '1']] }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } }));
      return true;
    };
    writeFileSync(proxy.configFile, config(`127.0.0.1:${proxy.port}`, upstream, [a]));
    expect((await fetch(`${proxy.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    try {
      const before = await metric(proxy, 'promfront_response_write_timeouts_total');
      const sock = net.connect(proxy.port, '127.0.0.1');
      let received = 0;
      const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
      sock.on('error', () => undefined);
      // Stop reading at the first bytes, in the handler: polling for them let the client read the
      // whole answer first when the proxy wrote it fast (30 MB over loopback fits in 100 ms).
      let reading = true;
      sock.on('data', (d) => {
        received += d.length;
        if (reading) {
          reading = false;
          sock.pause();
        }
      });
      sock.write(`GET ${q('big')} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n`);
      // Read the head, then stop reading: the rest piles up in the proxy's socket buffer.
      await until('the answer to start', async () => received > 0, 30_000);
      await until('the write timeout to close the connection', async () => (await metric(proxy, 'promfront_response_write_timeouts_total')) > before, 20_000);
      sock.resume();
      await closed;
      expect(received).toBeLessThan(30_000_000);
      expect(proxy.logs()).toContain('client read nothing of its answer within the write timeout');
    } finally {
      a.override = undefined;
    }
  }, 90_000);

  it('answers 503 when the query thread dies, then serves again', async () => {
    // Half a million series with distinct labels from the downstream: their JSON text and label sets
    // are JS heap (a subquery's points are typed arrays outside it), far past the 128 MB limit.
    const huge = (t: number) =>
      JSON.stringify({
        status: 'success',
        data: {
          resultType: 'matrix',
          result: Array.from({ length: 500_000 }, (_, i) => ({ metric: { __name__: 'huge', i: `series-${i}` }, values: [[t, '1']] })),
        },
      });
    a.override = (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (!u.pathname.endsWith('/api/v1/query')) return false;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(huge((Math.round(Number(u.searchParams.get('time')) * 1000) - 1) / 1000));
      return true;
    };
    let dying: Response;
    try {
      dying = await fetch(`${proxy.url}${q('count(huge)')}`, { signal: AbortSignal.timeout(120_000) });
    } finally {
      a.override = undefined;
    }
    expect(dying.status).toBe(503);
    const body = (await dying.json()) as { status: string; errorType: string; error: string };
    expect(body).toMatchObject({ status: 'error', errorType: 'unavailable' });
    expect(body.error).toContain('query thread stopped');
    // Meanwhile the main thread answers as always.
    expect((await fetch(`${proxy.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${proxy.url}/metrics/shard/0`)).status).toBe(200);
    await until('the restarted thread to answer', async () => (await fetch(`${proxy.url}${q('up')}`)).status === 200, 30_000);
    expect(await metric(proxy, 'promfront_query_thread_restarts_total')).toBe(1);
    expect(await metric(proxy, 'promfront_query_thread_up')).toBe(1);
    expect(proxy.logs()).toContain('query thread stopped: its requests were answered 503; restarting it');
  }, 180_000);
});

describe('query thread flags', () => {
  it('refuses a bad --web.write-timeout or --query.thread-heap-limit with exit code 2, naming the flag', () => {
    const file = writeTemp('config.yaml', 'listen: 127.0.0.1:1\nquery:\n  server_groups:\n    - static_configs:\n        - targets: [127.0.0.1:2]\n');
    const wt = runCli([`--config=${file}`, '--web.write-timeout=soon']);
    expect(wt.code).toBe(2);
    expect(wt.stderr).toContain('--web.write-timeout: not a valid duration string: "soon"');
    const heap = runCli([`--config=${file}`, '--query.thread-heap-limit=1.5']);
    expect(heap.code).toBe(2);
    expect(heap.stderr).toContain('--query.thread-heap-limit must be a whole number of MB, at least 16 (got "1.5")');
  });
});
