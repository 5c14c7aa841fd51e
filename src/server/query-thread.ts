// The query thread: a worker thread that holds the query layer (PromQL evaluation, downstream reads,
// answer encoding) so that CPU-heavy queries never delay the main thread, which serves the shards,
// health, readiness and /metrics and runs the scrape loop. The main thread forwards each request
// (query-thread-client.ts); answers go back as a head and a body pulled chunk by chunk, so a slow
// client holds back the thread's reads instead of piling chunks up in the main thread.

import type { HttpBindings } from '@hono/node-server';
import { parentPort, workerData } from 'node:worker_threads';
import type { RuleAnswer, RuleRound } from '../capability.js';
import type { Config } from '../config/schema.js';
import { createQueryLayer, type QueryLayer } from './query-layer.js';
import { expandFleetGroups, FleetGroupWatcher } from '../query/discovery/fleet-groups.js';
import { QueryLayerSlot } from './query-layer-slot.js';
import { compressedFetch } from './thread-compress.js';
import { ownBuffer } from './own-buffer.js';
import { queryThreadHeapMetrics } from './process-metrics.js';
import { createLogger } from './logger.js';
import { raiseThreadNice } from '../util/thread-nice.js';
import type { FromThread, QueryThreadInit, ToThread } from './query-thread-protocol.js';

/** How long a replaced layer may keep running requests beyond the longest query it allows (as reload.ts). */
const DRAIN_GRACE_MS = 60_000;

const port = parentPort;
if (!port) throw new Error('query-thread.js runs only as a worker thread (see query-thread-client.ts)');
const init = workerData as QueryThreadInit;
const log = createLogger({ level: init.level, format: init.logFormat });
const queryLog = log.child({ component: 'query' });
const slot = new QueryLayerSlot<QueryLayer>(queryLog);
let config: Config = init.config;
lowerPriority(config);

interface Running {
  ctl: AbortController;
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  /** The read started ahead of the main thread's next pull (the second one, see serve). */
  next?: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>;
}
const running = new Map<number, Running>();

const post = (m: FromThread, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer ?? []);

/**
 * query.thread_nice for this thread (the partial-aggregation workers apply it to themselves): when
 * the CPU is short, the main thread (scrapes, shards, health) runs first. Applied again on reload,
 * where it can only go up (lowering a nice value needs privilege): a lower value takes a restart.
 */
function lowerPriority(c: Config): void {
  const nice = c.query?.thread_nice ?? 0;
  const failed = raiseThreadNice(nice);
  if (failed !== undefined) {
    queryLog.warn({ err: failed, thread_nice: nice }, "could not lower the query threads' priority: queries compete with scrapes for the CPU");
  }
}

// Answers are gzipped here, off the main thread (see thread-compress.ts).
const fetchCompressed = compressedFetch((req) => slot.fetch(req, {} as HttpBindings));
// Server groups that follow a fleet: when its groups change, the layer is rebuilt with them.
const fleetGroups = new FleetGroupWatcher(
  () =>
    void serially(() => reconfigure(config)).catch((err: unknown) =>
      queryLog.error({ err: (err as Error).message }, 'fleet_sd: rebuilding the query layer failed'),
    ),
  queryLog,
);
// Reloads and fleet rebuilds run one at a time, so the last one started is the one in service.
let queue: Promise<unknown> = Promise.resolve();
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const p = queue.then(fn);
  queue = p.catch(() => undefined);
  return p;
}

function build(c: Config): QueryLayer {
  return createQueryLayer(expandFleetGroups(c.query!, fleetGroups.found()).query, { log: queryLog, config: c });
}

const ONE_MESSAGE_MAX_BYTES = 1 << 20;

