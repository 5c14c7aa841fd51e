// Admission of queries (/query, /query_range): at most `maxConcurrent` evaluate at once, as
// Prometheus's --query.max-concurrency, and at most `maxQueued` wait for a turn; beyond that a query
// is refused at once (503 unavailable) rather than queued without bound, since every waiting query
// holds its request and parsed form in memory. Waiting counts toward the query's timeout, as in
// Prometheus, whose deadline starts before its query queue.

import { ApiError } from '../../errors.js';

export interface AdmissionOptions {
  maxConcurrent: number;
  maxQueued: number;
  /** Told of each query refused because the queue was full (promfront_query_refused_total, reason queue_full). */
  onRefused?: (type: 'query' | 'query_range') => void;
}

/** One admitted query's slot: release() exactly once when the query is done. */
export interface Slot {
  release(): void;
}

interface Waiter {
  grant: (slot: Slot) => void;
}

export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Queries refused because the queue was full. */
  refused = 0;

  constructor(readonly opts: AdmissionOptions) {}

  get runningCount(): number {
    return this.running;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /**
   * A slot now when one is free, else after the queries before this one. Rejects with a 503 when
   * the queue is full, and with `onGiveUp()`'s error when `signal` fires while waiting (timeout or
   * the client gone): a query that gave up leaves the queue at once.
   */
  acquire(signal: AbortSignal, onGiveUp: () => unknown, type: 'query' | 'query_range' = 'query'): Promise<Slot> {
    // A free slot is taken even by a query whose deadline already passed: the evaluation then
    // reports it, as Prometheus does when its queue has room.
    if (this.running < this.opts.maxConcurrent) {
      this.running++;
      return Promise.resolve(this.slot());
    }
    if (signal.aborted) return Promise.reject(onGiveUp());
    if (this.queue.length >= this.opts.maxQueued) {
      this.refused++;
      this.opts.onRefused?.(type);
      return Promise.reject(
        new ApiError(
          'unavailable',
          `too many concurrent queries: ${this.running} running and ${this.queue.length} queued ` +
            `(query.max_concurrent_queries ${this.opts.maxConcurrent}, query.max_queued_queries ${this.opts.maxQueued}); try again later`,
        ),
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(onGiveUp());
      };
      const waiter: Waiter = {
        grant: (slot) => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private slot(): Slot {
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        // The slot passes straight to the next in line: `running` stays the same.
        const next = this.queue.shift();
        if (next !== undefined) next.grant(this.slot());
        else this.running--;
      },
    };
  }

  /** The gauges for /metrics, named as the other promfront_query_* families. */
  render(): string {
    return (
      '# HELP promfront_query_running Queries (query, query_range) being evaluated now.\n' +
      '# TYPE promfront_query_running gauge\n' +
      `promfront_query_running ${this.running}\n` +
      '# HELP promfront_query_queued Queries waiting for one of query.max_concurrent_queries to free up.\n' +
      '# TYPE promfront_query_queued gauge\n' +
      `promfront_query_queued ${this.queue.length}\n`
      // Refusals are counted in promfront_query_refused_total{type, reason="queue_full"} with the
      // other refusals (one family), through onRefused.
    );
  }
}
