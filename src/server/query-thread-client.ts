// The main thread's side of the query thread (query-thread.ts): starts it, forwards /api/v1 and
// /federate requests to it and streams its answers to the socket with backpressure, asks it for its
// /metrics and /status parts, sends it reloaded configs and log levels, and restarts it when it
// dies, answering the requests it had with 503. The main thread keeps only what must stay quick:
// reading a bounded request body and writing answers.

import type { HttpBindings } from '@hono/node-server';
import type { Logger } from 'pino';
import type { LogFormat } from './logger.js';
import { Worker } from 'node:worker_threads';
import type { RuleAnswer, RuleRound } from '../capability.js';
import type { Config } from '../config/schema.js';
import type { FromThread, QueryThreadInit, ToThread } from './query-thread-protocol.js';
import { Exposition } from './self-metrics.js';
import { readBodyBounded, readNodeBodyBounded } from './read-body.js';
import { APP_TEXT, writeAppAnswer } from './node-answer.js';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** The largest request body read (Prometheus's remote-read maximum, 32 MiB); larger is refused with 413. */
export const MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;
/** Default for how long an answer may sit in the socket's buffer without any byte leaving. */
export const DEFAULT_WRITE_TIMEOUT_MS = 60_000;
/** How long /metrics and /status wait for the thread before using its last answer. */
const ASK_TIMEOUT_MS = 1000;
/** Restart back-off after a crash: doubles per crash within a minute, up to the cap. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;

export interface QueryThreadOptions {
  config: Config;
  log: Logger;
  level: string;
  /** How long an answer may make no progress into the socket before the connection is closed. */
  writeTimeoutMs?: number;
  /** V8 heap limit of the query thread in MB (default: Node's); a query past it ends the thread, not the process. */
  heapLimitMb?: number;
  logFormat?: LogFormat;
}

interface Pending {
  /** Settles the request's Response (or undefined: no route). */
  head: (res: Response | undefined) => void;
  fail: (err: Error) => void;
  /** Set once the head arrived: chunks go here. */
  body?: ReadableStreamDefaultController<Uint8Array>;
  /** The chunk that arrived before the stream asked for it (the first one comes unasked). */
  ready?: Uint8Array | null;
  /** Resolves the stream's pending pull. */
  wake?: () => void;
  /** Set for a request served from Node's request and response (serveNode): the answer is written there, no Response. */
  node?: ServerResponse;
}

export class QueryThread {
  private worker!: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly rpcs = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private nextSeq = 1;
  private config: Config;
  private level: string;
  private stopping = false;
  private firstReady!: Promise<void>;
  private crashes: number[] = [];
  private lastMetrics = '';
  private lastStatus: unknown;
  private readonly writeTimeoutMs: number;
  /** Counters for /metrics. */
  readonly counts = { restarts: 0, crashFailed: 0, bodyTooLarge: 0, writeTimeouts: 0, staleAnswers: 0 };
  up = false;

  constructor(private readonly opts: QueryThreadOptions) {
    this.config = opts.config;
    this.level = opts.level;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    this.firstReady = this.start();
  }

  /** Resolves once the first thread's query layer had service discovery's first look. */
  ready(): Promise<void> {
    return this.firstReady;
  }

  get inflight(): number {
    return this.pending.size;
  }

