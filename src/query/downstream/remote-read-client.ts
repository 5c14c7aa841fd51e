// Reading raw samples from a downstream server through Prometheus's remote-read protocol
// (POST <base>/api/v1/read, snappy-compressed protobuf ReadRequest).
//
// The request asks for STREAMED_XOR_CHUNKS first and SAMPLES second, as Prometheus's own client
// does since it learnt streaming; servers that only know SAMPLES (Prometheus before 2.13, many
// remote storages) answer with a snappy ReadResponse. Streamed answers are decoded frame by frame
// as they arrive. Unlike the JSON API, remote read carries staleness markers: they come back as the
// Series' `stale` flags.
//
// Streamed answers hold whole TSDB chunks, which may reach outside [start, end] and, in principle,
// overlap one another; samples are filtered to the window and overlapping ones merged by time.
//
// labelNames / labelValues are not part of remote read: they go through the JSON API.
//
// External labels: Prometheus's remote-read handler adds its `external_labels` to every series it
// sends (the series' own value wins) and turns an equality matcher naming an external label and its
// value into `name=""`. Its JSON API does neither. The answer is first made the JSON API's: the
// target's external labels are learnt from its /api/v1/status/config (JsonApiTarget, refreshed
// every externalLabelsRefreshMs), removed from the series that come back, and an equality matcher
// the handler would rewrite is sent as the equivalent anchored regex, which it passes on untouched.
// With keepExternalLabels they are then added back as the JSON-API client adds them, so both
// transports give the same answer (see docs/merge-rules.md#external-labels).

import { Pool } from 'undici';
import { formatDuration } from '../../util/duration.js';
import type { Label, LabelMatcher, Labels } from '../../model/labels.js';
import type { DownstreamObserver } from './metrics.js';
import { METRIC_NAME } from '../../model/labels.js';
import { type MetricMetadataMap, type PushdownRequest, type PushdownResult, type SelectHints, type Series, type Storage } from '../../storage/interface.js';
import { compareLabels, normalizeLabels } from '../../model/labels.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameReader } from '../../remote/framing.js';
import {
  ChunkEncoding,
  decodeChunkedReadResponse,
  decodeReadResponse,
  encodeReadRequest,
  MatcherType,
  ResponseType,
  STALE_NAN_HI,
  STALE_NAN_LO,
  valueBits,
  type PbLabelMatcher,
  type ReadHints,
} from '../../remote/prompb.js';
import { SnappyCompressor, snappyDecompress } from '../../remote/snappy.js';
import { timedSignal } from '../../util/abort.js';
import { decodeXorChunkInto } from '../../remote/xor-chunk.js';
import { SampleArena } from '../../util/sample-arena.js';
import { JsonApiTarget, type JsonApiTargetOptions, type TargetClient } from './json-api-client.js';
import { DownstreamError } from '../../errors.js';
import { decodeWarningsHeader, reportDownstreamWarnings, WARNINGS_HEADER } from './warnings.js';
import { InvalidResponse, RemoteReadUnsupported } from '../../errors.js';
import type { ServerIdentity } from './server-identity.js';
import { fixedLabels, selectWithFixedLabels } from '../target-labels.js';

export const DEFAULT_REMOTE_READ_PATH = '/api/v1/read';
/** Default bound of a SAMPLES answer, both as received and decompressed. */
export const DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

export const CONTENT_TYPE_PROTOBUF = 'application/x-protobuf';

export interface RemoteReadTargetOptions extends JsonApiTargetOptions {
  /** Path of the remote-read endpoint below the base URL; default /api/v1/read. */
  remoteReadPath?: string;
  /** Largest frame of a streamed answer (default 50 MB, Prometheus's client default). */
  maxFrameBytes?: number;
  /** Largest SAMPLES answer, compressed and decompressed (default 512 MiB). */
  maxResponseBytes?: number;
  /** The answers asked for, in order of preference; default streamed, then samples. */
  responseKinds?: ResponseKind[];
  /**
   * Read through the JSON API from then on when the server turns out not to serve remote read
   * (it answers 400, 404, 405, 415 or 501, or 2xx with another content type): "where the target
   * supports it". Default false: every failure is an error.
   */
  fallbackToJson?: boolean;
  /** Keep the downstream's external labels on remote-read series, as it sends them (default false). */
  keepExternalLabels?: boolean;
  /** How long learnt external labels are used before they are asked again (default 60 s). */
  externalLabelsRefreshMs?: number;
}

