// The push capability: routes pushes for /metrics/job/... to the Pushgateway that owns their
// grouping key, checks the Pushgateways' health, moves groups when the healthy set changes, and
// serves the owner lookup and the Prometheus HTTP SD document for the Pushgateways.
//
// It exists so batch jobs can push to one address while several Pushgateways hold their groups,
// each group on exactly one of them, and Prometheus scrapes every Pushgateway without seeing a
// group twice (docs/push.md has the rule and the timelines).

import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import type { Capability, CapabilityContext } from '../capability.js';
import type { PushConfig } from '../config/push.js';
import type { Config } from '../config/schema.js';
import { PushBodyTooLargeError } from '../errors.js';
import { DnsDiscovery } from '../query/discovery/dns-sd.js';
import { FileDiscovery } from '../query/discovery/file-sd.js';
import type { DiscoveredTarget, Discoverer, DiscoveryLog } from '../query/discovery/target.js';
import { TargetSet } from '../query/discovery/target-set.js';
import { initHash } from '../shard/hash.js';
import { connectionKey, PushConnection } from './connection.js';
import { forwardHeaders, forwardOnce, type ForwardAnswer, readSmallBody, ReplayBody, SMALL_BODY } from './forward.js';
import { groupPath, isPushPath, parseGroupingKey, PushPathError, type GroupingKey } from './grouping-key.js';
import { PushMetrics, type RebalanceReport } from './metrics.js';
import { Rebalancer } from './rebalance.js';
import { rankMembers } from './ring.js';

