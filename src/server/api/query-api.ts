// The query part of Prometheus's HTTP API (web/api/v1/api.go): /query, /query_range, /format_query
// and /status/buildinfo, answered by our PromQL engine. A Hono sub-app meant to be
// mounted at /api/v1.
//
// Behaviour followed from api.go: parameters come from Go's r.FormValue (a form body of a POST
// first, then the URL), times are float Unix seconds or RFC 3339, durations are float seconds or
// Prometheus durations, and errors carry Prometheus's texts, error types and status codes.
// Responses are written by hand to match Prometheus's JSON byte for byte: timestamps as
// seconds.millis (jsonutil.MarshalTimestamp), values as strings (jsonutil.MarshalFloat), and Go's
// HTML-safe string escaping.

import { Hono, type Context } from 'hono';
import { REVISION, RUNTIME_VERSION, VERSION } from '../../version.js';
import { scopedStorage, type ScopedStorage, type StorageSource } from '../../storage/view.js';
import { type Engine, type PreparedQuery, type QueryOutput, type QueryResult } from '../../promql/engine.js';
import { documentedType, valueTypeOf } from '../../promql/ast.js';
import { formatExpr } from '../../promql/parser.js';
import { formatFloatF } from '../../promql/eval-types.js';
import type { Semantics } from '../../promql/functions/types.js';
import { goQuote } from '../../util/go-quote.js';
import {
  annotationsJson,
  errorResponse,
  formOf,
  goJsonString,
  invalidParam,
  jsonResponse,
  labelsJson,
  parseDurationNs,
  parseTimeMs,
  respondSuccess,
  successBody,
  timeParam,
  type Form,
} from './http-api.js';
import { addStorageStats, addWarnings, requestStats } from './request-stats.js';
import { createRemoteReadApi } from './remote-read-api.js';
import { Admission, type Slot } from './admission.js';
import { ApiError, QUERY_TIMEOUT_MESSAGE, queryApiError } from '../../errors.js';
import type { ResultsCache } from '../../query/results-cache/results-cache.js';

export { parseDurationNs, parseTimeMs } from './http-api.js';

export interface QueryApiDeps {
  /** A fixed storage, or one made per query so its warnings reach that query's response. */
  storage: StorageSource;
  engine: Engine;
  /** Upper bound of a query's run time, also when `timeout` asks for more. Default 2m. */
  defaultTimeoutMs?: number;
  /** Clock in ms since the epoch (default Date.now): the default `time` of /query. */
  now?: () => number;
  /** Which Prometheus's error texts to use where they differ (default prometheus-3). */
  semantics?: Semantics;
  /** Bounds /query and /query_range evaluating at once; default 20 running, 200 queued. */
  admission?: Admission;
  /** Range queries answered from cached pieces where it can (docs/results-cache.md). */
  resultsCache?: ResultsCache;
  /** stats=all lists the samples read per step (query.per_step_stats, Prometheus's promql-per-step-stats feature). */
  perStepStats?: boolean;
}

/** Says how the results cache answered a range query: hit, partial, miss or uncacheable. */
export const CACHE_HEADER = 'X-Promfront-Results-Cache';

const MAX_POINTS = 11000;
const NON_POSITIVE_STEP = 'zero or negative query resolution step widths are not accepted. Try a positive integer';

// ---------------------------------------------------------------------------------------------
// JSON output

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

const metricJson = labelsJson;

function pointJson(t: number, v: number): string {
  return `[${formatTimestamp(t)},"${formatValue(v)}"]`;
}

type MatrixResult = Extract<QueryResult, { resultType: 'matrix' }>;

/** Matrices with at least this many points are written series by series instead of as one string. */
const STREAM_MIN_POINTS = 100_000;
function matrixPoints(r: MatrixResult): number {
  let n = 0;
  for (const s of r.result) n += s.timestamps.length;
  return n;
}

function matrixSeriesJson(s: MatrixResult['result'][number]): string {
  return `{"metric":${metricJson(s.labels)},"values":[${s.timestamps.map((t, i) => pointJson(t, s.values[i])).join(',')}]}`;
}

