// The request fast path: the hot requests (a push to /metrics/job/..., an instant or range query)
// served straight from node:http's request and response, ahead of the Hono app. Through the app
// each of them paid for a web Request, Hono's context and router, the capability loop (a Request
// per capability) and a Response taken apart again, a third of the proxy's own CPU per pushed
// query and most of what separated a push from a bare Node forwarder (docs/performance.md).
//
// Everything the app does for these requests still happens, in the same order: the web config's
// headers, rate limit and basic auth (WebGuard.admitNode), then the capability or the query thread,
// which answer with the same status, headers and bytes as through the app (tested side by side in
// test/e2e/fast-path.test.ts). Whatever is not plainly one of these requests goes to the app: other
// paths and methods, a route prefix, and a Host or URL the app's adapter would refuse or rewrite.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Capability } from '../capability.js';
import { MAX_REQUEST_BODY_BYTES, type QueryThread } from './query-thread-client.js';
import type { WebGuard } from './web-config.js';
import { writeAppAnswer } from './node-answer.js';

export interface FastPathDeps {
  guard: WebGuard;
  /** The capabilities in service, in route order (read per request: a reload may change them). */
  capabilities?: () => readonly Capability[];
  /** The query thread in service, if queries run on one (read per request: a reload may start it). */
  queryThread?: () => QueryThread | undefined;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
/** The app's listener (@hono/node-server's), which settles its own failures. */
type AppListener = (req: IncomingMessage, res: ServerResponse) => Promise<unknown>;

/** The query API's hot paths; no capability answers them in `fetch` (capability.ts). */
const QUERY_PATHS = new Set(['/api/v1/query', '/api/v1/query_range']);
// The node adapter's own checks (@hono/node-server buildUrl): a Host it takes as is, a request
// target it does not rewrite. Anything else goes through the app, which answers or normalises it.
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const PLAIN_TARGET = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?#]|$)/;

/** `app` with the fast path in front of it. */
export function withFastPath(deps: FastPathDeps, app: AppListener): Listener {
  return (req, res) => {
    const serve = claim(deps, req);
    if (!serve) {
      void app(req, res);
      return;
    }
    const admitted = deps.guard.admitNode(req, res);
    if (admitted === true) run(serve, res);
    else if (admitted !== false)
      admitted.then(
        (ok) => ok && run(serve, res),
        (err: unknown) => failed(res, err),
      );
  };
}

function run(serve: (res: ServerResponse) => Promise<void>, res: ServerResponse): void {
  serve(res).catch((err: unknown) => failed(res, err));
}

/**
 * The app's onError answer for a handler that threw; the connection cut when the head has left.
 * Only the query routes sit behind the app's compress middleware; the capabilities come before it.
 */
function failed(res: ServerResponse, err: unknown, compressed = false): void {
  writeAppAnswer(res.req, res, 500, `internal error: ${(err as Error).message}\n`, undefined, compressed);
}

/** What serves `req` on the fast path, or undefined for the app. No work is done here, and nothing counted. */
function claim(deps: FastPathDeps, req: IncomingMessage): ((res: ServerResponse) => Promise<void>) | undefined {
  const url = req.url;
  const host = req.headers.host;
  if (url === undefined || url.charCodeAt(0) !== 47 || host === undefined || !PLAIN_HOST.test(host)) return undefined;
  if (url.includes('\\') || DOT_SEGMENT.test(url)) return undefined;
  const method = req.method;
  if (method === 'GET' || method === 'POST') {
    const q = url.indexOf('?');
    // A body declared past the bound goes to the app, which refuses it before reading.
    if (QUERY_PATHS.has(q === -1 ? url : url.slice(0, q)) && !(Number(req.headers['content-length']) > MAX_REQUEST_BODY_BYTES)) {
      const thread = deps.queryThread?.();
      if (!thread) return undefined;
      // The URL the app's Request would have: as sent when plain, else as the URL parser writes it.
      const raw = `${(req.socket as TLSSocket).encrypted ? 'https' : 'http'}://${host}${url}`;
      const abs = PLAIN_TARGET.test(url) ? raw : new URL(raw).href;
      return (res) => thread.serveNode(req, res, abs).catch((err: unknown) => failed(res, err, true));
    }
  }
  const caps = deps.capabilities?.();
  if (caps) {
    for (const cap of caps) {
      const serve = cap.serveNode?.(req);
      if (serve) return serve;
    }
  }
  return undefined;
}