export type ResponseKind = 'streamed' | 'samples';

const MATCH_TYPES: Record<LabelMatcher['type'], number> = {
  '=': MatcherType.EQ,
  '!=': MatcherType.NEQ,
  '=~': MatcherType.RE,
  '!~': MatcherType.NRE,
};

const UNSUPPORTED_STATUS = new Set([400, 404, 405, 415, 501]);

/**
 * One compressor for every request of this thread: its 64 KiB hash table is then allocated once,
 * not per read (the request body itself is a few hundred bytes, copied out of its buffer).
 */
const requestCompressor = new SnappyCompressor();

export class RemoteReadTarget implements Storage {
  /** The base URL without userinfo, used in error messages. */
  readonly target: string;
  /** How many answers of each kind came back, for tests and diagnostics. */
  readonly responses: Record<ResponseKind, number> = { streamed: 0, samples: 0 };
  lastResponseKind: ResponseKind | undefined;

  private readonly json: JsonApiTarget;
  private readonly client: TargetClient | undefined;
  private readonly group: string;
  private readonly observer: DownstreamObserver | undefined;
  /** Response body bytes read so far, for the metrics. */
  private bytesRead = 0;
  private readonly fallbackToJson: boolean;
  private fallbackReason: string | undefined;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxResponseBytes: number;
  private readonly accepted: number[];
  private readonly keepExternalLabels: boolean;
  /** Answers whose series lost the external labels the handler added. */
  private stripped = 0;

