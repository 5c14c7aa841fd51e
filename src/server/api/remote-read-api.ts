// Prometheus's remote-read endpoint (POST /api/v1/read) over any Storage, so that a Prometheus
// `remote_read` or another promfront can read from us. Behaviour after Prometheus's
// storage/remote/read_handler.go and codec.go:
//
//   * the body is a snappy-compressed protobuf ReadRequest (at most 32 MiB as sent); one that cannot
//     be decoded is answered 400 with the reason as text;
//   * the answer is the first of the request's accepted_response_types we support (an empty list
//     means SAMPLES): a snappy ReadResponse, or a stream of ChunkedReadResponse frames, one series
//     per frame, its samples in XOR chunks of at most 120 samples, frames of about 1 MiB at most
//     (a series longer than that continues in the next frame);
//   * the SAMPLES answer refuses more than `maxSamples` samples per query with 400 "exceeded sample
//     limit (N)", as Prometheus's --storage.remote.read-sample-limit does;
//   * storage failures are answered 503 when the storage is unavailable (a server group down), 500
//     otherwise, with the error as text; past the deadline (the query timeout) 500 "context deadline
//     exceeded", as Prometheus answers a read whose context expired.
//
// Deviation: every query of a request is selected before the first byte goes out, so a failing
// query gets a proper status code even in streamed mode (Prometheus would cut the stream). Invalid
// matchers (unknown type, bad regex) are 400, where Prometheus answers 500.

import { Hono, type Context } from 'hono';
import pLimit from 'p-limit';
import type { LabelMatcher } from '../../model/labels.js';
import { compileLabelMatcher } from '../../model/matchers.js';
import {
  ChunkEncoding,
  chunkMessageSize,
  decodeReadRequest,
  encodeChunkedReadResponse,
  encodeReadResponse,
  labelMessageSize,
  MatcherType,
  ResponseType,
  type PbChunk,
  type PbQuery,
} from '../../remote/prompb.js';
import { encodeFrame } from '../../remote/framing.js';
import { ProtoWriter } from '../../remote/protobuf.js';
import { snappyCompress, snappyDecompress } from '../../remote/snappy.js';
import { encodeXorChunk, SAMPLES_PER_CHUNK } from '../../remote/xor-chunk.js';
import { type SelectHints, type Series } from '../../storage/interface.js';
import { scopedStorage, type ScopedStorage, type StorageSource } from '../../storage/view.js';
import { DeadlineExceededError, StorageUnavailableError } from '../../errors.js';
import { runWithDeadline } from './deadline.js';
import { addWarnings, requestStats } from './request-stats.js';
import { HttpError } from '../../errors.js';
import { encodeWarningsHeader, WARNINGS_HEADER } from '../../query/downstream/warnings.js';

/** Prometheus's decodeReadLimit. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export interface RemoteReadDeps {
  /** A fixed storage, or one made per request (the fan-out's view, with its warnings). */
  storage: StorageSource;
  /** Samples per query in a SAMPLES answer; default 50,000,000 (Prometheus's default). 0: no limit. */
  maxSamples?: number;
  /** Target size of a streamed frame; default 1 MiB (Prometheus's --storage.remote.read-max-bytes-in-frame). */
  maxBytesInFrame?: number;
  /** Requests answered at once, others wait; default 10 (Prometheus's --storage.remote.read-concurrent-limit). */
  maxConcurrent?: number;
  /** Upper bound of the selects of one request (the query timeout); default none. */
  timeoutMs?: number;
  /** Storage warnings of a request (e.g. a server group left out): remote read cannot carry them. */
  onWarnings?: (warnings: string[]) => void;
}

const MATCH_TYPES: Record<number, LabelMatcher['type']> = {
  [MatcherType.EQ]: '=',
  [MatcherType.NEQ]: '!=',
  [MatcherType.RE]: '=~',
  [MatcherType.NRE]: '!~',
};

const RESPONSE_TYPE_NAMES: Record<number, string> = { 0: 'SAMPLES', 1: 'STREAMED_XOR_CHUNKS' };

/** Go's http.Error: the message and a newline as plain text. */
function textError(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
  });
}

async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  const body = c.req.raw.body;
  if (body === null) return new Uint8Array(0);
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const piece of body as unknown as AsyncIterable<Uint8Array>) {
    size += piece.length;
    if (size > limit) throw new HttpError(400, `request body larger than ${limit} bytes`);
    pieces.push(piece);
  }
  return Buffer.concat(pieces, size);
}

/** NegotiateResponseType: the first accepted type we support; none listed means SAMPLES. */
function negotiate(accepted: number[]): number {
  if (accepted.length === 0) return ResponseType.SAMPLES;
  for (const t of accepted) if (t === ResponseType.SAMPLES || t === ResponseType.STREAMED_XOR_CHUNKS) return t;
  const names = accepted.map((t) => RESPONSE_TYPE_NAMES[t] ?? String(t));
  throw new HttpError(400, `server does not support any of the requested response types: [${names.join(' ')}]; supported: [SAMPLES STREAMED_XOR_CHUNKS]`);
}

