// The shard bodies of a nats source, published the moment a scrape is applied. Rebuilding and
// gzipping every shard body of every target each cycle cost more than applying the scrapes, and made
// a scrape wait for the next cycle; here a publish only takes a snapshot of the targets' parsed
// scrapes (already split by shard), and each shard body is assembled, and gzipped, on the first
// request for it. The bytes are exactly those buildShards (src/shard/build.ts) would write for the
// same targets in the same order: family order, headers, the duplicate-series rule.

import { gzipSync } from 'node:zlib';
import { dedupeGroup, omHeader, textHeader, type ShardBody, type ShardSet } from '../shard/build.js';
import { TEXT_SPLIT_SUFFIXES, type FamilyInfo } from '../shard/family.js';
import type { FamilyPart, SourceData } from '../shard/ingest.js';
import { BodyWriter, type LineSink } from '../shard/line-sink.js';

/** One target's contribution: its own series (up, scrape_duration_seconds, ...) then its scrape's. */
export interface ServedTarget {
  /**
   * The job and instance every one of its series carries: two targets that differ in them cannot
   * share a series (see docs/stream.md), so only targets of one group are compared for duplicates.
   */
  group: string;
  data: readonly SourceData[];
}

/**
 * Data whose parts a plan takes straight from a template (scrape-template.ts's TemplatedScrape): the
 * parts are the template's, shared by every scrape of the target, and the scrape writes their lines
 * with its own values. A plan of 200 templated targets so makes no object per part.
 */
export interface TemplatedData<P> extends SourceData {
  readonly templateFamilies: readonly { key: string; info: FamilyInfo; parts: readonly (P | undefined)[] }[];
  partSeries(part: P): number;
  /** The part's lines' length in OpenMetrics (om) or text. */
  partBytes(part: P, om: boolean): number;
  /** `bytes`: partBytes(part, om), when known. */
  writePart(part: P, om: boolean, out: FlatWriter, bytes?: number): void;
}

function templated(d: SourceData): TemplatedData<unknown> | undefined {
  return 'templateFamilies' in d ? (d as TemplatedData<unknown>) : undefined;
}

/**
 * One family on one shard: the parts kept, in target order. Part i is a parsed FamilyPart, or when
 * of[i] is set, a template's part written by that scrape.
 */
interface FamilyRun {
  info: FamilyInfo;
  parts: unknown[];
  of: (TemplatedData<unknown> | undefined)[];
  /** Each part's OpenMetrics length, as the plan added it up: a templated part's is a loop over its values. */
  omBytes: number[];
  split: boolean;
}

function runSeries(run: FamilyRun, i: number): number {
  const of = run.of[i];
  return of ? of.partSeries(run.parts[i]) : (run.parts[i] as FamilyPart).series;
}

/** A parsed part's lines in one form: text is the OpenMetrics lines while they are the same bytes. */
function sinkOf(p: FamilyPart, om: boolean): LineSink {
  return om ? p.om : (p.text ?? p.om);
}

function runBytes(run: FamilyRun, i: number, om: boolean): number {
  const of = run.of[i];
  return of ? of.partBytes(run.parts[i], om) : sinkOf(run.parts[i] as FamilyPart, om).bytes;
}

function writeRun(run: FamilyRun, om: boolean, w: FlatWriter): void {
  for (let i = 0; i < run.parts.length; i++) {
    const of = run.of[i];
    if (of) of.writePart(run.parts[i], om, w, om ? run.omBytes[i] : undefined);
    else sinkOf(run.parts[i] as FamilyPart, om).writeTo(w);
  }
}

/** The parsed parts of a run with text-only split families (only parsed parts have them). */
function splitParts(run: FamilyRun, suffix: number): FamilyPart[] {
  const out: FamilyPart[] = [];
  run.parts.forEach((p, i) => {
    if (!run.of[i] && (p as FamilyPart).split?.[suffix]) out.push(p as FamilyPart);
  });
  return out;
}

interface ShardPlan {
  families: FamilyRun[];
  series: number;
  /**
   * The text body's length, worked out when first wanted: the Prometheus scraping a shard asks for
   * OpenMetrics, so the text form's length was work for nothing at every plan.
   */
  textBytes: number | undefined;
  omBytes: number;
}

