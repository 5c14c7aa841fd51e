// How promfront connects to the downstream servers of one server group, from the group's
// http_client block (promxy's field names; prometheus/common's meanings):
//   * dial_timeout bounds resolving the name and opening the TCP connection, as Go's
//     Dialer.Timeout does in promxy; the TLS handshake that follows is bounded by the request timeout.
//   * tls_config: CA, client certificate and key, server name for SNI and verification,
//     insecure_skip_verify. The files are read when the client is built and again when they change,
//     after which new connections use the new material (prometheus/common does the same).
//   * basic_auth / authorization / bearer_token(_file): the Authorization header. Secret files are
//     read when the client is built and again whenever they change.
//   * sigv4: every request signed with AWS SigV4 by the pool itself (sigv4.ts); prepare() gets
//     the credentials first, so a missing one fails the request with a clear error.
// The Authorization header and TLS options are built by auth-tls.ts, shared with the shard sources;
// this module adds watching the files, checking the TLS material and dialing.
// Secrets never leave this module except in the Authorization header: every message that could
// carry one (a downstream error body echoing the request, say) goes through redact().

import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { connect, type Socket } from 'node:net';
import { buildConnector, errors as undiciErrors, Pool } from 'undici';
import type { HttpClientConfig } from '../config/schema.js';
import { FileProblem, HttpClientFilesError } from '../errors.js';
import { authorizationHeader, tlsConnectOptions, type TlsMaterial } from './auth-tls.js';
import { WatchedFile } from './watched-file.js';
import { lazySigner, SigningPool, type RequestSigner } from './sigv4.js';

export interface DownstreamClientOptions {
  /** Bound on a whole request; also bounds the TLS handshake. */
  requestTimeoutMs: number;
  /** How often changed files are looked for at most (default 1 s). */
  fileCheckEveryMs?: number;
}

export class DownstreamClient {
  private readonly tlsFiles: { ca?: WatchedFile; cert?: WatchedFile; key?: WatchedFile } = {};
  private readonly secretFile: WatchedFile | undefined;
  private readonly fixedSecrets: string[] = [];
  private tls: TlsMaterial = {};
  private tlsGen = 0;
  private lastAuth: string | undefined;
  private readonly signer: RequestSigner | undefined;

  /** Reads every configured file now; throws HttpClientFilesError listing each one that is not usable. */
  constructor(
    private readonly cfg: HttpClientConfig,
    private readonly opts: DownstreamClientOptions,
  ) {
    const problems: string[] = [];
    const every = opts.fileCheckEveryMs;
    const open = (path: string | undefined, field: string): WatchedFile | undefined => {
      if (path === undefined) return undefined;
      try {
        return new WatchedFile(path, field, every);
      } catch (err) {
        problems.push((err as Error).message);
        return undefined;
      }
    };
    const t = cfg.tls_config;
    if (t !== undefined) {
      this.tlsFiles.ca = open(t.ca_file, 'tls_config.ca_file');
      this.tlsFiles.cert = open(t.cert_file, 'tls_config.cert_file');
      this.tlsFiles.key = open(t.key_file, 'tls_config.key_file');
      if (problems.length === 0) {
        this.tls = this.material();
        const bad = tlsProblem(this.tls, this.tlsPaths());
        if (bad !== undefined) problems.push(bad.message);
      }
    }
    const b = cfg.basic_auth;
    if (b?.password_file !== undefined) this.secretFile = open(b.password_file, 'basic_auth.password_file');
    else if (cfg.authorization?.credentials_file !== undefined) this.secretFile = open(cfg.authorization.credentials_file, 'authorization.credentials_file');
    else if (cfg.bearer_token_file !== undefined) this.secretFile = open(cfg.bearer_token_file, 'bearer_token_file');
    if (this.secretFile !== undefined && secretOf(this.secretFile.last) === '') problems.push(`${this.secretFile.field}: ${this.secretFile.path} is empty`);
    for (const s of [b?.password, cfg.authorization?.credentials, cfg.bearer_token]) if (s !== undefined) this.fixedSecrets.push(s);
    if (problems.length > 0) throw new HttpClientFilesError(problems);
    if (cfg.sigv4 !== undefined) this.signer = lazySigner(cfg.sigv4);
  }

  /**
   * Looks for changed files (at most once per fileCheckEveryMs) and returns the Authorization header
   * to send and the TLS generation (it changes when the TLS files did). Throws FileProblem.
   */
  async prepare(): Promise<{ authorization: string | undefined; tlsGeneration: number }> {
    await this.refreshTls();
    await this.signer?.check();
    const authorization = await this.authorization();
    this.lastAuth = authorization;
    return { authorization, tlsGeneration: this.tlsGen };
  }

  /** Options for an undici Pool to one downstream origin, with the TLS material read last. */
  poolOptions(): Pool.Options {
    return { connect: this.connector() };
  }

  /** A pool to `origin` with `options`: one that signs every request when sigv4 is configured. */
  newPool(origin: string, options: Pool.Options): Pool {
    return this.signer === undefined ? new Pool(origin, options) : new SigningPool(origin, options, this.signer);
  }

