// A small etcd v3 client over etcd's JSON gateway (/v3/kv/range, /v3/watch, /v3/lease/*), sent
// through undici. Why the gateway and not the `etcd3` npm package: it needs nothing but the HTTP
// client the program already ships (no gRPC stack, no native build on Node 20), etcd 3.4 and later
// serve it on the client port, and the few calls the fleet makes map one to one onto it. Endpoints
// are tried in turn, so a dead member or a leader change costs one failed request, not an outage.

import { readFile } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { readTlsMaterial, tlsConnectOptions } from '../client/auth-tls.js';
import type { FleetConfig } from '../config/fleet.js';
import { EtcdError } from '../errors.js';

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  lease: string;
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

/** What one watch stream ended with: its last revision seen, or that history was compacted away. */
export type WatchEnd = { kind: 'closed'; lastRevision: number } | { kind: 'compacted'; compactRevision: number };

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** etcd's range_end for every key starting with `prefix`, base64 as the gateway takes it. */
const b64Range = (prefix: string): string => {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i]++;
      return out.toString('base64');
    }
  }
  return b64('\0');
};

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  lease?: string;
}
const toKv = (k: RawKv): KeyValue => ({
  key: unb64(k.key),
  value: unb64(k.value),
  createRevision: Number(k.create_revision ?? 0),
  modRevision: Number(k.mod_revision ?? 0),
  lease: k.lease ?? '0',
});

export class EtcdClient {
  private current = 0;
  private token: string | undefined;
  private dispatcher: Dispatcher | undefined;
  private closed = false;
  /** Requests that failed (every endpoint tried), for the fleet's metrics. */
  errors = 0;

  constructor(private readonly cfg: FleetConfig['etcd']) {}

  private async agent(): Promise<Dispatcher> {
    if (this.dispatcher) return this.dispatcher;
    const material = await readTlsMaterial(this.cfg.tls_config, (field, path) =>
      readFile(path, 'utf8').catch((e: unknown) => {
        throw new EtcdError(`fleet.etcd.${field}: cannot read ${path}: ${(e as Error).message}`);
      }),
    );
    this.dispatcher = new Agent({ connect: { ...tlsConnectOptions(this.cfg.tls_config, material), timeout: this.cfg.request_timeout } });
    return this.dispatcher;
  }

  /** The endpoint in use: the one that answered last. */
  get endpoint(): string {
    return this.cfg.endpoints[this.current % this.cfg.endpoints.length];
  }

  private async authenticate(base: string, dispatcher: Dispatcher, signal: AbortSignal): Promise<void> {
    if (this.cfg.username === undefined || this.token !== undefined) return;
    const res = await request(`${base}/v3/auth/authenticate`, {
      method: 'POST',
      body: JSON.stringify({ name: this.cfg.username, password: this.cfg.password }),
      dispatcher,
      signal,
    });
    const body = (await res.body.json()) as { token?: string; message?: string };
    // The server's message only: the password is never part of it.
    if (res.statusCode !== 200 || body.token === undefined)
      throw new EtcdError(`etcd authentication as ${this.cfg.username} failed: ${body.message ?? res.statusCode}`, true);
    this.token = body.token;
  }

