// The one HTTP app of the process: shard endpoints, /metrics, /status, health and readiness, the
// lifecycle endpoints (reload, quit), and the query layer's routes handed to whichever layer is
// current (query-layer-slot.ts); all of them behind the web config's guard when there is one.

import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';
import type { Capability } from '../capability.js';
import type { ShardService } from '../shard/shard-service.js';
import { acceptsGzip, CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_TEXT, wantsOpenMetrics } from './negotiate.js';
import { registerWebUi, withRoutePrefix, type WebUiOptions } from './web-ui.js';
import { renderProcessMetrics } from './process-metrics.js';
import { Exposition, renderReloadMetrics, renderSelfMetrics, statusDocument, type ReloadStatus, type ShardRequestCounters } from './self-metrics.js';

export interface AppDeps {
  /** Read on every request: a config reload may replace the service (pass a getter then). */
  shard: ShardService | undefined;
  /**
   * Prometheus's /api/v1 over the server groups, answered by the query layer current when the
   * request arrives (a reload swaps it); undefined when there is no query layer or no such route.
   */
  queryApi?: (req: Request, env: HttpBindings) => Promise<Response | undefined>;
  /** The query layer's own metrics (text format), appended to /metrics; a promise when it lives in the query thread. */
  queryMetrics?: () => string | Promise<string>;
  /** The capabilities in service (read on every request: a reload may change them). */
  capabilities?: () => readonly Capability[];
  /** The query section of /status (or a promise of it). */
  queryStatus?: () => unknown;
  /** Reloads the config file (POST/PUT /-/reload); rejects with the reason the new one was refused. */
  reload?: () => Promise<void>;
  /** --web.enable-lifecycle: without it POST/PUT /-/reload and /-/quit answer 403, as Prometheus. */
  lifecycle?: boolean;
  /** Shuts the process down cleanly (POST/PUT /-/quit); called once the answer is sent. */
  quit?: () => void;
  /** In front of every route (--web.config.file: headers, rate limit, basic auth). */
  guard?: MiddlewareHandler<{ Bindings: HttpBindings }>;
  /** Further families for /metrics (the guard's counters). */
  extraMetrics?: () => string;
  /** The outcome of the last reload, for /metrics. */
  reloadStatus?: () => ReloadStatus;
  startedAt: number;
  /** The web UI and the main thread's flags and build-info endpoints (web-ui.ts). */
  webUi?: WebUiOptions;
  /** --web.route-prefix: every route moves below this path. */
  routePrefix?: string;
  /** The config file in service, for /status. */
  configFile?: string;
}

