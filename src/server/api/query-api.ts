// The query part of Prometheus's HTTP API (web/api/v1/api.go): /query, /query_range, /format_query,
// /query_exemplars and /status/buildinfo, answered by our PromQL engine. A Hono sub-app meant to be
// mounted at /api/v1.
//
// Behaviour followed from api.go: parameters come from Go's r.FormValue (a form body of a POST
// first, then the URL), times are float Unix seconds or RFC 3339, durations are float seconds or
// Prometheus durations, and errors carry Prometheus's texts, error types and status codes.
// Responses are written by hand to match Prometheus's JSON byte for byte: timestamps as
// seconds.millis (jsonutil.MarshalTimestamp), values as strings (jsonutil.MarshalFloat), and Go's
// HTML-safe string escaping.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import type { Labels } from '../../query/model.js';
import { StorageUnavailableError, type Storage } from '../../query/storage/interface.js';
import { Engine, PromQLError, type QueryOutput, type QueryResult } from '../../query/promql/engine.js';
import { documentedType, valueTypeOf, type Expr } from '../../query/promql/ast.js';
import { formatExpr } from '../../query/promql/parser.js';
import { formatFloatF } from '../../query/promql/eval-types.js';
import { parseDuration as parsePromDuration } from '../../util/duration.js';
import { goQuote } from '../../util/go-quote.js';
import { createRemoteReadApi } from './remote-read.js';

/** A storage for one query, with the warnings it collects while the query runs (e.g. a group left out). */
export interface ScopedStorage {
  storage: Storage;
  warnings: string[];
}

export interface QueryApiDeps {
  /** A fixed storage, or one made per query so its warnings reach that query's response. */
  storage: Storage | (() => ScopedStorage);
  engine: Engine;
  /** Upper bound of a query's run time, also when `timeout` asks for more. Default 2m. */
  defaultTimeoutMs?: number;
  /** Clock in ms since the epoch (default Date.now): the default `time` of /query. */
  now?: () => number;
}

type ApiErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable';

class ApiError extends Error {
  constructor(
    readonly errorType: ApiErrorType,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_BY_TYPE: Record<ApiErrorType, number> = {
  bad_data: 400,
  execution: 422,
  canceled: 499, // statusClientClosedConnection
  timeout: 503,
  internal: 500,
  unavailable: 503,
};

const MAX_POINTS = 11000;
const MAX_ANNOTATIONS = 10;

// ---------------------------------------------------------------------------------------------
// Parameter parsing

/** Prometheus's boundary times (api.go minTime/maxTime), in ms, and how they are written. */
const MIN_TIME_TEXT = '-292273086-05-16T16:47:06Z';
const MAX_TIME_TEXT = '292277025-08-18T07:12:54.999999999Z';
const MIN_TIME_MS = -9223309901257974 * 1000;
const MAX_TIME_MS = 9223309901257974 * 1000 + 999;

/** Go's strconv.ParseFloat syntax (decimal form, plus inf/infinity/nan); undefined when it fails. */
function goParseFloat(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (!m) return undefined;
  if (m[2]!.toLowerCase() === 'nan') return m[1] === '' ? NaN : undefined;
  return m[1] === '-' ? -Infinity : Infinity;
}

/** Go's math.Round: half away from zero. */
function goRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** time.Parse(time.RFC3339Nano, s) converted to ms like timestamp.FromTime; undefined when it fails. */
function parseRFC3339(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, min, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > maxDay) return undefined;
  let offsetMin = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, sec, 0);
  const fracMs = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  return d.getTime() - offsetMin * 60_000 + fracMs;
}

/** api.go parseTime, in ms. */
export function parseTimeMs(s: string): number {
  const f = goParseFloat(s);
  if (f !== undefined && Number.isFinite(f)) {
    const sec = Math.trunc(f);
    const frac = goRound((f - sec) * 1000) / 1000;
    const ns = Math.trunc(frac * 1e9);
    return sec * 1000 + Math.floor(ns / 1e6);
  }
  const t = parseRFC3339(s);
  if (t !== undefined) return t;
  if (s === MIN_TIME_TEXT) return MIN_TIME_MS;
  if (s === MAX_TIME_TEXT) return MAX_TIME_MS;
  throw new Error(`cannot parse ${goQuote(s)} to a valid timestamp`);
}