const EOF_LINE = '# EOF\n';

/** What every shard serves for one snapshot of the targets; worked out on first use. */
class Plan {
  private shards: ShardPlan[] | undefined;
  /** Series left out as duplicates, once made. */
  dropped = 0;

  constructor(
    private readonly targets: readonly ServedTarget[],
    private readonly numShards: number,
    private readonly onDropped: (series: number) => void,
  ) {}

  shard(k: number): ShardPlan {
    return (this.shards ??= this.make())[k];
  }

  private make(): ShardPlan[] {
    // Family order: first appearance, targets in order (as buildShards with one source per entry).
    // Per family, each target's parts by shard, who writes them, and the target's group.
    const fams = new Map<string, { info: FamilyInfo; parts: (readonly unknown[])[]; of: (TemplatedData<unknown> | undefined)[]; groups: string[] }>();
    const add = (key: string, info: FamilyInfo, parts: readonly unknown[], of: TemplatedData<unknown> | undefined, group: string): void => {
      let e = fams.get(key);
      if (!e) fams.set(key, (e = { info, parts: [], of: [], groups: [] }));
      e.parts.push(parts);
      e.of.push(of);
      e.groups.push(group);
    };
    for (const t of this.targets) {
      for (const d of t.data) {
        const tpl = templated(d);
        if (tpl) for (const f of tpl.templateFamilies) add(f.key, f.info, f.parts, tpl, t.group);
        else for (const [key, fam] of d.families) add(key, fam.info, fam.parts, undefined, t.group);
      }
    }
    const shards: ShardPlan[] = [];
    const dropped = [0];
    for (let k = 0; k < this.numShards; k++) {
      const plan: ShardPlan = { families: [], series: 0, textBytes: undefined, omBytes: EOF_LINE.length };
      for (const [key, e] of fams) {
        const run: FamilyRun = { info: e.info, parts: [], of: [], omBytes: [], split: false };
        const groups: string[] = [];
        for (let i = 0; i < e.parts.length; i++) {
          const part = e.parts[i][k];
          if (!part) continue;
          run.parts.push(part);
          run.of.push(e.of[i]);
          groups.push(e.groups[i]);
        }
        if (run.parts.length === 0) continue;
        keepFirst(run, groups, key, k, dropped);
        for (let i = 0; i < run.parts.length; i++) {
          plan.series += runSeries(run, i);
          if (!run.of[i] && (run.parts[i] as FamilyPart).split !== null) run.split = true;
        }
        plan.families.push(run);
        plan.omBytes += omHeader(e.info).length;
        for (let i = 0; i < run.parts.length; i++) plan.omBytes += run.omBytes[i] = runBytes(run, i, true);
      }
      shards.push(plan);
    }
    this.dropped = dropped[0];
    if (dropped[0] > 0) this.onDropped(dropped[0]);
    return shards;
  }

  textBytes(k: number): number {
    const plan = this.shard(k);
    return (plan.textBytes ??= plan.families.reduce((n, run) => n + textLength(run), 0));
  }

  /** The text body of shard k; written into `scratch` when it is large enough (see gzipOf). */
  text(k: number, scratch?: Buffer): Buffer[] {
    const w = new FlatWriter(this.textBytes(k), scratch);
    for (const run of this.shard(k).families) {
      const { info } = run;
      const h = textHeader(info);
      if (h) w.write(h);
      writeRun(run, false, w);
      if (!run.split) continue;
      TEXT_SPLIT_SUFFIXES.forEach((suffix, i) => {
        const splits = splitParts(run, i);
        if (splits.length === 0) return;
        const sh = textHeader(info, info.omName + suffix, 'gauge');
        if (sh) w.write(sh);
        for (const p of splits) p.split![i]!.writeTo(w);
      });
    }
    return w.finish();
  }