  /** `text` with every secret this client knows replaced by <secret>. */
  redact(text: string): string {
    const secrets = [...this.fixedSecrets, ...(this.signer?.secrets() ?? [])];
    if (this.secretFile !== undefined) secrets.push(secretOf(this.secretFile.last));
    if (this.lastAuth !== undefined) {
      secrets.push(this.lastAuth);
      const sp = this.lastAuth.indexOf(' ');
      if (sp > 0) secrets.push(this.lastAuth.slice(sp + 1));
    }
    let out = text;
    for (const s of secrets.sort((a, b) => b.length - a.length)) {
      if (s.length >= 3) out = out.split(s).join('<secret>');
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------

  private async authorization(): Promise<string | undefined> {
    // The one secret file configured, watched: re-read only when it changed.
    return authorizationHeader(this.cfg, async () => {
      const f = this.secretFile!;
      const s = secretOf(await f.current());
      if (s === '') throw new FileProblem(f.field, `${f.path} is empty`);
      return s;
    });
  }

  private material(): TlsMaterial {
    return { ca: this.tlsFiles.ca?.last, cert: this.tlsFiles.cert?.last, key: this.tlsFiles.key?.last };
  }

  private tlsPaths(): { ca?: string; cert?: string } {
    return { ca: this.tlsFiles.ca?.path, cert: this.tlsFiles.cert?.path };
  }

  private async refreshTls(): Promise<void> {
    const files = [this.tlsFiles.ca, this.tlsFiles.cert, this.tlsFiles.key].filter((f) => f !== undefined);
    if (files.length === 0) return;
    const before = files.map((f) => f.generation).join();
    await Promise.all(files.map((f) => f.current()));
    if (files.map((f) => f.generation).join() === before) return;
    const next = this.material();
    const bad = tlsProblem(next, this.tlsPaths());
    // A half-rotated pair (new cert, old key) is not used; the next check sees the finished rotation.
    if (bad !== undefined) throw bad;
    this.tls = next;
    this.tlsGen++;
  }

  private connector(): ReturnType<typeof buildConnector> {
    const dialMs = this.cfg.dial_timeout;
    const t = this.cfg.tls_config;
    const secure = buildConnector({
      ...tlsConnectOptions(t, this.tls),
      timeout: this.opts.requestTimeoutMs,
    });
    return (options, callback) => {
      const https = options.protocol === 'https:';
      // TCP first under dial_timeout, then the handshake on that socket under the request timeout.
      dial(options.hostname, Number(options.port) || (https ? 443 : 80), dialMs, (err, socket) => {
        if (err !== null) {
          callback(err, null);
          return;
        }
        if (!https) {
          callback(null, socket);
          return;
        }
        secure({ ...options, httpSocket: socket }, (tlsErr, tlsSocket) => {
          if (tlsErr !== null) {
            socket.destroy();
            callback(tlsErr, null);
          } else {
            callback(null, tlsSocket);
          }
        });
      });
    };
  }
}

/**
 * Opens a TCP connection, failing after timeoutMs (undici's own connect timeout ticks in steps of
 * about half a second, too coarse for promxy's 200ms default).
 */
function dial(host: string, port: number, timeoutMs: number, callback: (...args: [null, Socket] | [Error, null]) => void): void {
  const socket = connect({ host: host.startsWith('[') ? host.slice(1, -1) : host, port });
  let done = false;
  const finish = (err: Error | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (err !== null) {
      socket.destroy();
      callback(err, null);
    } else {
      callback(null, socket);
    }
  };
  const timer = setTimeout(() => {
    // Timers run before I/O in an event loop turn: after a stall (a long query evaluation) a connect
    // that did complete is still waiting to be seen. Decide after the I/O phase.
    setImmediate(() => finish(new undiciErrors.ConnectTimeoutError(`Connect Timeout Error (attempted address: ${host}:${port}, timeout: ${timeoutMs}ms)`)));
  }, timeoutMs);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  socket.once('connect', () => finish(null));
  // Stays after the callback: undici adds its own listeners a moment later.
  socket.on('error', (err) => finish(err));
}

function secretOf(text: string): string {
  return text.trim();
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why this CA / certificate / key cannot be used (no or bad PEM, key not matching), or undefined. */
function tlsProblem(m: TlsMaterial, paths: { ca?: string; cert?: string }): FileProblem | undefined {
  // Node silently ignores a CA bundle without certificates; say so instead of failing every handshake.
  for (const [field, pem, path] of [
    ['tls_config.ca_file', m.ca, paths.ca],
    ['tls_config.cert_file', m.cert, paths.cert],
  ] as const) {
    if (pem === undefined) continue;
    const blocks = pem.match(PEM_CERT) ?? [];
    if (blocks.length === 0) return new FileProblem(field, `no PEM certificate in ${path}`);
    for (const b of blocks) {
      try {
        new X509Certificate(b);
      } catch (err) {
        return new FileProblem(field, `invalid certificate in ${path}: ${(err as Error).message}`);
      }
    }
  }
  try {
    createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
    return undefined;
  } catch (err) {
    return new FileProblem('tls_config', `certificate and key cannot be used: ${(err as Error).message}`);
  }
}

/** File problems of one http_client block, each `field: what is wrong` (for check-config). */
export function httpClientFileProblems(cfg: HttpClientConfig): string[] {
  try {
    new DownstreamClient(cfg, { requestTimeoutMs: 1000 });
    return [];
  } catch (err) {
    if (err instanceof HttpClientFilesError) return err.problems;
    throw err;
  }
}

/** True for Node/OpenSSL error codes of a failed TLS handshake or certificate check. */
export function isTlsFailure(code: string | undefined): boolean {
  return code !== undefined && (/CERT|ISSUER|SIGNATURE/.test(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
}