  private start(): Promise<void> {
    const init: QueryThreadInit = { config: this.config, level: this.level, logFormat: this.opts.logFormat };
    const worker = new Worker(new URL('./query-thread.js', import.meta.url), {
      workerData: init,
      // The process's own flags, for /api/v1/status/flags (a worker's argv holds none by default).
      argv: process.argv.slice(2),
      resourceLimits: this.opts.heapLimitMb ? { maxOldGenerationSizeMb: this.opts.heapLimitMb } : undefined,
    });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromThread) => {
        if (m.t === 'ready') {
          this.up = true;
          if (this.counts.restarts > 0) this.opts.log.info({ component: 'query', restarts: this.counts.restarts }, 'query thread restarted and ready');
          resolve();
        } else this.onMessage(m);
      });
      worker.on('error', (err) => {
        this.opts.log.error({ component: 'query', err: err.message, code: (err as NodeJS.ErrnoException).code }, 'query thread failed');
      });
      worker.on('exit', (code) => {
        if (this.worker !== worker) return;
        this.up = false;
        reject(new Error(`the query thread exited (code ${code}) before it was ready`));
        if (!this.stopping) this.crashed(code);
      });
    });
  }

  private crashed(code: number): void {
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const p of lost) {
      this.counts.crashFailed++;
      const msg = `the query thread stopped (exit code ${code}) while answering this request; it is being restarted`;
      if (p.node) failNode(p.node, msg);
      else if (p.body) p.body.error(new Error(msg));
      else p.head(unavailable(msg));
    }
    for (const r of this.rpcs.values()) r.reject(new Error(`the query thread stopped (exit code ${code})`));
    this.rpcs.clear();
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < 60_000), now];
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (this.crashes.length - 1));
    this.counts.restarts++;
    this.opts.log.error(
      { component: 'query', exit_code: code, failed_requests: lost.length, restart_in_ms: delay },
      'query thread stopped: its requests were answered 503; restarting it',
    );
    setTimeout(() => {
      if (this.stopping) return;
      this.start().catch((err: unknown) => this.opts.log.error({ component: 'query', err: (err as Error).message }, 'query thread restart failed'));
    }, delay).unref();
  }

  private post(m: ToThread, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer ?? []);
  }

  private onMessage(m: FromThread): void {
    if (m.t === 'reply') {
      const r = this.rpcs.get(m.seq);
      this.rpcs.delete(m.seq);
      if (m.error !== undefined) r?.reject(new Error(m.error));
      else r?.resolve(m.value);
      return;
    }
    if (m.t === 'ready') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (p.node) {
      this.toNode(m, p.node);
      return;
    }
    switch (m.t) {
      case 'none':
        this.pending.delete(m.id);
        p.head(undefined);
        return;
      case 'fail':
        this.pending.delete(m.id);
        if (p.body) p.body.error(new Error(m.message));
        else p.fail(new Error(m.message));
        return;
      case 'head':
        if (m.end) {
          this.pending.delete(m.id);
          // The whole body at once: written with its length in one go, no stream in between.
          const bodyless = m.status === 204 || m.status === 304;
          p.head(new Response(bodyless ? null : new Uint8Array(m.chunk ?? new ArrayBuffer(0)), { status: m.status, headers: m.headers }));
          return;
        }
        if (m.chunk !== undefined) p.ready = new Uint8Array(m.chunk);
        p.head(this.response(m.id, p, m.status, m.headers));
        return;
      case 'chunk':
      case 'end':
        p.ready = m.t === 'chunk' ? new Uint8Array(m.chunk) : null;
        if (m.t === 'end') this.pending.delete(m.id);
        p.wake?.();
    }
  }

  /** The Response whose body pulls chunks from the thread only when the socket took the previous one. */
  private response(id: number, p: Pending, status: number, headers: [string, string][]): Response {
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          p.body = controller;
        },
        pull: async (controller) => {
          if (p.ready === undefined) {
            await new Promise<void>((resolve) => (p.wake = resolve));
            p.wake = undefined;
          }
          const chunk = p.ready;
          p.ready = undefined;
          if (chunk === null || chunk === undefined) {
            controller.close();
            return;
          }
          controller.enqueue(chunk);
          if (this.pending.has(id)) this.post({ t: 'pull', id });
        },
        cancel: () => {
          if (this.pending.delete(id)) this.post({ t: 'abort', id });
        },
      },
      { highWaterMark: 0 },
    );
    // A body is not allowed with these statuses: Response would throw.
    return new Response(status === 204 || status === 304 ? null : body, { status, headers });
  }

  /**
   * Answers an /api/v1 or /federate request in the query thread; undefined when the layer has no
   * route for it (or there is no query section).
   */
  async fetch(req: Request, env: HttpBindings): Promise<Response | undefined> {
    let body: ArrayBuffer | undefined;
    if (req.body) {
      const read = await readBodyBounded(req, MAX_REQUEST_BODY_BYTES);
      if (read === undefined) {
        this.counts.bodyTooLarge++;
        return new Response(TOO_LARGE_TEXT, { status: 413, headers: TOO_LARGE_HEADERS });
      }
      body = read.buffer as ArrayBuffer;
    }
    if (!this.up) return unavailable('the query thread is restarting after a failure; try again shortly');
    const id = this.nextId++;
    const res = await new Promise<Response | undefined>((head, fail) => {
      this.pending.set(id, { head, fail });
      // The thread's handler sees its request aborted and stops; nobody reads what it would answer.
      const onAbort = () => this.drop(id, 'the client closed the connection');
      if (req.signal.aborted) onAbort();
      // Kept for the request's life: the signal fires on the socket's close, after the answer too.
      else req.signal.addEventListener('abort', onAbort, { once: true });
      this.post({ t: 'req', id, method: req.method, url: req.url, headers: [...req.headers], body }, body ? [body] : undefined);
    });
    if (res && env.outgoing) this.watchWrites(env.outgoing, id);
    return res;
  }

  /**
   * The same as fetch for a request served straight from Node's request and response (the
   * server's fast path, fast-path.ts): the body read from `req`, the answer written to `res` as
   * the app would write fetch's Response (same status, headers and bytes), with no Request,
   * Response or web stream on this thread. `url` is the request's absolute URL.
   */
  async serveNode(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    let body: ArrayBuffer | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const read = await readNodeBodyBounded(req, MAX_REQUEST_BODY_BYTES);
      if (read === undefined) {
        this.counts.bodyTooLarge++;
        writeAppAnswer(req, res, 413, TOO_LARGE_TEXT, TOO_LARGE_HEADERS);
        return;
      }
      body = read.buffer as ArrayBuffer;
    }
    if (!this.up) {
      failNode(res, 'the query thread is restarting after a failure; try again shortly');
      return;
    }
    if (res.destroyed) return; // the client is gone: nothing to ask
    const id = this.nextId++;
    this.pending.set(id, { head: () => undefined, fail: () => undefined, node: res });
    // As the app's abort signal: a connection closed before the answer was written in full.
    res.once('close', () => {
      if (!res.writableFinished) this.drop(id, 'the client closed the connection');
    });
    const raw = req.rawHeaders;
    const headers: [string, string][] = [];
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
    this.post({ t: 'req', id, method: req.method ?? 'GET', url, headers, body }, body ? [body] : undefined);
  }

  /** A message about a request served by serveNode, written to its response. */
  private toNode(m: Exclude<FromThread, { t: 'ready' | 'reply' }>, res: ServerResponse): void {
    switch (m.t) {
      case 'none':
        // No query layer (a reload removed it): the app's 404, which would have had the request next.
        this.pending.delete(m.id);
        writeAppAnswer(res.req, res, 404, `404 page not found: ${(res.req.url ?? '/').split('?')[0]}\n`);
        return;
      case 'fail':
        this.pending.delete(m.id);
        // Before the head: the app's onError answer; after it, the connection is cut as a broken body cuts it.
        if (res.headersSent) res.destroy(new Error(m.message));
        else writeAppAnswer(res.req, res, 500, `internal error: ${m.message}\n`);
        return;
      case 'head': {
        const headers: OutgoingHttpHeaders = {};
        for (const [k, v] of m.headers) headers[k] = v;
        const bodyless = m.status === 204 || m.status === 304;
        if (!bodyless) headers['content-type'] ??= APP_TEXT;
        if (m.end || bodyless) {
          this.pending.delete(m.id);
          if (!m.end) this.post({ t: 'abort', id: m.id });
          const chunk = bodyless || m.chunk === undefined ? undefined : new Uint8Array(m.chunk);
          if (!bodyless) headers['content-length'] ??= chunk?.byteLength ?? 0;
          res.writeHead(m.status, headers);
          res.end(chunk);
          // What did not fit the socket's buffer is watched as a streamed answer is.
          if (res.writableLength + (res.socket?.writableLength ?? 0) > 0) this.watchWrites(res, m.id);
          return;
        }
        res.writeHead(m.status, headers);
        this.watchWrites(res, m.id);
        if (m.chunk !== undefined) this.writeNode(m.id, res, new Uint8Array(m.chunk));
        return;
      }
      case 'chunk':
        this.writeNode(m.id, res, new Uint8Array(m.chunk));
        return;
      case 'end':
        this.pending.delete(m.id);
        res.end();
    }
  }

  /** Writes one chunk of a streamed answer and asks for the next once the socket took it (the stream's pull). */
  private writeNode(id: number, res: ServerResponse, chunk: Uint8Array): void {
    const pull = () => {
      if (this.pending.has(id)) this.post({ t: 'pull', id });
    };
    if (res.write(chunk)) pull();
    else res.once('drain', pull);
  }

  /**
   * Ends the connection when its answer makes no progress into the socket for writeTimeoutMs: a
   * client that stops reading must not hold the answer's memory for ever.
   */
  private watchWrites(out: ServerResponse, id: number): void {
    const sock = out.socket;
    if (!sock) return;
    let last = sock.bytesWritten;
    let since = Date.now();
    const timer = setInterval(
      () => {
        const pendingBytes = sock.writableLength + out.writableLength;
        if (sock.bytesWritten !== last || pendingBytes === 0) {
          last = sock.bytesWritten;
          since = Date.now();
          return;
        }
        if (Date.now() - since < this.writeTimeoutMs) return;
        clearInterval(timer);
        this.counts.writeTimeouts++;
        this.opts.log.warn(
          { component: 'query', unsent_bytes: pendingBytes, write_timeout_ms: this.writeTimeoutMs },
          'client read nothing of its answer within the write timeout: closing the connection',
        );
        this.drop(id, 'write timeout');
        out.destroy();
      },
      Math.min(1000, Math.max(50, this.writeTimeoutMs / 4)),
    );
    timer.unref();
    out.once('close', () => clearInterval(timer));
  }

  /** Aborts a request in the thread and settles what the main thread still waits for of it. */
  private drop(id: number, why: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.post({ t: 'abort', id });
    if (p.node) {
      if (!p.node.headersSent && !p.node.destroyed) p.node.writeHead(499).end();
      else p.node.destroy();
    } else if (p.body) {
      try {
        p.body.error(new Error(why));
      } catch {
        // the stream was closed already
      }
    } else p.head(new Response(null, { status: 499 })); // statusClientClosedConnection, as the query API
  }

  private ask(msg: { t: 'metrics' | 'status' | 'config' | 'close'; config?: Config }, timeoutMs?: number): Promise<unknown> {
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.rpcs.set(seq, { resolve, reject });
      if (timeoutMs !== undefined) {
        setTimeout(() => {
          if (this.rpcs.delete(seq)) reject(new Error('the query thread did not answer in time'));
        }, timeoutMs).unref();
      }
      if (msg.t === 'config') this.post({ t: 'config', seq, config: msg.config! });
      else this.post({ t: msg.t, seq });
    });
  }

  /** The query layer's metrics and the thread's own; the thread's last answer when it is too busy to answer now. */
  async metrics(): Promise<string> {
    if (this.up) {
      try {
        this.lastMetrics = (await this.ask({ t: 'metrics' }, ASK_TIMEOUT_MS)) as string;
      } catch {
        this.counts.staleAnswers++;
      }
    }
    return this.lastMetrics + this.ownMetrics();
  }

  async status(): Promise<unknown> {
    if (this.up) {
      try {
        this.lastStatus = await this.ask({ t: 'status' }, ASK_TIMEOUT_MS);
      } catch {
        this.counts.staleAnswers++;
      }
    }
    return this.lastStatus;
  }

  /**
   * One round of a rule group evaluated in the thread (query-layer.ts evaluateRules): one message
   * each way, the answers structured-cloned; undefined when the thread has no query layer.
   */
  evaluateRules(round: RuleRound): Promise<RuleAnswer[] | undefined> {
    if (!this.up) return Promise.reject(new Error('the query thread is restarting after a failure; the round is retried at the next interval'));
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.rpcs.set(seq, { resolve: (v) => resolve(v as RuleAnswer[] | undefined), reject });
      this.post({ t: 'rules', seq, round });
    });
  }

  /** Swaps the thread's query layer for one built from `next` (requests in flight finish on the old one). */
  async configure(next: Config): Promise<void> {
    await this.ask({ t: 'config', config: next });
    this.config = next;
  }

  setLevel(level: string): void {
    this.level = level;
    this.post({ t: 'level', level });
  }

  async close(): Promise<void> {
    this.stopping = true;
    try {
      await this.ask({ t: 'close' }, 5000);
    } catch {
      // busy or gone: terminate below either way
    }
    await this.worker.terminate();
  }

  private ownMetrics(): string {
    const e = new Exposition();
    e.family('promfront_query_thread_up', 'gauge', 'Whether the query thread is running and ready.', [[{}, this.up ? 1 : 0]]);
    e.family('promfront_query_thread_restarts_total', 'counter', 'Times the query thread stopped unexpectedly and was restarted.', [
      [{}, this.counts.restarts],
    ]);
    e.family('promfront_query_thread_requests_in_flight', 'gauge', 'Requests forwarded to the query thread and not answered in full yet.', [
      [{}, this.pending.size],
    ]);
    e.family('promfront_query_thread_failed_requests_total', 'counter', 'Requests answered 503 or cut off because the query thread stopped.', [
      [{}, this.counts.crashFailed],
    ]);
    e.family('promfront_query_requests_refused_total', 'counter', 'Query requests refused before reaching the query thread, by reason.', [
      [{ reason: 'body_too_large' }, this.counts.bodyTooLarge],
    ]);
    e.family(
      'promfront_response_write_timeouts_total',
      'counter',
      'Query answers whose connection was closed because the client read nothing within the write timeout.',
      [[{}, this.counts.writeTimeouts]],
    );
    e.family(
      'promfront_query_thread_stale_answers_total',
      'counter',
      "Times /metrics or /status used the query thread's previous answer because it did not answer within 1 s.",
      [[{}, this.counts.staleAnswers]],
    );
    return e.toString();
  }
}

/** The answer to a body past MAX_REQUEST_BODY_BYTES, through the app or the fast path. */
const TOO_LARGE_TEXT = `request body too large: promfront reads at most ${MAX_REQUEST_BODY_BYTES} bytes (32 MiB, the remote-read maximum)\n`;
const TOO_LARGE_HEADERS = { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' };

const unavailableJson = (message: string): string => `{"status":"error","errorType":"unavailable","error":${JSON.stringify(message)}}`;

/** unavailable()'s answer on a Node response (or the connection cut, when the head has left). */
function failNode(res: ServerResponse, message: string): void {
  writeAppAnswer(res.req, res, 503, unavailableJson(message), { 'Content-Type': 'application/json' });
}

function unavailable(message: string): Response {
  return new Response(unavailableJson(message), {
    status: 503,
    headers: { 'Content-Type': 'application/json' },
  });
}