  om(k: number, scratch?: Buffer): Buffer[] {
    const w = new FlatWriter(this.shard(k).omBytes, scratch);
    for (const run of this.shard(k).families) {
      const h = omHeader(run.info);
      if (h) w.write(h);
      writeRun(run, true, w);
    }
    w.write(EOF_LINE);
    return w.finish();
  }
}

/**
 * Writes a body of known length into one Buffer of that length: a shard body is asked for to be
 * gzipped, which wants it in one piece, and writing 64 KiB chunks first and then concatenating them
 * copied every byte twice and left the chunks to the collector.
 */
export class FlatWriter extends BodyWriter {
  private flat: Buffer;
  private at = 0;

  /** `into`: a Buffer to write into when it has room for `length` (its bytes are overwritten). */
  constructor(length: number, into?: Buffer) {
    super();
    this.flat = into !== undefined && into.length >= length ? into : Buffer.allocUnsafe(length);
  }

  /**
   * The plan's length is exact (unit-tested against buildShards); should it ever fall short, the
   * body grows rather than losing bytes: a wrong size in /status is a lesser harm than a cut body.
   */
  private room(n: number): void {
    if (this.at + n <= this.flat.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.flat.length, this.at + n));
    this.flat.copy(bigger, 0, 0, this.at);
    this.flat = bigger;
  }

  /** Where the next byte goes. */
  get position(): number {
    return this.at;
  }

  /**
   * The Buffer to write the next `n` bytes into, from `position`, in place (a templated part copies
   * its lines' bytes straight in: scrape-template.ts); advance(n) once they are written.
   */
  reserve(n: number): Buffer {
    this.room(n);
    return this.flat;
  }

  advance(n: number): void {
    this.at += n;
    this.bytes += n;
  }

  override write(s: string): void {
    this.room(s.length);
    this.at += this.flat.write(s, this.at, 'latin1');
    this.bytes += s.length;
  }

  override copy(src: Buffer, start: number, end: number): void {
    this.room(end - start);
    this.at += src.copy(this.flat, this.at, start, end);
    this.bytes += end - start;
  }

  override finish(): Buffer[] {
    return [this.at === this.flat.length ? this.flat : this.flat.subarray(0, this.at)];
  }
}

/**
 * Where a shard body that is wanted only gzipped is written before it is compressed, reused from one
 * body to the next. The Prometheus scraping a shard asks for gzip, so the plain body was a Buffer of
 * several MB made for one synchronous gzip and then dropped, twice per interval: off-heap memory
 * churn that made V8 start full collections ("external memory pressure"), whose marking of the
 * whole heap cost more CPU than the body itself. Bodies larger than SCRATCH_MAX are not kept.
 */
let scratch: Buffer | undefined;
const SCRATCH_MAX = 64 << 20;

/** `body` gzipped; `body` may be the scratch Buffer (gzipSync reads it before it returns). */
function gzipBody(body: Buffer, level: number): Buffer {
  // One output chunk for the whole result: the default 16 KiB made a shard body's ~1 MB of gzip out of
  // dozens of chunks concatenated at the end. Exposition text gzips to about a ninth at level 1; a
  // body that compresses less comes out in two or three chunks, concatenated as before.
  return gzipSync(body, { level, chunkSize: Math.min((body.length >> 3) + (64 << 10), 32 << 20) });
}

/** Shard k's plain body (om or text) gzipped, written through the scratch Buffer. */
function gzipOf(plan: Plan, k: number, om: boolean, level: number): Buffer {
  const [body] = om ? plan.om(k, scratch) : plan.text(k, scratch);
  // Kept only when its memory is its own: Node takes a Buffer under half its pool size from a slab
  // it shares with every other small Buffer, and writing the next body there would overwrite them.
  if (body.buffer !== scratch?.buffer && body.length >= Buffer.poolSize && body.length <= SCRATCH_MAX)
    scratch = Buffer.from(body.buffer, body.byteOffset, body.buffer.byteLength - body.byteOffset);
  return gzipBody(body, level);
}

/**
 * Leaves out of a family's run on one shard every series an earlier target already has: only targets
 * of one group can share one, and within a group the first in order keeps it (buildShards' rule).
 * The parts compared are read back as parsed parts (a templated one through its scrape's families).
 */
