// One source's scrape, parsed, turned into per-shard family parts: every child of a histogram or
// summary keyed by its family so they land on one shard, values respelled for the output format,
// the source's extra labels added.

import type { ExpositionFormat, ExpositionHandler, FamilyMeta, MetricType, Sample } from './exposition.js';
import { describeFamily, describeFamilyInto, textSplitIndex, type FamilyInfo } from './family.js';
import { jumpHash, keyBytes, keyHash } from './hash.js';
import { hashText, KeySet, lineIdentity, sampleHash, type LineLookup } from './key-set.js';
import { Arena, LineSink } from './line-sink.js';
import { detach } from '../util/strings.js';

/** One source's samples of one family that fall on one shard, in both output formats. */
export class FamilyPart {
  series = 0;
  om = new LineSink();
  /** Text 0.0.4 lines of the family itself; null while they are byte-identical to `om`. */
  text: LineSink | null = null;
  /** Text-only split families (x_created, x_gcount, x_gsum), see TEXT_SPLIT_SUFFIXES; null when none. */
  split: (LineSink | undefined)[] | null = null;

  /** A part with the same samples, each sink passed through `map`. */
  mapSinks(map: (sink: LineSink) => LineSink, series: number): FamilyPart {
    const copy = new FamilyPart();
    copy.series = series;
    copy.om = map(this.om);
    copy.text = this.text ? map(this.text) : null;
    copy.split = this.split === null ? null : this.split.map((s) => (s ? map(s) : undefined));
    return copy;
  }

  /** Empties the part for the next family, once its lines are recorded elsewhere (SourceFamilies). */
  reset(): void {
    this.series = 0;
    this.om.reset();
    this.text = null;
    this.split = null;
  }

  /** The family has ended (for now): small sinks go into the arena. */
  seal(arena: Arena): void {
    this.om.seal(arena);
    this.text?.seal(arena);
    if (this.split !== null) for (const s of this.split) s?.seal(arena);
  }
}

export interface SourceFamily {
  info: FamilyInfo;
  /** Indexed by shard id. */
  parts: (FamilyPart | undefined)[];
}

const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown'];