  constructor(opts: RemoteReadTargetOptions) {
    this.json = new JsonApiTarget(opts);
    this.target = this.json.target;
    const u = new URL(opts.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
    if ((u.username !== '' || u.password !== '') && headers.authorization === undefined) {
      const creds = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      headers.authorization = `Basic ${Buffer.from(creds).toString('base64')}`;
    }
    this.headers = {
      ...headers,
      'content-type': CONTENT_TYPE_PROTOBUF,
      'content-encoding': 'snappy',
      'accept-encoding': 'snappy',
      'x-prometheus-remote-read-version': '0.1.0',
    };
    let readPath = opts.remoteReadPath ?? DEFAULT_REMOTE_READ_PATH;
    if (!readPath.startsWith('/')) readPath = `/${readPath}`;
    const params = new URLSearchParams({ ...Object.fromEntries(u.searchParams), ...(opts.queryParams ?? {}) });
    const query = params.toString();
    this.path = `${u.pathname.replace(/\/+$/, '')}${readPath}${query === '' ? '' : `?${query}`}`;
    this.timeoutMs = opts.timeoutMs;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const kinds = opts.responseKinds ?? ['streamed', 'samples'];
    if (kinds.length === 0) throw new Error('responseKinds must not be empty');
    this.accepted = kinds.map((k) => (k === 'streamed' ? ResponseType.STREAMED_XOR_CHUNKS : ResponseType.SAMPLES));
    this.client = opts.client;
    this.fallbackToJson = opts.fallbackToJson ?? false;
    this.keepExternalLabels = opts.keepExternalLabels ?? false;
    this.group = opts.group ?? '';
    this.observer = opts.observer;
    // TLS material is read when the target is built; a rotated certificate reaches remote reads on
    // the next rebuild (a reload), while the JSON-API side picks it up at once.
    const poolOptions = { keepAliveTimeout: 30_000, connections: 16, pipelining: 1, ...opts.client?.poolOptions() };
    this.pool = opts.client?.newPool?.(u.origin, poolOptions) ?? new Pool(u.origin, poolOptions);
  }

  /** Why this target reads through the JSON API instead (fallbackToJson), once it found out. */
  get fellBackBecause(): string | undefined {
    return this.fallbackReason;
  }

  async select(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    if (this.fallbackReason !== undefined) return this.json.select(matchers, startMs, endMs, hints, signal);
    try {
      return await this.observedRead(matchers, startMs, endMs, hints, signal);
    } catch (err) {
      if (!this.fallbackToJson || !(err instanceof RemoteReadUnsupported)) throw err;
      this.fallbackReason = err.message;
      return this.json.select(matchers, startMs, endMs, hints, signal);
    }
  }

  /** A remote read, told to the metrics observer (endpoint "read") like every JSON-API request. */
  private async observedRead(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    const observer = this.observer;
    if (observer === undefined) return this.read(matchers, startMs, endMs, hints, signal);
    const t0 = performance.now();
    const bytes = this.bytesRead;
    const done = (outcome: 'success' | 'error' | 'timeout' | 'canceled', err?: unknown): void => {
      // Whatever else was thrown is printed the way JavaScript prints it.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      const message = err instanceof Error ? err.message : err === undefined ? undefined : String(err);
      observer.observe({
        group: this.group,
        target: this.target,
        endpoint: 'read',
        outcome,
        seconds: (performance.now() - t0) / 1000,
        bytes: this.bytesRead - bytes,
        errorKind: outcome === 'success' ? undefined : outcome === 'timeout' ? 'timeout' : err instanceof DownstreamError ? err.kind : undefined,
        error: message,
      });
    };
    try {
      const out = await this.read(matchers, startMs, endMs, hints, signal);
      done('success');
      return out;
    } catch (err) {
      const timedOut = err instanceof DownstreamError && /timeout after/.test(err.message);
      done(signal?.aborted && err === signal.reason ? 'canceled' : timedOut ? 'timeout' : 'error', err);
      throw err;
    }
  }

  /** The target's external labels, learnt and refreshed by its JSON-API client (JsonApiTarget.learntExternalLabels). */
  externalLabels(signal?: AbortSignal): Promise<Map<string, string>> {
    return this.json.learntExternalLabels(signal);
  }

  /** Answers whose series lost external labels, and failed lookups of them (for tests and /status). */
  get externalLabelStats(): { stripped: number; lookupErrors: number } {
    return { stripped: this.stripped, lookupErrors: this.json.externalLabelStats.lookupErrors };
  }

  private async read(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    if (endMs < startMs) return [];
    const ext = await this.externalLabels(signal);
    if (ext.size === 0) return this.readRaw(matchers, startMs, endMs, hints, signal);
    const own = async (ms: LabelMatcher[]): Promise<Series[]> =>
      stripExternalLabels(await this.readRaw(asJsonApiMatchers(ms, ext), startMs, endMs, hints, signal), ext, () => this.stripped++);
    // Kept, they are added back by the JSON API's rules (target-labels.ts), so that matchers on
    // them select what they select over the JSON API: the handler's own labelling would let
    // `site!="lab"` through on every series it then labels site="lab".
    const kept = this.keepExternalLabels ? fixedLabels(ext) : undefined;
    return kept === undefined ? own(matchers) : selectWithFixedLabels(kept, matchers, own);
  }

  private async readRaw(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    let headers = this.headers;
    if (this.client !== undefined) {
      try {
        const prepared = await this.client.prepare();
        if (prepared.authorization !== undefined) headers = { ...headers, authorization: prepared.authorization };
      } catch (err) {
        throw new DownstreamError(this.target, this.client.redact((err as Error).message));
      }
    }
    const body = requestCompressor
      .compress(
        encodeReadRequest({
          queries: [{ startTimestampMs: startMs, endTimestampMs: endMs, matchers: toPbMatchers(matchers), hints: toReadHints(hints, startMs, endMs) }],
          acceptedResponseTypes: this.accepted,
        }),
      )
      .slice();

    signal?.throwIfAborted();
    // One controller ended by our timeout or the caller's signal, for the request and its body.
    const timed = timedSignal(signal, this.timeoutMs, 'The operation was aborted due to timeout');
    try {
      return await this.exchange(body, headers, timed.signal, signal, timed.timedOut, startMs, endMs);
    } finally {
      timed.end();
    }
  }

  /** The request and its answer, under `combined` (the caller's signal or our timeout). */
  private async exchange(
    body: Uint8Array,
    headers: Record<string, string>,
    combined: AbortSignal,
    signal: AbortSignal | undefined,
    timedOut: () => boolean,
    startMs: number,
    endMs: number,
  ): Promise<Series[]> {
    const fail = (err: unknown): never => {
      if (signal?.aborted) throw signal.reason;
      if (timedOut()) throw new DownstreamError(this.target, `remote read: timeout after ${formatDuration(this.timeoutMs)}`, 'timeout');
      // A downstream may echo our credentials back in its error body: they are cut out here.
      const safe = (reason: string) => this.json.redact(reason);
      if (err instanceof RemoteReadUnsupported) throw new RemoteReadUnsupported(this.target, safe(err.message.slice(this.target.length + 2)), err.kind);
      if (err instanceof DownstreamError) throw new DownstreamError(this.target, safe(err.message.slice(this.target.length + 2)), err.kind);
      if (err instanceof InvalidResponse) throw new DownstreamError(this.target, safe(`remote read: invalid response: ${err.message}`));
      throw new DownstreamError(this.target, safe(`remote read: request failed: ${describeError(err)}`), 'connection');
    };

    let res: Awaited<ReturnType<Pool['request']>>;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await this.pool.request({ method: 'POST', path: this.path, headers, body, signal: combined });
        break;
      } catch (err) {
        // A kept-alive connection the server closed just as we reused it (its idle timer and our
        // request crossed, more likely after we spent seconds decoding the previous answer): a
        // read has no side effects, so it is sent once more on a fresh connection.
        if (attempt === 1 && !combined.aborted && isStaleConnection(err)) continue;
        return fail(err);
      }
    }
    try {
      const ct = res.headers['content-type'];
      const contentType = (Array.isArray(ct) ? ct[0] : ct) ?? '';
      if (res.statusCode < 200 || res.statusCode > 299) {
        const text = await readText(res.body, 4096);
        const E = UNSUPPORTED_STATUS.has(res.statusCode) ? RemoteReadUnsupported : DownstreamError;
        throw new E(this.target, `remote read: HTTP ${res.statusCode}: ${snippet(text) || '(empty body)'}`, 'http_status');
      }
      const carried = res.headers[WARNINGS_HEADER];
      if (typeof carried === 'string') reportDownstreamWarnings(decodeWarningsHeader(carried).map((w) => this.json.redact(w)));
      const kind = responseKind(contentType);
      if (kind === undefined) {
        await res.body.dump();
        throw new RemoteReadUnsupported(this.target, `remote read: unexpected content type ${JSON.stringify(contentType || '(none)')}`);
      }
      const out = kind === 'streamed' ? await this.readStreamed(res.body, startMs, endMs) : await this.readSamples(res.body, startMs, endMs);
      this.responses[kind]++;
      this.lastResponseKind = kind;
      return out;
    } catch (err) {
      res.body.destroy();
      return fail(err);
    }
  }

  labelNames(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.json.labelNames(matchers, startMs, endMs, signal);
  }

  labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.json.labelValues(name, matchers, startMs, endMs, signal);
  }

  series(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]> {
    return this.json.series(matchers, startMs, endMs, signal);
  }

  metadata(metric: string | undefined, limitPerMetric: number, signal?: AbortSignal): Promise<MetricMetadataMap> {
    return this.json.metadata(metric, limitPerMetric, signal);
  }

  /** True while raw samples come through remote read (not after a fallback to the JSON API). */
  readsBinarySamples(): boolean {
    return this.fallbackReason === undefined;
  }

  /** Which Prometheus the server is (JsonApiTarget.identity). */
  identity(): Promise<ServerIdentity | undefined> {
    return this.json.identity();
  }

  /** PromQL evaluated by the server itself (pushdown) goes through its JSON API. */
  evaluate(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult> {
    return this.json.evaluate(req, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.json.close()]);
  }

  // -------------------------------------------------------------------------------------------

  private async readStreamed(body: AsyncIterable<Uint8Array>, startMs: number, endMs: number): Promise<Series[]> {
    const frames = new FrameReader(this.maxFrameBytes);
    const acc = new SeriesAccumulator(startMs, endMs);
    try {
      for await (const piece of body) {
        this.bytesRead += piece.length;
        for (const frame of frames.push(piece)) {
          const msg = decodeChunkedReadResponse(frame);
          if (msg.queryIndex !== 0) throw new InvalidResponse(`frame ${frames.frames} answers query ${msg.queryIndex}, only query 0 was asked`);
          for (const cs of msg.chunkedSeries) {
            acc.startSeries(cs.labels);
            for (const c of cs.chunks) {
              if (c.type !== ChunkEncoding.XOR) {
                throw new InvalidResponse(
                  c.type === ChunkEncoding.HISTOGRAM || c.type === ChunkEncoding.FLOAT_HISTOGRAM
                    ? `native histograms are not supported (series ${seriesName(cs.labels)})`
                    : `unknown chunk encoding ${c.type}`,
                );
              }
              // Chunks wholly outside the window need no decoding.
              if (c.maxTimeMs < startMs || c.minTimeMs > endMs) continue;
              acc.addChunk(c.data);
            }
          }
        }
      }
      frames.finish();
    } catch (err) {
      if (err instanceof Error && isCodecError(err)) throw new InvalidResponse(err.message);
      throw err;
    }
    return acc.finish();
  }

  private async readSamples(body: AsyncIterable<Uint8Array>, startMs: number, endMs: number): Promise<Series[]> {
    const pieces: Uint8Array[] = [];
    let size = 0;
    for await (const piece of body) {
      this.bytesRead += piece.length;
      size += piece.length;
      if (size > this.maxResponseBytes) throw new InvalidResponse(`SAMPLES answer larger than ${this.maxResponseBytes} bytes`);
      pieces.push(piece);
    }
    let resp;
    try {
      resp = decodeReadResponse(snappyDecompress(Buffer.concat(pieces, size), this.maxResponseBytes));
    } catch (err) {
      if (err instanceof Error && isCodecError(err)) throw new InvalidResponse(err.message);
      throw err;
    }
    if (resp.results.length !== 1) throw new InvalidResponse(`${resp.results.length} query results for 1 query`);
    const acc = new SeriesAccumulator(startMs, endMs);
    for (const ts of resp.results[0].timeseries) {
      if (ts.histograms > 0) throw new InvalidResponse(`native histograms are not supported (series ${seriesName(ts.labels)})`);
      acc.startSeries(ts.labels);
      acc.add(ts.timestamps, ts.values);
    }
    return acc.finish();
  }
}