function toMatchers(q: PbQuery): LabelMatcher[] {
  return q.matchers.map((m) => {
    const type = MATCH_TYPES[m.type];
    if (type === undefined) throw new HttpError(400, `invalid matcher type ${m.type} for label ${JSON.stringify(m.name)}`);
    const matcher: LabelMatcher = { type, name: m.name, value: m.value };
    try {
      compileLabelMatcher(matcher, { dotAll: true });
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    return matcher;
  });
}

function toHints(q: PbQuery): SelectHints | undefined {
  const h = q.hints;
  if (h === undefined) return undefined;
  const out: SelectHints = { startMs: h.startMs, endMs: h.endMs };
  if (h.stepMs !== 0) out.stepMs = h.stepMs;
  if (h.func !== '') out.func = h.func;
  if (h.rangeMs !== 0) out.rangeMs = h.rangeMs;
  return out;
}

/** What the request log and query metrics say of a read: the series and samples it answers with. */
function countServed(c: Context, lists: Series[][], view: ScopedStorage): void {
  const stats = requestStats(c);
  if (!stats) return;
  for (const g of view.stats?.groups ?? []) stats.groups.add(g);
  for (const list of lists) {
    stats.series += list.length;
    for (const s of list) stats.samples += s.timestamps.length;
  }
  // Remote read has no place for warnings in its answer; the log line still carries them.
  addWarnings(stats, view.warnings);
}

export function createRemoteReadApi(deps: RemoteReadDeps): Hono {
  const app = new Hono();
  const maxSamples = deps.maxSamples ?? 50_000_000;
  const maxBytesInFrame = deps.maxBytesInFrame ?? 1024 * 1024;
  const gate = pLimit(Math.max(1, deps.maxConcurrent ?? 10));
  const scoped = (): ScopedStorage => scopedStorage(deps.storage);

  const selectAll = async (c: Context, queries: PbQuery[]): Promise<{ lists: Series[][]; warnings: string[] }> => {
    const plans = queries.map((q) => ({ q, matchers: toMatchers(q), hints: toHints(q) }));
    const view = scoped();
    try {
      const out = await runWithDeadline(c.req.raw.signal, deps.timeoutMs, async (signal) => {
        const lists: Series[][] = [];
        for (const p of plans) lists.push(await view.storage.select(p.matchers, p.q.startTimestampMs, p.q.endTimestampMs, p.hints, signal));
        return lists;
      });
      if (view.warnings.length > 0) deps.onWarnings?.(view.warnings);
      countServed(c, out, view);
      return { lists: out, warnings: view.warnings };
    } catch (e) {
      // read_handler.go answers every select error with http.Error 500, its context's deadline
      // ("context deadline exceeded") included; a server group down is our 503.
      if (e instanceof DeadlineExceededError) throw new HttpError(500, e.message);
      throw new HttpError(e instanceof StorageUnavailableError ? 503 : 500, e instanceof Error ? e.message : String(e));
    }
  };

  app.post('/', (c) =>
    gate(async () => {
      try {
        let req;
        try {
          const compressed = await readBody(c, MAX_REQUEST_BYTES);
          req = decodeReadRequest(snappyDecompress(compressed, MAX_REQUEST_BYTES));
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, (e as Error).message);
        }
        const type = negotiate(req.acceptedResponseTypes);
        const { lists: results, warnings } = await selectAll(c, req.queries);
        // Remote read has no field for warnings: a promfront reading from us finds them here.
        const warned: Record<string, string> = warnings.length > 0 ? { [WARNINGS_HEADER]: encodeWarningsHeader(warnings) } : {};
        if (type === ResponseType.SAMPLES) {
          if (maxSamples > 0) {
            for (const r of results) {
              let n = 0;
              for (const s of r) n += s.timestamps.length;
              if (n > maxSamples) throw new HttpError(400, `exceeded sample limit (${maxSamples})`);
            }
          }
          const body = snappyCompress(encodeReadResponse(results));
          return new Response(body, { status: 200, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', ...warned } });
        }
        return new Response(streamFrames(results, maxBytesInFrame), {
          status: 200,
          headers: { 'Content-Type': 'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse', ...warned },
        });
      } catch (e) {
        if (e instanceof HttpError) return textError(e.status, e.message);
        return textError(500, e instanceof Error ? e.message : String(e));
      }
    }),
  );
  return app;
}

/**
 * The frames of a streamed answer, made as the reader pulls: per series, XOR chunks of up to 120
 * samples, gathered into one frame until it holds about maxBytesInFrame (StreamChunkedReadResponses'
 * rule: the labels count against the budget, the chunk that crosses it still goes in).
 */
export function streamFrames(results: Series[][], maxBytesInFrame: number): ReadableStream<Uint8Array> {
  const frames = frameGenerator(results, maxBytesInFrame);
  return new ReadableStream<Uint8Array>(
    {
      pull(ctl) {
        const next = frames.next();
        if (next.done) ctl.close();
        else ctl.enqueue(next.value);
      },
      cancel() {
        frames.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

export function* frameGenerator(results: Series[][], maxBytesInFrame: number): Generator<Uint8Array> {
  const w = new ProtoWriter(maxBytesInFrame + 64 * 1024);
  for (let qi = 0; qi < results.length; qi++) {
    for (const s of results[qi]) {
      const n = s.timestamps.length;
      if (n === 0) continue;
      let budget = maxBytesInFrame;
      for (const l of s.labels) budget -= labelMessageSize(l);
      let left = budget;
      let chunks: PbChunk[] = [];
      for (let from = 0; from < n; from += SAMPLES_PER_CHUNK) {
        const to = Math.min(n, from + SAMPLES_PER_CHUNK);
        const chunk: PbChunk = {
          minTimeMs: s.timestamps[from],
          maxTimeMs: s.timestamps[to - 1],
          type: ChunkEncoding.XOR,
          data: encodeXorChunk(s.timestamps, s.values, s.stale, from, to),
        };
        chunks.push(chunk);
        left -= chunkMessageSize(chunk);
        if (left > 0 && to < n) continue;
        w.reset();
        yield encodeFrame(encodeChunkedReadResponse({ chunkedSeries: [{ labels: [...s.labels], chunks }], queryIndex: qi }, w));
        chunks = [];
        left = budget;
      }
    }
  }
}