function grownInt32(a: Int32Array<ArrayBuffer>, min: number): Int32Array<ArrayBuffer> {
  if (min <= a.length) return a;
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

/**
 * The families of one source's scrape, by key in the order they first appeared, read as a
 * ReadonlyMap of SourceFamily. Stored in columns rather than as objects: a body may hold a million
 * families of one sample each, and five small objects and a Map entry per family were most of the
 * parse's time (the garbage collector copying and marking them) and of the memory it kept. A family
 * is its naming (name, key, type, help, unit) and a run of part records, one per shard it has
 * series on; a small part (sealed into the arena, see LineSink.seal) is recorded by where its lines
 * are, a large one keeps its FamilyPart. get(), has() and iteration make the SourceFamily objects
 * as they are read (the build reads each family once); the key index is made when first needed.
 */
export class SourceFamilies implements ReadonlyMap<string, SourceFamily> {
  private readonly names: string[] = [];
  // Made when first needed, the common value being implied until then: a key that differs from its
  // name (then keys are listed), a help or a unit. Three fewer pointers pushed per family.
  private keyList: string[] | null = null;
  private helps: (string | undefined)[] | null = null;
  private units: (string | undefined)[] | null = null;
  private types = new Uint8Array(256);
  /** Per family, its first part record and how many it has. */
  private first = new Int32Array(256);
  private count = new Int32Array(256);
  // Part records. omBytes -1: the part is bigParts[omAt]; textAt -1: the text lines are the OpenMetrics ones.
  private shard = new Int32Array(256);
  private series = new Int32Array(256);
  private omAt = new Int32Array(256);
  private omBytes = new Int32Array(256);
  private textAt = new Int32Array(256);
  private textBytes = new Int32Array(256);
  // Arena chunk ids (see Arena.chunks), not pointers: two fewer pointer arrays of a million entries for the collector.
  private omChunk = new Int32Array(256);
  private textChunk = new Int32Array(256);
  private readonly bigParts: FamilyPart[] = [];
  private records = 0;
  private index: Map<string, number> | undefined;
  /** Set by add(): whether the key was there already. */
  existed = false;

  constructor(
    private readonly format: ExpositionFormat,
    private readonly numShards: number,
    /** Where the small parts' lines are. */
    private readonly arena: Arena,
  ) {}

  get size(): number {
    return this.names.length;
  }

  private keyOf(f: number): string {
    return this.keyList === null ? this.names[f] : this.keyList[f];
  }

  /**
   * The family of `key`, added when new (`existed` tells). Names are unique within a body (the
   * parser rejects a repeated family), so keys can repeat only when a key differs from its name
   * (a text counter x_total is family x): the index is needed, and made, only from the first such
   * family on.
   */
  add(name: string, key: string, type: MetricType, help: string | undefined, unit: string | undefined): number {
    if (key !== name && this.index === undefined) this.makeIndex();
    if (this.index !== undefined) {
      const f = this.index.get(key);
      if (f !== undefined) {
        this.existed = true;
        return f;
      }
      this.index.set(key, this.names.length);
    }
    this.existed = false;
    const f = this.names.length;
    if (f === this.types.length) {
      const t = new Uint8Array(f * 2);
      t.set(this.types);
      this.types = t;
      this.first = grownInt32(this.first, f * 2);
      this.count = grownInt32(this.count, f * 2);
    }
    this.names.push(name);
    if (this.keyList !== null) this.keyList.push(key);
    else if (key !== name) (this.keyList = this.names.slice(0, f)).push(key);
    this.types[f] = TYPES.indexOf(type);
    if (this.helps !== null) this.helps.push(help);
    else if (help !== undefined) (this.helps = new Array<string | undefined>(f).fill(undefined)).push(help);
    if (this.units !== null) this.units.push(unit);
    else if (unit !== undefined) (this.units = new Array<string | undefined>(f).fill(undefined)).push(unit);
    this.first[f] = 0;
    this.count[f] = 0;
    return f;
  }

  /**
   * Records the family's parts (indexed by shard, undefined where it has none); returns the parts
   * that may be reused, their lines being recorded by position. Replaces what it had before.
   */
  setParts(f: number, parts: (FamilyPart | undefined)[], shards: Int32Array, n: number, reusable: FamilyPart[]): void {
    const start = this.records;
    for (let i = 0; i < n; i++) {
      const k = shards[i];
      const p = parts[k]!;
      const r = this.records++;
      if (r === this.shard.length) this.growRecords();
      this.shard[r] = k;
      this.series[r] = p.series;
      const om = p.om.arenaChunk;
      const text = p.text === null ? null : p.text.arenaChunk;
      if (om !== null && p.split === null && (p.text === null || text !== null)) {
        this.omAt[r] = p.om.arenaOffset;
        this.omBytes[r] = p.om.bytes;
        this.omChunk[r] = om.id;
        if (text === null) {
          this.textAt[r] = -1;
        } else {
          this.textAt[r] = p.text!.arenaOffset;
          this.textBytes[r] = p.text!.bytes;
          this.textChunk[r] = text.id;
        }
        reusable.push(p);
      } else {
        this.omAt[r] = this.bigParts.length;
        this.omBytes[r] = -1;
        this.bigParts.push(p);
      }
    }
    this.first[f] = start;
    this.count[f] = this.records - start;
  }

  /** The family's parts as objects, indexed by shard (for reading, or to add to a family seen again). */
  partsOf(f: number): (FamilyPart | undefined)[] {
    const parts = new Array<FamilyPart | undefined>(this.numShards);
    const end = this.first[f] + this.count[f];
    for (let r = this.first[f]; r < end; r++) {
      if (this.omBytes[r] < 0) {
        parts[this.shard[r]] = this.bigParts[this.omAt[r]];
        continue;
      }
      const p = new FamilyPart();
      p.series = this.series[r];
      const chunks = this.arena.chunks;
      p.om = LineSink.inArena(chunks[this.omChunk[r]], this.omAt[r], this.omBytes[r]);
      if (this.textAt[r] >= 0) p.text = LineSink.inArena(chunks[this.textChunk[r]], this.textAt[r], this.textBytes[r]);
      parts[this.shard[r]] = p;
    }
    return parts;
  }

  private growRecords(): void {
    const n = this.shard.length * 2;
    this.shard = grownInt32(this.shard, n);
    this.series = grownInt32(this.series, n);
    this.omAt = grownInt32(this.omAt, n);
    this.omBytes = grownInt32(this.omBytes, n);
    this.textAt = grownInt32(this.textAt, n);
    this.textBytes = grownInt32(this.textBytes, n);
    this.omChunk = grownInt32(this.omChunk, n);
    this.textChunk = grownInt32(this.textChunk, n);
  }

  private makeIndex(): void {
    this.index = new Map();
    for (let f = 0; f < this.names.length; f++) this.index.set(this.keyOf(f), f);
  }

  info(f: number): FamilyInfo {
    return describeFamily(this.names[f], TYPES[this.types[f]], this.helps?.[f], this.units?.[f], this.format);
  }

  family(f: number): SourceFamily {
    return { info: this.info(f), parts: this.partsOf(f) };
  }

  get(key: string): SourceFamily | undefined {
    if (this.index === undefined) this.makeIndex();
    const f = this.index!.get(key);
    return f === undefined ? undefined : this.family(f);
  }

  has(key: string): boolean {
    if (this.index === undefined) this.makeIndex();
    return this.index!.has(key);
  }

  *entries(): MapIterator<[string, SourceFamily]> {
    for (let f = 0; f < this.names.length; f++) yield [this.keyOf(f), this.family(f)];
  }

  [Symbol.iterator](): MapIterator<[string, SourceFamily]> {
    return this.entries();
  }

  keys(): MapIterator<string> {
    return (this.keyList ?? this.names).values();
  }

  *values(): MapIterator<SourceFamily> {
    for (let f = 0; f < this.names.length; f++) yield this.family(f);
  }

  forEach(fn: (value: SourceFamily, key: string, map: ReadonlyMap<string, SourceFamily>) => void): void {
    for (let f = 0; f < this.names.length; f++) fn(this.family(f), this.keyOf(f), this);
  }
}

/** Everything one successful scrape of one source contributes, already split by shard. */
export interface SourceData {
  families: ReadonlyMap<string, SourceFamily>;
  /** The families' keys alone, where reading `families` makes every part (a templated NATS scrape). */
  familyKeys?(): Iterable<string>;
  series: number;
  /** Samples left out because the same series (at the same timestamp) came earlier in the body. */
  duplicates: number;
  /** Series per shard, for balance reporting. */
  seriesPerShard: number[];
  /**
   * Labels every series of this data carries with exactly these values (the source's added labels,
   * empty values left out): two sources that differ in one of them cannot share a series, so the
   * build compares their lines only when they agree on all the names both have.
   */
  fixedLabels?: ReadonlyArray<readonly [string, string]>;
}

/** Labels added to a sample: sorted by name; `names` are the ones that rename a clashing scraped label. */
interface ExtraSet {
  labels: ReadonlyArray<readonly [string, string]>;
  names: string[];
  text: string;
}

/** Value spellings OpenMetrics accepts as they are; anything else from text 0.0.4 is respelled. */
const OM_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]Inf$|^NaN$/;