/** api.go parseDuration, in nanoseconds (a float: Go's time.Duration is an int64). */
export function parseDurationNs(s: string): number {
  const f = goParseFloat(s);
  if (f !== undefined) {
    const ns = f * 1e9;
    if (ns > 2 ** 63 || ns < -(2 ** 63)) throw new Error(`cannot parse ${goQuote(s)} to a valid duration. It overflows int64`);
    return Number.isNaN(ns) ? -(2 ** 63) : Math.trunc(ns);
  }
  try {
    return parsePromDuration(s) * 1e6;
  } catch {
    throw new Error(`cannot parse ${goQuote(s)} to a valid duration`);
  }
}

function invalidParam(err: unknown, name: string): ApiError {
  return new ApiError('bad_data', `invalid parameter ${goQuote(name)}: ${(err as Error).message}`);
}

/** Go's r.FormValue: a urlencoded POST body's value first, then the URL's; '' when absent. */
type FormValue = (name: string) => string;

async function formOf(c: Context): Promise<FormValue> {
  const url = new URL(c.req.url);
  let body: URLSearchParams | undefined;
  if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') {
    const ct = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct === 'application/x-www-form-urlencoded') {
      try {
        body = new URLSearchParams(await c.req.text());
      } catch (e) {
        throw new ApiError('bad_data', `error parsing form values: ${(e as Error).message}`);
      }
    }
  }
  return (name) => body?.get(name) ?? url.searchParams.get(name) ?? '';
}

// ---------------------------------------------------------------------------------------------
// JSON output

/** A JSON string as Go's encoding/json writes it (HTML-safe: <, >, & and U+2028/9 escaped). */
function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** jsonutil.MarshalTimestamp: ms written as seconds with a 3-digit fraction when not whole. */
export function formatTimestamp(ms: number): string {
  let t = BigInt(Math.trunc(ms));
  let out = '';
  if (t < 0n) {
    out = '-';
    t = -t;
  }
  out += (t / 1000n).toString();
  const frac = t % 1000n;
  if (frac !== 0n) out += `.${frac.toString().padStart(3, '0')}`;
  return out;
}

/** jsonutil.MarshalFloat without the quotes: 'f' format, 'e' for tiny and huge magnitudes. */
export function formatValue(v: number): string {
  const abs = Math.abs(v);
  if (abs !== 0 && Number.isFinite(abs) && (abs < 1e-6 || abs >= 1e21)) {
    return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return formatFloatF(v);
}

function metricJson(l: Labels): string {
  return `{${l.map((x) => `${goJsonString(x.name)}:${goJsonString(x.value)}`).join(',')}}`;
}

function pointJson(t: number, v: number): string {
  return `[${formatTimestamp(t)},"${formatValue(v)}"]`;
}

function resultJson(r: QueryResult): string {
  switch (r.resultType) {
    case 'vector':
      return `[${r.result.map((s) => `{"metric":${metricJson(s.labels)},"value":${pointJson(s.t, s.v)}}`).join(',')}]`;
    case 'matrix':
      return `[${r.result
        .map((s) => `{"metric":${metricJson(s.labels)},"values":[${s.timestamps.map((t, i) => pointJson(t, s.values[i]!)).join(',')}]}`)
        .join(',')}]`;
    case 'scalar':
      return pointJson(r.t, r.v);
    case 'string':
      return `[${formatTimestamp(r.t)},${goJsonString(r.v)}]`;
  }
}

/** annotations.AsStrings: at most 10 of each kind, then a note of how many were left out. */
function capAnnotations(list: readonly string[], kind: 'warning' | 'info'): string[] {
  if (list.length <= MAX_ANNOTATIONS) return [...list];
  return [...list.slice(0, MAX_ANNOTATIONS), `${list.length - MAX_ANNOTATIONS} more ${kind} annotations omitted`];
}

function successBody(dataJson: string, warnings: readonly string[] = [], infos: readonly string[] = []): string {
  let out = `{"status":"success","data":${dataJson}`;
  const w = capAnnotations(warnings, 'warning');
  const i = capAnnotations(infos, 'info');
  if (w.length > 0) out += `,"warnings":[${w.map(goJsonString).join(',')}]`;
  if (i.length > 0) out += `,"infos":[${i.map(goJsonString).join(',')}]`;
  return `${out}}`;
}

function jsonResponse(c: Context, body: string, status: number): Response {
  return c.body(body, status as 200, { 'Content-Type': 'application/json' });
}

function errorResponse(c: Context, e: unknown): Response {
  const err = e instanceof ApiError ? e : new ApiError('internal', e instanceof Error ? e.message : String(e));
  const body = `{"status":"error","errorType":"${err.errorType}","error":${goJsonString(err.message)}}`;
  return jsonResponse(c, body, STATUS_BY_TYPE[err.errorType]);
}

// ---------------------------------------------------------------------------------------------
// Build info

let buildInfoCache: string | undefined;

function promfrontVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'promfront' && pkg.version) return pkg.version;
      } catch {
        // keep looking upwards
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return 'unknown';
}

