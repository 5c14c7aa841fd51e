// How the push capability talks to its Pushgateways: the scheme, the TLS settings and the
// Authorization header of the `push:` section (Prometheus's scheme, tls_config, basic_auth and
// authorization), and one keep-alive connection pool per Pushgateway behind one undici Agent.
// Pushes, health checks and rebalance moves all go through it, so a Pushgateway behind
// exporter-toolkit's --web.config.file (TLS, basic auth) is reached the same way by each of them.
//
// Secret files (password_file, credentials_file) are read when the connection is built and again at
// every health-check round (refresh), so a rotated secret is used within one interval without a
// reload. The secret itself only lives in the header string: never in logs, /status or errors.

import { readFile } from 'node:fs/promises';
import { Agent, type Dispatcher } from 'undici';
import { authorizationHeader, readTlsMaterial, tlsConnectOptions } from '../client/auth-tls.js';
import type { PushConfig } from '../config/push.js';
import { PushConnectionError } from '../errors.js';

type ConnectionConfig = Pick<PushConfig, 'scheme' | 'tls_config' | 'basic_auth' | 'authorization'>;

/** The part of the push config that needs a new connection when it changes. */
export function connectionKey(cfg: ConnectionConfig): string {
  return JSON.stringify([cfg.scheme, cfg.tls_config ?? null, cfg.basic_auth ?? null, cfg.authorization ?? null]);
}

async function readSecret(field: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PushConnectionError(`push.${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const secret = text.trim();
  if (secret === '') throw new PushConnectionError(`push.${field}: ${path} is empty`);
  return secret;
}

async function readPem(field: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new PushConnectionError(`push.${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export class PushConnection {
  readonly key: string;
  private authorization: string | undefined;
  /** The Authorization header to add to every request (empty object when none is configured). */
  auth: Record<string, string> = {};

  private constructor(
    private readonly cfg: ConnectionConfig,
    readonly agent: Agent,
  ) {
    this.key = connectionKey(cfg);
  }

  /** Reads the TLS files and secrets of `cfg`; rejects with a PushConnectionError naming the field when one cannot be read. */
  static async build(cfg: ConnectionConfig): Promise<PushConnection> {
    const tls = cfg.scheme === 'https' ? tlsConnectOptions(cfg.tls_config, await readTlsMaterial(cfg.tls_config, readPem)) : undefined;
    // Pipelining stays off (Pushgateway answers in order anyway, but a slow push would hold up the
    // next); up to 256 sockets per Pushgateway kept alive between pushes.
    const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256, ...(tls ? { connect: tls } : {}) });
    const conn = new PushConnection(cfg, agent);
    await conn.refresh();
    return conn;
  }

  /** Re-reads the secret files (a rotated password is used from the next request on). */
  async refresh(): Promise<void> {
    const next = await authorizationHeader(this.cfg, readSecret);
    if (next !== this.authorization) {
      this.authorization = next;
      this.auth = next === undefined ? {} : { authorization: next };
    }
  }

  /** scheme://host:port of a Pushgateway. */
  origin(address: string): string {
    return `${this.cfg.scheme}://${address}`;
  }

  /** A request to one Pushgateway with the configured Authorization (health checks, moves). */
  request(
    address: string,
    path: string,
    opts: { method?: Dispatcher.HttpMethod; body?: string; headers?: Record<string, string>; timeoutMs: number },
  ): Promise<Dispatcher.ResponseData> {
    return this.agent.request({
      origin: this.origin(address),
      path,
      method: opts.method ?? 'GET',
      body: opts.body,
      headers: { ...opts.headers, ...this.auth },
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  }

  /** Closes the pool once the requests in flight have ended. */
  close(): Promise<void> {
    return this.agent.close().catch(() => {});
  }
}
