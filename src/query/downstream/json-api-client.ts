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
//
// Lint: the downstream's answers are JSON of whatever shape a server sends; they are read as `any`
// and every field is checked (typeof, Array.isArray, status) where it is read, so the no-unsafe
// rules are off for this file rather than repeating each check as a type.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-base-to-string */

import { formatDuration } from '../../util/duration.js';
import { Pool, errors as undiciErrors } from 'undici';
import { parse as parseYaml } from 'yaml';
import { echoedForms, isCredentialName } from '../../client/credential-names.js';
import { isTlsFailure } from '../../client/http-client.js';
import { METRIC_NAME, type Label, type LabelMatcher, type Labels } from '../../model/labels.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../../model/time.js';
import {
  type MetricMetadata,
  type MetricMetadataMap,
  type PushdownRequest,
  type PushdownResult,
  type SelectHints,
  type VerbatimData,
  type Series,
  type Storage,
} from '../../storage/interface.js';
import { compareLabels, compareStrings } from '../../model/labels.js';
import { goQuote } from '../../util/go-quote.js';
import { sameMetadata, unionLabelSets } from '../../storage/read.js';
import type { DownstreamEndpoint, DownstreamObserver } from './metrics.js';
import { reportDownstreamWarnings } from './warnings.js';
import { IdentityCache, prometheusMajor, queryFlags, type ServerIdentity } from './server-identity.js';
import { isLegacyLabelName } from '../../model/label-name.js';
import { timedSignal } from '../../util/abort.js';
import { DownstreamApiError, DownstreamError, type DownstreamErrorKind } from '../../errors.js';
import {
  fixedLabels,
  labelNamesWithFixedLabels,
  labelValuesWithFixedLabels,
  selectWithFixedLabels,
  seriesWithFixedLabels,
  type FixedLabels,
} from '../target-labels.js';

export interface JsonApiTargetOptions {
  /** Base URL, e.g. http://host:9090 or http://host/prefix. Userinfo becomes a basic-auth header. */
  url: string;
  /** Bound on each request (connect + headers + body). */
  timeoutMs: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Extra query parameters added to every request (e.g. a tenant id). */
  queryParams?: Record<string, string>;
  /** The server group this target belongs to, for metrics. */
  group?: string;
  /** Told about every request (endpoint, outcome, duration, bytes). */
  observer?: DownstreamObserver;
  /** Connection and authentication settings (a server group's http_client); see http-client.ts. */
  client?: TargetClient;
  /**
   * NaN samples are staleness markers: the downstream keeps no real NaN and writes its stored
   * staleness markers as "NaN" (VictoriaMetrics). Prometheus's range vectors never contain markers.
   */
  nanIsStale?: boolean;
  /**
   * Largest answer body, in bytes (default 512 MiB, as a remote-read SAMPLES answer): the body is
   * read as a stream and the request fails once it passes this, instead of holding any size whole.
   */
  maxResponseBytes?: number;
  /**
   * Keep the downstream's external labels on series (`keep_external_labels`): learnt from its
   * /api/v1/status/config, added to every series read and series and label lookup, and matched here,
   * as remote read keeps them (default false: the JSON API's answer, which has none).
   */
  keepExternalLabels?: boolean;
  /** How long learnt external labels are used before they are asked again (default 60 s). */
  externalLabelsRefreshMs?: number;
}

/** The default bound on a JSON answer's body: the remote-read client's bound on a SAMPLES answer. */
export const DEFAULT_MAX_JSON_RESPONSE_BYTES = 512 * 1024 * 1024;

/** What a target needs from its server group's HTTP client settings (DownstreamClient). */
export interface TargetClient {
  /** The Authorization header to send now and the generation of the TLS material; throws with a safe message. */
  prepare(): Promise<{ authorization: string | undefined; tlsGeneration: number }>;
  /** undici Pool options (TLS, connect timeout) for the current TLS material. */
  poolOptions(): Pool.Options;
  /** Removes the client's secrets from a message. */
  redact(text: string): string;
  /** Builds the pool (e.g. one that signs its requests); a plain Pool when absent. */
  newPool?(origin: string, options: Pool.Options): Pool;
}

const POOL_DEFAULTS: Pool.Options = { keepAliveTimeout: 30_000, connections: 16, pipelining: 1 };