function keepFirst(run: FamilyRun, groups: readonly string[], key: string, k: number, dropped: number[]): void {
  if (groups.length < 2) return;
  let dups: Map<string, number[]> | undefined;
  const first = new Map<string, number>();
  groups.forEach((group, i) => {
    const at = first.get(group);
    if (at === undefined) {
      first.set(group, i);
      return;
    }
    dups ??= new Map();
    const g = dups.get(group);
    if (g) g.push(i);
    else dups.set(group, [at, i]);
  });
  if (!dups) return;
  for (const g of dups.values()) {
    const parsed = g.map((i) => ({ part: run.of[i]?.families.get(key)?.parts[k] ?? (run.parts[i] as FamilyPart), source: 0 }));
    dedupeGroup(parsed, dropped).forEach((kept, j) => {
      run.parts[g[j]] = kept;
      run.of[g[j]] = undefined;
    });
  }
}

function textLength(run: FamilyRun): number {
  const { info } = run;
  let n = textHeader(info).length;
  for (let i = 0; i < run.parts.length; i++) n += runBytes(run, i, false);
  if (!run.split) return n;
  TEXT_SPLIT_SUFFIXES.forEach((suffix, i) => {
    const splits = splitParts(run, i);
    if (splits.length === 0) return;
    n += textHeader(info, info.omName + suffix, 'gauge').length;
    for (const p of splits) n += p.split![i]!.bytes;
  });
  return n;
}

/** One shard of a published set: every form made on its first request and kept. */
class LazyShardBody implements ShardBody {
  private textChunks: Buffer[] | undefined;
  private omChunks: Buffer[] | undefined;
  private textGz: Buffer | undefined;
  private omGz: Buffer | undefined;

  constructor(
    private readonly plan: Plan,
    readonly id: number,
    private readonly gzipLevel: number,
  ) {}

  get series(): number {
    return this.plan.shard(this.id).series;
  }

  get families(): number {
    return this.plan.shard(this.id).families.length;
  }

  get textBytes(): number {
    return this.plan.textBytes(this.id);
  }

  get omBytes(): number {
    return this.plan.shard(this.id).omBytes;
  }

  get text(): Buffer[] {
    return (this.textChunks ??= this.plan.text(this.id));
  }

  get om(): Buffer[] {
    return (this.omChunks ??= this.plan.om(this.id));
  }

  // Synchronous: the request that asks for it is waiting for exactly these bytes, and a shard of a
  // few hundred targets gzips in milliseconds at the shard's gzip_level (1 by default).
  // A plain form already made (asked for uncompressed before) is gzipped as it is; otherwise only
  // the gzip is made and kept, the plain body written through the scratch Buffer (gzipOf).
  get textGzip(): Buffer {
    return (this.textGz ??= this.textChunks ? gzipBody(this.textChunks[0], this.gzipLevel) : gzipOf(this.plan, this.id, false, this.gzipLevel));
  }

  get omGzip(): Buffer {
    return (this.omGz ??= this.omChunks ? gzipBody(this.omChunks[0], this.gzipLevel) : gzipOf(this.plan, this.id, true, this.gzipLevel));
  }

  /** See madeGzipBytes (src/shard/pushed-source.ts). */
  gzipBytesIfMade(om: boolean): number | undefined {
    return (om ? this.omGz : this.textGz)?.length;
  }
}

/**
 * A served set for these targets, in this order. Taking it costs nothing but the snapshot: the plan
 * and every body are made when first asked for. `onDropped` is told the duplicate series left out,
 * once per set, when its plan is made.
 */
export function servedSet(targets: readonly ServedTarget[], numShards: number, gzipLevel: number, onDropped: (series: number) => void): ShardSet {
  const plan = new Plan(targets, numShards, onDropped);
  const shards: ShardBody[] = [];
  for (let k = 0; k < numShards; k++) shards.push(new LazyShardBody(plan, k, gzipLevel));
  return {
    builtAt: Date.now(),
    shards,
    get duplicatesDropped(): number[] {
      plan.shard(0);
      return [plan.dropped];
    },
  };
}