/**
 * Matchers that select through Prometheus's remote-read handler what they select through its JSON
 * API: the handler turns `name="value"` into `name=""` when name and value are an external label's,
 * so that one goes as `name=~"value"` (quoted), which it leaves alone and which matches the same.
 */
export function asJsonApiMatchers(matchers: LabelMatcher[], ext: ReadonlyMap<string, string>): LabelMatcher[] {
  let out: LabelMatcher[] | undefined;
  matchers.forEach((m, i) => {
    if (m.type !== '=' || ext.get(m.name) !== m.value) return;
    out ??= matchers.slice();
    out[i] = { ...m, type: '=~', value: quoteMeta(m.value) };
  });
  return out ?? matchers;
}

/** Go's regexp.QuoteMeta: the regex that matches exactly `s`. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * The series without the labels the handler added: a label named as an external label and holding
 * its value is taken for the added one (a series stored with that very label and value looks the
 * same and loses it too). Sorted again: removing a label can change the order.
 */
export function stripExternalLabels(series: Series[], ext: ReadonlyMap<string, string>, onStripped?: () => void): Series[] {
  let changed = false;
  const out = series.map((s) => {
    let keep: Label[] | undefined;
    s.labels.forEach((l, i) => {
      if (ext.get(l.name) !== l.value) {
        keep?.push(l);
        return;
      }
      keep ??= s.labels.slice(0, i);
    });
    if (keep === undefined) return s;
    changed = true;
    return { ...s, labels: keep };
  });
  if (!changed) return series;
  onStripped?.();
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

/** Errors of a connection that died under a request before any answer came. */
function isStaleConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}

