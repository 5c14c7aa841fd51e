// Serves the web UI (web/, built by Vite into dist/web/ at `npm run build`): index.html for every
// page path of the single-page app, the hashed assets with long-lived caching, both gzipped once in
// memory; /api/v1/status/flags and /api/v1/status/buildinfo from the main thread so the flags and
// build-info pages work with or without a query section; and --web.route-prefix, which moves every
// route (the API included) under a path as Prometheus's flag does.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { acceptsGzip } from './negotiate.js';
import { buildInfoJson } from './api/query-api.js';
import { successBody } from './api/http-api.js';

/** The single-page app's paths (below the route prefix); each answers index.html. */
export const UI_PAGES = [
  '/graph',
  '/classic/graph',
  '/query',
  '/targets',
  '/shards',
  '/config',
  '/flags',
  '/buildinfo',
  '/pushgateways',
  '/fleet',
  '/rules',
  '/alerts',
];

/** Where `npm run build` writes the UI, seen from dist/src/server/web-ui.js. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

export interface WebUiOptions {
  /** The built UI (default: dist/web/ next to this module). */
  assetsDir?: string;
  /** The path the browser sees promfront under: --web.external-url's path, else the route prefix ('' at the root). */
  externalPath: string;
  /** The command line, for /api/v1/status/flags (flag name without dashes → value, as Prometheus). */
  flags: Record<string, string>;
}

interface Asset {
  type: string;
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer> | undefined;
  immutable: boolean;
}

/** Reads every built file once; index.html gets the prefix written into its <base>. */
function loadAssets(dir: string, externalPath: string): Map<string, Asset> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const file = join(d, name);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      const rel = `/${relative(dir, file).split('\\').join('/')}`;
      let body = readFileSync(file);
      if (rel === '/index.html') body = Buffer.from(withBase(body.toString('utf8'), externalPath));
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      // Images are compressed already; text shrinks to about a third.
      const gzip = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 512 ? new Uint8Array(gzipSync(body, { level: 9 })) : undefined;
      out.set(rel, { type, body: new Uint8Array(body), gzip, immutable: rel.startsWith('/assets/') });
    }
  };
  walk(dir);
  return out;
}

/** index.html with <base href> at the external path, so its relative asset and page links resolve there. */
export function withBase(html: string, externalPath: string): string {
  const prefix = normalizePrefix(externalPath);
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return html.replace(/<base [^>]*>/, `<base href="${attr(prefix)}/" data-promfront-prefix="${attr(prefix)}" />`);
}

