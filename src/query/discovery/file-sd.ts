// file_sd_configs: target groups read from JSON/YAML files, as Prometheus's file discovery does.
//
// The files matching the patterns are read again whenever something changes in the patterns'
// directories (fs.watch) and every refresh_interval (watches can miss events or fail to be set).
// A file that cannot be read or parsed keeps the targets it had the last time it was good, and the
// failure is logged naming the file and counted; a file that no longer exists (or no longer
// matches) drops its targets.

import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expandFilePattern } from './glob.js';
import { dedupeTargets, type DiscoveredTarget, type Discoverer, type DiscoveryLog, parseTargetGroupsFile, sameTargets, SILENT_LOG } from './target.js';

export interface FileDiscoveryOptions {
  name: string;
  files: string[];
  refreshIntervalMs: number;
  log?: DiscoveryLog;
  /** Wait this long after a watch event before reading, so a burst of events is one refresh. */
  settleMs?: number;
}

export class FileDiscovery implements Discoverer {
  readonly name: string;
  errors = 0;
  private readonly log: DiscoveryLog;
  private byFile = new Map<string, DiscoveredTarget[]>();
  private current: DiscoveredTarget[] = [];
  /** Files whose last read failed, with the reason. */
  private readonly failing = new Map<string, string>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly unwatchable = new Set<string>();
  private onChange: () => void = () => {};
  private timer: ReturnType<typeof setInterval> | undefined;
  private settleTimer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: FileDiscoveryOptions) {
    this.name = opts.name;
    this.log = opts.log ?? SILENT_LOG;
  }

  targets(): readonly DiscoveredTarget[] {
    return this.current;
  }

  /** The files whose last read failed, with why. */
  failures(): ReadonlyMap<string, string> {
    return this.failing;
  }

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshIntervalMs);
    this.timer.unref();
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Reads the files now; a refresh already running is followed by one more. */
  refresh(): Promise<void> {
    if (this.stopped) return Promise.resolve();
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

  private async refreshOnce(): Promise<void> {
    const files = [...new Set((await Promise.all(this.opts.files.map(expandFilePattern))).flat())];
    const next = new Map<string, DiscoveredTarget[]>();
    for (const file of files) {
      try {
        next.set(file, parseTargetGroupsFile(await readTextFile(file), file));
        if (this.failing.delete(file)) this.log.info({ sd: this.name, file }, 'file_sd: file is good again');
      } catch (err) {
        const reason = (err as Error).message;
        this.errors++;
        this.failing.set(file, reason);
        const prev = this.byFile.get(file);
        if (prev !== undefined) next.set(file, prev);
        this.log.error(
          { sd: this.name, file, err: reason, kept_targets: prev?.length ?? 0 },
          `file_sd: cannot use ${file}: ${reason}; keeping its last good targets`,
        );
      }
    }
    for (const f of this.failing.keys()) if (!next.has(f)) this.failing.delete(f);
    if (this.stopped) return;
    this.byFile = next;
    const union = dedupeTargets([...next.values()].flat());
    if (!sameTargets(union, this.current)) {
      this.current = union;
      this.onChange();
    }
    this.watchDirectories();
  }

  /** Watches each pattern's directory; ones that could not be watched are tried again at the next refresh. */
  private watchDirectories(): void {
    for (const pattern of this.opts.files) {
      const dir = path.dirname(pattern);
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.scheduleRefresh());
        w.on('error', (err) => {
          this.log.warn({ sd: this.name, dir, err: err.message }, 'file_sd: watch failed; relying on refresh_interval until it can be set again');
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
        this.unwatchable.delete(dir);
      } catch (err) {
        if (!this.unwatchable.has(dir)) {
          this.unwatchable.add(dir);
          this.log.warn(
            { sd: this.name, dir, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
            'file_sd: cannot watch directory; its files are read every refresh_interval',
          );
        }
      }
    }
  }

  private scheduleRefresh(): void {
    if (this.stopped || this.settleTimer !== undefined) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      void this.refresh();
    }, this.opts.settleMs ?? 50);
    this.settleTimer.unref();
  }
}

async function readTextFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