/** Whether a value is spelled as OpenMetrics allows; digits alone (most values) without the regex. */
function isOmFloat(v: string): boolean {
  const n = v.length;
  if (n === 0) return false;
  let i = 0;
  while (i < n && v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) i++;
  return i === n || OM_FLOAT.test(v);
}

/** Formats a float the way OpenMetrics spells it. */
export function formatOmFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Integer milliseconds as OpenMetrics seconds that Prometheus (which stores int64(seconds*1000))
 * turns back into exactly the same millisecond.
 */
export function msToOmSeconds(ms: number): string {
  const plain = String(ms / 1000);
  if (Math.trunc(Number(plain) * 1000) === ms) return plain;
  // Float rounding put the product just under the integer: aim at the middle of the millisecond.
  return String((ms + (ms < 0 ? -0.5 : 0.5)) / 1000);
}

/**
 * The name a scraped label that clashes with a source label is served under: exported_<name>, with
 * more exported_ prefixes while that name is taken too (as Prometheus renames target label clashes).
 */
function exportedName(name: string, labels: string[]): string {
  let out = `exported_${name}`;
  for (;;) {
    let taken = false;
    for (let k = 0; k < labels.length; k += 2) if (labels[k] === out) taken = true;
    if (!taken) return out;
    out = `exported_${out}`;
  }
}

