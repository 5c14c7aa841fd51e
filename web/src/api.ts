// How the UI reaches the proxy: every URL is built under the path prefix the server wrote into
// index.html (--web.external-url's path, or --web.route-prefix), so the UI works behind a reverse
// proxy that serves promfront under a sub-path.

const base = document.querySelector('base');

/** The path prefix without a trailing slash ('' at the root). */
export const PREFIX = (base?.dataset.promfrontPrefix ?? '').replace(/\/+$/, '');

/** An absolute path under the prefix, e.g. url('/api/v1/query'). */
export function url(path: string): string {
  return `${PREFIX}${path}`;
}

/** The page path below the prefix, e.g. '/graph'. */
export function pagePath(): string {
  const p = location.pathname;
  const rest = PREFIX !== '' && p.startsWith(PREFIX) ? p.slice(PREFIX.length) : p;
  return rest === '' ? '/' : rest;
}

/** Prometheus's API envelope. */
export interface ApiAnswer<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
  infos?: string[];
}

export interface ApiResult<T> {
  answer: ApiAnswer<T>;
  httpStatus: number;
  headers: Headers;
  /** Wall time of the request as the browser saw it. */
  ms: number;
}

/** GET or POST an /api/v1 endpoint; a body that is not the API's JSON becomes an error answer. */
export async function api<T>(path: string, params?: URLSearchParams, signal?: AbortSignal): Promise<ApiResult<T>> {
  const t0 = performance.now();
  const res = await fetch(url(path), params ? { method: 'POST', body: params, signal } : { signal });
  const text = await res.text();
  const ms = performance.now() - t0;
  let answer: ApiAnswer<T>;
  try {
    answer = JSON.parse(text) as ApiAnswer<T>;
  } catch {
    answer = { status: 'error', errorType: `HTTP ${res.status}`, error: text.trim() || res.statusText };
  }
  return { answer, httpStatus: res.status, headers: res.headers, ms };
}

/** GET /status, the proxy's own JSON status document. */
export async function status(): Promise<Record<string, unknown>> {
  const res = await fetch(url('/status'));
  if (!res.ok) throw new Error(`GET /status: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}
