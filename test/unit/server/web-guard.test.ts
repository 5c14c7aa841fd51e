// The listener's guard and lifecycle endpoints, through the app's own request path: basic auth on
// every route with 401 and WWW-Authenticate, the verified-credentials cache, bcrypt off the event
// loop, configured headers, the rate limit, the failure counters in /metrics, and the lifecycle
// endpoints with and without --web.enable-lifecycle.

import bcrypt from 'bcryptjs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseWebConfigText } from '../../../src/config/web-config.js';
import { createApp, type AppDeps } from '../../../src/server/app.js';
import { parseBasicAuth, WebGuard, type WebSettings } from '../../../src/server/web-config.js';

const silent = pino({ level: 'silent' });
const HASH4 = bcrypt.hashSync('alice-pw', 4);

function settings(yaml: string): WebSettings {
  return { file: '/x/web.yml', config: parseWebConfigText(yaml, '/x/web.yml') };
}

function guarded(yaml: string, deps: Partial<AppDeps> = {}) {
  const guard = new WebGuard(settings(yaml), silent);
  const app = createApp({ shard: undefined, startedAt: Date.now(), guard: guard.middleware(), extraMetrics: () => guard.metrics(), ...deps });
  return { guard, app };
}

const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

describe('basic auth from the web config', () => {
  const yaml = `basic_auth_users:\n  alice: ${HASH4}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n`;

  it('answers 401 with WWW-Authenticate: Basic without or with wrong credentials, on every path, and counts why', async () => {
    const { app } = guarded(yaml);
    for (const path of ['/-/healthy', '/metrics/shard/0', '/api/v1/query?query=up', '/metrics', '/nope']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic');
      expect(await res.text()).toBe('Unauthorized\n');
    }
    expect((await app.request('/-/healthy', { headers: basic('alice', 'wrong') })).status).toBe(401);
    expect((await app.request('/-/healthy', { headers: basic('mallory', 'alice-pw') })).status).toBe(401);
    expect((await app.request('/-/healthy', { headers: { Authorization: 'Bearer alice-pw' } })).status).toBe(401);
    expect((await app.request('/-/healthy', { headers: { Authorization: 'Basic %%%' } })).status).toBe(401);
    const ok = await app.request('/metrics', { headers: basic('alice', 'alice-pw') });
    expect(ok.status).toBe(200);
    const text = await ok.text();
    expect(metric(text, 'promfront_web_auth_failures_total{reason="missing"}')).toBe(7);
    expect(metric(text, 'promfront_web_auth_failures_total{reason="invalid"}')).toBe(2);
    expect(text).not.toContain('alice-pw');
  });

  it('lets the right user through and sets the configured headers on answers and refusals alike', async () => {
    const { app } = guarded(yaml);
    const ok = await app.request('/-/healthy', { headers: basic('alice', 'alice-pw') });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('promfront is Healthy.\n');
    expect(ok.headers.get('x-frame-options')).toBe('deny');
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    const refused = await app.request('/-/healthy');
    expect(refused.headers.get('x-frame-options')).toBe('deny');
  });

  it('pays bcrypt once per user and password, also for concurrent requests, and again after a swap', async () => {
    const { app, guard } = guarded(yaml);
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => app.request('/-/healthy', { headers: basic('alice', 'alice-pw') })).map(async (r) => (await r).status),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(guard.bcryptRuns).toBe(1);
    await app.request('/-/healthy', { headers: basic('alice', 'nope') });
    await app.request('/-/healthy', { headers: basic('alice', 'nope') });
    expect(guard.bcryptRuns).toBe(2);
    guard.swap(settings(yaml));
    expect((await app.request('/-/healthy', { headers: basic('alice', 'alice-pw') })).status).toBe(200);
    expect(guard.bcryptRuns).toBe(3);
  });

  it('keeps the event loop turning while a costly hash is compared', async () => {
    const hash12 = bcrypt.hashSync('slow-pw', 13);
    const { app } = guarded(`basic_auth_users:\n  bob: ${hash12}\n`);
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const res = await app.request('/-/healthy', { headers: basic('bob', 'slow-pw') });
    const took = performance.now() - started;
    clearInterval(timer);
    expect(res.status).toBe(200);
    // The comparison takes 0.7-1.5 s at cost 13 on a 2-core machine; bcryptjs works in slices of at most 100 ms
    // between event-loop turns, so the loop is never held for the whole of it.
    expect(took).toBeGreaterThan(400);
    expect(maxGap).toBeLessThan(250);
    expect(maxGap).toBeLessThan(took / 3);
  });

  it('takes a swapped-in user list at once: the new user works, the removed one is refused', async () => {
    const { app, guard } = guarded(yaml);
    expect((await app.request('/-/healthy', { headers: basic('alice', 'alice-pw') })).status).toBe(200);
    guard.swap(settings(`basic_auth_users:\n  bob: ${bcrypt.hashSync('bob-pw', 4)}\n`));
    expect((await app.request('/-/healthy', { headers: basic('alice', 'alice-pw') })).status).toBe(401);
    expect((await app.request('/-/healthy', { headers: basic('bob', 'bob-pw') })).status).toBe(200);
  });

  it('parses Authorization as Go does: case-insensitive scheme, password may hold colons', () => {
    expect(parseBasicAuth(`basic ${Buffer.from('u:p:q').toString('base64')}`)).toEqual({ user: 'u', pass: 'p:q' });
    expect(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
    expect(parseBasicAuth('Basic')).toBeUndefined();
    expect(parseBasicAuth(undefined)).toBeUndefined();
  });
});