/** Indexes of the label pairs of a flat [name, value, ...] list, sorted by name. */
const sortScratch: number[] = [];
function sortedPairs(labels: string[]): number[] {
  const n = labels.length >> 1;
  const order = sortScratch;
  if (order.length !== n) order.length = n;
  for (let i = 0; i < n; i++) order[i] = i;
  // Insertion sort: label sets are short and nearly always already sorted.
  for (let i = 1; i < n; i++) {
    const idx = order[i];
    const name = labels[2 * idx];
    let j = i - 1;
    while (j >= 0 && labels[2 * order[j]] > name) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = idx;
  }
  return order;
}

/** `name{a="1",b="2"}` with labels sorted by name, in the spelling both formats accept. */
export function serializeSeries(name: string, labels: string[]): string {
  if (labels.length === 0) return name;
  const order = sortedPairs(labels).slice();
  let out = `${name}{`;
  for (let j = 0; j < order.length; j++) {
    const k = order[j];
    out += `${j > 0 ? ',' : ''}${labels[2 * k]}="${escapeLabelValue(labels[2 * k + 1])}"`;
  }
  return `${out}}`;
}

function escapeLabelValue(v: string): string {
  let needs = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 92 || c === 34 || c === 10) {
      needs = true;
      break;
    }
  }
  if (!needs) return v;
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Text 0.0.4 allows blanks and a trailing comma in a label set; OpenMetrics does not. */
const NOT_PLAIN_SERIES = /[ \t]|,}|\{}/;

/**
 * The parser's handler: turns each sample into its output lines, decides its shard, and files it
 * under (family, shard). Strings are latin1 (one char per upstream byte) so that bytes pass through
 * unchanged and the shard key hashes the upstream's UTF-8 bytes. The upstream's own spelling of a
 * series is passed through whenever it is valid in both formats: re-serializing 600k series per
 * cycle would cost more than parsing them.
 */
export class SourceIngest implements ExpositionHandler, LineLookup {
  readonly families: SourceFamilies;
  /** The current family: its index in `families`, naming, and parts by shard (open until it ends). */
  private current = -1;
  private info: FamilyInfo | undefined;
  /** The current family's info when it is new: one object rewritten per family (see family()). */
  private readonly infoScratch = describeFamily('', 'unknown', undefined, undefined, 'text');
  private parts: (FamilyPart | undefined)[];
  /** The shards the current family has parts on, in the order they came (nTouched of them): seal() visits only these. */
  private readonly touched: Int32Array;
  private nTouched = 0;
  /** Parts whose lines went into the arena, emptied for the next family. */
  private readonly spare: FamilyPart[] = [];
  private series = 0;
  private readonly seriesPerShard: number[];
  private lastShard = 0;
  private lastTsIn: string | undefined;
  private lastTsOut = '';
  // The previous sample's labels, to see that a sample belongs to the same child (shard) as it.
  private prevNames: string[] = [];
  private prevValues: string[] = [];
  private prevValid = false;
  /**
   * The labels added to a sample, by which identity labels (see `identity`) the sample lacks: index
   * bit j is set when the sample has identityLabels[j] itself. `extra` is the current sample's.
   */
  private readonly variants: ExtraSet[];
  private extra: ExtraSet;
  private readonly identityNames: string[];
  private readonly fixedLabels: ReadonlyArray<readonly [string, string]>;
  private readonly arena = new Arena();
  // Duplicate series within the body. A family is one contiguous block (the parser enforces it), so a
  // series can only repeat inside its family's block: hashes are kept per family, and only from its
  // second sample on, so a family of one sample costs nothing (see key-set.ts).
  private duplicates = 0;
  private famSamples = 0;
  private readonly famKeys = new KeySet();
  /** The last shard key's xxh64 halves: the hash of every label but the child label. */
  private lastHi = 0;
  private lastLo = 0;
  private dupName = '';
  private dupNameHash = 0;
  private readonly dupHash = new Int32Array(2);
  /** The family's first sample, hashed and filed only when a second one comes. */
  private firstName = '';
  private firstChild: string | undefined;
  private firstHi = 0;
  private firstLo = 0;
  private firstTs = NaN;
  private firstShard = 0;
  private firstOffset = 0;
  private firstLength = 0;
  /** The sample being checked: its served series and line, and the line's identity once needed. */
  private checkedSeries = '';
  private checkedLine = '';
  private checkedIdentity: string | undefined;