function isCodecError(err: Error): boolean {
  return ['SnappyError', 'ProtobufError', 'FrameError', 'XorChunkError'].includes(err.name);
}

/** Which answer a Content-Type announces; undefined for anything else. */
export function responseKind(contentType: string): ResponseKind | undefined {
  // A server sends the same header on every answer: the last one is remembered.
  if (contentType === lastContentType.text) return lastContentType.kind;
  const kind = parseResponseKind(contentType);
  lastContentType = { text: contentType, kind };
  return kind;
}

let lastContentType: { text: string; kind: ResponseKind | undefined } = { text: '', kind: undefined };

function parseResponseKind(contentType: string): ResponseKind | undefined {
  const [media, ...params] = contentType.split(';').map((s) => s.trim());
  const type = media.toLowerCase();
  if (type === 'application/x-protobuf') return 'samples';
  if (type === 'application/x-streamed-protobuf') {
    const proto = params.map((p) => p.split('=')).find(([k]) => k.trim().toLowerCase() === 'proto');
    return proto !== undefined && proto[1]?.trim() === 'prometheus.ChunkedReadResponse' ? 'streamed' : undefined;
  }
  return undefined;
}

export function toPbMatchers(matchers: LabelMatcher[]): PbLabelMatcher[] {
  const out = matchers.map((m) => ({ type: MATCH_TYPES[m.type], name: m.name, value: m.value }));
  // No matcher at all means every series to the Storage interface; a TSDB selects none without one.
  if (out.length === 0) out.push({ type: MatcherType.RE, name: METRIC_NAME, value: '.+' });
  return out;
}