/** Bytes per chunk of a streamed matrix answer. */
const STREAM_CHUNK_BYTES = 1 << 20;

/**
 * A large range-query answer, the same bytes as resultJson's, written a chunk at a time: the whole
 * body never exists as one string (150 MB for 10,000 series x 720 points), and each series is let
 * go once written. Each series' text is encoded straight into the chunk: batches of series joined
 * into one string first were megabyte strings in V8's old generation, freed only by a full
 * collection, and took the query thread's heap from 60 to 240 MB while that answer was written.
 */
function streamMatrix(c: Context, r: MatrixResult, warnings: readonly string[], infos: readonly string[], statsPart = ''): Response {
  const stats = requestStats(c);
  if (stats) stats.warnings += warnings.length;
  const series: (MatrixResult['result'][number] | undefined)[] = r.result;
  const head = '{"status":"success","data":{"resultType":"matrix","result":[';
  const tail = `]${statsPart}}${annotationsJson(warnings, infos)}}`;
  const encoder = new TextEncoder();
  let next = 0;
  // Text not yet written: what did not fit in the last chunk.
  let pending: string | undefined = head;
  let done = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = new Uint8Array(STREAM_CHUNK_BYTES);
      let n = 0;
      for (;;) {
        if (pending === undefined) {
          if (done) break;
          if (next < series.length) {
            pending = `${next === 0 ? '' : ','}${matrixSeriesJson(series[next]!)}`;
            series[next++] = undefined;
          } else {
            pending = tail;
            done = true;
          }
        }
        const { read, written } = encoder.encodeInto(pending, chunk.subarray(n));
        n += written;
        if (read < pending.length) {
          pending = pending.slice(read);
          break;
        }
        pending = undefined;
      }
      // An exact-size copy: the query thread moves a chunk that owns its whole buffer without another.
      controller.enqueue(chunk.slice(0, n));
      if (done && pending === undefined) controller.close();
    },
  });
  return c.body(body, 200, { 'Content-Type': 'application/json' });
}

/**
 * The answer's `result` as JSON. An instant vector of a million series takes seconds to encode:
 * past `deadline` (performance.now()) the encoding stops with the query's timeout, as the
 * evaluation would have.
 */
function resultJson(r: QueryResult, deadline = Infinity): string {
  switch (r.resultType) {
    case 'vector':
      return `[${r.result
        .map((s, i) => {
          if ((i & 4095) === 4095 && performance.now() > deadline) throw new ApiError('timeout', QUERY_TIMEOUT_MESSAGE);
          return `{"metric":${metricJson(s.labels)},"value":${pointJson(s.t, s.v)}}`;
        })
        .join(',')}]`;
    case 'matrix':
      return `[${r.result.map(matrixSeriesJson).join(',')}]`;
    case 'scalar':
      return pointJson(r.t, r.v);
    case 'string':
      return `[${formatTimestamp(r.t)},${goJsonString(r.v)}]`;
  }
}

/**
 * Whether an answer may be the downstream's bytes (ExecOptions.verbatim): not when `stats` asks
 * for our statistics, which go inside `data`.
 */
function verbatimOk(form: Form): boolean {
  return form('stats') === '';
}

const SUCCESS_PREFIX = Buffer.from('{"status":"success","data":');

/** Verbatim answers larger than this are written in pieces of this size instead of copied into one body. */
const VERBATIM_PIECE_BYTES = 1 << 20;

/**
 * The success envelope around a `data` member passed on as the downstream wrote it
 * (QueryOutput.verbatim). A large one is written as views of the downstream's bytes: one body
 * holding a copy was another 150 MB for 10,000 series x 720 points, alongside the bytes it copied.
 */
function verbatimResponse(c: Context, data: Uint8Array, warnings: readonly string[], infos: readonly string[]): Response {
  addWarnings(requestStats(c), warnings);
  const suffix = Buffer.from(`${annotationsJson(warnings, infos)}}`);
  if (data.length <= VERBATIM_PIECE_BYTES) return c.body(Buffer.concat([SUCCESS_PREFIX, data, suffix]), 200, { 'Content-Type': 'application/json' });
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(Buffer.from(SUCCESS_PREFIX));
    },
    pull(controller) {
      if (at >= data.length) {
        controller.enqueue(suffix);
        controller.close();
        return;
      }
      const end = Math.min(data.length, at + VERBATIM_PIECE_BYTES);
      controller.enqueue(data.subarray(at, end));
      at = end;
    },
  });
  return c.body(body, 200, { 'Content-Type': 'application/json' });
}