  constructor(
    private readonly format: ExpositionFormat,
    private readonly numShards: number,
    /** Labels the config adds to every series of this source, sorted by name. */
    extraLabels: ReadonlyArray<readonly [string, string]> = [],
    /**
     * Given to samples written without a timestamp (integer ms): a scrape that reached us by message
     * (src/stream) is served at the time it was scraped, not at the time it is served.
     */
    private readonly defaultTimestampMs?: number,
    /**
     * The source's identity (job, instance; src/shard/identity.ts), added to a sample only when it
     * has no label of that name itself, as Prometheus's honor_labels does; never renames anything.
     */
    identityLabels: ReadonlyArray<readonly [string, string]> = [],
  ) {
    this.seriesPerShard = new Array<number>(numShards).fill(0);
    this.families = new SourceFamilies(format, numShards, this.arena);
    this.parts = new Array<FamilyPart | undefined>(numShards);
    this.touched = new Int32Array(numShards);
    // Only the config's labels are on every served series (a clash renames the scraped one); the
    // identity labels are not (a series' own job or instance wins), so they are not "fixed".
    this.fixedLabels = extraLabels.filter(([, v]) => v !== '');
    const names = extraLabels.map(([n]) => n);
    const identity = identityLabels.filter(([n]) => !names.includes(n));
    this.identityNames = identity.map(([n]) => n);
    this.variants = [];
    for (let mask = 0; mask < 1 << identity.length; mask++) {
      const labels = [...extraLabels, ...identity.filter((_, j) => (mask & (1 << j)) === 0)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.variants.push({ labels, names, text: labels.map(([n, v]) => `${n}="${escapeLabelValue(v)}"`).join(',') });
    }
    this.extra = this.variants[0];
  }

  /** Which identity labels the sample carries itself (the index into `variants`). */
  private identityMask(labels: string[]): number {
    const ids = this.identityNames;
    let mask = 0;
    for (let k = 0; k < labels.length; k += 2) {
      const j = ids.indexOf(labels[k]);
      if (j >= 0) mask |= 1 << j;
    }
    return mask;
  }

  family(meta: FamilyMeta): void {
    if (this.current >= 0) this.seal();
    // Kept for as long as the source's data: must not pin the body piece they were sliced from (the
    // parser hands family names over detached already).
    const help = detach(meta.help);
    const unit = detach(meta.unit);
    const info = describeFamilyInto(this.infoScratch, meta.name, meta.type, help, unit, this.format);
    const fams = this.families;
    this.current = fams.add(meta.name, info.key, meta.type, help, unit);
    if (fams.existed) {
      // A key seen before (text: counter x_total, then family x): its lines go on from where they were.
      this.info = fams.info(this.current);
      this.parts = fams.partsOf(this.current);
      for (let k = 0; k < this.parts.length; k++) if (this.parts[k] !== undefined) this.touched[this.nTouched++] = k;
    } else {
      this.info = info;
    }
    this.prevValid = false;
    this.famSamples = 0;
    this.famKeys.clear();
  }

  sample(s: Sample): void {
    const info = this.info;
    if (info === undefined) throw new Error('sample before family');
    const parts = this.parts;
    if (this.variants.length > 1) this.extra = this.variants[this.identityMask(s.labels)];
    const shard = this.sameChildAsPrevious(s.labels, info.childLabel) ? this.lastShard : this.shardOf(s.labels, info);
    const text = s.text;
    let series: string | undefined;
    // Whether `series` is the line's own text up to its value (then a text line may be passed through).
    let own = false;
    if (this.extra.labels.length === 0) {
      if (this.format === 'text' && s.seriesEnd - s.lineStart === s.name.length) {
        // No label set: the series is the name, which the parser has as a string already.
        series = s.name;
        own = true;
      } else {
        series = text.slice(s.lineStart, s.seriesEnd);
        own = true;
        if (this.format === 'text' && NOT_PLAIN_SERIES.test(series)) {
          series = serializeSeries(s.name, s.labels);
          own = false;
        }
      }
    } else {
      series = this.withExtraLabels(s);
    }

    // The two formats' lines are one string object unless timestamps, exemplars or value spelling differ.
    // Both undefined: both are the body's own line, text[lineStart, lineEnd + 1), not sliced (yet).
    let omLine: string | undefined;
    let textLine: string | undefined;
    let ts = s.timestampText;
    let tsMs = s.timestampMs;
    if (ts === undefined && this.defaultTimestampMs !== undefined) {
      tsMs = this.defaultTimestampMs;
      ts = this.format === 'openmetrics' ? msToOmSeconds(tsMs) : String(tsMs);
    }
    if (this.format === 'openmetrics') {
      if (ts !== s.timestampText) {
        // The timestamp goes between the value and the exemplar.
        omLine = `${series} ${s.valueText} ${ts}${s.exemplar === undefined ? '' : ` # ${s.exemplar}`}\n`;
      } else if (this.extra.labels.length === 0) {
        // OpenMetrics lines are canonical already: pass the whole line through.
        omLine = text.charCodeAt(s.lineEnd) === 10 ? text.slice(s.lineStart, s.lineEnd + 1) : `${text.slice(s.lineStart, s.lineEnd)}\n`;
      } else {
        omLine = `${series}${text.slice(s.seriesEnd, s.lineEnd)}\n`;
      }
      textLine = ts === undefined && s.exemplar === undefined ? omLine : `${series} ${s.valueText}${ts === undefined ? '' : ` ${this.tsOut(ts, tsMs!)}`}\n`;
    } else {
      const value = s.valueText;
      const omFloat = isOmFloat(value);
      if (ts !== undefined) textLine = `${series} ${value} ${ts}\n`;
      else if (own && s.lineEnd === s.seriesEnd + 1 + value.length && text.charCodeAt(s.seriesEnd) === 32 && text.charCodeAt(s.lineEnd) === 10) {
        // "series value\n" as written: the body's own line. Where both formats take it as it is,
        // no string is made for it (see LineSink.addRange); else one slice of the body.
        if (!omFloat) textLine = text.slice(s.lineStart, s.lineEnd + 1);
      } else textLine = `${series} ${value}\n`;
      if (ts === undefined && omFloat) {
        omLine = textLine;
      } else {
        const omValue = omFloat ? value : formatOmFloat(s.value);
        omLine = ts === undefined ? `${series} ${omValue}\n` : `${series} ${omValue} ${this.tsOut(ts, tsMs!)}\n`;
      }
    }

    let part = parts[shard];
    const omLength = omLine === undefined ? s.lineEnd + 1 - s.lineStart : omLine.length;
    if (this.isDuplicate(s, info, shard, part === undefined ? 0 : part.om.bytes, series, omLine, omLength)) {
      this.duplicates++;
      return;
    }
    if (!part) {
      part = this.spare.pop() ?? new FamilyPart();
      parts[shard] = part;
      this.touched[this.nTouched++] = shard;
    }
    part.series++;
    this.series++;
    this.seriesPerShard[shard]++;

    const split = this.format === 'openmetrics' ? textSplitIndex(info, s.name) : -1;
    // Clone before adding: everything so far is shared, this sample is where the formats part.
    if (omLine === undefined) {
      // Text format, the body's own line for both formats (split is -1: text has no split families).
      part.om.addRange(text, s.lineStart, s.lineEnd + 1);
      part.text?.addRange(text, s.lineStart, s.lineEnd + 1);
      return;
    }
    if (part.text === null && (split >= 0 || textLine !== omLine)) part.text = part.om.clone();
    part.om.add(omLine);
    if (split >= 0) ((part.split ??= [undefined, undefined, undefined])[split] ??= new LineSink()).add(textLine!);
    else part.text?.add(textLine!);
  }

  /**
   * True when the sample's series, at its timestamp, came earlier in its family: as Prometheus's
   * scrape loop does (prometheus_target_scrapes_sample_duplicate_timestamp_total), the first copy
   * is kept and later ones are dropped. Identity is the name and the unescaped label pairs with
   * empty values left out, so every spelling of one series is caught. Called after shardOf (or its
   * same-child shortcut), whose hash covers every label but the child label: only the name, the
   * child label's value and the timestamp are hashed here. `omLine` will be written at `offset` of
   * the shard's part.
   */
  private isDuplicate(s: Sample, info: FamilyInfo, shard: number, offset: number, series: string, omLine: string | undefined, omLength: number): boolean {
    const n = this.famSamples++;
    let child: string | undefined;
    const childLabel = info.childLabel;
    if (childLabel !== undefined) {
      const labels = s.labels;
      for (let k = 0; k < labels.length; k += 2) {
        if (labels[k] !== childLabel) continue;
        // An empty value is no label: hashed as if absent.
        if (labels[k + 1] !== '') child = labels[k + 1];
        break;
      }
    }
    const ts = s.timestampMs ?? NaN;
    if (n === 0) {
      // Nothing to compare with yet: what the hash needs is kept, and hashed only if a second
      // sample comes (most families of a million-family body have one).
      this.firstName = s.name;
      this.firstChild = child;
      this.firstHi = this.lastHi;
      this.firstLo = this.lastLo;
      this.firstTs = ts;
      this.firstShard = shard;
      this.firstOffset = offset;
      this.firstLength = omLength;
      return false;
    }
    const keys = this.famKeys;
    const h = this.dupHash;
    // Into an empty set: nothing to compare with, so sameSeries is never called.
    if (n === 1) {
      this.hashSample(this.firstHi, this.firstLo, this.firstName, this.firstChild, this.firstTs);
      keys.add(h[0], h[1], this.firstTs, this.firstShard, this.firstOffset, this.firstLength, this);
    }
    this.hashSample(this.lastHi, this.lastLo, s.name, child, ts);
    this.checkedSeries = series;
    this.checkedLine = omLine ?? s.text.slice(s.lineStart, s.lineStart + omLength);
    this.checkedIdentity = undefined;
    return !keys.add(h[0], h[1], ts, shard, offset, omLength, this);
  }

  /** sampleHash into dupHash, the name's hash remembered while the name repeats. */
  private hashSample(hi: number, lo: number, name: string, child: string | undefined, ts: number): void {
    // The parser hands over one string object while the name repeats: compared by reference.
    if (name !== this.dupName) {
      this.dupName = name;
      this.dupNameHash = hashText(name);
    }
    sampleHash(hi, lo, this.dupNameHash, child === undefined ? 0 : hashText(child), ts, this.dupHash);
  }

  /**
   * See LineLookup. A repeat is usually spelled exactly as its first copy: then the kept line starts
   * with the checked sample's series and a blank, and no identity is built (a body of one line
   * repeated a million times costs one comparison per line).
   */
  sameSeries(shard: number, offset: number, length: number): boolean {
    const kept = this.parts[shard]!.om.readRange(offset, offset + length);
    const series = this.checkedSeries;
    if (kept.length > series.length && kept.charCodeAt(series.length) === 32 && kept.startsWith(series)) return true;
    this.checkedIdentity ??= lineIdentity(this.checkedLine);
    return lineIdentity(kept) === this.checkedIdentity;
  }

  /**
   * True when the sample has the same labels as the previous one of its family, but for the child
   * label (le, quantile): then it is the same histogram/summary child and the same shard, and the
   * key need not be hashed again. Remembers the labels for the next sample otherwise.
   */
  private sameChildAsPrevious(labels: string[], childLabel: string | undefined): boolean {
    const names = this.prevNames;
    const values = this.prevValues;
    const n = labels.length >> 1;
    if (this.prevValid && names.length === n) {
      let same = true;
      for (let k = 0; k < n; k++) {
        const name = labels[2 * k];
        if (name !== names[k] || (name !== childLabel && labels[2 * k + 1] !== values[k])) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    // Setting an array's length is a runtime call: done only when it changes.
    if (names.length !== n) {
      names.length = n;
      values.length = n;
    }
    for (let k = 0; k < n; k++) {
      names[k] = labels[2 * k]!;
      values[k] = labels[2 * k + 1]!;
    }
    this.prevValid = true;
    return false;
  }

  /** jump_hash(xxh64(family, then 0xFF name 0xFF value per served label sorted by name)), see README. */
  private shardOf(labels: string[], info: FamilyInfo): number {
    // Without a clash the sample's labels and the (sorted) extra labels are merged while hashing;
    // a clash renames labels, so the served label list is built first (rare).
    let own = labels;
    let extra = this.extra.labels;
    if (own.length === 0 && extra.length === 0) {
      // The key is the family alone (a body of many one-sample families).
      keyBytes.reset();
      keyBytes.add(info.key);
      return this.shardOfKey();
    }
    if (extra.length > 0 && this.clashes(labels)) {
      own = this.servedLabels(labels);
      extra = [];
    }
    const n = own.length >> 1;
    const order = sortedPairs(own);
    keyBytes.reset();
    keyBytes.add(info.key);
    let e = 0;
    for (let j = 0; j <= n; j++) {
      const k = j < n ? order[j] : -1;
      const name = k >= 0 ? own[2 * k] : '\uffff';
      for (; e < extra.length && extra[e][0] < name; e++) {
        if (extra[e][1] === '') continue;
        keyBytes.separator();
        keyBytes.add(extra[e][0]);
        keyBytes.separator();
        keyBytes.add(extra[e][1]);
      }
      if (k < 0) break;
      const value = own[2 * k + 1];
      if (value === '' || name === info.childLabel) continue;
      keyBytes.separator();
      keyBytes.add(name);
      keyBytes.separator();
      keyBytes.add(value);
    }
    return this.shardOfKey();
  }

  /** The shard of the key in keyBytes; its hash is kept for the duplicate check. */
  private shardOfKey(): number {
    keyBytes.hashToKey();
    const hi = keyHash.hi;
    const lo = keyHash.lo;
    this.lastHi = hi;
    this.lastLo = lo;
    this.lastShard = jumpHash(hi, lo, this.numShards);
    return this.lastShard;
  }

  private clashes(labels: string[]): boolean {
    for (let k = 0; k < labels.length; k += 2) if (this.extra.names.includes(labels[k])) return true;
    return false;
  }

  /** The sample's labels as served: clashing ones renamed exported_<name>, then the source's labels. */
  private servedLabels(labels: string[]): string[] {
    const all: string[] = [];
    for (let k = 0; k < labels.length; k += 2) {
      const name = labels[k];
      all.push(this.extra.names.includes(name) ? exportedName(name, labels) : name, labels[k + 1]);
    }
    for (const [n, v] of this.extra.labels) all.push(n, v);
    return all;
  }

  /** The series with the source's labels added; a clashing scraped label becomes exported_<name>. */
  private withExtraLabels(s: Sample): string {
    const labels = s.labels;
    if (this.clashes(labels)) return serializeSeries(s.name, this.servedLabels(labels));
    const own = s.text.slice(s.lineStart, s.seriesEnd);
    const brace = own.indexOf('{');
    if (brace < 0) return `${s.name}{${this.extra.text}}`;
    if (this.format === 'text' && NOT_PLAIN_SERIES.test(own)) return serializeSeries(s.name, this.servedLabels(labels));
    return `${s.name}{${this.extra.text},${own.slice(brace + 1)}`;
  }

  /** Timestamp in the other format; consecutive samples nearly always share it, so remember one. */
  private tsOut(tsText: string, tsMs: number): string {
    if (tsText === this.lastTsIn) return this.lastTsOut;
    this.lastTsIn = tsText;
    this.lastTsOut = this.format === 'openmetrics' ? String(tsMs) : msToOmSeconds(tsMs);
    return this.lastTsOut;
  }

  /** Ends the current family: its parts' lines go into the arena and their places into `families`. */
  private seal(): void {
    const parts = this.parts;
    const touched = this.touched;
    const n = this.nTouched;
    for (let i = 0; i < n; i++) parts[touched[i]]!.seal(this.arena);
    const reusable = this.spare;
    const before = reusable.length;
    this.families.setParts(this.current, parts, touched, n, reusable);
    for (let i = before; i < reusable.length; i++) reusable[i].reset();
    // Parts kept as objects belong to the family now: the next family starts with none.
    for (let i = 0; i < n; i++) parts[touched[i]] = undefined;
    this.nTouched = 0;
  }

  finish(): SourceData {
    if (this.current >= 0) this.seal();
    this.current = -1;
    this.info = undefined;
    // Strings of the last family's first sample, which may point into the body's last piece.
    this.firstName = '';
    this.firstChild = undefined;
    this.arena.close();
    return {
      families: this.families,
      series: this.series,
      duplicates: this.duplicates,
      seriesPerShard: this.seriesPerShard,
      fixedLabels: this.fixedLabels,
    };
  }
}
