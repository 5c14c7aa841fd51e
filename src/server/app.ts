// The one HTTP app of the process: shard endpoints, /metrics, /status, health and readiness, reload,
// and the query layer's routes handed to whichever layer is current (query-layer-slot.ts).

import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { compress } from 'hono/compress';
import type { ShardService } from '../shard/shard-service.js';
import { acceptsGzip, CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_TEXT, wantsOpenMetrics } from './negotiate.js';
import { renderReloadMetrics, renderSelfMetrics, statusDocument, type ReloadStatus, type ShardRequestCounters } from './self-metrics.js';

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
  /** The query section of /status (or a promise of it). */
  queryStatus?: () => unknown;
  /** Reloads the config file (POST/PUT /-/reload); rejects with the reason the new one was refused. */
  reload?: () => Promise<void>;
  /** The outcome of the last reload, for /metrics. */
  reloadStatus?: () => ReloadStatus;
  startedAt: number;
}

export function createApp(deps: AppDeps): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const counters: ShardRequestCounters = { requests: new Map() };
  const count = (shard: string, code: number) => {
    const key = `${shard} ${code}`;
    counters.requests.set(key, (counters.requests.get(key) ?? 0) + 1);
  };

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

  app.use('*', compress());

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

  if (deps.reload) {
    const reload = deps.reload;
    // Prometheus's lifecycle endpoint: an empty 200, or 500 with the reason the config was refused.
    app.on(['POST', 'PUT'], '/-/reload', async (c) => {
      try {
        await reload();
        return c.body(null, 200);
      } catch (err) {
        return c.text(`failed to reload config: ${(err as Error).message}\n`, 500, { 'X-Content-Type-Options': 'nosniff' });
      }
    });
    app.get('/-/reload', (c) => c.text('Only POST or PUT requests allowed', 405));
  }

  app.get('/metrics', async (c) => {
    const reload = deps.reloadStatus ? renderReloadMetrics(deps.reloadStatus()) : '';
    const query = (await deps.queryMetrics?.()) ?? '';
    return c.body(renderSelfMetrics(deps.shard, counters, deps.startedAt) + reload + query, 200, { 'Content-Type': CONTENT_TYPE_TEXT });
  });
  app.get('/status', async (c) => c.json(statusDocument(deps.shard, await deps.queryStatus?.())));
  app.get('/-/healthy', (c) => c.text('promfront is Healthy.\n'));
  const ready = (c: Context<{ Bindings: HttpBindings }>) => {
    if (deps.shard && !deps.shard.ready) return c.text('promfront is not ready: the first scrape cycle has not completed yet\n', 503);
    return c.text('promfront is Ready.\n');
  };
  app.get('/-/ready', ready);
  app.get('/health', ready);
  app.notFound((c) => c.text(`404 page not found: ${c.req.path}\n`, 404));
  app.onError((err, c) => c.text(`internal error: ${err.message}\n`, 500));
  return app;
}