describe('rate_limit from the web config', () => {
  it('refuses requests beyond the burst with 429 until a token is back, and counts them', async () => {
    const { app, guard } = guarded('rate_limit: {interval: 200ms, burst: 2}\n');
    const first: Response[] = [];
    for (let i = 0; i < 3; i++) first.push(await app.request('/-/healthy'));
    expect(first.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(await first[2].text()).toBe('Too Many Requests\n');
    await new Promise((r) => setTimeout(r, 250));
    expect((await app.request('/-/healthy')).status).toBe(200);
    expect(guard.metrics()).toContain('promfront_web_rate_limited_total 1\n');
  });
});

describe('lifecycle endpoints', () => {
  it('without --web.enable-lifecycle: POST/PUT /-/reload and /-/quit answer 403 as Prometheus, GET 405, and nothing is called', async () => {
    let reloads = 0;
    let quits = 0;
    const app = createApp({ shard: undefined, startedAt: 0, reload: async () => void reloads++, quit: () => void quits++ });
    for (const path of ['/-/reload', '/-/quit']) {
      for (const method of ['POST', 'PUT']) {
        const res = await app.request(path, { method });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(await res.text()).toBe('Lifecycle API is not enabled.');
      }
      const get = await app.request(path);
      expect(get.status).toBe(405);
      expect(await get.text()).toBe('Only POST or PUT requests allowed');
    }
    await new Promise((r) => setImmediate(r));
    expect({ reloads, quits }).toEqual({ reloads: 0, quits: 0 });
    expect(await (await app.request('/metrics')).text()).toMatch(/^promfront_lifecycle_refused_total 4$/m);
  });

  it('with it: /-/reload reloads (500 with the reason when refused), /-/quit says goodbye once and quits once', async () => {
    let reloads = 0;
    let quits = 0;
    let refuse = false;
    const app = createApp({
      shard: undefined,
      startedAt: 0,
      lifecycle: true,
      reload: async () => {
        reloads++;
        if (refuse) throw new Error('invalid config /x.yaml:\n  listen: bad');
      },
      quit: () => void quits++,
    });
    expect((await app.request('/-/reload', { method: 'POST' })).status).toBe(200);
    refuse = true;
    const failed = await app.request('/-/reload', { method: 'PUT' });
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('failed to reload config: invalid config /x.yaml:\n  listen: bad\n');
    expect(reloads).toBe(2);
    const quit = await app.request('/-/quit', { method: 'POST' });
    expect(quit.status).toBe(200);
    expect(await quit.text()).toBe('Requesting termination... Goodbye!');
    const again = await app.request('/-/quit', { method: 'PUT' });
    expect(await again.text()).toBe('Termination already in progress.');
    await new Promise((r) => setImmediate(r));
    expect(quits).toBe(1);
  });
});
