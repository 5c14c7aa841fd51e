// Forwards one push (PUT, POST, DELETE) to a Pushgateway, streaming the body as the client sends it
// and the answer as the Pushgateway sends it, and makes the body resendable for the one retry on the
// next owner.
//
// Small bodies (a Content-Length up to SMALL_BODY, which is nearly every push) are read whole
// before the forward: they arrive in one or two packets anyway, the retry needs them kept, and a
// Buffer body leaves with its headers in one write instead of a write per chunk through a stream
// (the profile of one pusher showed those writes as the proxy's largest cost).
// Larger bodies and bodies without a length stream: every chunk read from the client is kept
// (ReplayBody) until the forward ends; a retry replays the kept chunks and then goes on reading the
// client. The copy is bounded by push.max_body_size, which every push is held to anyway; the first
// attempt still streams (the Pushgateway sees the first bytes before the client sent the last).
// Headers that only describe one connection (hop-by-hop, RFC 9110 7.6.1) are not passed on in
// either direction.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { PushBodyTooLargeError } from '../errors.js';

/** Answers up to this size (by Content-Length) are read whole before they are passed on. */
const SMALL_ANSWER = 64 * 1024;
/** Push bodies up to this size (by Content-Length) are read whole before they are forwarded. */
export const SMALL_BODY = 64 * 1024;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'host',
  // Node's server has already answered the client's `Expect: 100-continue` (and the body is read or
  // streamed either way); passed on, undici refuses the request (UND_ERR_NOT_SUPPORTED), which read
  // as the Pushgateway not answering and took it out of the ring.
  'expect',
]);

/** The client's body, readable again from the start by each attempt. */
export class ReplayBody {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private failure: Error | undefined;
  private pending: Promise<void> | undefined;
  private readonly it: AsyncIterator<Buffer> | undefined;

  constructor(
    source: Readable | undefined,
    private readonly limit: number,
  ) {
    // destroyOnReturn false: an attempt that stops reading must not end the client's stream.
    if (source) this.it = source.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    else this.ended = true;
  }

  /** Bytes read so far. */
  get bytes(): number {
    return this.size;
  }

  /** One pass over the whole body; passes may overlap, each sees every byte once and in order. */
  async *stream(): AsyncGenerator<Buffer> {
    let i = 0;
    for (;;) {
      if (i < this.chunks.length) {
        yield this.chunks[i++];
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await this.pull();
    }
  }

  /** Reads one more chunk from the client (one read at a time, whichever pass asks). */
  private pull(): Promise<void> {
    this.pending ??= (async () => {
      try {
        const r = await this.it!.next();
        if (r.done) {
          this.ended = true;
          return;
        }
        const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
        this.size += chunk.length;
        if (this.size > this.limit) throw new PushBodyTooLargeError(this.limit);
        this.chunks.push(chunk);
      } catch (err) {
        this.failure = err as Error;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /** Whether reading the client failed (too large, client gone): not the Pushgateway's fault, no retry. */
  get clientFailure(): Error | undefined {
    return this.failure;
  }
}

/** The body of a small push, read whole: declared `length` bytes, refused when more or fewer arrive or it takes longer than `timeoutMs`. */
export function readSmallBody(incoming: IncomingMessage, length: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | undefined) => {
      clearTimeout(timer);
      incoming.off('data', onData).off('end', onEnd).off('error', done).off('aborted', onAborted);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      chunks.push(c);
    };
    const onEnd = () => done(size === length ? undefined : new Error(`the body had ${size} bytes, Content-Length said ${length}`));
    const onAborted = () => done(new Error('the client closed the connection before the body ended'));
    const timer = setTimeout(() => done(new Error(`the body did not arrive within ${timeoutMs} ms`)), timeoutMs);
    incoming.on('data', onData).once('end', onEnd).once('error', done).once('aborted', onAborted);
  });
}

export interface ForwardAnswer {
  status: number;
  /** Without hop-by-hop headers; a repeated header is an array. */
  headers: Record<string, string | string[]>;
  body: Readable | Uint8Array | null;
}

/** Request headers to pass on (Node's parsed headers of the client's request), with `extra` (e.g. the configured Authorization) in place of the client's. */
export function forwardHeaders(h: IncomingHttpHeaders, extra: Record<string, string> | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  if (extra) for (const k in extra) out[k] = extra[k];
  return out;
}

/** The Pushgateway did not answer (whole) within the forward timeout. */
export class ForwardTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'ForwardTimeoutError';
  }
}

