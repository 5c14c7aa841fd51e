// file_sd_configs: target groups read from JSON/YAML files, as Prometheus's file discovery does.
//
// It exists so whatever already writes target files for Prometheus (config management, a script,
// an inventory export) can add and remove servers from promfront's fleet without a restart; the
// refresh lifecycle is RefreshingDiscoverer's (refresher.ts), this module only finds and reads files.
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
import { RefreshingDiscoverer } from './refresher.js';
import { dedupeTargets, type DiscoveredTarget, type DiscoveryLog, parseTargetGroupsFile } from './target.js';

export interface FileDiscoveryOptions {
  name: string;
  files: string[];
  refreshIntervalMs: number;
  log?: DiscoveryLog;
  /** Wait this long after a watch event before reading, so a burst of events is one refresh. */
  settleMs?: number;
}

export class FileDiscovery extends RefreshingDiscoverer {
  private byFile = new Map<string, DiscoveredTarget[]>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly unwatchable = new Set<string>();
  private settleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: FileDiscoveryOptions) {
    // A file can change after a running refresh read it: run one more refresh after it.
    super({ name: opts.name, refreshIntervalMs: opts.refreshIntervalMs, log: opts.log, overlap: 'rerun' });
  }

  protected override released(): void {
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  protected async refreshOnce(): Promise<void> {
    const files = [...new Set((await Promise.all(this.opts.files.map(expandFilePattern))).flat())];
    const next = new Map<string, DiscoveredTarget[]>();
    for (const file of files) {
      try {
        next.set(file, parseTargetGroupsFile(await readTextFile(file), file));
        this.succeeded(file, { sd: this.name, file }, 'file_sd: file is good again');
      } catch (err) {
        const reason = (err as Error).message;
        const prev = this.byFile.get(file);
        if (prev !== undefined) next.set(file, prev);
        this.failed(
          file,
          reason,
          { sd: this.name, file, err: reason, kept_targets: prev?.length ?? 0 },
          `file_sd: cannot use ${file}: ${reason}; keeping its last good targets`,
        );
      }
    }
    for (const f of this.failing.keys()) if (!next.has(f)) this.failing.delete(f);
    if (this.stopped) return;
    this.byFile = next;
    this.publish(dedupeTargets([...next.values()].flat()));
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
    throw new Error(`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
