// Where the results cache keeps its extents: in this process, bounded by bytes (the default), or in
// Redis, shared by every promfront behind one load balancer. A backend that fails or is slow makes
// an answer slower, never wrong and never an error: each call is bounded and its failures counted.

import { LRUCache } from 'lru-cache';
import type { createClient, RedisClientType } from '@redis/client';
import { decodeExtents, encodeExtents, extentBytes, type Extent } from './extents.js';

export interface CacheBackend {
  /** "memory" or "redis", for metrics and /status. */
  readonly kind: string;
  /** The extents under key, or undefined when there are none or the backend failed (counted). */
  get(key: string): Promise<Extent[] | undefined>;
  set(key: string, extents: Extent[]): Promise<void>;
  /** Calls that failed or timed out, by operation. */
  readonly errors: { get: number; set: number };
  /** Entries and bytes held, where the backend knows them. */
  usage(): { entries: number; bytes: number } | undefined;
  close(): Promise<void>;
}

/** In this process: least recently used buckets go first once max_size is reached. */
export class MemoryBackend implements CacheBackend {
  readonly kind = 'memory';
  readonly errors = { get: 0, set: 0 };
  private readonly lru: LRUCache<string, Extent[]>;

  constructor(maxBytes: number, ttlMs: number) {
    this.lru = new LRUCache<string, Extent[]>({
      maxSize: maxBytes,
      // An entry larger than the whole cache is not kept (lru-cache refuses it).
      sizeCalculation: (v) => Math.max(1, extentBytes(v)),
      ttl: ttlMs,
    });
  }

  get(key: string): Promise<Extent[] | undefined> {
    return Promise.resolve(this.lru.get(key));
  }

  set(key: string, extents: Extent[]): Promise<void> {
    this.lru.set(key, extents);
    return Promise.resolve();
  }

  usage(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }

  close(): Promise<void> {
    this.lru.clear();
    return Promise.resolve();
  }
}

export interface RedisBackendOptions {
  /** host:port */
  address: string;
  username?: string;
  password?: string;
  db: number;
  /** Bound on each call; past it the call counts as failed and the answer goes on without it. */
  timeoutMs: number;
  ttlMs: number;
  /** Told once when Redis becomes unreachable and once when it is back (never the password). */
  onState?: (up: boolean, reason?: string) => void;
}

/** Shared by several promfront processes: values are JSON extents, keys expire after ttl. */
export class RedisBackend implements CacheBackend {
  readonly kind = 'redis';
  readonly errors = { get: 0, set: 0 };
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the plain client: no modules, functions or scripts
  private client: RedisClientType<{}, {}, {}, 3> | undefined;
  private up = false;
  private closed = false;

  constructor(private readonly opts: RedisBackendOptions) {
    // Loaded only when a config names Redis: most processes never need the client.
    import('@redis/client').then((m) => this.connect(m.createClient)).catch((err: unknown) => this.setUp(false, (err as Error).message));
  }

  private connect(create: typeof createClient): void {
    if (this.closed) return;
    const opts = this.opts;
    const client = create({
      socket: {
        host: opts.address.slice(0, opts.address.lastIndexOf(':')).replace(/^\[|\]$/g, ''),
        port: Number(opts.address.slice(opts.address.lastIndexOf(':') + 1)),
        connectTimeout: Math.max(opts.timeoutMs, 1000),
        // Keep trying, at most every 2 s: a cache that comes back is used again.
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
      },
      username: opts.username,
      password: opts.password,
      database: opts.db,
      // Commands while disconnected fail at once instead of queueing behind the reconnect.
      disableOfflineQueue: true,
    });
    this.client = client;
    // Without a listener an 'error' event would end the process.
    client.on('error', (err: Error) => this.setUp(false, err.message));
    client.on('ready', () => this.setUp(true));
    client.connect().catch((err: unknown) => this.setUp(false, (err as Error).message));
  }

  private setUp(up: boolean, reason?: string): void {
    if (this.closed || up === this.up) return;
    this.up = up;
    this.opts.onState?.(up, reason);
  }

  private bounded<T>(op: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.opts.timeoutMs}ms`)), this.opts.timeoutMs);
    });
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  }

  async get(key: string): Promise<Extent[] | undefined> {
    if (!this.up || !this.client) {
      this.errors.get++;
      return undefined;
    }
    try {
      const text = await this.bounded(this.client.get(key));
      return typeof text === 'string' ? decodeExtents(text) : undefined;
    } catch {
      // Unreachable, slow, or a value that is not ours: the answer is evaluated instead.
      this.errors.get++;
      return undefined;
    }
  }

  async set(key: string, extents: Extent[]): Promise<void> {
    if (!this.up || !this.client) {
      this.errors.set++;
      return;
    }
    try {
      await this.bounded(this.client.set(key, encodeExtents(extents), { expiration: { type: 'PX', value: this.opts.ttlMs } }));
    } catch {
      this.errors.set++;
    }
  }

  usage(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    if (!client) return;
    try {
      if (client.isOpen) await client.close();
      else client.destroy();
    } catch {
      client.destroy();
    }
  }
}
