// AWS Signature Version 4 for outgoing requests, so a server group, a shard source (and, with the
// rules issue, a remote_write target) can be an Amazon Managed Service for Prometheus workspace,
// which accepts only signed requests. Configured by Prometheus's `sigv4:` block plus `service`.
//
// AWS's own libraries do the signing (@smithy/signature-v4) and find the credentials
// (@aws-sdk/credential-providers: static keys, environment, shared files with `profile`, web
// identity, container and instance metadata; `role_arn` through STS; refreshed before they expire).
// They are loaded by dynamic import the first time a configured signer is used, so a proxy without
// a `sigv4:` block never loads them.
//
// Signing happens in the undici dispatcher (SigningPool), after the caller has built the request:
// what is signed is the method, Host, path and body exactly as sent. The query string is sent in
// its canonical form (sorted, RFC 3986 encoded, as Go's signer used by Prometheus rewrites it), so a
// verifier that takes the raw query as it arrives computes the same canonical request.

import { Pool, type Dispatcher } from 'undici';
import type { SigV4Config } from '../config/schema.js';
import { SigV4Error } from '../errors.js';

/** A request as it will be sent: `path` with its query, headers with lower-case names. */
export interface RequestToSign {
  method: string;
  /** Host header value: host, and port when it is not the scheme's default. */
  host: string;
  protocol: 'http:' | 'https:';
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string | undefined;
}

/** What to send instead: the path with the canonical query and the headers with the signature. */
export interface SignedRequest {
  path: string;
  headers: Record<string, string>;
}

export interface RequestSigner {
  /** Gets credentials (cached, refreshed before expiry); throws SigV4Error saying why there are none. */
  check(): Promise<void>;
  sign(req: RequestToSign): Promise<SignedRequest>;
  /** The secret key and session token in use now, for cutting out of messages. */
  secrets(): string[];
}

/** Bounds getting credentials (an unreachable STS or metadata endpoint), so a request cannot hang on it. */
const CREDENTIALS_TIMEOUT_MS = 10_000;

// Go's v4 signer (aws-sdk-go, used by Prometheus) leaves these out of SignedHeaders: headers a proxy
// or the transport may change. The libraries' own list is longer; both agree on these.
const UNSIGNED = ['authorization', 'user-agent', 'x-amzn-trace-id'];

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined; expiration?: Date | undefined };
type CredentialsProvider = () => Promise<Credentials>;
type Signer = { sign(req: unknown, opts?: unknown): Promise<{ headers: Record<string, string> }> };

/** A signer for `cfg` whose AWS libraries are loaded on first use. */
export function lazySigner(cfg: SigV4Config, env: NodeJS.ProcessEnv = process.env): RequestSigner {
  let loaded: Promise<{ signer: Signer; credentials: CredentialsProvider }> | undefined;
  let last: Credentials | undefined;
  const load = (): Promise<{ signer: Signer; credentials: CredentialsProvider }> => {
    loaded ??= build(cfg, env, () => last).catch((err: unknown) => {
      // A missing region is a config problem that stays; a failed import may not: try again next time.
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
  const credentials = async (): Promise<Credentials> => {
    const { credentials: provider } = await load();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SigV4Error(`timed out after ${CREDENTIALS_TIMEOUT_MS / 1000}s getting AWS credentials`)), CREDENTIALS_TIMEOUT_MS);
    });
    try {
      last = await Promise.race([provider(), timeout]);
      return last;
    } catch (err) {
      if (err instanceof SigV4Error) throw err;
      throw new SigV4Error(`cannot get AWS credentials: ${cut(messageOf(err), last)}`);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    async check() {
      await credentials();
    },
    async sign(req) {
      const { signer } = await load();
      // The signer signs with exactly these (it asks `current`), fetched here under the timeout.
      await credentials();
      const { pathname, query, sent } = canonicalQuery(req.path);
      const headers: Record<string, string> = { ...req.headers, host: req.host };
      // Signed anew each time: a retried request must not carry the old signature's headers.
      for (const h of ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'content-length']) delete headers[h];
      // As Go's signer: the body's length is signed when there is one (undici sends this value as is).
      const length = req.body === undefined ? 0 : typeof req.body === 'string' ? Buffer.byteLength(req.body) : req.body.byteLength;
      if (length > 0) headers['content-length'] = String(length);
      try {
        const out = await signer.sign(
          {
            method: req.method,
            protocol: req.protocol,
            hostname: req.host.replace(/:\d+$/, ''),
            path: pathname,
            query,
            headers,
            body: req.body,
          },
          { unsignableHeaders: new Set(UNSIGNED) },
        );
        return { path: sent, headers: out.headers };
      } catch (err) {
        throw new SigV4Error(`cannot sign the request: ${cut(messageOf(err), last)}`);
      }
    },
    secrets() {
      const out: string[] = [];
      if (cfg.secret_key !== undefined && cfg.secret_key !== '') out.push(cfg.secret_key);
      if (last !== undefined) out.push(last.secretAccessKey, ...(last.sessionToken !== undefined ? [last.sessionToken] : []));
      return out;
    },
  };
}