/** The answer's headers (undici's raw name/value list) without hop-by-hop ones; a repeated header becomes an array. */
function answerHeaders(raw: Buffer[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toString('latin1').toLowerCase();
    if (HOP_BY_HOP.has(k)) continue;
    const v = raw[i + 1].toString('latin1');
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/**
 * Sends the push to one Pushgateway (`origin` is scheme://host:port); rejects when no answer came
 * (connection failed, timeout). undici's dispatch with a handler of our own rather than its
 * request(): per push that saves the answer's stream object, its promise plumbing and an
 * AbortSignal with its listeners (one timer does the deadline), which the one-pusher profile showed
 * as most of the forward's own time. The deadline covers the whole answer, body included.
 */
export function forwardOnce(
  dispatcher: Dispatcher,
  origin: string,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string | string[]>,
  body: ReplayBody | Buffer | undefined,
  timeoutMs: number,
): Promise<ForwardAnswer> {
  return new Promise((resolve, reject) => {
    let abort: ((err: Error) => void) | undefined;
    let timedOut: Error | undefined;
    let status = 0;
    let out: Record<string, string | string[]> = {};
    /** Small answers: the chunks, passed on whole at the end. */
    let chunks: Buffer[] | undefined;
    /** Large answers (or without a length): passed on as they come, paused while the client does not read. */
    let stream: Readable | undefined;
    let resumeUpstream: (() => void) | undefined;
    const timer = setTimeout(() => {
      timedOut = new ForwardTimeoutError(timeoutMs);
      // Not connected yet (undici calls onConnect once the request is on a socket): give up now,
      // the request is aborted when it gets one.
      if (abort) abort(timedOut);
      else reject(timedOut);
    }, timeoutMs);
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a: (err?: Error) => void) {
        abort = a;
        if (timedOut) a(timedOut);
      },
      onError(err: Error) {
        clearTimeout(timer);
        if (stream) stream.destroy(err);
        else reject(err);
      },
      onHeaders(statusCode: number, raw: Buffer[], resume: () => void) {
        status = statusCode;
        out = answerHeaders(raw);
        if (method === 'HEAD' || statusCode === 204 || statusCode === 304) return true;
        // Pushgateway's answers are a line of text: read at once, written to the client in one go.
        const length = Number(out['content-length'] ?? NaN);
        if (length <= SMALL_ANSWER) {
          chunks = [];
          return true;
        }
        resumeUpstream = resume;
        stream = new Readable({
          read: () => resumeUpstream?.(),
          // The client went away before the answer ended: stop reading the Pushgateway too (a no-op once complete).
          destroy: (err, cb) => {
            abort?.(err ?? new Error('the answer was not read to its end'));
            cb(err);
          },
        });
        resolve({ status, headers: out, body: stream });
        return true;
      },
      onData(chunk: Buffer) {
        if (stream) return stream.push(chunk);
        chunks?.push(chunk);
        return true;
      },
      onComplete() {
        clearTimeout(timer);
        if (stream) {
          stream.push(null);
          return;
        }
        const bytes = chunks === undefined ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        resolve({ status, headers: out, body: bytes });
      },
    };
    dispatcher.dispatch(
      {
        origin,
        path: pathAndQuery,
        method: method,
        headers,
        body: body instanceof ReplayBody ? Readable.from(body.stream(), { objectMode: false }) : body,
      },
      handler,
    );
  });
}
