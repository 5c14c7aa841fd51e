// Which methods each path of Prometheus's /api/v1 router takes (web/api/v1/api.go Register), so a
// known path asked with another method gets the router's own 405 answer (body, Allow header), as
// Prometheus gives it, instead of a 404; and OPTIONS on any path gets Prometheus's empty 204.

import type { Hono } from 'hono';
import { ApiError } from '../../errors.js';
import { errorResponse, methodNotAllowed } from './http-api.js';

const GET_POST = ['GET', 'POST'];
const GET = ['GET'];

/** Path (Hono syntax) -> the methods Prometheus 2.42 and 3.x register for it. */
export const API_V1_METHODS: Record<string, readonly string[]> = {
  '/query': GET_POST,
  '/query_range': GET_POST,
  '/query_exemplars': GET_POST,
  '/format_query': GET_POST,
  '/labels': GET_POST,
  '/label/:name/values': GET,
  '/series': ['DELETE', 'GET', 'POST'],
  '/scrape_pools': GET,
  '/targets': GET,
  '/targets/metadata': GET,
  '/alertmanagers': GET,
  '/metadata': GET,
  '/status/config': GET,
  '/status/runtimeinfo': GET,
  '/status/buildinfo': GET,
  '/status/flags': GET,
  '/status/tsdb': GET,
  '/alerts': GET,
  '/rules': GET,
  '/read': ['POST'],
};

const ALL = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Adds the 405 answers and OPTIONS to an app whose routes are already in place (Hono answers with
 * the first handler that matches, so these only see requests no route took). httprouter's Allow
 * lists the path's other methods and OPTIONS, sorted.
 */
export function addMethodAnswers(app: Hono): void {
  app.options('*', (c) => c.body(null, 204));
  // Prometheus registers DELETE /series only to refuse it (api.go dropSeries).
  app.delete('/series', (c) => errorResponse(c, new ApiError('internal', 'not implemented')));
  for (const [path, methods] of Object.entries(API_V1_METHODS)) {
    const allow = [...methods, 'OPTIONS'].sort().join(', ');
    const others = ALL.filter((m) => !methods.includes(m));
    app.on(others, path, (c) => methodNotAllowed(c, allow));
  }
}