// ---------------------------------------------------------------------------------------------
// stats=...: Prometheus's query statistics (util/stats/query_stats.go)

/** When each phase of one query ended (performance.now()). */
interface QueryTiming {
  start: number;
  prepared?: number;
  admitted?: number;
  done?: number;
}

function newTiming(): QueryTiming {
  return { start: performance.now() };
}

/**
 * The `"stats"` member when the `stats` parameter is not empty (defaultStatsRenderer), with
 * Prometheus's fields and order. Timings are measured: preparation is the parse and checks, queue
 * the wait for an admission slot, evaluation the rest (storage reads included). Samples are the
 * engine's count (ExecOptions.countSamples): totalQueryableSamples as Prometheus counts them, and
 * the per-step list only for stats=all with `perStep` on, as Prometheus gives it only then and with
 * its promql-per-step-stats feature; each step is `[seconds, count]`, as its stepStat marshals.
 */
function statsJson(param: string, t: QueryTiming, out: QueryOutput, start: number, stepMs: number, perStep: boolean): string {
  if (param === '') return '';
  const sec = (ms: number): number => Math.max(0, ms) / 1000;
  const done = t.done ?? performance.now();
  const prepared = t.prepared ?? t.start;
  const admitted = t.admitted ?? prepared;
  const evalTotal = sec(done - admitted);
  const timings = {
    evalTotalTime: evalTotal,
    resultSortTime: 0,
    queryPreparationTime: sec(prepared - t.start),
    innerEvalTime: evalTotal,
    execQueueTime: sec(admitted - prepared),
    execTotalTime: sec(done - t.start),
  };
  const s = out.samples ?? { total: 0, perStep: [], peak: 0 };
  const steps =
    perStep && param === 'all' ? `"totalQueryableSamplesPerStep":[${s.perStep.map((n, i) => `[${(start + i * stepMs) / 1000},${n}]`).join(',')}],` : '';
  return `,"stats":{"timings":${JSON.stringify(timings)},"samples":{${steps}"totalQueryableSamples":${s.total},"peakSamples":${s.peak}}}`;
}

// ---------------------------------------------------------------------------------------------
// Build info

let buildInfoCache: string | undefined;

export function buildInfoJson(): string {
  buildInfoCache ??= JSON.stringify({
    version: VERSION,
    revision: REVISION,
    branch: 'unknown',
    buildUser: 'unknown',
    buildDate: 'unknown',
    goVersion: RUNTIME_VERSION,
  });
  return buildInfoCache;
}

// ---------------------------------------------------------------------------------------------
// The app

