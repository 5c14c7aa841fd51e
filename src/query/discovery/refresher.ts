// The lifecycle every periodic service discovery shares, kept in one place so file_sd and dns_sd
// cannot drift apart in how they start, refresh, publish changes, report failures and stop.
//
// A subclass only says how to look its targets up (refreshOnce) and what else to release on stop;
// this base owns the refresh_interval timer, what happens when a refresh is asked for while one is
// running, the "targets changed" notification, and the failure bookkeeping (count, reasons, logs)
// that lets a source keep its last good targets while telling operators why it is stale.

import { type DiscoveredTarget, type Discoverer, type DiscoveryLog, sameTargets, SILENT_LOG } from './target.js';
import { RepeatedFailureLog } from '../../util/failure-log.js';

/**
 * What refresh() does while a refresh is already running: `join` returns the running one (a
 * lookup started now would see the same answers); `rerun` runs one more after it (the source may
 * have changed after the running refresh read it, as files do).
 */
export type OverlapPolicy = 'join' | 'rerun';

export interface RefresherOptions {
  name: string;
  refreshIntervalMs: number;
  log?: DiscoveryLog;
  overlap: OverlapPolicy;
}

export abstract class RefreshingDiscoverer implements Discoverer {
  readonly name: string;
  errors = 0;
  protected readonly log: DiscoveryLog;
  /** Keys (files, names) whose last read or lookup failed, with the reason. */
  protected readonly failing = new Map<string, string>();
  protected stopped = false;
  private current: DiscoveredTarget[] = [];
  private onChange: () => void = () => {};
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly refreshIntervalMs: number;
  private readonly overlap: OverlapPolicy;
  // A file or name that stays broken is logged when it breaks, as a reminder, and when it is fixed.
  private readonly failureLog: RepeatedFailureLog;

  constructor(opts: RefresherOptions) {
    this.name = opts.name;
    this.log = opts.log ?? SILENT_LOG;
    this.failureLog = new RepeatedFailureLog(this.log, 'error');
    this.refreshIntervalMs = opts.refreshIntervalMs;
    this.overlap = opts.overlap;
  }

  targets(): readonly DiscoveredTarget[] {
    return this.current;
  }

  /** The keys (files or names) whose last read or lookup failed, with why. */
  failures(): ReadonlyMap<string, string> {
    return this.failing;
  }

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    this.timer = setInterval(() => void this.refresh(), this.refreshIntervalMs);
    this.timer.unref();
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.released();
  }

  /** Looks the targets up now; see OverlapPolicy for a refresh already running. */
  refresh(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.overlap === 'join') {
      this.running ??= this.refreshOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.refreshOnce();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** One look at the source; ends by calling publish() unless stopped meanwhile. */
  protected abstract refreshOnce(): Promise<void>;

  /** Releases what the subclass holds besides the timer (watchers, resolvers); runs once stopped is set. */
  protected released(): void {}

  /** Makes `targets` the current targets, telling the listener only if they differ. */
  protected publish(targets: DiscoveredTarget[]): void {
    if (!sameTargets(targets, this.current)) {
      this.current = targets;
      this.onChange();
    }
  }

  /** Counts and logs (once, then as a reminder) a failed read or lookup of `key`; the subclass keeps its last good targets. */
  protected failed(key: string, reason: string, fields: object, msg: string): void {
    this.errors++;
    this.failing.set(key, reason);
    this.failureLog.failed(key, fields, msg);
  }

  /** Logs, once, that `key` works again after failing. */
  protected succeeded(key: string, fields: object, msg: string): void {
    this.failing.delete(key);
    this.failureLog.succeeded(key, fields, msg);
  }
}
