// The request fast path (src/server/fast-path.ts) against the app it bypasses: two proxies with the
// same config, web config (basic auth, headers) and downstreams, one with the fast path and one
// with PROMFRONT_FAST_PATH=0, asked the same requests in turn. Every answer must be the same
// (status, headers but Date, bytes), and so must what each proxy counts in /metrics and logs.

import bcrypt from 'bcryptjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../support/api-server.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startPushgateway, type PushgatewayProcess } from '../support/pushgateway.js';
import { waitFor } from '../../dev/prometheus-process.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Ask {
  method?: string;
  path: string;
  auth?: string;
  body?: string;
  headers?: Record<string, string>;
}

/** One request on a connection of its own, the path sent as written; the answer's bytes as base64 (gzip included). */
function ask(base: string, a: Ask): Promise<Answer> {
  const u = new URL(base);
  const headers: Record<string, string> = { ...a.headers };
  if (a.auth) headers.authorization = `Basic ${Buffer.from(a.auth).toString('base64')}`;
  if (a.body !== undefined) headers['content-length'] = String(Buffer.byteLength(a.body));
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: a.method ?? 'GET', path: a.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = { ...res.headers };
        delete h.date;
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('base64') });
      });
    });
    req.on('error', reject);
    req.end(a.body);
  });
}

const USER = 'alice:alice-pw';
const text = (a: Answer) => Buffer.from(a.body, 'base64').toString();

