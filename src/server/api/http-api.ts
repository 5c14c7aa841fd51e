// What every endpoint of Prometheus's HTTP API shares (web/api/v1/api.go): the parameter syntax
// (Go's r.FormValue / r.Form, float-or-RFC 3339 times, float-or-Prometheus durations, limits), the
// error types with their HTTP codes, and the JSON envelope written the way Go's encoder writes it.

import type { Context } from 'hono';
import { type Labels } from '../../model/labels.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../../model/time.js';
import type { Semantics } from '../../promql/functions/types.js';
import { parseDuration as parsePromDuration } from '../../util/duration.js';
import { goQuote } from '../../util/go-quote.js';
import { addWarnings, requestStats } from './request-stats.js';
import { ApiError, BodyTooLargeError, apiErrorOf } from '../../errors.js';
import { readBodyBounded } from '../read-body.js';

const MAX_ANNOTATIONS = 10;

// ---------------------------------------------------------------------------------------------
// Parameter parsing

/** Prometheus's boundary times (api.go MinTime/MaxTime), in ms, and how they are written. */
const MIN_TIME_TEXT = '-292273086-05-16T16:47:06Z';
const MAX_TIME_TEXT = '292277025-08-18T07:12:54.999999999Z';
export { MAX_TIME_MS, MIN_TIME_MS };

/** Go's strconv.ParseFloat syntax (decimal form, plus inf/infinity/nan); undefined when it fails. */
function goParseFloat(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (!m) return undefined;
  if (m[2].toLowerCase() === 'nan') return m[1] === '' ? NaN : undefined;
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
  const maxDay = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
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

export function invalidParam(err: unknown, name: string): ApiError {
  return new ApiError('bad_data', `invalid parameter ${goQuote(name)}: ${(err as Error).message}`);
}

/**
 * api.go parseTimeParam: `def` when the parameter is empty, else the parsed time; a bad value is an
 * "invalid parameter" error. Prometheus up to 3.0 capitalised "Invalid time value", later ones not.
 */
export function timeParam(form: Form, name: string, def: number, semantics: Semantics = 'prometheus-3'): number {
  const s = form(name);
  if (s === '') return def;
  try {
    return parseTimeMs(s);
  } catch (e) {
    const lead = semantics === 'prometheus-2' ? 'Invalid' : 'invalid';
    throw invalidParam(new Error(`${lead} time value for '${name}': ${(e as Error).message}`), name);
  }
}

/** Go's strconv.Atoi for an int: its error text names the function, as Prometheus passes it on. */
export function goAtoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`strconv.Atoi: parsing ${goQuote(s)}: value out of range`);
  return n;
}

/** api.go parseLimitParam: 0 (no limit) when empty; an error for non-numbers and negative values. */
export function limitParam(form: Form): number {
  const s = form('limit');
  if (s === '') return 0;
  let n: number;
  try {
    n = goAtoi(s);
  } catch (e) {
    throw invalidParam(e, 'limit');
  }
  if (n < 0) throw invalidParam(new Error('limit must be non-negative'), 'limit');
  return n;
}

/**
 * Go's http.Request form: `form(name)` is r.FormValue (a urlencoded POST/PUT/PATCH body's value
 * first, then the URL's; '' when absent), `form.all(name)` is r.Form[name] (the body's values, then
 * the URL's).
 */
export interface Form {
  (name: string): string;
  all(name: string): string[];
}

/** Go's maxFormSize: net/http reads at most this much of a form body (10 MiB). */
export const MAX_FORM_BYTES = 10 << 20;

function formTooLarge(): BodyTooLargeError {
  return new BodyTooLargeError(`http: POST too large: form body over ${MAX_FORM_BYTES} bytes (10 MiB)`);
}