/** A route prefix as "/a/b" ('' for the root): leading slash, no trailing slash. */
export function normalizePrefix(p: string | undefined): string {
  if (p === undefined) return '';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/**
 * The UI's options and the route prefix from --web.external-url and --web.route-prefix, with
 * Prometheus's rule: the prefix defaults to the external URL's path. The flags page lists every run
 * flag, unset ones with their default (`defaults`), as Prometheus does. Throws naming the flag that
 * is wrong.
 */
export function webUiFromFlags(
  externalUrl: string | undefined,
  routePrefixFlag: string | undefined,
  defaults: Readonly<Record<string, string>>,
  values: Record<string, string | boolean | undefined>,
): { webUi: WebUiOptions; routePrefix: string } {
  let extPath: string | undefined;
  if (externalUrl !== undefined && externalUrl !== '') {
    let u: URL;
    try {
      u = new URL(externalUrl);
    } catch {
      throw new Error(`--web.external-url: "${externalUrl}" is not an absolute URL (e.g. https://example.com/promfront/)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--web.external-url: the scheme must be http or https, not "${u.protocol}"`);
    extPath = normalizePrefix(u.pathname);
  }
  const routePrefix = routePrefixFlag === undefined ? (extPath ?? '') : normalizePrefix(routePrefixFlag);
  const flags = Object.fromEntries(Object.entries(defaults).map(([f, d]) => [f, values[f] === undefined ? d : String(values[f])]));
  return { webUi: { externalPath: extPath ?? routePrefix, flags }, routePrefix };
}

/** The UI's routes and the main thread's /api/v1/status/{flags,buildinfo}. */
export function registerWebUi(app: Hono<{ Bindings: HttpBindings }>, opts: WebUiOptions): void {
  const dir = opts.assetsDir ?? DEFAULT_ASSETS_DIR;
  // Read on first use: a test or a shard-only deployment that never opens the UI reads nothing.
  let assets: Map<string, Asset> | undefined | null = null;
  const get = () => (assets === null ? (assets = loadAssets(dir, opts.externalPath)) : assets);
  const flagsJson = successBody(JSON.stringify(opts.flags));

  const send = (c: Context<{ Bindings: HttpBindings }>, a: Asset) => {
    const headers: Record<string, string> = {
      'Content-Type': a.type,
      // Hashed names change with their content; index.html must be re-checked to pick up a new build.
      'Cache-Control': a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      Vary: 'Accept-Encoding',
      'X-Content-Type-Options': 'nosniff',
    };
    const gz = a.gzip !== undefined && acceptsGzip(c.req.header('accept-encoding'));
    if (gz) headers['Content-Encoding'] = 'gzip';
    const body = gz ? a.gzip! : a.body;
    headers['Content-Length'] = String(body.length);
    return c.body(body, 200, headers);
  };
  const notBuilt = (c: Context) =>
    c.text(`the web UI is not built (no index.html in ${dir}): run "npm run build" in promfront's directory\n`, 503, { 'Cache-Control': 'no-cache' });

  const page = (c: Context<{ Bindings: HttpBindings }>) => {
    const index = get()?.get('/index.html');
    return index ? send(c, index) : notBuilt(c);
  };
  // Prometheus answers its root with a redirect to the query page under the external path.
  app.get('/', (c) => c.redirect(`${normalizePrefix(opts.externalPath)}/graph`, 302));
  for (const p of UI_PAGES) app.get(p, page);
  app.get('/assets/*', (c, next) => {
    const a = get()?.get(c.req.path);
    return a ? send(c, a) : next();
  });
  app.get('/api/v1/status/flags', (c) => c.body(flagsJson, 200, { 'Content-Type': 'application/json' }));
  app.get('/api/v1/status/buildinfo', (c) => c.body(successBody(buildInfoJson()), 200, { 'Content-Type': 'application/json' }));
}

/**
 * The app under a route prefix: every path (UI, API, /metrics, shards, health) moves below it, as
 * Prometheus's --web.route-prefix; the root redirects to the prefix and anything else outside it is
 * 404. The inner app sees paths without the prefix, so no route, capability or the query thread needs
 * to know about it.
 */
export function withRoutePrefix(inner: Hono<{ Bindings: HttpBindings }>, routePrefix: string | undefined): Hono<{ Bindings: HttpBindings }> {
  const prefix = normalizePrefix(routePrefix);
  if (prefix === '') return inner;
  const outer = new Hono<{ Bindings: HttpBindings }>();
  outer.all('*', (c) => {
    const u = new URL(c.req.url);
    if (u.pathname === '/' && (c.req.method === 'GET' || c.req.method === 'HEAD')) return c.redirect(`${prefix}/`, 302);
    if (u.pathname !== prefix && !u.pathname.startsWith(`${prefix}/`)) return c.text(`404 page not found: ${u.pathname}\n`, 404);
    u.pathname = u.pathname.slice(prefix.length) || '/';
    const req = c.req.raw;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.body !== null;
    // duplex is Node's (undici) requirement for a streamed body; the DOM typings do not know it.
    const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers: req.headers, signal: req.signal };
    if (hasBody) {
      init.body = req.body;
      init.duplex = 'half';
    }
    return inner.fetch(new Request(u, init), c.env);
  });
  return outer;
}
