// The app's small text answers (its 404 and onError, the query thread client's 413 and 503) written
// straight to Node's response by the fast path (fast-path.ts), byte for byte as the app writes
// them: the app's compress middleware runs over these, so they carry `Vary: Accept-Encoding` and
// are gzipped (or deflated) when the client accepts it, whatever their size.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { parseAccept } from 'hono/utils/accept';

/** The content type the app gives a text answer (Hono's c.text and its node adapter's default). */
export const APP_TEXT = 'text/plain; charset=UTF-8';

/**
 * Writes a whole answer the app would have given through its compress middleware (`compressed`,
 * else as it leaves a route before that middleware); cuts the
 * connection instead when an answer has begun already (as a broken body does through the app).
 */
export function writeAppAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: OutgoingHttpHeaders = { 'Content-Type': APP_TEXT },
  compressed = true,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const out: OutgoingHttpHeaders = compressed ? { ...headers, Vary: 'Accept-Encoding' } : { ...headers };
  const encoding = compressed ? selectEncoding(req.headers['accept-encoding']) : undefined;
  if (!encoding) {
    out['Content-Length'] = Buffer.byteLength(body);
    res.writeHead(status, out);
    res.end(body);
    return;
  }
  // Compressed, the app's answer is a stream: chunked, no length.
  out['Content-Encoding'] = encoding;
  res.writeHead(status, out);
  res.end(encoding === 'gzip' ? gzipSync(body) : deflateSync(body));
}

/** Hono compress's choice between gzip and deflate for an Accept-Encoding header (its own parser: q-values, `*`). */
export function selectEncoding(header: string | undefined): 'gzip' | 'deflate' | undefined {
  if (header === undefined) return undefined;
  const accepts = parseAccept(header);
  const wildcard = accepts.find((a) => a.type === '*')?.q;
  let best: { enc: 'gzip' | 'deflate'; q: number } | undefined;
  for (const enc of ['gzip', 'deflate'] as const) {
    const q = accepts.find((a) => a.type.toLowerCase() === enc)?.q ?? wildcard ?? 0;
    if (q === 1) return enc;
    if (q > 0 && (!best || q > best.q)) best = { enc, q };
  }
  return best?.enc;
}