describe('the fast path answers as the app does', () => {
  let api: ApiServer;
  let pgw: PushgatewayProcess;
  let fast: ProxyProcess;
  let app: ProxyProcess;
  let dir: string;

  beforeAll(async () => {
    api = await startApiServer({ name: 'p1' });
    pgw = await startPushgateway();
    dir = mkdtempSync(join(tmpdir(), 'promfront-fast-path-'));
    const webFile = join(dir, 'web.yml');
    writeFileSync(
      webFile,
      [
        'http_server_config:',
        '  headers: {X-Frame-Options: deny, X-Content-Type-Options: nosniff}',
        'basic_auth_users:',
        `  alice: ${bcrypt.hashSync('alice-pw', 4)}`,
      ].join('\n'),
    );
    const config = (listen: string) => `
listen: ${listen}
log_level: info
query:
  server_groups:
    - name: g
      static_configs: [{targets: ["127.0.0.1:${api.port}"], labels: {dc: east}}]
push:
  pushgateways:
    static_configs: [{targets: ["${pgw.address}"]}]
  health_check_interval: 500ms
`;
    const healthy = async (url: string) => (await ask(url, { path: '/-/healthy', auth: USER }).catch(() => ({ status: 0 }))).status === 200;
    const args = [`--web.config.file=${webFile}`];
    [fast, app] = await Promise.all([startProxy(config, { args, healthy }), startProxy(config, { args, healthy, env: { PROMFRONT_FAST_PATH: '0' } })]);
    for (const p of [fast, app]) {
      await waitFor(
        async () => JSON.parse(text(await ask(p.url, { path: '/status', auth: USER }))).push.pushgateways.every((g: { healthy: boolean }) => g.healthy),
        10_000,
        'the Pushgateway healthy',
      );
    }
  }, 60_000);

  afterAll(async () => {
    await fast?.stop();
    await app?.stop();
    await pgw?.stop();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, Ask][] = [
    ['instant query', { path: '/api/v1/query?query=up&time=1000', auth: USER }],
    ['instant query, gzip', { path: '/api/v1/query?query=up&time=1000', auth: USER, headers: { 'accept-encoding': 'gzip' } }],
    ['a target the URL parser rewrites', { path: '/api/v1/query?query=up{server="p1"}&time=1000', auth: USER }],
    [
      'POSTed form',
      { method: 'POST', path: '/api/v1/query', auth: USER, body: 'query=up&time=1000', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    ],
    ['range query', { path: '/api/v1/query_range?query=up&start=1000&end=1060&step=15', auth: USER }],
    ['a parse error', { path: '/api/v1/query?query=sum(&time=1000', auth: USER }],
    ['a missing parameter', { path: '/api/v1/query_range?query=up', auth: USER }],
    ['no credentials', { path: '/api/v1/query?query=up&time=1000' }],
    ['a wrong password', { path: '/api/v1/query?query=up&time=1000', auth: 'alice:nope' }],
    ['two Authorization headers', { path: '/api/v1/query?query=up&time=1000', auth: USER, headers: { Authorization: 'Basic eA==' } }],
    ['a method the query API refuses', { method: 'PUT', path: '/api/v1/query?query=up', auth: USER }],
    ['a push', { method: 'PUT', path: '/metrics/job/fast/instance/a', auth: USER, body: 'x 1\n' }],
    ['a push adding to a group', { method: 'POST', path: '/metrics/job/fast/instance/a', auth: USER, body: 'y 2\n' }],
    ['a push Pushgateway refuses', { method: 'PUT', path: '/metrics/job/fast/instance/a', auth: USER, body: 'x{ 1\n' }],
    ['a push to a malformed path', { method: 'PUT', path: '/metrics/job/fast/instance', auth: USER, body: 'x 1\n' }],
    ['a push without credentials', { method: 'PUT', path: '/metrics/job/fast/instance/a', body: 'x 1\n' }],
    ['a delete', { method: 'DELETE', path: '/metrics/job/fast/instance/a', auth: USER }],
    ['a GET of a push path (not a push)', { path: '/metrics/job/fast', auth: USER }],
  ];

  it.each(cases)('%s: same status, headers and bytes', async (_name, a) => {
    // The app's proxy first: a push then finds the group as the fast proxy's push left it, and back.
    const viaApp = await ask(app.url, a);
    const viaFast = await ask(fast.url, a);
    expect(viaFast).toEqual(viaApp);
    expect(viaFast.headers['x-frame-options']).toBe('deny');
  });

  it.each([
    ['declared by Content-Length', false],
    ['sent chunked, gzip accepted', true],
  ])('a body past 32 MiB (%s) is refused with 413 as through the app', async (_name, chunked) => {
    const one = (base: string) =>
      new Promise<Answer>((resolve, reject) => {
        const u = new URL(base);
        const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(USER).toString('base64')}`, 'accept-encoding': 'gzip' };
        if (!chunked) headers['content-length'] = String(33 * 1024 * 1024);
        let answered = false;
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/api/v1/query', agent: false, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            answered = true;
            const h = { ...res.headers };
            delete h.date;
            resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('base64') });
            req.destroy();
          });
        });
        // The server stops reading and closes once it has answered: a write after that may fail.
        req.on('error', (err) => (answered ? undefined : reject(err)));
        const mib = Buffer.alloc(1024 * 1024, 'a');
        let sent = 0;
        const more = () => {
          while (!answered && sent < 34) {
            sent++;
            if (!req.write(mib)) {
              req.once('drain', more);
              return;
            }
          }
        };
        if (chunked) more();
        else req.write('query=up');
      });
    const viaApp = await one(app.url);
    const viaFast = await one(fast.url);
    expect(viaFast.status).toBe(413);
    expect(viaFast).toEqual(viaApp);
  });

  it('counts and logs the same', async () => {
    const families = ['promfront_query_requests_total', 'promfront_push_requests_total', 'promfront_web_auth_failures_total', 'promfront_push_refused_total'];
    const pick = async (p: ProxyProcess) => {
      const m = text(await ask(p.url, { path: '/metrics', auth: USER }));
      return m
        .split('\n')
        .filter((l) => families.some((f) => l.startsWith(f)))
        .join('\n');
    };
    const [mFast, mApp] = await Promise.all([pick(fast), pick(app)]);
    expect(mFast).toContain('promfront_push_requests_total{method="PUT",code="200"');
    expect(mFast).toContain('promfront_query_requests_total');
    expect(mFast).toBe(mApp);
    const lines = (p: ProxyProcess) =>
      p
        .logs()
        .split('\n')
        .filter((l) => l.includes('"query api request"'))
        .map((l) => {
          const { time: _t, ts: _ts, duration_ms: _d, pid: _p, ...rest } = JSON.parse(l) as Record<string, unknown>;
          return rest;
        });
    expect(lines(fast).length).toBeGreaterThan(5);
    expect(lines(fast)).toEqual(lines(app));
  });
});