  /** One unary gateway call, trying each endpoint once from the one that answered last. */
  async call<T>(path: string, body: unknown): Promise<T> {
    const dispatcher = await this.agent();
    let last: unknown;
    for (let i = 0; i < this.cfg.endpoints.length; i++) {
      if (this.closed) throw new EtcdError('etcd client closed');
      const idx = (this.current + i) % this.cfg.endpoints.length;
      const base = this.cfg.endpoints[idx].replace(/\/+$/, '');
      const signal = AbortSignal.timeout(this.cfg.request_timeout);
      try {
        await this.authenticate(base, dispatcher, signal);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (this.token !== undefined) headers.authorization = this.token;
        const res = await request(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers, dispatcher, signal });
        const json = (await res.body.json()) as T & { error?: string; message?: string; code?: number };
        if (res.statusCode !== 200) {
          const msg = json.message ?? json.error ?? `HTTP ${res.statusCode}`;
          // An expired auth token: fetch a new one on the next try.
          if (/token/i.test(msg)) this.token = undefined;
          // etcd answered: the request itself is wrong (lease not found, ...), not the endpoint.
          const unavailable = res.statusCode >= 500 && json.code !== 5;
          const err = new EtcdError(`etcd ${path} at ${base}: ${msg}`, !unavailable);
          if (!unavailable) throw err;
          last = err;
          continue;
        }
        this.current = idx;
        return json;
      } catch (e) {
        if (e instanceof EtcdError && e.answered) throw e;
        last = e;
      }
    }
    this.errors++;
    throw last instanceof EtcdError ? last : new EtcdError(`etcd unreachable (${this.cfg.endpoints.join(', ')}): ${(last as Error)?.message ?? last}`);
  }

  async rangePrefix(prefix: string): Promise<{ revision: number; kvs: KeyValue[] }> {
    const r = await this.call<{ header?: { revision?: string }; kvs?: RawKv[] }>('/v3/kv/range', { key: b64(prefix), range_end: b64Range(prefix) });
    return { revision: Number(r.header?.revision ?? 0), kvs: (r.kvs ?? []).map(toKv) };
  }

  /** Reads every key under each prefix in one transaction, so all of them are of one revision. */
  async rangePrefixes(prefixes: readonly string[]): Promise<{ revision: number; kvs: KeyValue[][] }> {
    const r = await this.call<{ header?: { revision?: string }; responses?: { response_range?: { kvs?: RawKv[] } }[] }>('/v3/kv/txn', {
      success: prefixes.map((p) => ({ request_range: { key: b64(p), range_end: b64Range(p) } })),
    });
    return { revision: Number(r.header?.revision ?? 0), kvs: prefixes.map((_, i) => (r.responses?.[i]?.response_range?.kvs ?? []).map(toKv)) };
  }

  /** Makes the next request (a watch) start at the next endpoint, after the current one failed. */
  rotate(): void {
    this.current = (this.current + 1) % this.cfg.endpoints.length;
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    const r = await this.call<{ header?: { revision?: string } }>('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
    return Number(r.header?.revision ?? 0);
  }

  async delete(key: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: b64(key) });
  }

  /** Grants a lease of `ttlSeconds`; its ID as etcd prints it (a decimal int64). */
  async grant(ttlSeconds: number): Promise<string> {
    const r = await this.call<{ ID?: string; error?: string }>('/v3/lease/grant', { TTL: ttlSeconds });
    if (r.ID === undefined) throw new EtcdError(`etcd lease grant: ${r.error ?? 'no lease ID'}`, true);
    return r.ID;
  }

  /** Renews the lease once; its remaining TTL in seconds, 0 when etcd no longer has it. */
  async keepAlive(id: string): Promise<number> {
    const r = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: id });
    return Number(r.result?.TTL ?? 0);
  }

  async revoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  /**
   * Watches every key under `prefix` from `startRevision` until the stream ends (connection lost,
   * `signal` aborted, or history compacted), calling `onEvents` with each batch and its revision.
   */
  async watchPrefix(prefix: string, startRevision: number, onEvents: (events: WatchEvent[], revision: number) => void, signal: AbortSignal): Promise<WatchEnd> {
    const dispatcher = await this.agent();
    const base = this.endpoint.replace(/\/+$/, '');
    let lastRevision = startRevision - 1;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    await this.authenticate(base, dispatcher, AbortSignal.any([signal, AbortSignal.timeout(this.cfg.request_timeout)]));
    if (this.token !== undefined) headers.authorization = this.token;
    const res = await request(`${base}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64(prefix), range_end: b64Range(prefix), start_revision: String(startRevision), progress_notify: true } }),
      headers,
      dispatcher,
      signal,
      headersTimeout: this.cfg.request_timeout,
      // The stream is idle between changes; progress notifications (every 10 minutes by default) are not enough to time it on.
      bodyTimeout: 0,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new EtcdError(`etcd watch at ${base}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    }
    let buf = '';
    for await (const chunk of res.body) {
      buf += (chunk as Buffer).toString('utf8');
      let nl: number;
      // The gateway writes one JSON object per message, newline-delimited.
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        const msg = JSON.parse(line) as {
          result?: {
            header?: { revision?: string };
            events?: { type?: string; kv?: RawKv }[];
            compact_revision?: string;
            canceled?: boolean;
            cancel_reason?: string;
          };
          error?: { message?: string };
        };
        if (msg.error) throw new EtcdError(`etcd watch: ${msg.error.message ?? 'error'}`);
        const r = msg.result ?? {};
        if (r.compact_revision !== undefined && Number(r.compact_revision) > 0) {
          res.body.destroy();
          return { kind: 'compacted', compactRevision: Number(r.compact_revision) };
        }
        if (r.canceled) throw new EtcdError(`etcd watch canceled: ${r.cancel_reason ?? 'no reason given'}`);
        const rev = Number(r.header?.revision ?? 0);
        const events = (r.events ?? []).map((e): WatchEvent => ({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', kv: toKv(e.kv ?? {}) }));
        if (events.length > 0) {
          lastRevision = Math.max(...events.map((e) => e.kv.modRevision));
          onEvents(events, Math.max(rev, lastRevision));
        } else if (rev > lastRevision && !(r as { created?: boolean }).created) {
          // A progress notification: nothing changed under the prefix up to rev.
          lastRevision = rev;
          onEvents([], rev);
        }
      }
    }
    return { kind: 'closed', lastRevision };
  }

  async close(): Promise<void> {
    this.closed = true;
    const d = this.dispatcher;
    this.dispatcher = undefined;
    await d?.destroy();
  }
}
