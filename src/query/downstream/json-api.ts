// Reading raw samples from a downstream Prometheus-compatible server through its JSON HTTP API
// (Prometheus, VictoriaMetrics, another promfront).
//
// select() asks for a range-vector selector at an instant: `GET /api/v1/query?query={...}[Nms]&time=end`,
// which returns the raw samples of every matching series in the window ending at `end`. The window is
// one millisecond longer than [start, end] so it covers `start` both with Prometheus 2's left-closed
// and Prometheus 3's left-open range windows; the result is then filtered to start <= t <= end.
//
// Limitation: staleness markers are not visible through this API (Prometheus drops them from range
// vectors), so the returned Series never carry `stale`. A series that went stale is seen as merely
// ending at its last real sample.

import { formatDuration } from '../../util/duration.js';
import { Pool, errors as undiciErrors } from 'undici';
import { METRIC_NAME, type Label, type LabelMatcher } from '../model.js';
import {
  compareLabels, compareStrings, goQuote, type PushdownRequest, type PushdownResult, type SelectHints, type Series, type Storage,
} from '../storage/interface.js';

export class DownstreamError extends Error {
  constructor(
    readonly target: string,
    reason: string,
  ) {
    super(`${target}: ${reason}`);
    this.name = 'DownstreamError';
  }
}

/** The downstream understood the request and refused it with a Prometheus error (bad_data, execution, ...). */
export class DownstreamApiError extends DownstreamError {
  constructor(
    target: string,
    readonly errorType: string,
    reason: string,
  ) {
    super(target, reason);
    this.name = 'DownstreamApiError';
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
  /** Credentials this target sends, longest first: cut out of every error, whatever the downstream echoes. */
  private readonly secrets: string[];

  constructor(opts: JsonApiTargetOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported URL scheme ${u.protocol}`);
    this.headers = { accept: 'application/json', ...lowerKeys(opts.headers ?? {}) };
    if ((u.username !== '' || u.password !== '') && this.headers.authorization === undefined) {
      const creds = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      this.headers.authorization = `Basic ${Buffer.from(creds).toString('base64')}`;
    }
    this.secrets = credentialsOf(this.headers, decodeURIComponent(u.password));
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
    const rangeMs = endMs - startMs + 1;
    const query = `${matchersToSelector(matchers)}[${rangeMs}ms]`;
    const data = await this.get('/api/v1/query', [['query', query], ['time', secondsParam(endMs)]], signal);
    try {
      return parseMatrix(data, startMs, endMs);
    } catch (err) {
      throw this.error(`invalid response: ${(err as Error).message}`);
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

  /**
   * Evaluates `query` downstream at startMs, startMs+stepMs, ... <= endMs (one instant when stepMs is
   * 0). The step goes as a millisecond duration: Prometheus truncates float seconds to nanoseconds,
   * which would move the steps (4.1 s becomes 4.099999999 s).
   */
  async evaluate(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult> {
    const data = req.stepMs > 0
      ? await this.get('/api/v1/query_range', [
        ['query', req.query], ['start', secondsParam(req.startMs)], ['end', secondsParam(req.endMs)], ['step', `${req.stepMs}ms`],
      ], signal)
      : await this.get('/api/v1/query', [['query', req.query], ['time', secondsParam(req.startMs)]], signal);
    try {
      return { series: parseEvaluated(data, req.stepMs > 0) };
    } catch (err) {
      throw new DownstreamError(this.target, `invalid response: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // -------------------------------------------------------------------------------------------

  private error(reason: string): DownstreamError {
    return new DownstreamError(this.target, this.redact(reason));
  }

  /** The downstream answered with a Prometheus error: it understood the request and refused it. */
  private apiError(errorType: string, reason: string): DownstreamApiError {
    return new DownstreamApiError(this.target, this.redact(errorType), this.redact(reason));
  }

  private redact(text: string): string {
    for (const s of this.secrets) if (text.includes(s)) text = text.split(s).join('<secret>');
    return text;
  }

  private labelParams(matchers: LabelMatcher[], startMs: number, endMs: number): [string, string][] {
    const p: [string, string][] = [];
    if (matchers.length > 0) p.push(['match[]', matchersToSelector(matchers)]);
    p.push(['start', secondsParam(startMs)], ['end', secondsParam(endMs)]);
    return p;
  }

  private stringList(data: unknown): string[] {
    if (!Array.isArray(data) || data.some((x) => typeof x !== 'string')) {
      throw this.error('invalid response: data is not a list of strings');
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
      if (timeout.aborted) throw this.error(`timeout after ${formatDuration(this.timeoutMs)}`);
      throw this.error(`request failed: ${describeError(err)}`);
    }

    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const isJson = mediaType === 'application/json' || mediaType.endsWith('+json');
    let body: any;
    if (isJson) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        // V8's message quotes a piece of the text, which may hold part of an echoed credential:
        // describe the text with the credentials cut out instead.
        throw this.error(`HTTP ${status}: invalid JSON: ${jsonParseError(this.redact(text)) ?? (err as Error).message}`);
      }
    }
    if (status < 200 || status > 299) {
      if (body !== undefined && typeof body === 'object' && body !== null && body.status === 'error') {
        throw this.apiError(String(body.errorType ?? 'error'), `HTTP ${status}: ${body.errorType ?? 'error'}: ${body.error ?? ''}`);
      }
      const detail = isJson ? snippet(this.redact(text)) : `unexpected content type ${mediaType || '(none)'}`;
      throw this.error(`HTTP ${status}: ${detail}`);
    }
    if (!isJson) throw this.error(`unexpected content type ${mediaType || '(none)'}`);
    if (typeof body !== 'object' || body === null) throw this.error('invalid response: not a JSON object');
    if (body.status !== 'success') {
      throw this.apiError(String(body.errorType ?? 'error'), `${body.errorType ?? 'error'}: ${body.error ?? `status ${JSON.stringify(body.status)}`}`);
    }
    return body.data;
  }
}