/**
 * The hints sent along. Their start and end are the query's own: Prometheus's TSDB reads only the
 * hints' time range when hints are given, and select must return all of [start, end].
 */
function toReadHints(h: SelectHints | undefined, startMs: number, endMs: number): ReadHints | undefined {
  if (h === undefined) return undefined;
  return { startMs, endMs, stepMs: h.stepMs ?? 0, func: h.func ?? '', rangeMs: h.rangeMs ?? 0, grouping: [], by: false };
}

function seriesName(labels: ReadonlyArray<Label>): string {
  return labels.find((l) => l.name === METRIC_NAME)?.value ?? '{}';
}

/**
 * Collects samples per series as they are decoded: consecutive pieces with the same labels are one
 * series (a series may span several frames), samples outside [start, end] are dropped, and pieces
 * that overlap in time are merged (the first sample seen at a timestamp wins).
 *
 * Chunks are decoded straight into an arena (util/sample-arena.ts) that all series of the read
 * share, each series a view of it. Before, each chunk became a pair of arrays, views of them and a
 * concatenation, and on a dashboard's short reads (a refresh reads the newest 15 minutes of
 * thousands of series, from two replicas) allocating and collecting them was a large part of the
 * query thread's time.
 */
class SeriesAccumulator {
  /** Finished series in the order they came. */
  private readonly out: Series[] = [];
  // Small to begin with: most reads (an instant query's lookback window, a dashboard's refresh) hold
  // a few samples per series, and the arena doubles its blocks as a large read fills them.
  private readonly scratch = new SampleArena(128);
  private labels: Labels | undefined;
  /** Where each piece of the current series starts in the scratch buffer. */
  private readonly pieceStarts: number[] = [];
  /** False once a piece starts at or before the end of the previous ones. */
  private ordered = true;
  private lastT = -Infinity;

  constructor(
    private readonly startMs: number,
    private readonly endMs: number,
  ) {}

  startSeries(raw: ReadonlyArray<Label>): void {
    const labels = normalizeLabels(raw);
    if (this.labels !== undefined && compareLabels(this.labels, labels) === 0) return;
    this.flush();
    this.labels = labels;
  }

  /** One XOR chunk of the current series. */
  addChunk(data: Uint8Array): void {
    const added = decodeXorChunkInto(data, this.scratch, this.startMs, this.endMs);
    if (added > 0) this.appended(this.scratch.length - added);
  }

  /** Samples of the current series (a SAMPLES answer). */
  add(ts: Float64Array, vs: Float64Array): void {
    let lo = 0;
    let hi = ts.length;
    while (lo < hi && ts[lo] < this.startMs) lo++;
    while (hi > lo && ts[hi - 1] > this.endMs) hi--;
    if (lo === hi) return;
    const sc = this.scratch;
    sc.reserve(hi - lo);
    const from = sc.length;
    sc.timestamps.set(ts.subarray(lo, hi), from);
    sc.values.set(vs.subarray(lo, hi), from); // typed-array copies keep NaN payloads
    const bits = valueBits(vs);
    for (let i = lo; i < hi; i++) {
      if (bits[2 * i + 1] === STALE_NAN_HI && bits[2 * i] === STALE_NAN_LO) sc.markStale(from + i - lo);
    }
    sc.length = from + hi - lo;
    this.appended(from);
  }