/** A form body as text, refused with 413 past `limit` bytes without being read whole. */
async function readBodyLimited(req: Request, limit: number): Promise<string> {
  const bytes = await readBodyBounded(req, limit);
  if (bytes === undefined) throw formTooLarge();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

export async function formOf(c: Context): Promise<Form> {
  const url = new URL(c.req.url);
  let body: URLSearchParams | undefined;
  if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') {
    const ct = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (ct === 'application/x-www-form-urlencoded') {
      try {
        body = new URLSearchParams(await readBodyLimited(c.req.raw, MAX_FORM_BYTES));
      } catch (e) {
        if (e instanceof BodyTooLargeError) throw e;
        throw new ApiError('bad_data', `error parsing form values: ${(e as Error).message}`);
      }
    }
  }
  const form = Object.assign((name: string) => body?.get(name) ?? url.searchParams.get(name) ?? '', {
    all: (name: string) => [...(body?.getAll(name) ?? []), ...url.searchParams.getAll(name)],
  });
  // The request log names what was asked.
  const stats = requestStats(c);
  if (stats) {
    const q = form('query');
    if (q !== '') stats.query = q;
    const m = form.all('match[]');
    if (m.length > 0) stats.match = m;
  }
  return form;
}

// ---------------------------------------------------------------------------------------------
// JSON output

/** A JSON string as Go's encoding/json writes it (HTML-safe: <, >, & and U+2028/9 escaped). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A label set as Prometheus writes labels.Labels: an object in label order. */
export function labelsJson(l: Labels): string {
  return `{${l.map((x) => `${goJsonString(x.name)}:${goJsonString(x.value)}`).join(',')}}`;
}

/** A list of strings as Go writes a []string. */
export function stringListJson(list: readonly string[]): string {
  return `[${list.map(goJsonString).join(',')}]`;
}

/** annotations.AsStrings: at most 10 of each kind, then a note of how many were left out. */
function capAnnotations(list: readonly string[], kind: 'warning' | 'info'): string[] {
  if (list.length <= MAX_ANNOTATIONS) return [...list];
  return [...list.slice(0, MAX_ANNOTATIONS), `${list.length - MAX_ANNOTATIONS} more ${kind} annotations omitted`];
}

export function successBody(dataJson: string, warnings: readonly string[] = [], infos: readonly string[] = []): string {
  return `{"status":"success","data":${dataJson}${annotationsJson(warnings, infos)}}`;
}

/** The envelope's `,"warnings":[...],"infos":[...]` part (each capped as Prometheus caps them), or ''. */
export function annotationsJson(warnings: readonly string[], infos: readonly string[]): string {
  let out = '';
  const w = capAnnotations(warnings, 'warning');
  const i = capAnnotations(infos, 'info');
  if (w.length > 0) out += `,"warnings":[${w.map(goJsonString).join(',')}]`;
  if (i.length > 0) out += `,"infos":[${i.map(goJsonString).join(',')}]`;
  return out;
}

export function jsonResponse(c: Context, body: string, status: number): Response {
  return c.body(body, status as 200, { 'Content-Type': 'application/json' });
}

/** A success envelope; its warnings are counted for the request log and metrics. */
export function respondSuccess(c: Context, dataJson: string, warnings: readonly string[] = [], infos: readonly string[] = []): Response {
  const stats = requestStats(c);
  addWarnings(stats, warnings);
  return jsonResponse(c, successBody(dataJson, warnings, infos), 200);
}

/** An error envelope with Prometheus's status code for its type; anything not an ApiError is internal. */
export function errorResponse(c: Context, e: unknown): Response {
  const err = apiErrorOf(e);
  const stats = requestStats(c);
  if (stats) stats.errorType = err.errorType;
  const body = `{"status":"error","errorType":"${err.errorType}","error":${goJsonString(err.message)}}`;
  return jsonResponse(c, body, err.status);
}

/** What Prometheus's router answers for a known path asked with another method. */
export function methodNotAllowed(c: Context, allow: string): Response {
  return c.body('Method Not Allowed\n', 405, {
    Allow: allow,
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
  });
}
