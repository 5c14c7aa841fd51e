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

/** Sends the push to one Pushgateway (`origin` is scheme://host:port); rejects when no answer came (connection failed, timeout). */
export async function forwardOnce(
  dispatcher: Dispatcher,
  origin: string,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string | string[]>,
  body: ReplayBody | Buffer | undefined,
  timeoutMs: number,
): Promise<ForwardAnswer> {
  const res = await dispatcher.request({
    origin,
    path: pathAndQuery,
    method: method,
    headers,
    body: body instanceof ReplayBody ? Readable.from(body.stream(), { objectMode: false }) : body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out: Record<string, string | string[]> = {};
  for (const k in res.headers) {
    const v = res.headers[k];
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  const noBody = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
  if (noBody) {
    res.body.resume();
    return { status: res.statusCode, headers: out, body: null };
  }
  // Pushgateway's answers are a line of text: read at once, written to the client in one go.
  const length = Number(res.headers['content-length'] ?? NaN);
  if (length <= SMALL_ANSWER) {
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: out, body: bytes };
  }
  return { status: res.statusCode, headers: out, body: res.body };
}