  private appended(from: number): void {
    const ts = this.scratch.timestamps;
    const to = this.scratch.length;
    for (let i = from + 1; i < to; i++) {
      if (!(ts[i] > ts[i - 1])) throw new InvalidResponse(`timestamps of series ${seriesName(this.labels!)} do not increase (${ts[i]} after ${ts[i - 1]})`);
    }
    if (ts[from] <= this.lastT) this.ordered = false;
    if (ts[to - 1] > this.lastT) this.lastT = ts[to - 1];
    // Relative to the series' start: the series moves when it outgrows its block.
    this.pieceStarts.push(from - this.scratch.start);
  }

  /** The current series, done: a view of the arena (or, for pieces out of order, merged by time). */
  private flush(): void {
    const labels = this.labels;
    if (labels === undefined) return;
    const sc = this.scratch;
    if (sc.length > sc.start) {
      if (this.ordered) this.out.push({ labels, ...sc.take() });
      else {
        const { timestamps, values, stale } = sc.take();
        const starts = this.pieceStarts;
        const pieces = starts.map((a, i) => {
          const b = i + 1 < starts.length ? starts[i + 1] : timestamps.length;
          return { ts: timestamps.subarray(a, b), vs: values.subarray(a, b), stale: stale?.subarray(a, b) };
        });
        this.out.push(mergeByTime(labels, pieces));
      }
    }
    this.pieceStarts.length = 0;
    this.ordered = true;
    this.lastT = -Infinity;
    this.labels = undefined;
  }

  finish(): Series[] {
    this.flush();
    // Stable: a series repeated later in the stream (not expected) follows its first occurrence,
    // and is merged with it (the first sample seen at a timestamp wins).
    const sorted = this.out.sort((a, b) => compareLabels(a.labels, b.labels));
    const out: Series[] = [];
    for (let i = 0; i < sorted.length;) {
      let j = i + 1;
      while (j < sorted.length && compareLabels(sorted[j].labels, sorted[i].labels) === 0) j++;
      out.push(
        j === i + 1
          ? sorted[i]
          : mergeByTime(
              sorted[i].labels,
              sorted.slice(i, j).map((s) => ({ ts: s.timestamps, vs: s.values, stale: s.stale })),
            ),
      );
      i = j;
    }
    return out;
  }
}

interface DecodedPiece {
  ts: Float64Array;
  vs: Float64Array;
  stale: Uint8Array | undefined;
}

function mergeByTime(labels: Labels, pieces: DecodedPiece[]): Series {
  const idx: [number, number][] = [];
  pieces.forEach((p, pi) => {
    for (let i = 0; i < p.ts.length; i++) idx.push([pi, i]);
  });
  // Stable: among equal timestamps the earlier piece comes first and is kept.
  idx.sort((a, b) => pieces[a[0]].ts[a[1]] - pieces[b[0]].ts[b[1]]);
  const timestamps = new Float64Array(idx.length);
  const values = new Float64Array(idx.length);
  const vbits = valueBits(values);
  let stale: Uint8Array | undefined;
  const srcBits = pieces.map((p) => valueBits(p.vs));
  let n = 0;
  for (const [pi, i] of idx) {
    const p = pieces[pi];
    const t = p.ts[i];
    if (n > 0 && timestamps[n - 1] === t) continue;
    timestamps[n] = t;
    const src = srcBits[pi];
    vbits[2 * n] = src[2 * i]!;
    vbits[2 * n + 1] = src[2 * i + 1]!;
    if (p.stale !== undefined && p.stale[i] !== 0) (stale ??= new Uint8Array(idx.length))[n] = 1;
    n++;
  }
  const s: Series = { labels, timestamps: timestamps.subarray(0, n), values: values.subarray(0, n) };
  if (stale !== undefined) s.stale = stale.subarray(0, n);
  return s;
}

/** The first `limit` bytes of a body as text (an error page, say); the rest is not read. */
async function readText(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const piece of body) {
    pieces.push(piece);
    size += piece.length;
    if (size >= limit) break;
  }
  return Buffer.concat(pieces).subarray(0, limit).toString('utf8');
}

function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { cause?: unknown };
    let msg = e.message;
    if (e.cause instanceof Error && !msg.includes(e.cause.message)) msg += `: ${e.cause.message}`;
    return msg;
  }
  return String(err);
}