function buildInfoJson(): string {
  buildInfoCache ??= JSON.stringify({
    version: promfrontVersion(),
    revision: 'unknown',
    branch: 'unknown',
    buildUser: 'unknown',
    buildDate: 'unknown',
    goVersion: `node${process.versions.node}`,
  });
  return buildInfoCache;
}

// ---------------------------------------------------------------------------------------------
// The app

export function createQueryApi(deps: QueryApiDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;
  const maxTimeoutMs = deps.defaultTimeoutMs ?? 2 * 60_000;
  const { engine } = deps;
  const scoped = (): ScopedStorage => (typeof deps.storage === 'function' ? deps.storage() : { storage: deps.storage, warnings: [] });
  /** Storage warnings first, then the engine's, as Prometheus lists storage warnings. */
  const withStorageWarnings = (out: QueryOutput, view: ScopedStorage): QueryOutput =>
    view.warnings.length === 0 ? out : { ...out, warnings: [...view.warnings, ...out.warnings] };

  const parseQuery = (form: FormValue): Expr => {
    try {
      return engine.parse(form('query'));
    } catch (e) {
      throw invalidParam(e, 'query');
    }
  };

  /** The `timeout` parameter as a ms count (capped), checked before the query like api.go does. */
  const timeoutOf = (form: FormValue): number => {
    const to = form('timeout');
    if (to === '') return maxTimeoutMs;
    let ns: number;
    try {
      ns = parseDurationNs(to);
    } catch (e) {
      throw invalidParam(e, 'timeout');
    }
    return Math.min(ns / 1e6, maxTimeoutMs);
  };

  /** Runs a query under a deadline; maps the engine's errors as api.go's returnAPIError does. */
  const run = async (c: Context, timeoutMs: number, exec: (signal: AbortSignal) => Promise<QueryOutput>): Promise<QueryOutput> => {
    const ctl = new AbortController();
    let timedOut = false;
    const onTimeout = () => {
      timedOut = true;
      ctl.abort(new DOMException('query timed out', 'TimeoutError'));
    };
    const timer = timeoutMs > 0 ? setTimeout(onTimeout, timeoutMs) : undefined;
    if (timeoutMs <= 0) onTimeout();
    const reqSignal = c.req.raw.signal;
    const onClose = () => ctl.abort(reqSignal.reason);
    if (reqSignal.aborted) onClose();
    else reqSignal.addEventListener('abort', onClose, { once: true });
    const deadline = Date.now() + timeoutMs;
    try {
      const out = await exec(ctl.signal);
      // An evaluation that never yields to the event loop cannot be interrupted by the timer: a
      // result that comes past the deadline is a timeout all the same.
      if (Date.now() > deadline) onTimeout();
      if (timedOut) throw new ApiError('timeout', 'query timed out in expression evaluation');
      return out;
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (timedOut) throw new ApiError('timeout', 'query timed out in expression evaluation');
      // A server group that failed without ignore_error: the error names the group and its targets.
      if (e instanceof StorageUnavailableError) throw new ApiError('unavailable', e.message);
      if (e instanceof PromQLError) {
        // Parse and type errors were caught before; whatever else the engine calls bad data is
        // an evaluation failure for the API (api.go maps every other engine error to execution).
        throw new ApiError(e.errorType === 'bad_data' ? 'execution' : e.errorType, e.message);
      }
      if (ctl.signal.aborted) throw new ApiError('canceled', 'query was canceled in expression evaluation');
      throw new ApiError('execution', e instanceof Error ? e.message : String(e));
    } finally {
      if (timer) clearTimeout(timer);
      reqSignal.removeEventListener('abort', onClose);
    }
  };

  const queryRespond = (c: Context, out: QueryOutput): Response =>
    jsonResponse(c, successBody(`{"resultType":"${out.result.resultType}","result":${resultJson(out.result)}}`, out.warnings, out.infos), 200);

  const instant = async (c: Context): Promise<Response> => {
    try {
      const form = await formOf(c);
      let t: number;
      const timeText = form('time');
      if (timeText === '') t = now();
      else {
        try {
          t = parseTimeMs(timeText);
        } catch (e) {
          throw invalidParam(new Error(`invalid time value for 'time': ${(e as Error).message}`), 'time');
        }
      }
      const timeoutMs = timeoutOf(form);
      parseQuery(form);
      const view = scoped();
      const out = await run(c, timeoutMs, (signal) => engine.instantQuery(view.storage, form('query'), t, signal));
      return queryRespond(c, withStorageWarnings(out, view));
    } catch (e) {
      return errorResponse(c, e);
    }
  };

  const range = async (c: Context): Promise<Response> => {
    try {
      const form = await formOf(c);
      const param = <T>(name: string, parse: (s: string) => T): T => {
        try {
          return parse(form(name));
        } catch (e) {
          throw invalidParam(e, name);
        }
      };
      const start = param('start', parseTimeMs);
      const end = param('end', parseTimeMs);
      if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start time');
      const stepNs = param('step', parseDurationNs);
      if (stepNs <= 0) throw new ApiError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
      if (Math.trunc(((end - start) * 1e6) / stepNs) > MAX_POINTS) {
        throw new ApiError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
      }
      const timeoutMs = timeoutOf(form);
      const expr = parseQuery(form);
      const vt = valueTypeOf(expr);
      if (vt !== 'scalar' && vt !== 'vector') {
        throw invalidParam(new Error(`invalid expression type ${goQuote(documentedType(vt))} for range query, must be Scalar or instant Vector`), 'query');
      }
      // The engine works in whole ms, as Prometheus's does (durationMilliseconds truncates); a
      // sub-millisecond step would make Prometheus loop forever, we refuse it.
      const stepMs = Math.trunc(stepNs / 1e6);
      if (stepMs <= 0) throw new ApiError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
      const view = scoped();
      const out = await run(c, timeoutMs, (signal) => engine.rangeQuery(view.storage, form('query'), start, end, stepMs, signal));
      return queryRespond(c, withStorageWarnings(out, view));
    } catch (e) {
      return errorResponse(c, e);
    }
  };

  const formatQuery = async (c: Context): Promise<Response> => {
    try {
      const form = await formOf(c);
      const expr = parseQuery(form);
      return jsonResponse(c, successBody(goJsonString(formatExpr(expr))), 200);
    } catch (e) {
      return errorResponse(c, e);
    }
  };

  const exemplars = async (c: Context): Promise<Response> => {
    try {
      const form = await formOf(c);
      const timeParam = (name: string, def: number): number => {
        const s = form(name);
        if (s === '') return def;
        try {
          return parseTimeMs(s);
        } catch (e) {
          throw invalidParam(new Error(`invalid time value for '${name}': ${(e as Error).message}`), name);
        }
      };
      const start = timeParam('start', MIN_TIME_MS);
      const end = timeParam('end', MAX_TIME_MS);
      if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start time');
      parseQuery(form);
      return jsonResponse(c, successBody('[]'), 200);
    } catch (e) {
      return errorResponse(c, e);
    }
  };

  app.on(['GET', 'POST'], '/query', instant);
  app.on(['GET', 'POST'], '/query_range', range);
  app.on(['GET', 'POST'], '/format_query', formatQuery);
  app.on(['GET', 'POST'], '/query_exemplars', exemplars);
  app.get('/status/buildinfo', (c) => jsonResponse(c, successBody(buildInfoJson()), 200));
  // Remote read (POST /api/v1/read) over the same storage: Prometheus or another promfront can read from us.
  app.route('/read', createRemoteReadApi({ storage: deps.storage, timeoutMs: maxTimeoutMs }));
  return app;
}
