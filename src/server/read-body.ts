// A request body read with a bound: by its Content-Length before reading, and by what has arrived
// while reading, so a body past the bound is refused without ever being held whole. Used for form
// bodies (10 MiB, Go's maxFormSize) and for bodies forwarded to the query thread (32 MiB), from a
// web Request or straight from Node's request (the server's fast path).

import type { IncomingMessage } from 'node:http';

/**
 * The body as bytes in an ArrayBuffer of their own (so it can be transferred to a worker), or
 * undefined once it is known to be larger than `max` bytes (the rest is not read).
 */
export async function readBodyBounded(req: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await req.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (req.body === null) return new Uint8Array(0);
  const reader: ReadableStreamDefaultReader<Uint8Array> = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return joined(chunks, total);
}

/**
 * The chunks copied into one ArrayBuffer of their own, transferable to the worker (a Buffer may
 * share a pooled ArrayBuffer, and a web stream's chunks are not ours to detach).
 */
function joined(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** readBodyBounded for Node's request: the same bound and answer, without a web stream. */
export function readNodeBodyBounded(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (err: Error | undefined, out?: Uint8Array) => {
      req.off('data', onData).off('end', onEnd).off('error', done).off('aborted', onAborted);
      if (err) reject(err);
      else resolve(out);
    };
    const onData = (c: Buffer) => {
      total += c.length;
      if (total > max) {
        // The rest is not read: the answer closes the connection.
        req.pause();
        done(undefined, undefined);
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => done(undefined, joined(chunks, total));
    const onAborted = () => done(new Error('the client closed the connection before the body ended'));
    req.on('data', onData).once('end', onEnd).once('error', done).once('aborted', onAborted);
  });
}
