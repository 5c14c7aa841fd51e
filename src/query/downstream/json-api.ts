// Reading raw samples from a downstream Prometheus-compatible server through its JSON HTTP API
// (Prometheus, VictoriaMetrics, another promfront).
//
// select() asks for a range-vector selector at an instant: `GET /api/v1/query?query={...}[Nms]&time=T`,
// which returns the raw samples of every matching series in the window ending at T = end + 1 ms (see
// select for why not `end`). The window reaches one millisecond before `start` so it covers `start`
// both with Prometheus 2's left-closed and Prometheus 3's (and VictoriaMetrics's) left-open range
// windows; the result is then filtered to start <= t <= end.
//
// Limitation: staleness markers are not visible through this API (Prometheus drops them from range
// vectors), so the returned Series never carry `stale`. A series that went stale is seen as merely
// ending at its last real sample.

import { formatDuration } from '../../util/duration.js';
import { Pool, errors as undiciErrors } from 'undici';
import { METRIC_NAME, type Label, type LabelMatcher } from '../model.js';
import { compareLabels, compareStrings, goQuote, type SelectHints, type Series, type Storage } from '../storage/interface.js';

export class DownstreamError extends Error {
  constructor(
    readonly target: string,
    reason: string,
  ) {
    super(`${target}: ${reason}`);
    this.name = 'DownstreamError';
  }
}

export interface JsonApiTargetOptions {
  /** Base URL, e.g. http://host:9090 or http://host/prefix. Userinfo becomes a basic-auth header. */
  url: string;
  /** Bound on each request (connect + headers + body). */
  timeoutMs: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Extra query parameters added to every request (e.g. a tenant id). */
  queryParams?: Record<string, string>;
}

const LEGACY_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A selector for the matchers: `{__name__="x", job=~"a|b"}`; non-identifier names quoted (3.x syntax). */
export function matchersToSelector(matchers: LabelMatcher[]): string {
  const parts = matchers.map((m) => `${LEGACY_LABEL_NAME.test(m.name) ? m.name : goQuote(m.name)}${m.type}${goQuote(m.value)}`);
  // Prometheus rejects selectors whose matchers all match the empty string; every stored series has
  // a name, so requiring one does not change the result.
  if (!matchers.some((m) => !matchesEmpty(m))) parts.push(`${METRIC_NAME}=~".+"`);
  return `{${parts.join(', ')}}`;
}

/** Conservative: true unless the matcher surely rejects "" (so at worst we add a redundant name matcher). */
function matchesEmpty(m: LabelMatcher): boolean {
  switch (m.type) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      try {
        return new RegExp(`^(?:${m.value})$`, 'u').test('');
      } catch {
        return true;
      }
    case '!~':
      try {
        return !new RegExp(`^(?:${m.value})$`, 'u').test('');
      } catch {
        return true;
      }
  }
}

function parseSampleValue(s: unknown): number {
  if (typeof s !== 'string') throw new Error(`sample value is not a string: ${JSON.stringify(s)}`);
  switch (s) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
  }
  const v = Number(s);
  if (Number.isNaN(v) || s.trim() === '') throw new Error(`invalid sample value ${JSON.stringify(s)}`);
  return v;
}

function secondsParam(ms: number): string {
  return (ms / 1000).toFixed(3).replace(/\.?0+$/, '');
}