export function createQueryApi(deps: QueryApiDeps): Hono {
  const app = new Hono();
  // Errors thrown by this app's handlers; Hono runs it for them also once the app is mounted with route().
  app.onError((e, c) => errorResponse(c, e));
  const now = deps.now ?? Date.now;
  const maxTimeoutMs = deps.defaultTimeoutMs ?? 2 * 60_000;
  const { engine } = deps;
  const admission = deps.admission ?? new Admission({ maxConcurrent: 20, maxQueued: 200 });
  const semantics = deps.semantics ?? 'prometheus-3';
  const scoped = (): ScopedStorage => scopedStorage(deps.storage);
  /** Storage warnings first, then the engine's, as Prometheus lists storage warnings. */
  const withStorageWarnings = (out: QueryOutput, view: ScopedStorage): QueryOutput =>
    view.warnings.length === 0 ? out : { ...out, warnings: [...view.warnings, ...out.warnings] };

  /** The `query` parameter parsed and checked once; the handlers run what this returns. */
  const parseQuery = (form: Form): PreparedQuery => {
    try {
      return engine.prepare(form('query'));
    } catch (e) {
      throw invalidParam(e, 'query');
    }
  };

  /** The `timeout` parameter as a ms count (capped), checked before the query like api.go does. */
  const timeoutOf = (form: Form): number => {
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

  /**
   * Runs a query under a deadline once admitted; maps the engine's errors as api.go's
   * returnAPIError does. `exec` gets what is left of the timeout after the wait for a turn.
   */
  const run = async (c: Context, timeoutMs: number, exec: (signal: AbortSignal, timeoutMs: number) => Promise<QueryOutput>): Promise<QueryOutput> => {
    const startedAt = performance.now();
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
    const deadline = startedAt + timeoutMs;
    let slot: Slot | undefined;
    try {
      // Prometheus's texts for a query that ran out of time or was cancelled in its queue.
      slot = await admission.acquire(
        ctl.signal,
        () => (timedOut ? new ApiError('timeout', 'query timed out in query queue') : new ApiError('canceled', 'query was canceled in query queue')),
        c.req.path.endsWith('/query_range') ? 'query_range' : 'query',
      );
      const left = deadline - performance.now();
      if (left <= 0) onTimeout();
      const out = await exec(ctl.signal, left);
      // The engine reads the clock while it evaluates (a timer cannot fire while it holds the event
      // loop); a result that still comes past the deadline is a timeout all the same.
      if (performance.now() > deadline) onTimeout();
      if (timedOut) throw new ApiError('timeout', QUERY_TIMEOUT_MESSAGE);
      return out;
    } catch (e) {
      throw queryApiError(e, timedOut, ctl.signal.aborted);
    } finally {
      slot?.release();
      if (timer) clearTimeout(timer);
      reqSignal.removeEventListener('abort', onClose);
    }
  };

  const queryRespond = (c: Context, out: QueryOutput, deadline: number, timing: QueryTiming, form: Form, start: number, stepMs: number): Response => {
    const r = out.result;
    // What the query read, for the web UI's stats line: Prometheus's JSON has no place for the
    // groups asked, and its opt-in `stats` object counts samples of its own TSDB, not ours.
    const reqStats = requestStats(c);
    if (reqStats) {
      c.header('X-Promfront-Groups-Asked', String(reqStats.groups.size));
      c.header('X-Promfront-Series-Loaded', String(reqStats.series));
      c.header('X-Promfront-Samples-Loaded', String(reqStats.samples));
    }
    if (out.verbatim !== undefined) return verbatimResponse(c, out.verbatim, out.warnings, out.infos);
    const stats = statsJson(form('stats'), timing, out, start, stepMs, deps.perStepStats === true);
    if (r.resultType === 'matrix' && matrixPoints(r) >= STREAM_MIN_POINTS) return streamMatrix(c, r, out.warnings, out.infos, stats);
    return respondSuccess(c, `{"resultType":"${r.resultType}","result":${resultJson(r, deadline)}${stats}}`, out.warnings, out.infos);
  };

  /** Runs a query on a fresh storage view; what the view counted goes to the request's stats (and `timing`). */
  const runOnView = async (
    c: Context,
    timeoutMs: number,
    timing: QueryTiming,
    exec: (view: ScopedStorage, signal: AbortSignal, timeoutMs: number) => Promise<QueryOutput>,
  ): Promise<QueryOutput> => {
    const view = scoped();
    try {
      return withStorageWarnings(
        await run(c, timeoutMs, (signal, left) => {
          timing.admitted = performance.now();
          return exec(view, signal, left);
        }),
        view,
      );
    } finally {
      timing.done = performance.now();
      addStorageStats(c, view.stats);
    }
  };

  const instant = async (c: Context): Promise<Response> => {
    const form = await formOf(c);
    const t = timeParam(form, 'time', now(), semantics);
    const timeoutMs = timeoutOf(form);
    // Also bounds encoding the answer.
    const deadline = performance.now() + timeoutMs;
    const timing = newTiming();
    const prepared = parseQuery(form);
    timing.prepared = performance.now();
    const countSamples = form('stats') !== '';
    const out = await runOnView(c, timeoutMs, timing, (view, signal, left) =>
      engine.execInstant(prepared, view.storage, t, signal, { timeoutMs: left, countSamples, verbatim: verbatimOk(form) }),
    );
    return queryRespond(c, out, deadline, timing, form, t, 0);
  };

  const range = async (c: Context): Promise<Response> => {
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
    if (end < start) throw invalidParam(new Error('end timestamp must not be before start time'), 'end');
    const stepNs = param('step', parseDurationNs);
    if (stepNs <= 0) throw invalidParam(new Error(NON_POSITIVE_STEP), 'step');
    if (Math.trunc(((end - start) * 1e6) / stepNs) > MAX_POINTS) {
      throw new ApiError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    }
    const timeoutMs = timeoutOf(form);
    // Also bounds encoding the answer.
    const deadline = performance.now() + timeoutMs;
    // 2.42's NewRangeQuery errors (parse errors, a range query of a matrix) carry no parameter
    // prefix; 3.x names the query parameter.
    const rangeQueryError = (e: unknown): ApiError =>
      semantics === 'prometheus-2' ? new ApiError('bad_data', (e as Error).message) : invalidParam(e, 'query');
    const timing = newTiming();
    let prepared: PreparedQuery;
    try {
      prepared = engine.prepare(form('query'));
    } catch (e) {
      throw rangeQueryError(e);
    }
    const vt = valueTypeOf(prepared.expr);
    if (vt !== 'scalar' && vt !== 'vector') {
      throw rangeQueryError(new Error(`invalid expression type ${goQuote(documentedType(vt))} for range query, must be Scalar or instant Vector`));
    }
    // The engine works in whole ms, as Prometheus's does (durationMilliseconds truncates); a
    // sub-millisecond step would make Prometheus loop forever, we refuse it.
    const stepMs = Math.trunc(stepNs / 1e6);
    if (stepMs <= 0) throw invalidParam(new Error(NON_POSITIVE_STEP), 'step');
    timing.prepared = performance.now();
    // Sample counts describe an evaluation of the whole range: a query asking for them is not
    // answered from cached pieces.
    const countSamples = form('stats') !== '';
    const cache = countSamples ? undefined : deps.resultsCache;
    if (!cache) {
      const out = await runOnView(c, timeoutMs, timing, (view, signal, left) =>
        engine.execRange(prepared, view.storage, start, end, stepMs, signal, { timeoutMs: left, countSamples, verbatim: verbatimOk(form) }),
      );
      return queryRespond(c, out, deadline, timing, form, start, stepMs);
    }
    // Each piece the cache evaluates gets its own storage view, so its warnings travel with it (to
    // a coalesced twin request too) and are never stored.
    const out = await run(c, timeoutMs, async (signal, left) => {
      timing.admitted = performance.now();
      const until = performance.now() + left;
      const r = await cache.range(prepared, start, end, stepMs, signal, async (from, to) => {
        const view = scoped();
        try {
          const piece = await engine.execRange(prepared, view.storage, from, to, stepMs, signal, { timeoutMs: Math.max(1, until - performance.now()) });
          return withStorageWarnings(piece, view);
        } finally {
          addStorageStats(c, view.stats);
        }
      });
      c.header(CACHE_HEADER, r.outcome);
      return r.out;
    });
    timing.done = performance.now();
    return queryRespond(c, out, deadline, timing, form, start, stepMs);
  };

  const formatQuery = async (c: Context): Promise<Response> => {
    const form = await formOf(c);
    const { expr } = parseQuery(form);
    return respondSuccess(c, goJsonString(formatExpr(expr)));
  };

  app.on(['GET', 'POST'], '/query', instant);
  app.on(['GET', 'POST'], '/query_range', range);
  app.on(['GET', 'POST'], '/format_query', formatQuery);
  app.get('/status/buildinfo', (c) => jsonResponse(c, successBody(buildInfoJson()), 200));
  // Remote read (POST /api/v1/read) over the same storage: Prometheus or another promfront can read from us.
  app.route('/read', createRemoteReadApi({ storage: deps.storage, timeoutMs: maxTimeoutMs }));
  return app;
}
