// The capabilities ./proxy runs beside the sharding core and the query layer, and their lifecycle:
// built when the config has their section, started with the process, reloaded when their section
// changed, stopped when it goes away or the process ends. One line in FACTORIES adds a capability.

import { isDeepStrictEqual } from 'node:util';
import type { Capability, CapabilityContext, CapabilityFactory } from '../capability.js';
import type { Config } from '../config/schema.js';
import { pushCapability } from '../push/index.js';
import { publishFactory } from '../stream/capability.js';
import { fleetFactory } from '../fleet/index.js';
import { rulesFactory } from '../rules/index.js';

/** Every capability, in the order their routes are tried. */
export const FACTORIES: readonly CapabilityFactory[] = [pushCapability, publishFactory, fleetFactory, rulesFactory];

/** check-config's view: the problems of every enabled capability. */
export function capabilityProblems(config: Config, configFile: string | undefined, factories = FACTORIES): string[] {
  return factories.filter((f) => f.enabled(config)).flatMap((f) => f.problems?.(config, configFile) ?? []);
}

interface Running {
  factory: CapabilityFactory;
  cap: Capability;
  section: unknown;
}

/** The capabilities in service. */
export class CapabilitySet {
  private running: Running[] = [];
  private started = false;

  constructor(
    config: Config,
    private readonly ctx: CapabilityContext,
    private readonly factories: readonly CapabilityFactory[] = FACTORIES,
  ) {
    for (const factory of factories) {
      if (factory.enabled(config)) this.running.push({ factory, cap: factory.create(config, ctx), section: factory.section(config) });
    }
  }

  /** The capabilities in service now, in route order. */
  get current(): readonly Capability[] {
    return this.running.map((r) => r.cap);
  }

  async start(): Promise<void> {
    this.started = true;
    await Promise.all(this.running.map((r) => r.cap.start()));
  }

  /**
   * Checks and applies a new config: changed sections are reloaded, new ones built and started,
   * removed ones stopped. Returns the names of what changed. A capability that refuses its new
   * section rejects the reload; the ones reloaded before it keep their new section (each
   * capability's reload is atomic on its own).
   */
  async apply(next: Config): Promise<string[]> {
    const changed: string[] = [];
    const kept: Running[] = [];
    const added: Running[] = [];
    for (const factory of this.factories) {
      const old = this.running.find((r) => r.factory === factory);
      if (!factory.enabled(next)) continue;
      const section = factory.section(next);
      if (!old) {
        added.push({ factory, cap: factory.create(next, this.ctx), section });
        changed.push(factory.name);
      } else {
        if (!isDeepStrictEqual(old.section, section)) {
          await old.cap.reload(next);
          old.section = section;
          changed.push(factory.name);
        }
        kept.push(old);
      }
    }
    const removed = this.running.filter((r) => !kept.includes(r));
    for (const r of removed) changed.push(r.factory.name);
    await Promise.all(removed.map((r) => r.cap.stop()));
    if (this.started) await Promise.all(added.map((r) => r.cap.start()));
    this.running = this.factories.map((f) => [...kept, ...added].find((r) => r.factory === f)).filter((r): r is Running => r !== undefined);
    return changed;
  }

  async stop(): Promise<void> {
    await Promise.all(this.running.map((r) => r.cap.stop()));
  }
}