const CREDENTIAL_HEADER = /auth|cookie|token|secret|key|pass/i;

/** The values of credential-bearing headers (also without their scheme, e.g. the token of "Bearer x"), and a URL password. */
function credentialsOf(headers: Record<string, string>, password: string): string[] {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADER.test(name)) continue;
    out.add(value.trim());
    const m = /^\S+\s+(.+)$/.exec(value.trim());
    if (m) out.add(m[1]!.trim());
  }
  out.add(password);
  return [...out].filter((x) => x !== '').sort((a, b) => b.length - a.length);
}

/** JSON.parse's error message for text, or undefined when it parses. */
function jsonParseError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
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

function parseMetric(metric: unknown): Label[] {
  if (typeof metric !== 'object' || metric === null) throw new Error('series without metric');
  const labels: Label[] = [];
  for (const [name, value] of Object.entries(metric)) {
    if (typeof value !== 'string') throw new Error(`label ${name} is not a string`);
    if (value !== '') labels.push({ name, value });
  }
  labels.sort((x, y) => compareStrings(x.name, y.name));
  return labels;
}

function parsePoint(p: unknown): [number, number] {
  if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number') throw new Error('malformed sample');
  return [Math.round(p[0] * 1000), parseSampleValue(p[1])];
}

/** A query's or query_range's result (an instant vector or a matrix of steps) as point lists. */
export function parseEvaluated(data: any, range: boolean): PushdownResult['series'] {
  if (typeof data !== 'object' || data === null) throw new Error('data is not an object');
  const expected = range ? 'matrix' : 'vector';
  if (data.resultType !== expected) throw new Error(`resultType ${JSON.stringify(data.resultType)}, expected ${JSON.stringify(expected)}`);
  if (!Array.isArray(data.result)) throw new Error('result is not a list');
  return data.result.map((r: any) => {
    if (r?.histogram !== undefined || r?.histograms !== undefined) throw new Error('native histograms are not supported');
    const points: unknown[] = range ? r?.values ?? [] : [r?.value];
    if (!Array.isArray(points)) throw new Error('values is not a list');
    const timestamps = new Float64Array(points.length);
    const values = new Float64Array(points.length);
    points.forEach((p, i) => {
      [timestamps[i], values[i]] = parsePoint(p);
    });
    return { labels: parseMetric(r?.metric), timestamps, values };
  });
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
