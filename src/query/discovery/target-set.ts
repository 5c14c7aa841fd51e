// The targets of one server group: its static targets plus what its discoverers find now, each
// target once, in a stable order (static first, then each discoverer's in config order). Listeners
// hear of every change.
//
// It exists so the rest of the query layer sees one list per group however many static and
// discovered sources feed it, and is told when that list changes instead of polling the sources.

import { dedupeTargets, type DiscoveredTarget, type Discoverer, type DiscoveryLog, sameTargets, SILENT_LOG, targetKey } from './target.js';

export class TargetSet {
  private current: DiscoveredTarget[];
  private readonly listeners: ((targets: readonly DiscoveredTarget[]) => void)[] = [];
  private readonly log: DiscoveryLog;

  constructor(
    readonly group: string,
    private readonly staticTargets: readonly DiscoveredTarget[],
    readonly discoverers: readonly Discoverer[],
    log?: DiscoveryLog,
  ) {
    this.log = log ?? SILENT_LOG;
    this.current = dedupeTargets(staticTargets);
  }

  targets(): readonly DiscoveredTarget[] {
    return this.current;
  }

  onChange(fn: (targets: readonly DiscoveredTarget[]) => void): void {
    this.listeners.push(fn);
  }

  /** Starts every discoverer; resolves when each has done its first refresh. */
  async start(): Promise<void> {
    await Promise.all(this.discoverers.map((d) => d.start(() => this.recompute())));
    if (this.discoverers.length > 0 && this.current.length === 0) {
      this.log.warn({ group: this.group }, `server group ${JSON.stringify(this.group)} starts with no targets: its service discovery finds none`);
    }
  }

  stop(): void {
    for (const d of this.discoverers) d.stop();
  }

  private recompute(): void {
    const next = dedupeTargets([...this.staticTargets, ...this.discoverers.flatMap((d) => d.targets())]);
    if (sameTargets(next, this.current)) return;
    const before = new Set(this.current.map(targetKey));
    const after = new Set(next.map(targetKey));
    this.log.info(
      {
        group: this.group,
        targets: next.length,
        added: [...after].filter((k) => !before.has(k)),
        removed: [...before].filter((k) => !after.has(k)),
      },
      `server group ${JSON.stringify(this.group)}: targets changed`,
    );
    if (next.length === 0)
      this.log.warn({ group: this.group }, `server group ${JSON.stringify(this.group)} has no targets now: its service discovery finds none`);
    this.current = next;
    for (const fn of this.listeners) fn(next);
  }
}
