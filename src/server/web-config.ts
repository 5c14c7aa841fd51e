// Access control on the proxy's own listener, from --web.config.file (exporter-toolkit's format,
// parsed in src/config/web-config.ts): the TLS server options with the certificates read from disk,
// the middleware that sets the configured headers, rate-limits and checks basic auth on every path,
// the client-certificate checks Node's TLS cannot express, and their counters for /metrics.
// A reload builds new settings first and swaps them in only when they are whole, as the config does.

import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { HttpBindings } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { loadWebConfigFile, type ClientAuthType, type WebConfig } from '../config/web-config.js';
import { ConfigError } from '../errors.js';
import { Exposition } from './self-metrics.js';

/** The web config with its certificates loaded: what the listener and the middleware run on. */
export interface WebSettings {
  file: string;
  config: WebConfig;
  /** Set when the file configures TLS. */
  tls?: {
    context: SecureContextOptions;
    requestCert: boolean;
    rejectUnauthorized: boolean;
    policy: ClientAuthType;
    allowedSans?: string[];
  };
}

function readPem(problems: string[], field: string, file: string | undefined, inline: string | undefined): string | undefined {
  if (file === undefined) return inline;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`tls_server_config.${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

/**
 * Reads the web config file and the certificate, key and client CA it names, and checks that
 * OpenSSL accepts them together. Throws ConfigError listing every problem; never quotes a key.
 */
export function loadWebSettings(file: string): WebSettings {
  const config = loadWebConfigFile(file);
  const t = config.tls;
  if (!t) return { file, config };
  const problems: string[] = [];
  const cert = readPem(problems, 'cert_file', t.certFile, t.cert);
  const key = readPem(problems, 'key_file', t.keyFile, t.key);
  const ca = readPem(problems, 'client_ca_file', t.clientCaFile, t.clientCa);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const context: SecureContextOptions = {
    cert,
    key,
    ca,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    honorCipherOrder: t.honorCipherOrder,
    ...(t.ciphers ? { ciphers: t.ciphers.join(':') } : {}),
    ...(t.curves ? { ecdhCurve: t.curves.join(':') } : {}),
  };
  try {
    createSecureContext(context);
  } catch (err) {
    // OpenSSL's reasons ("key values mismatch", "no cipher match") name no secret material.
    throw new ConfigError(file, [`tls_server_config: cannot use the certificate and key: ${(err as Error).message}`]);
  }
  const policy = t.clientAuth;
  return {
    file,
    config,
    tls: {
      context,
      requestCert: policy !== 'NoClientCert',
      // Node verifies in the handshake only when it may also refuse a missing certificate; the
      // other policies are checked once the handshake is done (checkPeer).
      rejectUnauthorized: policy === 'RequireAndVerifyClientCert',
      policy,
      allowedSans: t.clientAllowedSans,
    },
  };
}

/** What `check-config` prints about a valid web config. */
export function describeWebSettings(s: WebSettings): string {
  const parts = [s.tls ? `TLS, client_auth_type ${s.tls.policy}` : 'no TLS'];
  parts.push(s.config.users.size > 0 ? `basic auth for ${s.config.users.size} user${s.config.users.size > 1 ? 's' : ''}` : 'no basic auth');
  const h = Object.keys(s.config.headers).length;
  if (h > 0) parts.push(`${h} response header${h > 1 ? 's' : ''}`);
  if (s.config.rateLimit) parts.push('rate limit');
  return parts.join(', ');
}

/** The subject alternative names of a peer certificate as Go lists them: DNS, e-mail, IP, URI. */
function sansOf(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  return subjectaltname.split(/,\s*/).map((entry) => entry.slice(entry.indexOf(':') + 1));
}

// exporter-toolkit's fixed hash for unknown users ("fakepassword" at cost 10): an unknown name
// costs as long as a known one, so timing does not tell which names exist.
const FAKE_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
/** exporter-toolkit's cache size; the least recently added result goes first when it is full. */
const AUTH_CACHE_SIZE = 100;

type AuthFailure = 'missing' | 'invalid';

/** A request refused by the guard: what it is answered. */
interface Refusal {
  status: 401 | 429;
  body: string;
  headers: Record<string, string>;
}

/**
 * Holds the web settings in service and enforces them. One instance lives for the process; a
 * reload swaps its settings.
 */
export class WebGuard {
  private authCache = new Map<string, boolean>();
  /** Serialises bcrypt comparisons, as exporter-toolkit's mutex: a burst of logins takes one core, not all. */
  private bcryptQueue: Promise<unknown> = Promise.resolve();
  private tokens = 0;
  private tokensAt = 0;
  private readonly authFailures: Record<AuthFailure, number> = { missing: 0, invalid: 0 };
  private rateLimited = 0;
  private readonly tlsFailures = { handshake: 0, client_certificate: 0 };
  private server: HttpsServer | undefined;
  /** bcrypt comparisons run (not answered from the cache). */
  bcryptRuns = 0;

  constructor(
    private current: WebSettings | undefined,
    private readonly log: Logger,
  ) {
    this.resetLimiter();
  }

  get settings(): WebSettings | undefined {
    return this.current;
  }

  /**
   * Takes `next` into service; new TLS connections use its certificates and client policy, those
   * already open keep theirs. TLS cannot be switched on or off on a running listener
   * (checkSwap refuses that before).
   */
  swap(next: WebSettings | undefined): void {
    this.current = next;
    this.authCache.clear();
    this.resetLimiter();
    const tls = next?.tls;
    if (this.server && tls) {
      this.server.setSecureContext(tls.context);
      // Node's TLS server reads these two fields for every new connection (tlsConnectionListener);
      // they are not in its typings.
      const fields = this.server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
      fields.requestCert = tls.requestCert;
      fields.rejectUnauthorized = tls.rejectUnauthorized;
    }
  }

  /** Why `next` cannot replace the settings in service without a restart, or undefined. */
  checkSwap(next: WebSettings | undefined): string | undefined {
    const was = this.current?.tls !== undefined;
    const will = next?.tls !== undefined;
    if (was === will) return undefined;
    return `tls_server_config: TLS cannot be turned ${will ? 'on' : 'off'} while the listener is running; restart promfront to apply it`;
  }

  /** The options the HTTPS listener is created with, or undefined for plain HTTP. */
  httpsOptions(): HttpsServerOptions | undefined {
    const tls = this.current?.tls;
    if (!tls) return undefined;
    return { ...tls.context, requestCert: tls.requestCert, rejectUnauthorized: tls.rejectUnauthorized };
  }

  /** Watches the HTTPS listener's handshakes: refusals are counted, and the client-certificate policies Node lacks are enforced. */
  attach(server: Server | HttpsServer): void {
    if (!this.current?.tls) return;
    const https = server as HttpsServer;
    this.server = https;
    https.on('tlsClientError', (err: Error) => {
      this.tlsFailures.handshake++;
      this.log.debug({ err: err.message }, 'TLS handshake failed');
    });
    // Registered after the HTTP layer's own listener: a refused socket is destroyed before its first request is read.
    https.on('secureConnection', (socket: TLSSocket) => {
      const reason = this.checkPeer(socket);
      if (reason === undefined) return;
      this.tlsFailures.client_certificate++;
      this.log.debug({ remote: socket.remoteAddress, reason }, 'TLS client refused');
      socket.destroy();
    });
  }

  /** Why the client of `socket` may not go on under the policy in service, or undefined. */
  checkPeer(socket: TLSSocket): string | undefined {
    const tls = this.current?.tls;
    if (!tls || tls.policy === 'NoClientCert') return undefined;
    const cert = socket.getPeerCertificate();
    const given = cert !== null && Object.keys(cert).length > 0;
    if (!given) return tls.policy === 'RequireAnyClientCert' ? 'no client certificate' : undefined;
    if (tls.policy === 'VerifyClientCertIfGiven' && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
    if (tls.allowedSans) {
      const sans = sansOf(cert.subjectaltname);
      if (!sans.some((s) => tls.allowedSans!.includes(s))) return 'no allowed SAN in the client certificate';
    }
    return undefined;
  }

  /** The middleware in front of every route, /metrics/shard/K included. */
  middleware(): MiddlewareHandler<{ Bindings: HttpBindings }> {
    return async (c, next) => {
      const s = this.current;
      if (!s) return next();
      const outgoing = c.env?.outgoing as HttpBindings['outgoing'] | undefined;
      const headers = Object.entries(s.config.headers);
      // Set on the Node response so they also reach routes that write to the socket themselves.
      if (outgoing) for (const [k, v] of headers) outgoing.setHeader(k, v);
      const refusal = await this.check(s, c.req.header('authorization'));
      if (refusal) return c.text(refusal.body, refusal.status, { ...Object.fromEntries(headers), ...refusal.headers });
      await next();
      if (!outgoing) for (const [k, v] of headers) c.res.headers.set(k, v);
    };
  }

  /**
   * The middleware's work for a request served straight from Node (fast-path.ts): the configured
   * headers set on `res`, then the rate limit and basic auth. True when the request may go on;
   * otherwise the refusal was written, byte for byte what the middleware answers. Synchronous
   * unless a password has to be checked.
   */
  admitNode(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
    const s = this.current;
    if (!s) return true;
    for (const k in s.config.headers) res.setHeader(k, s.config.headers[k]);
    const refused = (r: Refusal): false => {
      res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=UTF-8', ...r.headers, 'Content-Length': Buffer.byteLength(r.body) });
      res.end(r.body);
      return false;
    };
    if (s.config.users.size === 0) {
      const r = this.limit(s);
      return r ? refused(r) : true;
    }
    return this.check(s, rawHeader(req.rawHeaders, 'authorization')).then((r) => (r ? refused(r) : true));
  }

  /** The rate limit's refusal, counted, or undefined. */
  private limit(s: WebSettings): Refusal | undefined {
    if (this.takeToken(s)) return undefined;
    this.rateLimited++;
    return { status: 429, body: 'Too Many Requests\n', headers: { 'X-Content-Type-Options': 'nosniff' } };
  }

  /** The rate limit and basic auth: the refusal to answer (counted), or undefined to go on. */
  private async check(s: WebSettings, authorization: string | undefined): Promise<Refusal | undefined> {
    const limited = this.limit(s);
    if (limited) return limited;
    if (s.config.users.size === 0) return undefined;
    const failure = await this.authenticate(s, authorization);
    if (!failure) return undefined;
    this.authFailures[failure]++;
    // As Go's http.Error, which exporter-toolkit answers with.
    return { status: 401, body: 'Unauthorized\n', headers: { 'X-Content-Type-Options': 'nosniff', 'WWW-Authenticate': 'Basic' } };
  }

  /** The counters of refused requests and handshakes, text format. */
  metrics(): string {
    const e = new Exposition();
    e.family(
      'promfront_web_auth_failures_total',
      'counter',
      'Requests refused with 401 by basic auth (--web.config.file), by reason: missing (no or malformed Authorization header) or invalid (unknown user or wrong password).',
      [
        [{ reason: 'missing' }, this.authFailures.missing],
        [{ reason: 'invalid' }, this.authFailures.invalid],
      ],
    );
    e.family('promfront_web_rate_limited_total', 'counter', 'Requests refused with 429 by rate_limit (--web.config.file).', [[{}, this.rateLimited]]);
    e.family(
      'promfront_web_tls_refused_total',
      'counter',
      'TLS connections refused: handshake (failed handshake, e.g. no or an unverifiable client certificate) or client_certificate (refused by client_auth_type or client_allowed_sans after the handshake).',
      [
        [{ reason: 'handshake' }, this.tlsFailures.handshake],
        [{ reason: 'client_certificate' }, this.tlsFailures.client_certificate],
      ],
    );
    return e.toString();
  }

  private async authenticate(s: WebSettings, header: string | undefined): Promise<AuthFailure | undefined> {
    const creds = parseBasicAuth(header);
    if (!creds) return 'missing';
    const known = s.config.users.get(creds.user);
    const hash = known ?? FAKE_HASH;
    // A digest of the triple, not the triple: the cache never holds a password in clear.
    const key = createHash('sha256').update(creds.user).update('\0').update(hash).update('\0').update(creds.pass).digest('base64');
    let ok = this.authCache.get(key);
    if (ok === undefined) {
      ok = await this.compareSerialised(key, creds.pass, hash);
      // A swap during the comparison cleared the cache for other settings: do not refill it.
      if (this.current === s) this.remember(key, ok);
    }
    return ok && known !== undefined ? undefined : 'invalid';
  }

  private compareSerialised(key: string, pass: string, hash: string): Promise<boolean> {
    const run = this.bcryptQueue.then(async () => {
      // Whoever waited for the same credentials finds the answer ready.
      const cached = this.authCache.get(key);
      if (cached !== undefined) return cached;
      this.bcryptRuns++;
      // bcryptjs's async compare works in slices between event-loop turns, so a cost-12 hash
      // does not hold up shard scrapes or health checks.
      return bcrypt.compare(pass, hash).catch(() => false);
    });
    this.bcryptQueue = run.catch(() => undefined);
    return run;
  }

  private remember(key: string, ok: boolean): void {
    if (this.authCache.size >= AUTH_CACHE_SIZE) {
      const oldest = this.authCache.keys().next();
      if (!oldest.done) this.authCache.delete(oldest.value);
    }
    this.authCache.set(key, ok);
  }

  private resetLimiter(): void {
    this.tokens = this.current?.config.rateLimit?.burst ?? 0;
    this.tokensAt = Date.now();
  }

  /** A token bucket as Go's rate.Limiter: `burst` tokens, one more every `intervalMs`. */
  private takeToken(s: WebSettings): boolean {
    const rl = s.config.rateLimit;
    if (!rl) return true;
    const now = Date.now();
    this.tokens = Math.min(rl.burst, this.tokens + (now - this.tokensAt) / rl.intervalMs);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * A request header as the Hono path reads it (a web Headers built from the raw ones): repeated
 * fields joined with ", ", where Node's parsed headers keep only the first Authorization.
 */
function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === lowerName.length && raw[i].toLowerCase() === lowerName) out = out === undefined ? raw[i + 1].trim() : `${out}, ${raw[i + 1].trim()}`;
  }
  return out;
}

/** user and password of a Basic Authorization header, as Go's Request.BasicAuth reads it; undefined if there is none or it is malformed. */
export function parseBasicAuth(header: string | undefined): { user: string; pass: string } | undefined {
  if (!header || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const b64 = header.slice(6);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}
