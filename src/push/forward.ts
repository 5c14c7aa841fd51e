// Forwards one push (PUT, POST, DELETE) to a Pushgateway, streaming the body as the client sends it
// and the answer as the Pushgateway sends it, and makes the body resendable for the one retry on the
// next owner.
//
// Resending: every chunk read from the client is kept (ReplayBody) until the forward ends; a retry
// replays the kept chunks and then goes on reading the client. The copy is bounded by
// push.max_body_size, which every push is held to anyway, so a retry costs at most that much memory
// per push in flight; the first attempt still streams (the Pushgateway sees the first bytes before
// the client sent the last). Headers that only describe one connection (hop-by-hop, RFC 9110 7.6.1)
// are not passed on in either direction.

import { Readable } from 'node:stream';
import { type Dispatcher, request } from 'undici';
import { PushBodyTooLargeError } from '../errors.js';

/** Answers up to this size (by Content-Length) are read whole before they are passed on. */
const SMALL_ANSWER = 64 * 1024;

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

export interface ForwardAnswer {
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | Uint8Array | null;
}

/** Request headers to pass on. */
export function forwardHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    if (!HOP_BY_HOP.has(k)) out[k] = v;
  });
  return out;
}

/** Sends the push to one Pushgateway; rejects when no answer came (connection failed, timeout). */
export async function forwardOnce(
  dispatcher: Dispatcher,
  address: string,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string>,
  body: ReplayBody | undefined,
  timeoutMs: number,
): Promise<ForwardAnswer> {
  const res = await request(`http://${address}${pathAndQuery}`, {
    method: method,
    headers,
    body: body ? Readable.from(body.stream(), { objectMode: false }) : undefined,
    dispatcher,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (HOP_BY_HOP.has(k) || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
  }
  const noBody = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
  if (noBody) {
    res.body.resume();
    return { status: res.statusCode, headers: out, body: null };
  }
  // Pushgateway's answers are a line of text: read at once, they skip a web-stream adapter per push.
  const length = Number(res.headers['content-length'] ?? NaN);
  if (length <= SMALL_ANSWER) {
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: out, body: bytes };
  }
  return { status: res.statusCode, headers: out, body: Readable.toWeb(res.body) as ReadableStream<Uint8Array> };
}