async function serve(m: Extract<ToThread, { t: 'req' }>): Promise<void> {
  const r: Running = { ctl: new AbortController() };
  running.set(m.id, r);
  try {
    const hasBody = m.body !== undefined && m.body.byteLength > 0 && m.method !== 'GET' && m.method !== 'HEAD';
    const req = new Request(m.url, { method: m.method, headers: m.headers, body: hasBody ? new Uint8Array(m.body!) : undefined, signal: r.ctl.signal });
    // The query layer reads nothing of the Node bindings: the socket stays on the main thread.
    const res = await fetchCompressed(req);
    if (!running.has(m.id)) return; // aborted meanwhile; the main thread has forgotten it
    if (!res) {
      running.delete(m.id);
      post({ t: 'none', id: m.id });
      return;
    }
    const head = { t: 'head' as const, id: m.id, status: res.status, headers: [...res.headers] };
    if (!res.body) {
      running.delete(m.id);
      post({ ...head, end: true });
      return;
    }
    const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
    r.reader = reader;
    // Most answers are one chunk, and a second read then ends at once: head, chunk and end go in one
    // message. A streamed answer whose next chunk is not ready by then sends its first without it.
    const first = await reader.read();
    if (!running.has(m.id)) return;
    if (first.done) {
      running.delete(m.id);
      post({ ...head, end: true });
      return;
    }
    const next = reader.read();
    // Awaited by sendNext when it is not ready now; until then its failure must not go unhandled.
    next.catch(() => undefined);
    const second = await Promise.race([next, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
    if (!running.has(m.id)) return;
    const chunk = ownBuffer(first.value);
    // Only small answers: the main thread writes a one-message answer whole, past the stream whose
    // backpressure lets the write timeout see a client that reads nothing (a 30 MB answer sent that
    // way was held until the client went).
    if (second?.done === true && chunk.byteLength <= ONE_MESSAGE_MAX_BYTES) {
      running.delete(m.id);
      post({ ...head, chunk, end: true }, [chunk]);
      return;
    }
    r.next = next;
    post({ ...head, chunk }, [chunk]);
  } catch (err) {
    if (running.delete(m.id)) post({ t: 'fail', id: m.id, message: (err as Error).message });
  }
}

async function sendNext(id: number): Promise<void> {
  const r = running.get(id);
  if (!r?.reader) return;
  try {
    const pending = r.next ?? r.reader.read();
    r.next = undefined;
    const { done, value } = await pending;
    if (!running.has(id)) return;
    if (done) {
      running.delete(id);
      post({ t: 'end', id });
      return;
    }
    const buf = ownBuffer(value);
    post({ t: 'chunk', id, chunk: buf }, [buf]);
  } catch (err) {
    if (running.delete(id)) post({ t: 'fail', id, message: (err as Error).message });
  }
}

function abort(id: number): void {
  const r = running.get(id);
  if (!r) return;
  running.delete(id);
  r.ctl.abort();
  r.reader?.cancel().catch(() => undefined);
}

async function reconfigure(next: Config): Promise<void> {
  let layer: QueryLayer | undefined;
  await fleetGroups.configure(next.query);
  if (next.query) {
    layer = build(next);
    try {
      await layer.ready;
    } catch (err) {
      layer.close().catch(() => undefined);
      throw err;
    }
  }
  slot.swap(layer, (config.query?.timeout ?? 0) + DRAIN_GRACE_MS);
  config = next;
  lowerPriority(next);
}

/**
 * A rule group's round on the layer in service (undefined without one): answered as vectors,
 * structured-cloned with the reply, where the query API would encode and decode JSON per rule.
 */
async function evaluateRules(round: RuleRound): Promise<RuleAnswer[] | undefined> {
  return slot.use((layer) => layer.evaluateRules(round));
}

async function answer(seq: number, fn: () => unknown): Promise<void> {
  try {
    post({ t: 'reply', seq, value: await fn() });
  } catch (err) {
    post({ t: 'reply', seq, error: (err as Error).message });
  }
}

port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'req':
      void serve(m);
      return;
    case 'pull':
      void sendNext(m.id);
      return;
    case 'abort':
      abort(m.id);
      return;
    case 'config':
      void answer(m.seq, () => serially(() => reconfigure(m.config)));
      return;
    case 'level':
      log.level = m.level;
      return;
    case 'metrics':
      void answer(m.seq, () => (slot.current?.metrics() ?? '') + fleetGroups.metrics() + queryThreadHeapMetrics());
      return;
    case 'status':
      void answer(m.seq, () => {
        const st = slot.current?.status();
        const fleet = fleetGroups.status();
        return st && fleet.length > 0 ? { ...st, fleet_sd: fleet } : st;
      });
      return;
    case 'rules':
      void answer(m.seq, () => evaluateRules(m.round));
      return;
    case 'close':
      for (const id of [...running.keys()]) abort(id);
      fleetGroups.stop();
      void answer(m.seq, () => slot.close());
  }
});

try {
  await fleetGroups.configure(config.query);
  if (config.query) slot.swap(build(config), 0);
  await slot.current?.ready;
  post({ t: 'ready' });
} catch (err) {
  // The main thread checked the config's files before starting us; anything else is a bug to see.
  log.fatal({ component: 'query', err: (err as Error).message }, 'the query thread could not build its query layer');
  throw err;
}