export function createApp(deps: AppDeps): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const counters: ShardRequestCounters = { requests: new Map() };
  const count = (shard: string, code: number) => {
    const key = `${shard} ${code}`;
    counters.requests.set(key, (counters.requests.get(key) ?? 0) + 1);
  };

  // First of all, so that no path (shard bodies included) is served without it.
  if (deps.guard) app.use('*', deps.guard);

  // Shard bodies are prebuilt, gzip included: they bypass the compress middleware and Hono's
  // Response plumbing and go straight to the socket.
  app.get('/metrics/shard/:id', (c) => {
    const svc = deps.shard;
    const idText = c.req.param('id');
    if (!svc) return c.text('sharding is not configured (no shard section in the config)\n', 404);
    const id = /^\d+$/.test(idText) ? Number(idText) : NaN;
    if (!(id >= 0 && id < svc.numShards)) {
      count('invalid', 404);
      return c.text(`no shard "${idText}": shards are numbered 0 to ${svc.numShards - 1}\n`, 404);
    }
    const set = svc.current;
    if (!set) {
      count(idText, 503);
      return c.text('not ready: the first scrape cycle has not completed yet\n', 503, { 'Retry-After': '1' });
    }
    const body = set.shards[id];
    const om = wantsOpenMetrics(c.req.header('accept'));
    const gzip = acceptsGzip(c.req.header('accept-encoding'));
    const res = c.env.outgoing;
    res.setHeader('Content-Type', om ? CONTENT_TYPE_OPENMETRICS : CONTENT_TYPE_TEXT);
    res.setHeader('Vary', 'Accept, Accept-Encoding');
    res.setHeader('Last-Modified', new Date(set.builtAt).toUTCString());
    if (gzip) {
      const buf = om ? body.omGzip : body.textGzip;
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Content-Length', buf.length);
      res.writeHead(200);
      res.end(c.req.method === 'HEAD' ? undefined : buf);
    } else {
      const chunks = om ? body.om : body.text;
      res.setHeader('Content-Length', om ? body.omBytes : body.textBytes);
      res.writeHead(200);
      if (c.req.method !== 'HEAD') {
        // Corked, the chunk list leaves in one writev; end() uncorks.
        res.cork();
        for (const chunk of chunks) res.write(chunk);
      }
      res.end();
    }
    count(idText, 200);
    return RESPONSE_ALREADY_SENT;
  });

  const capabilities = deps.capabilities;
  if (capabilities) {
    // Before compression and the query layer: a capability streams what it forwards as it comes, and
    // may answer an /api/v1 path itself (joining the query layer's answer when it wants it).
    app.all('*', async (c, next) => {
      for (const cap of capabilities()) {
        const res = await cap.fetch?.(c.req.raw, c.env);
        if (res) return res;
      }
      await next();
    });
  }

  app.use('*', compress());

  if (deps.webUi) registerWebUi(app, deps.webUi);

  const queryApi = deps.queryApi;
  if (queryApi) {
    // Paths the query layer does not have fall through to later routes and the 404 handler.
    const dispatch = async (c: Context<{ Bindings: HttpBindings }>, next: () => Promise<void>) => {
      const res = await queryApi(c.req.raw, c.env);
      if (res) return res;
      await next();
    };
    app.all('/api/v1/*', dispatch);
    app.all('/federate', dispatch);
  }

  const lifecycleMetrics = registerLifecycle(app, deps);

  app.get('/metrics', async (c) => {
    const reload = deps.reloadStatus ? renderReloadMetrics(deps.reloadStatus()) : '';
    const query = (await deps.queryMetrics?.()) ?? '';
    const extra = lifecycleMetrics() + (deps.extraMetrics?.() ?? '');
    const caps = (await Promise.all((deps.capabilities?.() ?? []).map(async (cap) => (await cap.metrics?.()) ?? ''))).join('');
    return c.body(renderSelfMetrics(deps.shard, counters, deps.startedAt) + renderProcessMetrics() + reload + query + caps + extra, 200, {
      'Content-Type': CONTENT_TYPE_TEXT,
    });
  });
  app.get('/status', async (c) => {
    const doc = statusDocument(deps.shard, await deps.queryStatus?.(), { startedAt: deps.startedAt, configFile: deps.configFile });
    for (const cap of deps.capabilities?.() ?? []) if (cap.status) doc[cap.name] = cap.status();
    return c.json(doc);
  });
  app.get('/-/healthy', (c) => c.text('promfront is Healthy.\n'));
  const ready = (c: Context<{ Bindings: HttpBindings }>) => {
    if (deps.shard && !deps.shard.ready) return c.text('promfront is not ready: the first scrape cycle has not completed yet\n', 503);
    return c.text('promfront is Ready.\n');
  };
  app.get('/-/ready', ready);
  app.get('/health', ready);
  app.notFound((c) => c.text(`404 page not found: ${c.req.path}\n`, 404));
  app.onError((err, c) => c.text(`internal error: ${err.message}\n`, 500));
  return withRoutePrefix(app, deps.routePrefix);
}

/**
 * Prometheus's lifecycle endpoints (web.go): with the flag, /-/reload answers an empty 200 or 500
 * with the reason the config was refused, /-/quit says goodbye and the process stops as on
 * SIGTERM; without it both answer 403. GET is 405 either way.
 */
function registerLifecycle(app: Hono<{ Bindings: HttpBindings }>, deps: AppDeps): () => string {
  let refused = 0;
  const text = (c: Context, body: string, status: 200 | 403 | 405) => c.body(body, status, { 'Content-Type': 'text/plain; charset=utf-8' });
  if (deps.lifecycle) {
    const reload = deps.reload;
    app.on(['POST', 'PUT'], '/-/reload', async (c) => {
      if (!reload) return c.body(null, 200);
      try {
        await reload();
        return c.body(null, 200);
      } catch (err) {
        return c.text(`failed to reload config: ${(err as Error).message}\n`, 500, { 'X-Content-Type-Options': 'nosniff' });
      }
    });
    let quitting = false;
    app.on(['POST', 'PUT'], '/-/quit', (c) => {
      if (quitting) return text(c, 'Termination already in progress.', 200);
      quitting = true;
      const quit = deps.quit;
      if (quit) {
        // Stop only once the goodbye has left, so the caller gets it.
        const out = c.env?.outgoing as HttpBindings['outgoing'] | undefined;
        if (out) out.once('finish', quit);
        else setImmediate(quit);
      }
      return text(c, 'Requesting termination... Goodbye!', 200);
    });
  } else {
    const forbidden = (c: Context) => {
      refused++;
      return text(c, 'Lifecycle API is not enabled.', 403);
    };
    app.on(['POST', 'PUT'], '/-/reload', forbidden);
    app.on(['POST', 'PUT'], '/-/quit', forbidden);
  }
  const onlyPostPut = (c: Context) => text(c, 'Only POST or PUT requests allowed', 405);
  app.get('/-/reload', onlyPostPut);
  app.get('/-/quit', onlyPostPut);
  return () => {
    const e = new Exposition();
    e.family('promfront_lifecycle_refused_total', 'counter', 'POST/PUT /-/reload and /-/quit refused with 403 because --web.enable-lifecycle is not set.', [
      [{}, refused],
    ]);
    return e.toString();
  };
}