async function build(
  cfg: SigV4Config,
  env: NodeJS.ProcessEnv,
  current: () => Credentials | undefined,
): Promise<{ signer: Signer; credentials: CredentialsProvider }> {
  const region = nonEmpty(cfg.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  // Prometheus's words (prometheus/sigv4): the region from the block, else from the AWS environment.
  if (region === undefined) throw new SigV4Error('region not configured in sigv4 or in default credentials chain');
  const [{ SignatureV4 }, { Hash }, providers] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@smithy/hash-node'),
    import('@aws-sdk/credential-providers'),
  ]);
  const clientConfig = { region };
  const base: CredentialsProvider =
    nonEmpty(cfg.access_key) !== undefined
      ? () => Promise.resolve({ accessKeyId: cfg.access_key!, secretAccessKey: cfg.secret_key! })
      : providers.fromNodeProviderChain({ ...(nonEmpty(cfg.profile) !== undefined ? { profile: cfg.profile } : {}), clientConfig });
  const credentials: CredentialsProvider =
    nonEmpty(cfg.role_arn) !== undefined
      ? providers.fromTemporaryCredentials({
          params: { RoleArn: cfg.role_arn!, RoleSessionName: `promfront-${Date.now()}` },
          masterCredentials: base,
          clientConfig,
        })
      : base;
  const signer = new SignatureV4({
    service: cfg.service,
    region,
    // The latest keys lazySigner got from `credentials`: one provider call per request, not two.
    credentials: () => {
      const c = current();
      return c === undefined ? Promise.reject(new SigV4Error('no AWS credentials yet')) : Promise.resolve(c);
    },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: true,
    // Prometheus sends no x-amz-content-sha256 (only S3 needs it); the payload hash is signed either way.
    applyChecksum: false,
  });
  return { signer: signer as unknown as Signer, credentials };
}

/**
 * Splits a request path into its path and decoded query parameters, and gives the path with the
 * query as it will be sent: pairs sorted by encoded name then value, RFC 3986 encoded (space as %20).
 */
export function canonicalQuery(path: string): { pathname: string; query: Record<string, string | string[]>; sent: string } {
  const q = path.indexOf('?');
  if (q < 0) return { pathname: path, query: {}, sent: path };
  const pathname = path.slice(0, q);
  const pairs: [string, string][] = [];
  for (const part of path.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    pairs.push(eq < 0 ? [formDecode(part), ''] : [formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))]);
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const encoded = pairs.map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`).sort();
  return { pathname, query, sent: encoded.length === 0 ? pathname : `${pathname}?${encoded.join('&')}` };
}

/** SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX. */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * An undici Pool that signs every request it dispatches. Signing is asynchronous, so the request is
 * handed to the pool once signed; a failure (or an abort while waiting) fails that request alone.
 */
export class SigningPool extends Pool {
  private readonly host: string;
  private readonly protocol: 'http:' | 'https:';

  constructor(
    origin: string,
    options: Pool.Options,
    private readonly signer: RequestSigner,
  ) {
    super(origin, options);
    const u = new URL(origin);
    this.host = u.host;
    this.protocol = u.protocol === 'https:' ? 'https:' : 'http:';
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const body = opts.body;
    const fail = (err: unknown): void => {
      const h = handler as { onError?: (e: unknown) => void; onResponseError?: (c: unknown, e: unknown) => void };
      if (typeof h.onError === 'function') h.onError(err);
      else h.onResponseError?.(null, err);
    };
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      fail(new SigV4Error('only string and byte bodies can be signed'));
      return true;
    }
    let settled = false;
    // pool.request passes its signal along in the dispatch options.
    const signal = (opts as { signal?: AbortSignal }).signal;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      fail(signal?.reason);
    };
    signal?.addEventListener?.('abort', onAbort, { once: true });
    this.signer
      .sign({ method: opts.method, host: this.host, protocol: this.protocol, path: opts.path, headers: headerRecord(opts.headers), body: body ?? undefined })
      .then(
        (signed) => {
          signal?.removeEventListener?.('abort', onAbort);
          if (settled) return;
          settled = true;
          super.dispatch({ ...opts, path: signed.path, headers: signed.headers }, handler);
        },
        (err: unknown) => {
          signal?.removeEventListener?.('abort', onAbort);
          if (settled) return;
          settled = true;
          fail(err);
        },
      );
    return true;
  }
}

/** The request's headers as one lower-case name to one value. */
function headerRecord(h: Dispatcher.DispatchOptions['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined || h === null) return out;
  if (Array.isArray(h)) {
    for (let i = 0; i + 1 < h.length; i += 2) out[String(h[i]).toLowerCase()] = String(h[i + 1]);
    return out;
  }
  const entries: Iterable<[string, string | string[] | undefined]> =
    Symbol.iterator in h ? (h as Iterable<[string, string | string[] | undefined]>) : Object.entries(h as Record<string, string | string[] | undefined>);
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `text` without the secret parts of `creds` (an SDK message never should carry them; make sure). */
function cut(text: string, creds: Credentials | undefined): string {
  if (creds === undefined) return text;
  for (const s of [creds.secretAccessKey, creds.sessionToken]) if (s !== undefined && s.length >= 3) text = text.split(s).join('<secret>');
  return text;
}
