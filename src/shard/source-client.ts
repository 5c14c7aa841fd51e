// HTTP client for one upstream exporter: builds the request the way Prometheus 2.x does, streams the
// (optionally gzip-compressed) body with size limits enforced while it arrives, and turns every failure
// into a ScrapeError whose message is safe to show to users (no credentials, no URL userinfo).
// The Authorization header and TLS options come from src/client/auth-tls.ts, shared with the query
// downstreams; what stays here is reading their files again at every scrape, so rotated secrets
// and certificates are picked up.

import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGunzip } from 'node:zlib';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { authorizationHeader, basicAuth, readTlsMaterial, tlsConnectOptions, type TlsMaterial } from '../client/auth-tls.js';
import { lazySigner, SigningPool, type RequestSigner } from '../client/sigv4.js';
import type { SourceConfig, TlsConfig } from '../config/schema.js';
import { BodyAbort, ScrapeError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import type { ExpositionFormat } from './exposition.js';
import { formatFromContentType } from './textparse/parse.js';
import { USER_AGENT } from '../version.js';

export const ACCEPT_HEADER =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export interface ScrapeResult {
  /**
   * The decompressed body, checked to be valid UTF-8, a leading byte order mark dropped. Kept as
   * bytes: the shard path reads it as latin1 so that bytes pass through unchanged.
   */
  body: Buffer;
  format: ExpositionFormat;
  contentType: string | undefined;
  /** Body bytes received on the wire (the compressed size when gzip). */
  wireBytes: number;
  /** Decompressed body size in bytes. */
  bodyBytes: number;
  durationMs: number;
}

/**
 * Takes the decompressed body piece by piece while it downloads, instead of it being collected into
 * `ScrapeResult.body` (which is then empty). An error thrown by write() aborts the scrape and is
 * rethrown by scrape() as it is.
 */
export interface BodySink {
  write(chunk: Buffer): void;
}

/** Carries a sink's own error through the body readers to scrape(). */
class SinkFailure {
  constructor(readonly error: unknown) {}
}

function deliver(sink: BodySink, chunk: Buffer): void {
  try {
    sink.write(chunk);
  } catch (err) {
    // A carrier, not an error of its own: scrape() unwraps it and rethrows the sink's error as it is.
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw new SinkFailure(err);
  }
}

export interface SourceClient {
  /** With `sinkFor`, the body goes to the sink it returns for the response's format, while it downloads. */
  scrape(signal?: AbortSignal, sinkFor?: (format: ExpositionFormat) => BodySink): Promise<ScrapeResult>;
  /** Releases the connection pool; in-flight scrapes are aborted. */
  close(): Promise<void>;
  /** The source URL without userinfo. */
  readonly url: string;
}

/** Idle keep-alive connections are kept this long unless the server asks for less (Prometheus keeps them 5m). */
const KEEP_ALIVE_MS = 5 * 60_000;
/** Cap on the bytes read from an error response before the connection is given up. */
const ERROR_BODY_DUMP_LIMIT = 64 * 1024;
/** Largest string V8 can build; bodies beyond it could not be decoded anyway. */
const MAX_DECODABLE_BYTES = bufferConstants.MAX_STRING_LENGTH;
const GUNZIP_CHUNK = 64 * 1024;

export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n} bytes`;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function errMessage(err: unknown): string {
  // Happy-eyeballs connects fail with an AggregateError whose own message is empty.
  if (err instanceof AggregateError && err.message === '' && err.errors.length > 0) {
    return err.errors.map(errMessage).join('; ');
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Reads a credential file at scrape time, so rotated secrets are picked up. Never reports the content. */
async function readSecretFile(kind: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScrapeError(`cannot read ${kind} ${path}: ${errCode(err) ?? errMessage(err)}`);
  }
  text = text.replace(/[\r\n]+$/, '');
  if (text === '') throw new ScrapeError(`${kind} ${path} is empty`);
  return text;
}

/** Reads a TLS file (`field` is e.g. "tls_config.ca_file") at scrape time, so rotated certificates are picked up. */
async function readTlsFile(field: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ScrapeError(`cannot read ${field} ${path}: ${errCode(err) ?? errMessage(err)}`);
  }
}

const SOCKET_RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

export function createSourceClient(source: SourceConfig, opts: { timeoutMs: number; maxBodySize: number }): SourceClient {
  return new HttpSourceClient(source, opts);
}

class HttpSourceClient implements SourceClient {
  readonly url: string;
  private readonly origin: string;
  private readonly path: string;
  private readonly timeoutMs: number;
  private readonly maxBodySize: number;
  private readonly limitText: string;
  private readonly staticHeaders: Record<string, string>;
  private readonly userinfoAuth: { username: string; password: string } | undefined;
  private readonly tls: TlsConfig | undefined;
  private readonly isHttps: boolean;
  /** Strings that must never appear in an error message: configured secrets and the latest file secret. */
  private readonly secrets = new Set<string>();
  private fileSecret: string | undefined;
  private readonly signer: RequestSigner | undefined;

  private pool: Pool | undefined;
  private tlsMaterial: TlsMaterial | undefined;
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly source: SourceConfig,
    opts: { timeoutMs: number; maxBodySize: number },
  ) {
    const u = new URL(source.url);
    if (u.username !== '' || u.password !== '') {
      const username = safeDecode(u.username);
      const password = safeDecode(u.password);
      this.userinfoAuth = { username, password };
      this.addSecret(password);
      this.addSecret(u.password);
      u.username = '';
      u.password = '';
    }
    u.hash = '';
    this.url = u.href;
    this.origin = u.origin;
    this.path = `${u.pathname || '/'}${u.search}`;
    this.isHttps = u.protocol === 'https:';
    this.tls = source.tls_config;

    this.timeoutMs = source.timeout ?? opts.timeoutMs;
    const max = source.max_body_size ?? opts.maxBodySize;
    // 0 means "no limit" as in Prometheus' body_size_limit; a JS string still bounds what can be decoded.
    this.maxBodySize = max > 0 ? Math.min(max, MAX_DECODABLE_BYTES) : MAX_DECODABLE_BYTES;
    this.limitText = max > 0 ? `max_body_size of ${formatBytes(max)}` : `the largest decodable size of ${formatBytes(MAX_DECODABLE_BYTES)}`;

    if (source.bearer_token !== undefined) this.addSecret(source.bearer_token);
    if (source.sigv4 !== undefined) this.signer = lazySigner(source.sigv4);
    if (source.basic_auth?.password !== undefined) this.addSecret(source.basic_auth.password);

    // Configured headers replace the defaults case-insensitively.
    const headers: Record<string, string> = {
      accept: ACCEPT_HEADER,
      'accept-encoding': 'gzip',
      'user-agent': USER_AGENT,
    };
    if (this.timeoutMs > 0) headers['x-prometheus-scrape-timeout-seconds'] = String(this.timeoutMs / 1000);
    for (const [name, value] of Object.entries(source.headers ?? {})) headers[name.toLowerCase()] = value;
    this.staticHeaders = headers;
  }

  private addSecret(s: string): void {
    if (s.length >= 3) this.secrets.add(s);
  }

  private redact(message: string): string {
    let out = message;
    for (const s of [...this.secrets, ...(this.signer?.secrets() ?? [])]) if (s.length >= 3) out = out.split(s).join('<secret>');
    if (this.fileSecret !== undefined && this.fileSecret.length >= 3) out = out.split(this.fileSecret).join('<secret>');
    return out;
  }

  private fail(reason: string): ScrapeError {
    return new ScrapeError(this.redact(reason));
  }

  private newPool(tls: TlsMaterial | undefined): Pool {
    const connect: Record<string, unknown> = {
      // Our own deadline covers connecting; this only backs it up.
      timeout: this.timeoutMs > 0 ? this.timeoutMs + 1000 : 30_000,
    };
    if (this.isHttps) Object.assign(connect, tlsConnectOptions(this.tls, tls ?? {}));
    const backstop = this.timeoutMs > 0 ? this.timeoutMs + 1000 : 0;
    const options: Pool.Options = {
      // One scrape at a time per source: a single kept-alive connection. (With more, undici opens a second
      // connection while it briefly validates the idle one before reuse.)
      connections: 1,
      connect,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      headersTimeout: backstop,
      bodyTimeout: backstop,
    };
    return this.signer === undefined ? new Pool(this.origin, options) : new SigningPool(this.origin, options, this.signer);
  }

  /** Returns the pool, (re)building it when the TLS files changed so rotated certificates are picked up. */
  private async getPool(): Promise<Pool> {
    if (this.isHttps && this.tls !== undefined) {
      const { ca, cert, key } = await readTlsMaterial(this.tls, readTlsFile);
      const prev = this.tlsMaterial;
      if (this.pool === undefined || prev === undefined || prev.ca !== ca || prev.cert !== cert || prev.key !== key) {
        const old = this.pool;
        this.tlsMaterial = { ca, cert, key };
        this.pool = this.newPool(this.tlsMaterial);
        // Let an in-flight request on the old pool finish; new requests use the new one.
        if (old !== undefined) old.close().catch(() => {});
      }
      return this.pool;
    }
    this.pool ??= this.newPool(undefined);
    return this.pool;
  }

  private async requestHeaders(): Promise<Record<string, string>> {
    const headers = { ...this.staticHeaders };
    // Secret files are read again at every scrape; the latest file secret is kept for redaction.
    const authorization = await authorizationHeader(this.source, async (field, path) => {
      const secret = await readSecretFile(field, path);
      this.fileSecret = secret;
      return secret;
    });
    if (authorization !== undefined) {
      headers.authorization = authorization;
    } else if (this.userinfoAuth !== undefined && headers.authorization === undefined) {
      headers.authorization = basicAuth(this.userinfoAuth.username, this.userinfoAuth.password);
    }
    return headers;
  }

  async scrape(signal?: AbortSignal, sinkFor?: (format: ExpositionFormat) => BodySink): Promise<ScrapeResult> {
    if (this.closed) throw new ScrapeError('client is closed');
    const start = performance.now();
    const ac = new AbortController();
    let timedOut = false;
    let aborted = false;
    const timer =
      this.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            ac.abort(new ScrapeError('timeout'));
          }, this.timeoutMs)
        : undefined;
    const onAbort = (): void => {
      aborted = true;
      ac.abort(new ScrapeError('aborted'));
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(ac);

    const progress: Progress = { phase: 'preparing request', wire: 0, body: 0, contentLength: undefined };
    try {
      return await this.scrapeOnce(ac.signal, start, progress, sinkFor);
    } catch (err) {
      if (err instanceof SinkFailure) throw err.error;
      if (timedOut) throw new ScrapeError(`timeout after ${formatDuration(this.timeoutMs)} (${describeProgress(progress)})`);
      if (aborted) throw new ScrapeError('scrape aborted');
      if (this.closed && ac.signal.aborted) throw new ScrapeError('scrape aborted: client closed');
      if (err instanceof BodyAbort) throw err.scrapeError;
      if (err instanceof ScrapeError) throw this.fail(err.message);
      throw this.fail(this.describeError(err, progress));
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.inflight.delete(ac);
    }
  }

  private async scrapeOnce(
    signal: AbortSignal,
    start: number,
    progress: Progress,
    sinkFor: ((format: ExpositionFormat) => BodySink) | undefined,
  ): Promise<ScrapeResult> {
    const headers = await this.requestHeaders();
    // Credentials before the request, so their absence is said as such, not as a failed request.
    await this.signer?.check();
    const pool = await this.getPool();
    const requestOpts: Dispatcher.RequestOptions = {
      path: this.path,
      method: 'GET',
      headers,
      signal,
    };
    if (this.tls?.server_name !== undefined) {
      // Not in the typings, but honoured by undici: takes precedence over a Host header for SNI.
      (requestOpts as { servername?: string }).servername = this.tls.server_name;
    }

    progress.phase = 'waiting for response headers';
    let res: Dispatcher.ResponseData;
    const reusing = pool.stats.connected > 0; // an open idle connection will carry this request
    try {
      res = await pool.request(requestOpts);
    } catch (err) {
      // A kept-alive connection the server closed while idle: retry once on a fresh connection, as Go does.
      if (reusing && !signal.aborted && SOCKET_RESET_CODES.has(errCode(err) ?? '')) {
        res = await pool.request(requestOpts);
      } else {
        throw err;
      }
    }

    const { statusCode, body } = res;
    if (statusCode < 200 || statusCode > 299) {
      await body.dump({ limit: ERROR_BODY_DUMP_LIMIT }).catch(() => {});
      const text = sanitizeStatusText(res.statusText) || STATUS_CODES[statusCode] || '';
      throw new ScrapeError(`server returned HTTP status ${statusCode}${text ? ` ${text}` : ''}`);
    }

    const contentType = firstHeader(res.headers['content-type']);
    const encoding = (firstHeader(res.headers['content-encoding']) ?? '').trim().toLowerCase();
    const clHeader = firstHeader(res.headers['content-length']);
    const contentLength = clHeader !== undefined && /^\s*\d+\s*$/.test(clHeader) ? Number(clHeader) : undefined;
    progress.contentLength = contentLength;
    progress.phase = 'reading body';

    if (contentLength !== undefined && contentLength > this.maxBodySize) {
      discard(body);
      throw new ScrapeError(`body exceeds ${this.limitText} (Content-Length: ${contentLength})`);
    }

    const sink = sinkFor?.(formatFromContentType(contentType));
    let data: Buffer;
    if (encoding === '' || encoding === 'identity') {
      data = await this.readPlain(body, contentLength, progress, sink);
    } else if (encoding === 'gzip' || encoding === 'x-gzip') {
      data = await this.readGzip(body, progress, signal, sink);
    } else {
      discard(body);
      throw new ScrapeError(`unsupported Content-Encoding "${encoding.slice(0, 40)}"`);
    }
    if (contentLength !== undefined && progress.wire !== contentLength) {
      throw new ScrapeError(`body truncated: connection closed after ${progress.wire} of ${contentLength} bytes`);
    }

    const bodyBytes = sink ? progress.body : data.length;
    if (!sink && !isUtf8(data)) throw new ScrapeError('body is not valid UTF-8');
    // Drop a UTF-8 byte order mark, as TextDecoder would.
    if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
    return {
      body: data,
      format: formatFromContentType(contentType),
      contentType,
      wireBytes: progress.wire,
      bodyBytes,
      durationMs: performance.now() - start,
    };
  }

  private tooBig(): BodyAbort {
    return new BodyAbort(new ScrapeError(`body exceeds ${this.limitText}`));
  }

  /** Uncompressed body: one copy into a preallocated buffer when Content-Length is known, else one concat. */
  private async readPlain(body: Readable, contentLength: number | undefined, progress: Progress, sink: BodySink | undefined): Promise<Buffer> {
    const max = this.maxBodySize;
    if (sink) {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        progress.wire += chunk.length;
        progress.body = progress.wire;
        if (progress.wire > max) throw this.tooBig(); // leaving the loop destroys the body
        deliver(sink, chunk);
      }
      return EMPTY;
    }
    if (contentLength !== undefined) {
      const out = Buffer.allocUnsafe(contentLength);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        const end = progress.wire + chunk.length;
        if (end > contentLength) {
          // undici's parser cannot deliver more than Content-Length; guard anyway. Leaving the loop destroys the body.
          throw new ScrapeError(`body longer than Content-Length ${contentLength}`);
        }
        chunk.copy(out, progress.wire);
        progress.wire = end;
      }
      return out.subarray(0, progress.wire);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer>) {
      progress.wire += chunk.length;
      if (progress.wire > max) throw this.tooBig(); // leaving the loop destroys the body
      chunks.push(chunk);
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, progress.wire);
  }

  /** Gzip body: streamed through gunzip with both the wire and the decompressed size bounded as they grow. */
  private async readGzip(body: Readable, progress: Progress, signal: AbortSignal, sink: BodySink | undefined): Promise<Buffer> {
    const max = this.maxBodySize;
    const chunks: Buffer[] = [];
    let total = 0;
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
    let gunzipError: Error | undefined;
    gunzip.once('error', (e) => {
      gunzipError ??= e;
    });
    const tooBig = (): BodyAbort => this.tooBig();
    try {
      await pipeline(
        body,
        async function* countWire(src: AsyncIterable<Buffer>) {
          for await (const chunk of src) {
            progress.wire += chunk.length;
            if (progress.wire > max) throw tooBig();
            yield chunk;
          }
        },
        gunzip,
        async function collect(src: AsyncIterable<Buffer>) {
          for await (const chunk of src) {
            total += chunk.length;
            progress.body = total;
            if (total > max) throw tooBig();
            if (sink) deliver(sink, chunk);
            else chunks.push(chunk);
          }
        },
        { signal },
      );
    } catch (err) {
      if (err instanceof BodyAbort || err instanceof SinkFailure || signal.aborted) throw err;
      if (gunzipError !== undefined && isZlibError(gunzipError)) {
        throw new ScrapeError(`invalid gzip body: ${gunzipError.message}`);
      }
      throw err;
    }
    if (sink) return EMPTY;
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  }

  private describeError(err: unknown, progress: Progress): string {
    const code = errCode(err);
    const msg = errMessage(err);
    if (progress.phase === 'reading body') {
      if (code !== undefined && (SOCKET_RESET_CODES.has(code) || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')) {
        const of = progress.contentLength !== undefined ? ` of ${progress.contentLength}` : '';
        return `body truncated: connection closed after ${progress.wire}${of} bytes (${msg})`;
      }
      return `error reading body: ${msg}`;
    }
    if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_'))) return `TLS handshake failed: ${msg}`;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return `connect timeout: ${msg}`;
    if (code === 'UND_ERR_SOCKET' && msg === 'other side closed') return 'connection closed by server before response headers';
    return msg;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.inflight) ac.abort(new ScrapeError('client closed'));
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await pool.destroy().catch(() => {});
  }
}

interface Progress {
  phase: 'preparing request' | 'waiting for response headers' | 'reading body';
  wire: number;
  /** Decompressed bytes delivered so far. */
  body: number;
  contentLength: number | undefined;
}

const EMPTY = Buffer.alloc(0);

function describeProgress(p: Progress): string {
  if (p.phase !== 'reading body') return p.phase;
  const of = p.contentLength !== undefined ? ` of ${p.contentLength}` : '';
  return `reading body, ${p.wire}${of} bytes received`;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

function isZlibError(err: Error): boolean {
  const errno = (err as { errno?: unknown }).errno;
  const code = errCode(err);
  return (code !== undefined && code.startsWith('Z_')) || errno === zlibConstants.Z_DATA_ERROR || errno === zlibConstants.Z_BUF_ERROR;
}

/** Destroys a response body we will not read; the resulting abort error is expected and ignored. */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function sanitizeStatusText(s: string | undefined): string {
  if (s === undefined) return '';
  // Control characters are exactly what this removes.
  // eslint-disable-next-line no-control-regex
  const printable = s.replace(/[\x00-\x1f\x7f]/g, '');
  return printable.slice(0, 100).trim();
}