export class JsonApiTarget implements Storage {
  /** The base URL without userinfo, used in error messages. */
  readonly target: string;
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  private readonly headers: Record<string, string>;
  private readonly queryParams: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(opts: JsonApiTargetOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported URL scheme ${u.protocol}`);
    this.headers = { accept: 'application/json', ...lowerKeys(opts.headers ?? {}) };
    if ((u.username !== '' || u.password !== '') && this.headers.authorization === undefined) {
      const creds = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      this.headers.authorization = `Basic ${Buffer.from(creds).toString('base64')}`;
    }
    u.username = '';
    u.password = '';
    this.pathPrefix = u.pathname.replace(/\/+$/, '');
    this.queryParams = { ...Object.fromEntries(u.searchParams), ...(opts.queryParams ?? {}) };
    this.target = `${u.origin}${this.pathPrefix}`;
    this.timeoutMs = opts.timeoutMs;
    this.pool = new Pool(u.origin, { keepAliveTimeout: 30_000, connections: 16, pipelining: 1 });
  }

  async select(
    matchers: LabelMatcher[],
    startMs: number,
    endMs: number,
    _hints?: SelectHints,
    signal?: AbortSignal,
  ): Promise<Series[]> {
    if (endMs < startMs) return [];
    // Asked at end + 1 ms: VictoriaMetrics before 1.132 (issue #9804) searches its per-day series index
    // only up to the day of (window end - 1 ms), so with a window ending exactly at midnight UTC it
    // misses the series that begin that day. The window still reaches `start` whether it is
    // left-closed or left-open.
    const queryMs = endMs + 1;
    const rangeMs = queryMs - startMs + 1;
    const query = `${matchersToSelector(matchers)}[${rangeMs}ms]`;
    const data = await this.get('/api/v1/query', [['query', query], ['time', secondsParam(queryMs)]], signal);
    try {
      return parseMatrix(data, startMs, endMs);
    } catch (err) {
      throw new DownstreamError(this.target, `invalid response: ${(err as Error).message}`);
    }
  }

  async labelNames(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const data = await this.get('/api/v1/labels', this.labelParams(matchers, startMs, endMs), signal);
    return this.stringList(data);
  }

  async labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const data = await this.get(`/api/v1/label/${encodeURIComponent(name)}/values`, this.labelParams(matchers, startMs, endMs), signal);
    return this.stringList(data).filter((v) => v !== '');
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // -------------------------------------------------------------------------------------------

  private labelParams(matchers: LabelMatcher[], startMs: number, endMs: number): [string, string][] {
    const p: [string, string][] = [];
    if (matchers.length > 0) p.push(['match[]', matchersToSelector(matchers)]);
    p.push(['start', secondsParam(startMs)], ['end', secondsParam(endMs)]);
    return p;
  }

  private stringList(data: unknown): string[] {
    if (!Array.isArray(data) || data.some((x) => typeof x !== 'string')) {
      throw new DownstreamError(this.target, 'invalid response: data is not a list of strings');
    }
    return [...(data as string[])].sort(compareStrings);
  }

  /** GET apiPath; returns the envelope's `data` or throws DownstreamError. */
  private async get(apiPath: string, params: [string, string][], signal?: AbortSignal): Promise<unknown> {
    const search = new URLSearchParams(Object.entries(this.queryParams));
    for (const [k, v] of params) search.append(k, v);
    const path = `${this.pathPrefix}${apiPath}?${search.toString()}`;

    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);

    let status: number;
    let contentType: string;
    let text: string;
    try {
      const res = await this.pool.request({ method: 'GET', path, headers: this.headers, signal: combined });
      status = res.statusCode;
      const ct = res.headers['content-type'];
      contentType = (Array.isArray(ct) ? ct[0] : ct) ?? '';
      text = await res.body.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new DownstreamError(this.target, `timeout after ${formatDuration(this.timeoutMs)}`);
      throw new DownstreamError(this.target, `request failed: ${describeError(err)}`);
    }

    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const isJson = mediaType === 'application/json' || mediaType.endsWith('+json');
    let body: any;
    if (isJson) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new DownstreamError(this.target, `HTTP ${status}: invalid JSON: ${(err as Error).message}`);
      }
    }
    if (status < 200 || status > 299) {
      if (body !== undefined && typeof body === 'object' && body !== null && body.status === 'error') {
        throw new DownstreamError(this.target, `HTTP ${status}: ${body.errorType ?? 'error'}: ${body.error ?? ''}`);
      }
      const detail = isJson ? snippet(text) : `unexpected content type ${mediaType || '(none)'}`;
      throw new DownstreamError(this.target, `HTTP ${status}: ${detail}`);
    }
    if (!isJson) throw new DownstreamError(this.target, `unexpected content type ${mediaType || '(none)'}`);
    if (typeof body !== 'object' || body === null) throw new DownstreamError(this.target, 'invalid response: not a JSON object');
    if (body.status !== 'success') {
      throw new DownstreamError(this.target, `${body.errorType ?? 'error'}: ${body.error ?? `status ${JSON.stringify(body.status)}`}`);
    }
    return body.data;
  }
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function describeError(err: unknown): string {
  if (err instanceof undiciErrors.UndiciError || err instanceof Error) {
    const e = err as Error & { code?: string; cause?: unknown };
    let msg = e.message;
    if (e.cause instanceof Error && !msg.includes(e.cause.message)) msg += `: ${e.cause.message}`;
    return msg;
  }
  return String(err);
}

/** Parses `{resultType: "matrix", result: [{metric, values}]}` into sorted Series within [startMs, endMs]. */
export function parseMatrix(data: any, startMs: number, endMs: number): Series[] {
  if (typeof data !== 'object' || data === null) throw new Error('data is not an object');
  if (data.resultType !== 'matrix') throw new Error(`resultType ${JSON.stringify(data.resultType)}, expected "matrix"`);
  if (!Array.isArray(data.result)) throw new Error('result is not a list');
  const out: Series[] = [];
  for (const r of data.result) {
    const metric = r?.metric;
    if (typeof metric !== 'object' || metric === null) throw new Error('series without metric');
    const labels: Label[] = [];
    for (const name of Object.keys(metric)) {
      const value = metric[name];
      if (typeof value !== 'string') throw new Error(`label ${name} is not a string`);
      if (value !== '') labels.push({ name, value });
    }
    labels.sort((x, y) => compareStrings(x.name, y.name));
    const values = r.values;
    if (values !== undefined && !Array.isArray(values)) throw new Error('values is not a list');
    if (r.histograms !== undefined) throw new Error('native histograms are not supported');
    const n = values?.length ?? 0;
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const p = values[i];
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number') throw new Error('malformed sample');
      const t = Math.round(p[0] * 1000);
      if (t < startMs || t > endMs) continue;
      ts[k] = t;
      vs[k] = parseSampleValue(p[1]);
      k++;
    }
    if (k === 0) continue;
    out.push({ labels, timestamps: k === n ? ts : ts.slice(0, k), values: k === n ? vs : vs.slice(0, k) });
  }
  out.sort((a, b) => compareLabels(a.labels, b.labels));
  return out;
}
