import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { compress } from 'hono/compress';
import type { ShardService } from '../shard/scraper.js';
import { acceptsGzip, CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_TEXT, wantsOpenMetrics } from './negotiate.js';
import { renderSelfMetrics, statusDocument, type ShardRequestCounters } from './self-metrics.js';

export interface AppDeps {
  shard: ShardService | undefined;
  /** Prometheus's /api/v1 over the server groups, when the config has a query section. */
  queryApi?: Hono;
  /** Prometheus's /federate over the server groups, mounted at the root. */
  federate?: Hono;
  /** The query layer's own metrics (text format), appended to /metrics. */
  queryMetrics?: () => string;
  /** The query section of /status. */
  queryStatus?: () => unknown;
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
    const body = set.shards[id]!;
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

  if (deps.queryApi) app.route('/api/v1', deps.queryApi);
  if (deps.federate) app.route('/', deps.federate);

  app.get('/metrics', (c) =>
    c.body(renderSelfMetrics(deps.shard, counters, deps.startedAt) + (deps.queryMetrics?.() ?? ''), 200, { 'Content-Type': CONTENT_TYPE_TEXT }),
  );
  app.get('/status', (c) => c.json(statusDocument(deps.shard, deps.queryStatus?.())));
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
