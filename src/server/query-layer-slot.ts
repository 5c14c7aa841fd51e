// The query layer currently in service, swappable by a reload without dropping requests in flight.

import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { pino, type Logger } from 'pino';

/** What the slot needs of a query layer: /api/v1 (routes relative to it), /federate, and its pools. */
export interface SlotLayer {
  api: Hono;
  federate?: Hono;
  close(): Promise<void>;
}

interface Live<L extends SlotLayer> {
  layer: L;
  /** The layer's API at its real paths, so a request passes through unchanged. */
  app: Hono<{ Bindings: HttpBindings }>;
  inflight: number;
  /** Called when `inflight` drops to 0 after the layer was retired. */
  onIdle: (() => void) | undefined;
}

/** Thrown by a layer's notFound handler: the request falls through to the main app's routes. */
const NO_ROUTE = new Error('no query API route');

/**
 * The query layer in service, swappable at run time. Each request is served from start to end by
 * the layer current when it arrived; a replaced layer's downstream pools are closed once its last
 * request finished, or after a drain limit at the latest. A request counts until its Response is
 * returned: the query API builds whole bodies before answering, so no downstream read is left then
 * (a handler that streams downstream data into its body would have to be tracked to its end).
 */
export class QueryLayerSlot<L extends SlotLayer = SlotLayer> {
  private live: Live<L> | undefined;
  /** Replaced layers not closed yet: each one's `closeNow` (for shutdown) and its closing. */
  private readonly retiring = new Map<Live<L>, { closeNow: () => void; closed: Promise<void> }>();

  constructor(private readonly log: Logger) {}

  get current(): L | undefined {
    return this.live?.layer;
  }

  /** Requests in flight on the current layer. */
  get inflight(): number {
    return this.live?.inflight ?? 0;
  }

  /** Layers replaced but not closed yet. */
  get retiringCount(): number {
    return this.retiring.size;
  }

  /**
   * Answers an /api/v1 or /federate request with the current layer; undefined when there is no layer or it has
   * no route for the request (the caller answers 404 then).
   */
  async fetch(req: Request, env: HttpBindings): Promise<Response | undefined> {
    const live = this.live;
    if (!live) return undefined;
    live.inflight++;
    try {
      return await live.app.fetch(req, env);
    } catch (err) {
      if (err === NO_ROUTE) return undefined;
      throw err;
    } finally {
      live.inflight--;
      if (live.inflight === 0) live.onIdle?.();
    }
  }

  /**
   * Runs `fn` on the current layer (undefined when there is none), counted in flight as a request
   * is: a reload does not close the layer under it (a rule group's round, query-layer.ts).
   */
  async use<T>(fn: (layer: L) => Promise<T>): Promise<T | undefined> {
    const live = this.live;
    if (!live) return undefined;
    live.inflight++;
    try {
      return await fn(live.layer);
    } finally {
      live.inflight--;
      if (live.inflight === 0) live.onIdle?.();
    }
  }

  /**
   * Puts `next` in service at once. The previous layer keeps its in-flight requests; its pools are
   * closed when the last one is done, or after `drainLimitMs` even if some are still running.
   */
  swap(next: L | undefined, drainLimitMs: number): void {
    const old = this.live;
    this.live = next ? wrap(next) : undefined;
    if (old) this.retire(old, drainLimitMs);
  }

  /** Closes the current layer and every retiring one, without waiting for their requests. */
  async close(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    const retiring = [...this.retiring.values()];
    for (const r of retiring) r.closeNow();
    await Promise.all([live?.layer.close(), ...retiring.map((r) => r.closed)]);
  }

  private retire(old: Live<L>, drainLimitMs: number): void {
    let closeNow!: (why: 'idle' | 'limit' | 'shutdown') => void;
    const closed = new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let closing = false;
      closeNow = (why) => {
        if (closing) return;
        closing = true;
        if (timer) clearTimeout(timer);
        old.onIdle = undefined;
        if (why === 'limit') {
          this.log.warn(
            { inflight: old.inflight, drain_limit_ms: drainLimitMs },
            'replaced query layer still busy at its drain limit: closing its downstream connections now',
          );
        }
        old.layer
          .close()
          .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'closing the replaced query layer failed'))
          .finally(() => {
            this.log.debug({ reason: why }, 'replaced query layer closed');
            this.retiring.delete(old);
            resolve();
          });
      };
      if (old.inflight > 0) {
        old.onIdle = () => closeNow('idle');
        timer = setTimeout(() => closeNow('limit'), drainLimitMs);
        timer.unref();
      }
    });
    this.retiring.set(old, { closeNow: () => closeNow('shutdown'), closed });
    if (old.inflight === 0) closeNow('idle');
  }
}

function wrap<L extends SlotLayer>(layer: L): Live<L> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.route('/api/v1', layer.api);
  if (layer.federate) app.route('/', layer.federate);
  // Unmatched paths and errors leave the layer: the main app answers them as for any other route.
  app.notFound(() => {
    throw NO_ROUTE;
  });
  app.onError((err) => {
    throw err;
  });
  return { layer, app, inflight: 0, onIdle: undefined };
}

/** A fixed /api/v1 app as the app's queryApi dispatcher (benchmarks and tests without reloads). */
export function fixedQueryApi(api: Hono): (req: Request, env: HttpBindings) => Promise<Response | undefined> {
  const slot = new QueryLayerSlot(pino({ level: 'silent' }));
  slot.swap({ api, close: async () => {} }, 0);
  return (req, env) => slot.fetch(req, env);
}
