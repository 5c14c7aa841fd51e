// Compresses query answers in the query thread, before they cross to the main thread. Hono's
// compress middleware ran on the main thread for every /api/v1 answer: its web-stream plumbing per
// chunk was main-thread work per query, which delayed /-/healthy and shard answers under many
// concurrent queries (issue 17). The same middleware runs here instead, so the rules (threshold,
// content types, q-values, Vary, no-transform) stay Hono's; the main thread's compress then sees
// Content-Encoding set and passes the answer through.

import { Hono } from 'hono';
import { compress } from 'hono/compress';

/** Marks "no route" across the Hono app, which must answer something; never leaves this module. */
const NO_ROUTE = 'x-promfront-no-route';

/** `fetch` (undefined: no route) with its answers compressed as the client accepts. */
export function compressedFetch(fetch: (req: Request) => Promise<Response | undefined>): (req: Request) => Promise<Response | undefined> {
  const app = new Hono();
  app.use('*', compress());
  app.all('*', async (c) => (await fetch(c.req.raw)) ?? new Response(null, { status: 404, headers: { [NO_ROUTE]: '1' } }));
  // A failure stays a failure (the caller turns it into its own answer), not Hono's plain 500.
  app.onError((err) => {
    throw err;
  });
  return async (req) => {
    const res = await app.fetch(req);
    return res.headers.has(NO_ROUTE) ? undefined : res;
  };
}
