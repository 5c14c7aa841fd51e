// The web UI's serving (src/server/web-ui.ts) through createApp, on a small built-UI folder of the
// test's own: page paths answer index.html with the prefix in its <base>, assets carry their content
// type, caching and gzip, and --web.route-prefix moves every route (bodies included) below it.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { createApp } from '../../../src/server/app.js';
import { fixedQueryApi } from '../../../src/server/query-layer-slot.js';
import { normalizePrefix, UI_PAGES, webUiFromFlags, withBase } from '../../../src/server/web-ui.js';
import { VERSION } from '../../../src/version.js';

const INDEX = '<!doctype html><html><head><base href="/" data-promfront-prefix="" /><script src="./assets/app-abc.js"></script></head><body></body></html>';
const JS = `console.log(${JSON.stringify('x'.repeat(4000))});`;

describe('web UI serving', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'promfront-webui-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'app-abc.js'), JS);
    writeFileSync(join(dir, 'assets', 'app-abc.css'), 'body{}');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const app = (over: { externalPath?: string; routePrefix?: string; assetsDir?: string } = {}) =>
    createApp({
      shard: undefined,
      startedAt: Date.now(),
      webUi: {
        assetsDir: over.assetsDir ?? dir,
        externalPath: over.externalPath ?? over.routePrefix ?? '',
        flags: { config: 'c.yaml', 'web.route-prefix': over.routePrefix ?? '' },
      },
      routePrefix: over.routePrefix,
    });

  it('answers every page path with index.html, not cached, its <base> at the root', async () => {
    for (const p of UI_PAGES) {
      const res = await app().request(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<base href="/" data-promfront-prefix="" />');
    }
    expect((await app().request('/no-such-page')).status).toBe(404);
  });

  it('redirects / to the query page, as Prometheus', async () => {
    const res = await app().request('/');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/graph');
  });

  it('serves assets with their type, immutable caching and gzip when asked for it', async () => {
    const plain = await app().request('/assets/app-abc.js');
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(JS);

    const gz = await app().request('/assets/app-abc.js', { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(gz.headers.get('vary')).toBe('Accept-Encoding');
    const body = Buffer.from(await gz.arrayBuffer());
    expect(Number(gz.headers.get('content-length'))).toBe(body.length);
    expect(body.length).toBeLessThan(JS.length / 10);
    expect(gunzipSync(body).toString()).toBe(JS);

    expect((await app().request('/assets/app-abc.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await app().request('/assets/missing.js')).status).toBe(404);
  });

  it('says how to build the UI when its files are missing', async () => {
    const res = await app({ assetsDir: join(dir, 'nothing-here') }).request('/graph');
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
  });

  it('answers /api/v1/status/flags and /api/v1/status/buildinfo in Prometheus’s envelope', async () => {
    const flags = (await (await app().request('/api/v1/status/flags')).json()) as any;
    expect(flags).toEqual({ status: 'success', data: { config: 'c.yaml', 'web.route-prefix': '' } });
    const info = (await (await app().request('/api/v1/status/buildinfo')).json()) as any;
    expect(info.status).toBe('success');
    expect(info.data.version).toBe(VERSION);
  });

  it('under a route prefix, serves every route below it only and redirects the root to it', async () => {
    const a = app({ routePrefix: '/pf/' });
    const root = await a.request('/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/pf/');
    const inner = await a.request('/pf/');
    expect(inner.headers.get('location')).toBe('/pf/graph');
    const page = await a.request('/pf/graph');
    expect(await page.text()).toContain('<base href="/pf/" data-promfront-prefix="/pf" />');
    expect((await a.request('/pf/assets/app-abc.js')).status).toBe(200);
    expect((await a.request('/pf/-/healthy')).status).toBe(200);
    expect((await a.request('/graph')).status).toBe(404);
    expect((await a.request('/-/healthy')).status).toBe(404);
    expect((await a.request('/pfx/graph')).status).toBe(404);
  });

  it('passes a prefixed API request on with its path, query string and body', async () => {
    const api = new Hono();
    api.post('/query', async (c) => c.json({ path: c.req.path, q: c.req.query('x'), body: await c.req.text() }));
    const a = createApp({ shard: undefined, startedAt: Date.now(), queryApi: fixedQueryApi(api), routePrefix: '/pf' });
    const res = await a.request('/pf/api/v1/query?x=1', { method: 'POST', body: 'query=up', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(await res.json()).toEqual({ path: '/api/v1/query', q: '1', body: 'query=up' });
  });

  it('writes the external path into <base>, escaped', () => {
    expect(withBase(INDEX, '/a"b/')).toContain('<base href="/a&quot;b/" data-promfront-prefix="/a&quot;b" />');
    expect(normalizePrefix('x/y/')).toBe('/x/y');
    expect(normalizePrefix('/')).toBe('');
  });

  it('takes the route prefix from --web.external-url unless --web.route-prefix is given', () => {
    expect(webUiFromFlags('https://example.com/prom/', undefined, {}, {})).toMatchObject({ routePrefix: '/prom', webUi: { externalPath: '/prom' } });
    // Behind a proxy that strips the path: links keep it, routes do not.
    expect(webUiFromFlags('https://example.com/prom', '/', {}, {})).toMatchObject({ routePrefix: '', webUi: { externalPath: '/prom' } });
    expect(webUiFromFlags(undefined, '/x', { a: '', b: 'false' }, { a: 'v' })).toEqual({
      routePrefix: '/x',
      webUi: { externalPath: '/x', flags: { a: 'v', b: 'false' } },
    });
    expect(() => webUiFromFlags('example.com/prom', undefined, {}, {})).toThrow(/--web.external-url: "example.com\/prom" is not an absolute URL/);
    expect(() => webUiFromFlags('ftp://example.com/', undefined, {}, {})).toThrow(/scheme must be http or https/);
  });
});