interface Member {
  address: string;
  labels: Record<string, string>;
  healthy: boolean;
  checked: boolean;
  lastCheck?: number;
  lastError?: string;
  groups?: number;
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
/** Push paths whose route is remembered; past this many the memory starts over. */
const ROUTE_CACHE_SIZE = 10_000;

/** Where pushes to one spelling of a push path go, for one ring. */
interface Route {
  gk: GroupingKey;
  /** The ring ranked for the key: owner first. */
  ranked: string[];
}

export class PushService implements Capability {
  readonly name = 'push';
  private cfg: PushConfig;
  private targets: TargetSet;
  private readonly members = new Map<string, Member>();
  private ring: string[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Built at start (it reads the TLS and secret files); replaced by a reload that changes them. */
  private conn: PushConnection | undefined;
  private readonly counters = new PushMetrics();
  private readonly rebalancer: Rebalancer;
  private stopped = false;
  private checking: Promise<void> | undefined;
  /**
   * Routes of push paths seen since the ring last changed: a batch job pushes the same group again
   * and again, and the path parse and a hash per member were a tenth of the proxy's own time per
   * push. Keyed by the raw path (a respelling is another entry with the same key).
   */
  private routes = new Map<string, Route>();
  private routesRing: readonly string[] = [];

  constructor(
    config: Config,
    private readonly ctx: CapabilityContext,
  ) {
    this.cfg = config.push!;
    this.targets = this.buildTargets(this.cfg);
    this.rebalancer = new Rebalancer({
      conn: () => this.conn!,
      log: ctx.log,
      ring: () => this.ring,
      enabled: () => this.cfg.rebalance,
      timeoutMs: () => this.cfg.forward_timeout,
      metrics: this.counters,
      counted: (address, groups) => {
        const m = this.members.get(address);
        if (m) m.groups = groups;
      },
    });
  }

  async start(): Promise<void> {
    await initHash();
    this.conn = await PushConnection.build(this.cfg);
    await this.followTargets();
    this.schedule();
  }

  /** Starts discovery of the Pushgateways, keeps the ring in step with it, and checks them all. */
  private async followTargets(): Promise<void> {
    await this.targets.start();
    this.syncMembers(this.targets.targets());
    this.targets.onChange((ts) => {
      this.syncMembers(ts);
      void this.checkAll();
    });
    await this.checkAll();
  }

  async reload(next: Config): Promise<void> {
    const cfg = next.push!;
    const targetsChanged = JSON.stringify(cfg.pushgateways) !== JSON.stringify(this.cfg.pushgateways);
    if (!this.conn || connectionKey(cfg) !== this.conn.key) {
      // Built before anything changes: a file that cannot be read refuses the reload, the old connection stays.
      const fresh = await PushConnection.build(cfg);
      const old = this.conn;
      this.conn = fresh;
      void old?.close();
    }
    this.cfg = cfg;
    if (targetsChanged) {
      this.targets.stop();
      this.targets = this.buildTargets(cfg);
      await this.followTargets();
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.targets.stop();
    await this.rebalancer.stop();
    await this.conn?.close();
  }

  fetch(req: Request, env: HttpBindings): Promise<Response | undefined> | Response | undefined {
    const rawUrl = env?.incoming?.url ?? new URL(req.url).pathname + new URL(req.url).search;
    const rawPath = pathOf(rawUrl);
    if (isPushPath(rawPath)) {
      if (req.method === 'PUT' || req.method === 'POST' || req.method === 'DELETE')
        return this.push(req.method, rawUrl, rawPath, env?.incoming, env?.outgoing, req);
      return undefined;
    }
    if (rawPath === '/api/v1/push/owner' && (req.method === 'GET' || req.method === 'POST')) return this.owner(req);
    if (rawPath === '/sd/pushgateways' && req.method === 'GET') return this.sd();
    return undefined;
  }

  /**
   * Claims a push for the server's fast path, ahead of the app: the same push() as through fetch,
   * served from Node's request and response with no Request, Response or Headers object;
   * undefined for anything else.
   */
  serveNode(incoming: IncomingMessage): ((outgoing: ServerResponse) => Promise<void>) | undefined {
    const method = incoming.method;
    if (method !== 'PUT' && method !== 'POST' && method !== 'DELETE') return undefined;
    const rawUrl = incoming.url ?? '/';
    const rawPath = pathOf(rawUrl);
    if (!isPushPath(rawPath)) return undefined;
    return async (outgoing) => {
      // With a Node response every answer of push() is written to it.
      await this.push(method, rawUrl, rawPath, incoming, outgoing);
    };
  }

  /** The healthy members in ring order (sorted addresses). */
  healthy(): readonly string[] {
    return this.ring;
  }

  /**
   * Routes one push. With Node's response (`outgoing`) the answer is written to it, whatever it is,
   * and RESPONSE_ALREADY_SENT returned; without (a caller with only a Request) it is a Response.
   */
  private async push(
    method: string,
    rawUrl: string,
    rawPath: string,
    incoming: IncomingMessage | undefined,
    outgoing: ServerResponse | undefined,
    req?: Request,
  ): Promise<Response> {
    const text = (status: number, body: string, extra?: Record<string, string>) => answerText(outgoing, status, body, extra);
    let route: Route;
    try {
      route = this.route(rawPath);
    } catch (err) {
      if (!(err instanceof PushPathError)) throw err;
      this.counters.refused('bad_path');
      this.counters.request(method, 400, '');
      return text(400, `${err.message}\n`);
    }
    const lengthHeader = incoming ? incoming.headers['content-length'] : req?.headers.get('content-length');
    const len = lengthHeader === undefined || lengthHeader === null ? NaN : Number(lengthHeader);
    if (method !== 'DELETE' && len > this.cfg.max_body_size) {
      this.counters.refused('too_large');
      this.counters.request(method, 413, '');
      return text(413, `${new PushBodyTooLargeError(this.cfg.max_body_size).message}\n`);
    }
    const { gk, ranked } = route;
    const conn = this.conn;
    if (ranked.length === 0 || !conn) {
      this.counters.refused('no_pushgateway');
      this.counters.request(method, 503, '');
      return text(503, 'no healthy Pushgateway to push to\n', { 'Retry-After': '1' });
    }
    // A move of this group in progress finishes first, so this push lands after the moved copy.
    // No await between the check and the note: a move starting now sees this push and skips the copy.
    for (let move = this.rebalancer.moveOf(gk.key); move; move = this.rebalancer.moveOf(gk.key)) await move;
    this.rebalancer.notePush(gk.key, method);
    let body: ReplayBody | Buffer | undefined;
    if (method !== 'DELETE') {
      if (incoming && len <= SMALL_BODY) {
        try {
          body = await readSmallBody(incoming, len, this.cfg.forward_timeout);
        } catch (err) {
          this.counters.request(method, 400, '');
          return text(400, `reading the push body failed: ${describe(err)}\n`);
        }
      } else {
        body = new ReplayBody(incoming ?? (req?.body ? Readable.fromWeb(req.body) : undefined), this.cfg.max_body_size);
      }
    }
    // The configured Authorization replaces the client's; without one the client's goes through.
    const headers = incoming ? forwardHeaders(incoming.headers, conn.auth) : forwardHeaders(Object.fromEntries(req?.headers ?? []), conn.auth);
    let answer: ForwardAnswer | undefined;
    let used = '';
    let lastErr: unknown;
    const replay = body instanceof ReplayBody ? body : undefined;
    for (let i = 0; i < 2 && i < ranked.length; i++) {
      const address = ranked[i];
      used = address;
      const t0 = performance.now();
      try {
        answer = await forwardOnce(conn.agent, conn.origin(address), method, rawUrl, headers, body, this.cfg.forward_timeout);
        this.counters.latency(address, (performance.now() - t0) / 1000);
        break;
      } catch (err) {
        lastErr = err;
        if (replay?.clientFailure) break;
        this.counters.forwardFailed(address);
        this.markDown(address, describe(err));
        if (i === 0 && ranked.length > 1) this.counters.retried();
      }
    }
    if (!answer) {
      if (replay?.clientFailure instanceof PushBodyTooLargeError) {
        this.counters.refused('too_large');
        this.counters.request(method, 413, used);
        return text(413, `${replay.clientFailure.message}\n`);
      }
      const code = replay?.clientFailure ? 400 : 502;
      this.counters.request(method, code, used);
      const why = replay?.clientFailure
        ? `reading the push body failed: ${describe(replay.clientFailure)}`
        : `Pushgateway ${used} did not answer: ${describe(lastErr)}`;
      this.ctx.log.warn({ pushgateway: used, group: gk.key.replace(/\xff/g, ' '), method }, why);
      return text(code, `${why}\n`);
    }
    this.counters.request(method, answer.status, used);
    if (method === 'DELETE' && answer.status < 300) await this.deleteElsewhere(gk, used);
    if (outgoing) {
      // Written to the socket at once: no Response object to build and take apart again per push.
      // Headers the web config's guard set on the response are kept (writeHead merges them).
      outgoing.writeHead(answer.status, answer.headers);
      if (answer.body instanceof Readable) {
        // A large answer streams as it comes; a failure midway cuts the connection, as a broken Response body would.
        const body = answer.body;
        await new Promise<void>((resolve) => pipeline(body, outgoing, () => resolve()));
      } else outgoing.end(answer.body ?? undefined);
      return RESPONSE_ALREADY_SENT;
    }
    const h = new Headers();
    for (const [k, v] of Object.entries(answer.headers)) for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
    const out = answer.body instanceof Readable ? (Readable.toWeb(answer.body) as ReadableStream<Uint8Array>) : answer.body;
    return new Response(out, { status: answer.status, headers: h });
  }

  /** The grouping key of a push path and the ring ranked for it; throws PushPathError for a path Pushgateway refuses. */
  private route(rawPath: string): Route {
    if (this.routesRing !== this.ring) {
      this.routes.clear();
      this.routesRing = this.ring;
    }
    let r = this.routes.get(rawPath);
    if (!r) {
      const gk = parseGroupingKey(rawPath);
      r = { gk, ranked: rankMembers(gk.key, this.ring) };
      if (this.routes.size >= ROUTE_CACHE_SIZE) this.routes.clear();
      this.routes.set(rawPath, r);
    }
    return r;
  }

  /** A DELETE removes the group from every Pushgateway, so no stale copy (from a move that failed, a direct push) survives it. */
  private async deleteElsewhere(gk: GroupingKey, done: string): Promise<void> {
    const path = groupPath(gk.job, gk.labels);
    await Promise.all(
      this.ring
        .filter((a) => a !== done)
        .map(async (a) => {
          try {
            const r = await this.conn!.request(a, path, { method: 'DELETE', timeoutMs: this.cfg.forward_timeout });
            await r.body.dump();
          } catch (err) {
            this.ctx.log.warn({ pushgateway: a, err: describe(err) }, 'push: deleting a group from a Pushgateway other than its owner failed');
          }
        }),
    );
  }

  private async owner(req: Request): Promise<Response> {
    const path = new URL(req.url).searchParams.get('path');
    if (path === null) return Response.json({ status: 'error', errorType: 'bad_data', error: 'missing parameter "path"' }, { status: 400 });
    let gk: GroupingKey;
    try {
      // The path parameter arrives decoded once by the query string; a client that wants a %2F in
      // it sends %252F, as it would have in the push URL.
      gk = parseGroupingKey(path);
    } catch (err) {
      return Response.json({ status: 'error', errorType: 'bad_data', error: (err as Error).message }, { status: 400 });
    }
    const ranked = rankMembers(gk.key, this.ring);
    return Response.json({
      status: 'success',
      data: {
        pushgateway: ranked[0] ?? null,
        next: ranked[1] ?? null,
        grouping_key: Object.fromEntries([['job', gk.job], ...gk.labels]),
        path: groupPath(gk.job, gk.labels),
      },
    });
  }

  private sd(): Response {
    const doc = this.ring.map((a) => ({ targets: [a], labels: { ...(this.members.get(a)?.labels ?? {}) } }));
    return Response.json(doc);
  }

  metricsText(): string {
    return this.counters.render([...this.members.values()].map((m) => ({ address: m.address, healthy: m.healthy, groups: m.groups })));
  }

  status(): unknown {
    return {
      pushgateways: [...this.members.values()].map((m) => ({
        address: m.address,
        healthy: m.healthy,
        in_ring: this.ring.includes(m.address),
        groups: m.groups ?? null,
        last_check: m.lastCheck ? new Date(m.lastCheck).toISOString() : null,
        last_error: m.lastError ?? null,
      })),
      rebalance: this.cfg.rebalance,
      // How the Pushgateways are reached (never the secret).
      connection: {
        scheme: this.cfg.scheme,
        tls_ca: this.cfg.tls_config?.ca_file ?? null,
        auth: this.cfg.basic_auth
          ? `basic_auth (${this.cfg.basic_auth.username})`
          : this.cfg.authorization
            ? `authorization (${this.cfg.authorization.type})`
            : null,
      },
      last_rebalance: this.rebalancer.last ?? null,
      ...this.counters.statusPart(),
    };
  }

  /** The last rebalance's outcome (tests, status). */
  lastRebalance(): RebalanceReport | undefined {
    return this.rebalancer.last;
  }

  private buildTargets(cfg: PushConfig): TargetSet {
    const base = this.ctx.log;
    const log: DiscoveryLog = {
      info: (obj, msg) => base.info({ capability: 'push', ...obj }, msg),
      warn: (obj, msg) => base.warn({ capability: 'push', ...obj }, msg),
      error: (obj, msg) => base.error({ capability: 'push', ...obj }, msg),
    };
    const p = cfg.pushgateways;
    const statics: DiscoveredTarget[] = p.static_configs.flatMap((sc) => sc.targets.map((address) => ({ address, labels: sc.labels })));
    const discoverers: Discoverer[] = [
      ...p.file_sd_configs.map(
        (c, j) => new FileDiscovery({ name: `push.file_sd_configs[${j}]`, files: this.resolve(c.files), refreshIntervalMs: c.refresh_interval, log }),
      ),
      ...p.dns_sd_configs.map(
        (c, j) =>
          new DnsDiscovery({ name: `push.dns_sd_configs[${j}]`, names: c.names, type: c.type, port: c.port, refreshIntervalMs: c.refresh_interval, log }),
      ),
    ];
    return new TargetSet('pushgateways', statics, discoverers, log);
  }

  private resolve(files: string[]): string[] {
    // As for server groups: paths as written (relative to the working directory).
    return files;
  }

  private syncMembers(ts: readonly DiscoveredTarget[]): void {
    const seen = new Set<string>();
    for (const t of ts) {
      seen.add(t.address);
      const m = this.members.get(t.address);
      if (m) m.labels = t.labels;
      else this.members.set(t.address, { address: t.address, labels: t.labels, healthy: false, checked: false });
    }
    for (const a of [...this.members.keys()]) if (!seen.has(a)) this.members.delete(a);
    this.updateRing();
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.stopped) return;
    this.timer = setInterval(() => void this.checkAll(), this.cfg.health_check_interval);
    this.timer.unref();
  }

  /** Checks every member once (a check already running is joined). */
  checkAll(): Promise<void> {
    this.checking ??= (async () => {
      try {
        // A rotated password_file / credentials_file is picked up here; one that cannot be read keeps the last secret.
        await this.conn
          ?.refresh()
          .catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'push: re-reading a secret file failed; the last secret read stays in use'));
        await Promise.all([...this.members.values()].map((m) => this.check(m)));
        this.updateRing();
        this.rebalancer.tick();
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private async check(m: Member): Promise<void> {
    // Not shorter than 2 s: a Pushgateway busy with a burst of pushes answers late, not never.
    const timeout = Math.min(Math.max(this.cfg.health_check_interval, 2000), 10_000);
    let error: string | undefined;
    for (const path of ['/-/healthy', '/-/ready']) {
      try {
        const r = await this.conn!.request(m.address, path, { timeoutMs: timeout });
        await r.body.dump();
        if (r.statusCode !== 200) error = `${path} answered ${r.statusCode}`;
      } catch (err) {
        error = `${path}: ${describe(err)}`;
      }
      if (error) break;
    }
    const was = m.healthy;
    m.healthy = error === undefined;
    m.checked = true;
    m.lastCheck = Date.now();
    m.lastError = error;
    if (was !== m.healthy) {
      if (m.healthy) this.ctx.log.info({ pushgateway: m.address }, 'push: Pushgateway is healthy: it joins the ring');
      else this.ctx.log.warn({ pushgateway: m.address, err: error }, 'push: Pushgateway failed its health check: it leaves the ring');
    }
  }

  /** A forward to it failed before any answer: out of the ring now, the next health check may bring it back. */
  private markDown(address: string, why: string): void {
    const m = this.members.get(address);
    if (!m || !m.healthy) return;
    m.healthy = false;
    m.lastError = why;
    this.ctx.log.warn({ pushgateway: address, err: why }, 'push: forwarding to the Pushgateway failed: it leaves the ring until it passes a health check');
    this.updateRing();
  }

  private updateRing(): void {
    const next = [...this.members.values()]
      .filter((m) => m.healthy)
      .map((m) => m.address)
      .sort();
    if (next.length === this.ring.length && next.every((a, i) => a === this.ring[i])) return;
    this.ring = next;
    this.ctx.log.info({ ring: next }, 'push: the healthy Pushgateways changed');
    this.rebalancer.ringChanged();
  }
}

/** The path of a request target, as sent (no decoding): what comes before `?`. */
function pathOf(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  return q === -1 ? rawUrl : rawUrl.slice(0, q);
}

/** A plain-text answer: written to Node's response when there is one, else a Response. */
function answerText(outgoing: ServerResponse | undefined, status: number, body: string, extra?: Record<string, string>): Response {
  const headers = extra ? { ...TEXT, ...extra } : TEXT;
  if (!outgoing) return new Response(body, { status, headers });
  outgoing.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  outgoing.end(body);
  return RESPONSE_ALREADY_SENT;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${code ? `${code} ` : ''}${err.message}${cause}`;
  }
  return String(err);
}