/** A selector for the matchers: `{__name__="x", job=~"a|b"}`; non-identifier names quoted (3.x syntax). */
export function matchersToSelector(matchers: LabelMatcher[]): string {
  const parts = matchers.map((m) => `${isLegacyLabelName(m.name) ? m.name : goQuote(m.name)}${m.type}${goQuote(m.value)}`);
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

/** How a target with this base URL is named in errors: origin and path, no userinfo or query. */
export function targetName(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export class JsonApiTarget implements Storage {
  /** The base URL without userinfo, used in error messages. */
  readonly target: string;
  private pool: Pool;
  private poolGeneration = 0;
  private readonly origin: string;
  private readonly client: TargetClient | undefined;
  private readonly pathPrefix: string;
  private readonly headers: Record<string, string>;
  private readonly queryParams: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly group: string;
  private readonly observer: DownstreamObserver | undefined;
  private readonly nanIsStale: boolean;
  private readonly maxResponseBytes: number;
  /** Credentials this target sends, longest first: cut out of every error, whatever the downstream echoes. */
  private readonly secrets: string[];
  private readonly keepExternalLabels: boolean;
  private readonly externalLabelsRefreshMs: number;
  /** The external labels learnt last, and when. */
  private ext: { labels: Map<string, string>; fixed: FixedLabels | undefined; atMs: number } | undefined;
  private extPending: Promise<Map<string, string>> | undefined;
  /** Failed lookups of the external labels (for tests and /status). */
  readonly externalLabelStats = { lookupErrors: 0 };

  constructor(opts: JsonApiTargetOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported URL scheme ${u.protocol}`);
    this.headers = { accept: 'application/json', ...lowerKeys(opts.headers ?? {}) };
    if ((u.username !== '' || u.password !== '') && this.headers.authorization === undefined) {
      const creds = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      this.headers.authorization = `Basic ${Buffer.from(creds).toString('base64')}`;
    }
    const password = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    this.pathPrefix = u.pathname.replace(/\/+$/, '');
    this.queryParams = { ...Object.fromEntries(u.searchParams), ...(opts.queryParams ?? {}) };
    this.secrets = credentialsOf(this.headers, password, this.queryParams);
    this.target = targetName(opts.url);
    this.timeoutMs = opts.timeoutMs;
    this.group = opts.group ?? '';
    this.observer = opts.observer;
    this.nanIsStale = opts.nanIsStale ?? false;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_JSON_RESPONSE_BYTES;
    this.keepExternalLabels = opts.keepExternalLabels ?? false;
    this.externalLabelsRefreshMs = opts.externalLabelsRefreshMs ?? 60_000;
    this.origin = u.origin;
    this.client = opts.client;
    this.pool = this.newPool();
  }

  private newPool(): Pool {
    const options = { ...POOL_DEFAULTS, ...this.client?.poolOptions() };
    return this.client?.newPool?.(this.origin, options) ?? new Pool(this.origin, options);
  }

  async select(matchers: LabelMatcher[], startMs: number, endMs: number, _hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    const kept = await this.keptExternalLabels(signal);
    if (kept === undefined) return this.selectOwn(matchers, startMs, endMs, signal);
    return selectWithFixedLabels(kept, matchers, (ms) => this.selectOwn(ms, startMs, endMs, signal));
  }

  async labelNames(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const kept = await this.keptExternalLabels(signal);
    if (kept === undefined) return this.labelNamesOwn(matchers, startMs, endMs, signal);
    return labelNamesWithFixedLabels(kept, matchers, (ms) => this.labelNamesOwn(ms, startMs, endMs, signal));
  }

  async labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const kept = await this.keptExternalLabels(signal);
    if (kept === undefined) return this.labelValuesOwn(name, matchers, startMs, endMs, signal);
    return labelValuesWithFixedLabels(
      kept,
      name,
      matchers,
      (ms) => this.labelValuesOwn(name, ms, startMs, endMs, signal),
      (ms) => this.labelNamesOwn(ms, startMs, endMs, signal),
    );
  }

  /** The downstream's own /api/v1/series: label sets only, no samples read or sent. */
  async series(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]> {
    const kept = await this.keptExternalLabels(signal);
    if (kept === undefined) return this.seriesOwn(matchers, startMs, endMs, signal);
    return seriesWithFixedLabels(kept, matchers, (ms) => this.seriesOwn(ms, startMs, endMs, signal));
  }

  /** The external labels to keep on series: undefined unless keepExternalLabels and the server has some. */
  private async keptExternalLabels(signal: AbortSignal | undefined): Promise<FixedLabels | undefined> {
    if (!this.keepExternalLabels) return undefined;
    await this.learntExternalLabels(signal);
    return this.ext?.fixed;
  }

  /** The raw samples of the matching series, as the server's JSON API gives them. */
  private async selectOwn(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Series[]> {
    if (endMs < startMs) return [];
    // Asked at end + 1 ms: VictoriaMetrics before 1.132 (issue #9804) searches its per-day series index
    // only up to the day of (window end - 1 ms), so with a window ending exactly at midnight UTC it
    // misses the series that begin that day. The window still reaches `start` whether it is
    // left-closed or left-open.
    const queryMs = endMs + 1;
    const rangeMs = queryMs - startMs + 1;
    const query = `${matchersToSelector(matchers)}[${rangeMs}ms]`;
    return this.get(
      'query',
      '/api/v1/query',
      [
        ['query', query],
        ['time', secondsParam(queryMs)],
      ],
      signal,
      (data) => parseMatrix(data, startMs, endMs, this.nanIsStale),
    );
  }

  private async labelNamesOwn(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.get('labels', '/api/v1/labels', this.labelParams(matchers, startMs, endMs), signal, stringList);
  }

  private async labelValuesOwn(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const path = `/api/v1/label/${encodeURIComponent(name)}/values`;
    return this.get('label_values', path, this.labelParams(matchers, startMs, endMs), signal, (data) => stringList(data).filter((v) => v !== ''));
  }

  private async seriesOwn(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]> {
    const params: [string, string][] = [['match[]', matchersToSelector(matchers)], ...timeRangeParams(startMs, endMs)];
    return this.get('series', '/api/v1/series', params, signal, parseSeriesList);
  }

  /** The downstream's /api/v1/metadata (metric and limit_per_metric passed on; limit is applied by the caller). */
  async metadata(metric: string | undefined, limitPerMetric: number, signal?: AbortSignal): Promise<MetricMetadataMap> {
    const params: [string, string][] = [];
    if (metric !== undefined && metric !== '') params.push(['metric', metric]);
    if (limitPerMetric > 0) params.push(['limit_per_metric', String(limitPerMetric)]);
    return this.get('metadata', '/api/v1/metadata', params, signal, (data) => parseMetadata(data, limitPerMetric));
  }

  /**
   * The downstream's external labels (`global.external_labels` of its /api/v1/status/config); none
   * when its config has none (a promfront, VictoriaMetrics). Remote read adds them to every series.
   */
  async externalLabels(signal?: AbortSignal): Promise<Map<string, string>> {
    return this.get('status_config', '/api/v1/status/config', [], signal, parseExternalLabels);
  }

  /**
   * The external labels as last learnt: asked once before the first use, then again in the
   * background once older than the refresh interval (a target that comes with discovery is a new
   * client and learns them afresh). A server that answers the lookup with an error (no such
   * endpoint: not a Prometheus) has none; one that cannot be reached fails the caller, as the read
   * itself would; a refresh that fails keeps the last known ones.
   */
  async learntExternalLabels(signal?: AbortSignal): Promise<Map<string, string>> {
    if (this.ext !== undefined) {
      if (Date.now() - this.ext.atMs >= this.externalLabelsRefreshMs && this.extPending === undefined) {
        this.learnExternalLabels(undefined).catch(() => {});
      }
      return this.ext.labels;
    }
    return this.learnExternalLabels(signal);
  }

  private learnExternalLabels(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    if (this.extPending !== undefined) return this.extPending;
    const learnt = (labels: Map<string, string>): Map<string, string> => {
      this.ext = { labels, fixed: fixedLabels(labels), atMs: Date.now() };
      return labels;
    };
    const p = this.externalLabels(signal).then(learnt, (err: unknown) => {
      this.externalLabelStats.lookupErrors++;
      const answered = err instanceof DownstreamError && err.kind !== 'timeout' && err.kind !== 'connection';
      if (!answered && this.ext === undefined) throw err;
      return learnt(this.ext?.labels ?? new Map<string, string>());
    });
    this.extPending = p;
    void p.then(
      () => (this.extPending = undefined),
      () => (this.extPending = undefined),
    );
    return p;
  }

  private readonly identityCache = new IdentityCache(() => this.askIdentity());

  /** Which Prometheus this server is, its lookback delta and sample limit, when it is plainly Prometheus (server-identity.ts). */
  identity(): Promise<ServerIdentity | undefined> {
    return this.identityCache.get();
  }

  private async askIdentity(): Promise<ServerIdentity | undefined> {
    const [build, flags] = await Promise.all([
      this.get('status_buildinfo', '/api/v1/status/buildinfo', [], undefined, prometheusMajor),
      this.get('status_flags', '/api/v1/status/flags', [], undefined, queryFlags),
    ]);
    return build === undefined || flags === undefined ? undefined : { ...build, ...flags };
  }

  /**
   * Evaluates `query` downstream at startMs, startMs+stepMs, ... <= endMs (one instant when stepMs is
   * 0). The step goes as a millisecond duration: Prometheus truncates float seconds to nanoseconds,
   * which would move the steps (4.1 s becomes 4.099999999 s).
   */
  async evaluate(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult> {
    // The server's evaluated answer would lack the external labels kept on series, and its
    // matchers on them would select nothing there: refused, so the engine reads raw data.
    if ((await this.keptExternalLabels(signal)) !== undefined)
      throw this.apiError('bad_data', 'external labels are kept on series (keep_external_labels)', 'api_error');
    const range = req.stepMs > 0;
    const annotations = { warnings: [] as string[], infos: [] as string[] };
    const keep = (warnings: string[], infos: string[]): void => {
      annotations.warnings = warnings;
      annotations.infos = infos;
    };
    let verbatim: VerbatimData | undefined;
    const passOn =
      req.verbatim === undefined
        ? undefined
        : (b: Buffer): boolean => {
            verbatim = verbatimData(b, req);
            return verbatim !== undefined;
          };
    const parse = (data: unknown): PushdownResult => (verbatim !== undefined ? { series: [], verbatim } : { series: parseEvaluated(data, range) });
    const res = range
      ? await this.get(
          'query_range',
          '/api/v1/query_range',
          [
            ['query', req.query],
            ['start', secondsParam(req.startMs)],
            ['end', secondsParam(req.endMs)],
            ['step', `${req.stepMs}ms`],
          ],
          signal,
          parse,
          keep,
          passOn,
        )
      : await this.get(
          'query',
          '/api/v1/query',
          [
            ['query', req.query],
            ['time', secondsParam(req.startMs)],
          ],
          signal,
          parse,
          keep,
          passOn,
        );
    return { ...res, ...annotations };
  }

  /** GET another API path (rules, targets, status, exemplars): the envelope's data and warnings (src/query/fanout-get.ts). */
  async apiGet(
    endpoint: DownstreamEndpoint,
    apiPath: string,
    params: [string, string][],
    signal?: AbortSignal,
  ): Promise<{ data: unknown; warnings: string[] }> {
    let warnings: string[] = [];
    const data = await this.get(
      endpoint,
      apiPath,
      params,
      signal,
      (d) => d,
      (w) => (warnings = w),
    );
    return { data, warnings };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // -------------------------------------------------------------------------------------------

  private labelParams(matchers: LabelMatcher[], startMs: number, endMs: number): [string, string][] {
    const p: [string, string][] = [];
    if (matchers.length > 0) p.push(['match[]', matchersToSelector(matchers)]);
    p.push(...timeRangeParams(startMs, endMs));
    return p;
  }

  /**
   * GET apiPath and parse the envelope's `data`; throws DownstreamError, "invalid response" when
   * `parse` fails. Tells the observer how it went, a bad answer included.
   */
  private async get<T>(
    endpoint: DownstreamEndpoint,
    apiPath: string,
    params: [string, string][],
    signal: AbortSignal | undefined,
    parse: (data: unknown) => T,
    onAnnotations?: (warnings: string[], infos: string[]) => void,
    passOn?: (body: Buffer) => boolean,
  ): Promise<T> {
    const parsed = async (onBytes: (n: number) => void): Promise<T> => {
      const data = await this.request(apiPath, params, signal, onBytes, onAnnotations, passOn);
      try {
        return parse(data);
      } catch (err) {
        throw this.error(`invalid response: ${(err as Error).message}`);
      }
    };
    const observer = this.observer;
    if (observer === undefined) return parsed(() => {});
    const t0 = performance.now();
    let bytes = 0;
    const done = (outcome: 'success' | 'error' | 'timeout' | 'canceled', err?: unknown) => {
      observer.observe({
        group: this.group,
        target: this.target,
        endpoint,
        outcome,
        seconds: (performance.now() - t0) / 1000,
        bytes,
        errorKind: err instanceof DownstreamError ? err.kind : outcome === 'timeout' ? 'timeout' : undefined,
        error: err === undefined ? undefined : err instanceof Error ? err.message : String(err),
      });
    };
    try {
      const data = await parsed((n) => (bytes = n));
      done('success');
      return data;
    } catch (err) {
      done(outcomeOf(err, signal), err);
      throw err;
    }
  }

  /** A DownstreamError whose reason carries none of the secrets this target sends. */
  private error(reason: string, kind?: DownstreamErrorKind): DownstreamError {
    return new DownstreamError(this.target, this.redact(reason), kind);
  }

  /** The downstream answered with a Prometheus error: it understood the request and refused it. */
  private apiError(errorType: string, reason: string, kind: DownstreamErrorKind, httpStatus?: number): DownstreamApiError {
    return new DownstreamApiError(this.target, this.redact(errorType), this.redact(reason), kind, httpStatus);
  }

  /** `text` with every credential this target sends (and its client's secrets) cut out. */
  redact(text: string): string {
    for (const s of this.secrets) if (text.includes(s)) text = text.split(s).join('<secret>');
    return this.client ? this.client.redact(text) : text;
  }

  private async request(
    apiPath: string,
    params: [string, string][],
    signal: AbortSignal | undefined,
    onBytes: (n: number) => void,
    onAnnotations?: (warnings: string[], infos: string[]) => void,
    /**
     * Given a 2xx JSON answer's body as it came, before it is parsed: true when it took the answer
     * as it is (a success without annotations), which is then not parsed (the request returns null).
     */
    passOn?: (body: Buffer) => boolean,
  ): Promise<unknown> {
    const search = new URLSearchParams(Object.entries(this.queryParams));
    for (const [k, v] of params) search.append(k, v);
    const path = `${this.pathPrefix}${apiPath}?${search.toString()}`;

    signal?.throwIfAborted();
    let headers = this.headers;
    let pool = this.pool;
    if (this.client !== undefined) {
      let prepared: { authorization: string | undefined; tlsGeneration: number };
      try {
        prepared = await this.client.prepare();
      } catch (err) {
        throw this.error((err as Error).message);
      }
      if (prepared.authorization !== undefined) headers = { ...headers, authorization: prepared.authorization };
      if (prepared.tlsGeneration !== this.poolGeneration) {
        // New certificates: new connections use them; requests on the old pool finish first.
        const old = this.pool;
        this.pool = this.newPool();
        this.poolGeneration = prepared.tlsGeneration;
        old.close().catch(() => {});
      }
      pool = this.pool;
    }
    // One controller per request, aborted by its own timer or by the caller's signal (timedSignal).
    const timed = timedSignal(signal, this.timeoutMs, 'downstream request timed out');

    let status: number;
    let contentType: string;
    let raw: Buffer | undefined;
    let tooLarge = false;
    try {
      const res = await pool.request({ method: 'GET', path, headers, signal: timed.signal });
      status = res.statusCode;
      const ct = res.headers['content-type'];
      contentType = (Array.isArray(ct) ? ct[0] : ct) ?? '';
      const pieces: Buffer[] = [];
      let size = 0;
      for await (const piece of res.body as AsyncIterable<Buffer>) {
        size += piece.length;
        if (size > this.maxResponseBytes) {
          tooLarge = true;
          res.body.destroy();
          break;
        }
        pieces.push(piece);
      }
      onBytes(size);
      raw = tooLarge ? undefined : Buffer.concat(pieces, size);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timed.timedOut()) throw this.error(`timeout after ${formatDuration(this.timeoutMs)}`, 'timeout');
      throw this.error(`request failed: ${describeError(err)}`, 'connection');
    } finally {
      timed.end();
    }
    if (tooLarge) throw this.error(`response body larger than the limit of ${this.maxResponseBytes} bytes`, 'invalid_response');

    const mediaType = contentType.split(';')[0].trim().toLowerCase();
    const isJson = mediaType === 'application/json' || mediaType.endsWith('+json');
    if (passOn !== undefined && raw !== undefined && isJson && status >= 200 && status <= 299 && passOn(raw)) {
      onAnnotations?.([], []);
      return null;
    }
    const text = raw?.toString('utf8') ?? '';
    let body: any;
    if (isJson) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        // V8's message quotes a piece of the text, which may hold part of an echoed credential:
        // describe the text with the credentials cut out instead.
        const reason = jsonParseError(this.redact(text)) ?? (err as Error).message;
        throw this.error(`HTTP ${status}: invalid JSON: ${reason}`, status < 200 || status > 299 ? 'http_status' : 'invalid_response');
      }
    }
    if (status < 200 || status > 299) {
      if (body !== undefined && typeof body === 'object' && body !== null && body.status === 'error') {
        throw this.apiError(String(body.errorType ?? 'error'), `HTTP ${status}: ${body.errorType ?? 'error'}: ${body.error ?? ''}`, 'http_status', status);
      }
      // A plain-text error body (e.g. "Unauthorized" from Prometheus's web config) says what is wrong.
      const detail =
        isJson || (mediaType === 'text/plain' && text.trim() !== '') ? snippet(this.redact(text)) : `unexpected content type ${mediaType || '(none)'}`;
      throw this.error(`HTTP ${status}: ${detail}`, 'http_status');
    }
    if (!isJson) throw this.error(`unexpected content type ${mediaType || '(none)'}`);
    if (typeof body !== 'object' || body === null) throw this.error('invalid response: not a JSON object');
    if (body.status !== 'success') {
      throw this.apiError(
        String(body.errorType ?? 'error'),
        `${body.errorType ?? 'error'}: ${body.error ?? `status ${JSON.stringify(body.status)}`}`,
        'api_error',
      );
    }
    const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((v): v is string => typeof v === 'string') : []);
    // Raw reads pass the downstream's warnings to the fan-out; pushdown returns them with its answer.
    if (onAnnotations !== undefined) onAnnotations(strings(body.warnings), strings(body.infos));
    // A downstream may echo the request (and so our credentials) in a warning, as in an error.
    else reportDownstreamWarnings(strings(body.warnings).map((w) => this.redact(w)));
    return body.data;
  }
}

/**
 * start/end parameters for [startMs, endMs]; a bound at or past Prometheus's open-range default is
 * left out, so the downstream applies its own default instead of parsing a year-292-million date.
 */
function timeRangeParams(startMs: number, endMs: number): [string, string][] {
  const p: [string, string][] = [];
  if (startMs > MIN_TIME_MS) p.push(['start', secondsParam(startMs)]);
  if (endMs < MAX_TIME_MS) p.push(['end', secondsParam(endMs)]);
  return p;
}

/** success, or how a request failed: a caller's abort is canceled unless it was a deadline. */
function outcomeOf(err: unknown, signal: AbortSignal | undefined): 'error' | 'timeout' | 'canceled' {
  if (err instanceof DownstreamError) return err.kind === 'timeout' ? 'timeout' : 'error';
  if (signal?.aborted && err === signal.reason) {
    // The fan-out's group deadline aborts with an Error saying "timeout after ...".
    const e = err as { name?: string; message?: string } | undefined;
    if (e?.name === 'TimeoutError' || /^timeout\b/.test(e?.message ?? '')) return 'timeout';
    return 'canceled';
  }
  return 'error';
}

/** Parses a /labels or /label/:name/values answer: a sorted list of strings. */
function stringList(data: unknown): string[] {
  if (!Array.isArray(data) || data.some((x) => typeof x !== 'string')) throw new Error('data is not a list of strings');
  return [...(data as string[])].sort(compareStrings);
}

/** Parses /api/v1/series data (a list of label objects) into sorted, distinct label sets. */
export function parseSeriesList(data: unknown): Labels[] {
  if (!Array.isArray(data)) throw new Error('data is not a list');
  const out: Labels[] = [];
  for (const r of data) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error('series is not an object');
    const labels: Label[] = [];
    for (const [name, value] of Object.entries(r as Record<string, unknown>)) {
      if (typeof value !== 'string') throw new Error(`label ${name} is not a string`);
      if (value !== '') labels.push({ name, value });
    }
    labels.sort((x, y) => compareStrings(x.name, y.name));
    out.push(labels);
  }
  // Prometheus sends one match[]'s series in storage order, which need not be label order.
  return unionLabelSets([out.sort(compareLabels)]);
}

/** Parses /api/v1/metadata data ({name: [{type, help, unit}]}), entries distinct per name. */
export function parseMetadata(data: unknown, limitPerMetric: number): MetricMetadataMap {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('data is not an object');
  const out: MetricMetadataMap = new Map();
  for (const [name, list] of Object.entries(data as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new Error(`metadata of ${JSON.stringify(name)} is not a list`);
    const entries: MetricMetadata[] = [];
    for (const m of list) {
      if (typeof m !== 'object' || m === null) throw new Error(`metadata of ${JSON.stringify(name)} is not an object`);
      const { type, help, unit } = m as Record<string, unknown>;
      if (typeof type !== 'string' || typeof help !== 'string' || (unit !== undefined && typeof unit !== 'string')) {
        throw new Error(`metadata of ${JSON.stringify(name)} has a field that is not a string`);
      }
      const e = { type, help, unit: unit ?? '' };
      if (limitPerMetric > 0 && entries.length >= limitPerMetric) break;
      if (!entries.some((x) => sameMetadata(x, e))) entries.push(e);
    }
    out.set(name, entries);
  }
  return out;
}

/**
 * The values of credential-bearing headers (also without their scheme, e.g. the token of "Bearer x"),
 * a URL password, and credential-named query parameters in the forms an echoed URL carries them.
 */
function credentialsOf(headers: Record<string, string>, password: string, queryParams: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!isCredentialName(name)) continue;
    out.add(value.trim());
    const m = /^\S+\s+(.+)$/.exec(value.trim());
    if (m) out.add(m[1].trim());
  }
  out.add(password);
  // A token in query_params travels in the URL, which downstreams echo in their errors, encoded.
  for (const [name, value] of Object.entries(queryParams)) {
    if (isCredentialName(name)) for (const form of echoedForms(value)) out.add(form);
  }
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
    if (isTlsFailure(e.code)) return `TLS handshake failed: ${msg} (${e.code})`;
    return msg;
  }
  return String(err);
}

/** Parses `{resultType: "matrix", result: [{metric, values}]}` into sorted Series within [startMs, endMs]. */
export function parseMatrix(data: any, startMs: number, endMs: number, nanIsStale = false): Series[] {
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
    let stale: Uint8Array | undefined;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const p = values[i];
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number') throw new Error('malformed sample');
      const t = Math.round(p[0] * 1000);
      if (t < startMs || t > endMs) continue;
      ts[k] = t;
      vs[k] = parseSampleValue(p[1]);
      if (nanIsStale && Number.isNaN(vs[k])) (stale ??= new Uint8Array(n))[k] = 1;
      k++;
    }
    if (k === 0) continue;
    const series: Series = { labels, timestamps: k === n ? ts : ts.slice(0, k), values: k === n ? vs : vs.slice(0, k) };
    if (stale !== undefined) series.stale = k === n ? stale : stale.slice(0, k);
    out.push(series);
  }
  out.sort((a, b) => compareLabels(a.labels, b.labels));
  return out;
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
    const points: unknown[] = range ? (r?.values ?? []) : [r?.value];
    if (!Array.isArray(points)) throw new Error('values is not a list');
    const timestamps = new Float64Array(points.length);
    const values = new Float64Array(points.length);
    points.forEach((p, i) => {
      [timestamps[i], values[i]] = parsePoint(p);
    });
    return { labels: parseMetric(r?.metric), timestamps, values };
  });
}

/** Prometheus's success envelope up to the value of its `data` member, as its JSON API writes it. */
const SUCCESS_PREFIX = Buffer.from('{"status":"success","data":');
const VECTOR_HEAD = Buffer.from('{"status":"success","data":{"resultType":"vector","result":[');
const MATRIX_HEAD = Buffer.from('{"status":"success","data":{"resultType":"matrix","result":[');
const METRIC_OPEN = Buffer.from('{"metric":{');
const VALUE_OPEN = Buffer.from(',"value":');
const VALUES_OPEN = Buffer.from(',"values":[');
const [QUOTE, COMMA, COLON, OPEN_LIST, CLOSE_LIST, CLOSE_OBJECT, DOT, MINUS] = [0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7d, 0x2e, 0x2d];

/** Characters of a sample value's text: digits, sign, point, exponent, NaN, +Inf, -Inf. */
const VALUE_CHAR = new Uint8Array(256);
for (const ch of '0123456789+-.eNaInf') VALUE_CHAR[ch.charCodeAt(0)] = 1;
/**
 * Label text taken without decoding questions: printable ASCII that JSON and Go's HTML-safe
 * encoder (goJsonString) both write as is. Anything else (an escape, <, >, &, non-ASCII) is left
 * to the parsed path, which writes it our way.
 */
const PLAIN_LABEL_CHAR = new Uint8Array(256);
for (let c = 0x20; c < 0x7f; c++) PLAIN_LABEL_CHAR[c] = 1;
for (const ch of '"\\<>&') PLAIN_LABEL_CHAR[ch.charCodeAt(0)] = 0;

/**
 * The `data` bytes of a whole query's answer `body`, when they are byte for byte what the engine
 * would write for the series they hold; read from the bytes, without JSON.parse (which costs more
 * than the rest of a large answer's way through here). That holds for Prometheus's compact
 * envelope with nothing but `status` and `data`; every series with at least one point, all at steps
 * of the request, in time order, timestamps written as jsonutil.MarshalTimestamp writes them;
 * labels in name order, none empty, in plain ASCII; and the series in label order when the request
 * says the engine would sort them. A value's text is taken as written (its characters checked): a
 * server that passed the identity check is Prometheus, whose shortest round-trip formatting ours
 * follows. Undefined when anything differs: the answer is then parsed and encoded as usual (which
 * also gives its errors).
 */
export function verbatimData(body: Buffer, req: PushdownRequest): VerbatimData | undefined {
  const range = req.stepMs > 0;
  const head = range ? MATRIX_HEAD : VECTOR_HEAD;
  if (body.length < head.length + 3 || !body.subarray(0, head.length).equals(head)) return undefined;
  const b = body;
  let i = head.length;
  const at = (bytes: Buffer): boolean => {
    if (i + bytes.length > b.length || b.compare(bytes, 0, bytes.length, i, i + bytes.length) !== 0) return false;
    i += bytes.length;
    return true;
  };
  /** A label name or value: its text, or undefined when not plain (see PLAIN_LABEL_CHAR). */
  const label = (): string | undefined => {
    if (b[i] !== QUOTE) return undefined;
    const from = ++i;
    while (i < b.length && PLAIN_LABEL_CHAR[b[i]] === 1) i++;
    if (i === from || b[i] !== QUOTE) return undefined;
    const text = b.toString('latin1', from, i);
    i++;
    return text;
  };
  let prev: Labels | undefined;
  let series = 0;
  let points = 0;
  while (b[i] !== CLOSE_LIST) {
    if (series > 0 && b[i++] !== COMMA) return undefined;
    if (!at(METRIC_OPEN)) return undefined;
    const labels: Label[] = [];
    while (b[i] !== CLOSE_OBJECT) {
      if (labels.length > 0 && b[i++] !== COMMA) return undefined;
      const name = label();
      if (name === undefined || b[i++] !== COLON) return undefined;
      const value = label();
      if (value === undefined) return undefined;
      if (labels.length > 0 && compareStrings(labels[labels.length - 1].name, name) >= 0) return undefined;
      labels.push({ name, value });
      if (i >= b.length) return undefined;
    }
    i++;
    if (req.verbatim === 'sorted' && prev !== undefined && compareLabels(prev, labels) >= 0) return undefined;
    prev = labels;
    if (!at(range ? VALUES_OPEN : VALUE_OPEN)) return undefined;
    let last = -Infinity;
    let n = 0;
    do {
      if (n > 0 && b[i++] !== COMMA) return undefined;
      if (b[i++] !== OPEN_LIST) return undefined;
      const t = readTimestamp(b, i);
      if (t === undefined) return undefined;
      i = t.end;
      if (t.ms <= last || !(range ? t.ms >= req.startMs && t.ms <= req.endMs && (t.ms - req.startMs) % req.stepMs === 0 : t.ms === req.startMs)) {
        return undefined;
      }
      last = t.ms;
      if (b[i++] !== COMMA || b[i++] !== QUOTE) return undefined;
      const from = i;
      while (i < b.length && VALUE_CHAR[b[i]] === 1) i++;
      if (i === from || b[i++] !== QUOTE || b[i++] !== CLOSE_LIST) return undefined;
      n++;
    } while (range && b[i] !== CLOSE_LIST);
    if (range) i++;
    if (b[i++] !== CLOSE_OBJECT) return undefined;
    series++;
    points += n;
    if (i >= b.length) return undefined;
  }
  // The result list, `data` and the envelope end, and nothing follows (no warnings, no infos).
  if (i + 3 !== b.length || b[i + 1] !== CLOSE_OBJECT || b[i + 2] !== CLOSE_OBJECT) return undefined;
  return { data: b.subarray(SUCCESS_PREFIX.length, b.length - 1), series, points };
}

/**
 * A timestamp at `from` as jsonutil.MarshalTimestamp writes one (and formatTimestamp in the query
 * API): seconds without leading zeros, then a point and three digits when not whole. In ms.
 */
function readTimestamp(b: Buffer, from: number): { ms: number; end: number } | undefined {
  let i = from;
  const negative = b[i] === MINUS;
  if (negative) i++;
  const digits = i;
  let seconds = 0;
  while (b[i] >= 0x30 && b[i] <= 0x39) seconds = seconds * 10 + (b[i++] - 0x30);
  if (i === digits || (b[digits] === 0x30 && i - digits > 1)) return undefined;
  let ms = seconds * 1000;
  if (b[i] === DOT) {
    let frac = 0;
    for (let k = 1; k <= 3; k++) {
      const d = b[i + k];
      if (!(d >= 0x30 && d <= 0x39)) return undefined;
      frac = frac * 10 + (d - 0x30);
    }
    if (frac === 0) return undefined;
    ms += frac;
    i += 4;
  } else if (negative && seconds === 0) return undefined;
  if (!Number.isSafeInteger(ms)) return undefined;
  return { ms: negative ? -ms : ms, end: i };
}

/** `global.external_labels` of a /api/v1/status/config answer's YAML (empty values dropped, as Prometheus does). */
export function parseExternalLabels(data: unknown): Map<string, string> {
  const yamlText = (data as { yaml?: unknown } | null)?.yaml;
  if (typeof yamlText !== 'string') throw new Error('status/config: no "yaml" string');
  const doc = parseYaml(yamlText) as { global?: { external_labels?: unknown } } | null;
  const ext = doc?.global?.external_labels;
  const out = new Map<string, string>();
  if (ext === undefined || ext === null) return out;
  if (typeof ext !== 'object' || Array.isArray(ext)) throw new Error('status/config: global.external_labels is not a map');
  for (const [k, v] of Object.entries(ext as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new Error(`status/config: external label ${JSON.stringify(k)} is not a string`);
    if (v !== '') out.set(k, v);
  }
  return out;
}
