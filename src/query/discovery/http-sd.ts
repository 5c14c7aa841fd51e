// http_sd_configs: targets from an HTTP endpoint answering Prometheus's HTTP SD JSON, fetched again
// every refresh_interval, as Prometheus's HTTP discovery does.
//
// It exists so any HTTP SD source can feed a server group; in particular promfront's own fleet
// (`/sd/fleet/members?group=G`, docs/fleet.md) makes each fleet group a server group whose targets
// are its live members, without the query layer (a worker thread) knowing about etcd.
//
// As Prometheus: the answer must be 200 with a JSON Content-Type and a list of target groups; any
// failure keeps the last good targets, logged and counted. The refresh interval is sent in
// X-Prometheus-Refresh-Interval-Seconds. Auth (basic_auth, authorization, bearer token) and
// tls_config as Prometheus's HTTP client takes them, through the one builder (client/auth-tls.ts);
// secret files are read at every refresh, so a rotated secret is used from the next one.

import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { Agent, request } from 'undici';
import { authorizationHeader, readTlsMaterial, tlsConnectOptions, type AuthTlsConfig } from '../../client/auth-tls.js';
import { RefreshingDiscoverer } from './refresher.js';
import { dedupeTargets, type DiscoveryLog, parseTargetGroupsFile } from './target.js';

export interface HttpDiscoveryOptions {
  name: string;
  url: string;
  refreshIntervalMs: number;
  log?: DiscoveryLog;
  /** The http_sd_config's auth and TLS fields. */
  auth?: AuthTlsConfig;
}

/** The URL as logs and /status show it: a password in it replaced by <secret>. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '<secret>';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/**
 * GETs of one HTTP SD endpoint with its auth and TLS settings. Errors name the field and file,
 * never a secret's value.
 */
export class SdHttpClient {
  private agent: Agent | undefined;
  private agentKey = '';

  constructor(private readonly auth: AuthTlsConfig = {}) {}

  async get(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ status: number; statusText: string; contentType: string; text: string }> {
    const read = async (field: string, path: string): Promise<string> => {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new Error(`${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      if (field.startsWith('tls_config.')) return text;
      const secret = text.trim();
      if (secret === '') throw new Error(`${field}: ${path} is empty`);
      return secret;
    };
    const authorization = await authorizationHeader(this.auth, read);
    const material = await readTlsMaterial(this.auth.tls_config, read);
    // One connection pool per TLS material: a rotated certificate gets a new pool.
    const key = JSON.stringify([material, this.auth.tls_config ?? null]);
    if (this.agent === undefined || key !== this.agentKey) {
      void this.agent?.close().catch(() => undefined);
      this.agent = new Agent({ connect: tlsConnectOptions(this.auth.tls_config, material) });
      this.agentKey = key;
    }
    const res = await request(url, {
      method: 'GET',
      headers: { ...headers, ...(authorization !== undefined ? { authorization } : {}) },
      dispatcher: this.agent,
      signal,
    });
    const text = await res.body.text();
    const type = res.headers['content-type'];
    return { status: res.statusCode, statusText: STATUS_CODES[res.statusCode] ?? '', contentType: Array.isArray(type) ? type[0] : (type ?? ''), text };
  }

  close(): void {
    void this.agent?.close().catch(() => undefined);
    this.agent = undefined;
  }
}

const JSON_TYPE = /^application\/json(;.*)?$/i;

export class HttpDiscovery extends RefreshingDiscoverer {
  private readonly abort = new AbortController();
  private readonly client: SdHttpClient;

  constructor(private readonly opts: HttpDiscoveryOptions) {
    super({ name: opts.name, refreshIntervalMs: opts.refreshIntervalMs, log: opts.log, overlap: 'join' });
    this.client = new SdHttpClient(opts.auth);
  }

  protected override released(): void {
    this.abort.abort();
    this.client.close();
  }

  protected async refreshOnce(): Promise<void> {
    const shown = shownUrl(this.opts.url);
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(1000, this.opts.refreshIntervalMs))]);
      const res = await this.client.get(
        this.opts.url,
        { accept: 'application/json', 'x-prometheus-refresh-interval-seconds': String(this.opts.refreshIntervalMs / 1000) },
        signal,
      );
      const text = res.text;
      if (res.status !== 200) throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`);
      const type = res.contentType;
      if (!JSON_TYPE.test(type)) throw new Error(`unsupported content type ${JSON.stringify(type)}`);
      const targets = parseTargetGroupsFile(text, 'answer.json');
      if (this.stopped) return;
      this.succeeded(shown, { sd: this.name, url: shown }, 'http_sd: works again');
      this.publish(dedupeTargets(targets));
    } catch (err) {
      if (this.stopped) return;
      const reason = (err as Error).message;
      this.failed(
        shown,
        reason,
        { sd: this.name, url: shown, err: reason, kept_targets: this.targets().length },
        `http_sd: ${shown}: ${reason}; keeping the last good targets`,
      );
    }
  }
}
