import type { ExpositionFormat, ExpositionHandler, FamilyMeta, Sample } from './exposition.js';
import { describeFamily, textSplitIndex, type FamilyInfo } from './family.js';
import { hash64Latin1, jumpHash } from './hash.js';
import { LineSink } from './line-sink.js';

/** One source's samples of one family that fall on one shard, in both output formats. */
export class FamilyPart {
  series = 0;
  om = new LineSink();
  /** Text 0.0.4 lines of the family itself; null while they are byte-identical to `om`. */
  text: LineSink | null = null;
  /** Text-only split families (x_created, x_gcount, x_gsum), see TEXT_SPLIT_SUFFIXES. */
  split: (LineSink | undefined)[] = [undefined, undefined, undefined];

  /** A part with the same samples, each sink passed through `map`. */
  mapSinks(map: (sink: LineSink) => LineSink, series: number): FamilyPart {
    const copy = new FamilyPart();
    copy.series = series;
    copy.om = map(this.om);
    copy.text = this.text ? map(this.text) : null;
    copy.split = this.split.map((s) => (s ? map(s) : undefined));
    return copy;
  }

  finish(): void {
    this.om.flush();
    this.text?.flush();
    for (const s of this.split) s?.flush();
  }
}

export interface SourceFamily {
  info: FamilyInfo;
  /** Indexed by shard id. */
  parts: (FamilyPart | undefined)[];
}

/** Everything one successful scrape of one source contributes, already split by shard. */
export interface SourceData {
  families: Map<string, SourceFamily>;
  series: number;
  /** Series per shard, for balance reporting. */
  seriesPerShard: number[];
}

/** Value spellings OpenMetrics accepts as they are; anything else from text 0.0.4 is respelled. */
const OM_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]Inf$|^NaN$/;

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

/**
 * The parser's handler: turns each sample into its output lines, decides its shard, and files it
 * under (family, shard). Strings are latin1 (one char per upstream byte) so that bytes pass through
 * unchanged and the shard key hashes the upstream's UTF-8 bytes.
 */
export class SourceIngest implements ExpositionHandler {
  readonly families = new Map<string, SourceFamily>();
  private current: SourceFamily | undefined;
  private series = 0;
  private readonly seriesPerShard: number[];
  private lastKey = '';
  private lastShard = 0;
  private lastTsIn: string | undefined;
  private lastTsOut = '';
  // Reused per sample to avoid allocating.
  private names: string[] = [];
  private values: string[] = [];
  private order: number[] = [];

  constructor(
    private readonly format: ExpositionFormat,
    private readonly numShards: number,
    /** Labels the config adds to every series of this source. */
    private readonly extraLabels: ReadonlyArray<readonly [string, string]> = [],
  ) {
    this.seriesPerShard = new Array<number>(numShards).fill(0);
  }

  family(meta: FamilyMeta): void {
    const info = describeFamily(meta, this.format);
    let fam = this.families.get(info.key);
    if (!fam) {
      fam = { info, parts: new Array(this.numShards).fill(undefined) };
      this.families.set(info.key, fam);
    }
    this.current = fam;
    this.lastKey = '';
  }

  sample(s: Sample): void {
    const fam = this.current;
    if (!fam) throw new Error('sample before family');
    const info = fam.info;

    // Label set: the sample's own, plus the source's extra labels; a clash renames the scraped one
    // to exported_<name>, as Prometheus does for target labels without honor_labels.
    const names = this.names;
    const values = this.values;
    names.length = 0;
    values.length = 0;
    const raw = s.labels;
    for (let i = 0; i < raw.length; i += 2) {
      names.push(raw[i]!);
      values.push(raw[i + 1]!);
    }
    if (this.extraLabels.length > 0) this.addExtraLabels();
    const n = names.length;
    const order = this.order;
    order.length = n;
    for (let i = 0; i < n; i++) order[i] = i;
    // Insertion sort: label sets are short and nearly always already sorted.
    for (let i = 1; i < n; i++) {
      const idx = order[i]!;
      const name = names[idx]!;
      let j = i - 1;
      while (j >= 0 && names[order[j]!]! > name) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = idx;
    }

    let series = s.name;
    let key = info.key;
    if (n > 0) {
      series += '{';
      for (let k = 0; k < n; k++) {
        const idx = order[k]!;
        const name = names[idx]!;
        const value = values[idx]!;
        if (k > 0) series += ',';
        series += `${name}="${escapeLabelValue(value)}"`;
        if (value !== '' && name !== info.childLabel) key += `\xff${name}\xff${value}`;
      }
      series += '}';
    }

    let shard: number;
    if (key === this.lastKey) {
      shard = this.lastShard;
    } else {
      const [hi, lo] = hash64Latin1(key);
      shard = jumpHash(hi, lo, this.numShards);
      this.lastKey = key;
      this.lastShard = shard;
    }

    let part = fam.parts[shard];
    if (!part) {
      part = new FamilyPart();
      fam.parts[shard] = part;
    }
    part.series++;
    this.series++;
    this.seriesPerShard[shard]!++;

    // The two formats' lines are one string object unless timestamps, exemplars or value spelling differ.
    let omLine: string;
    let textLine: string;
    const ts = s.timestampText;
    if (this.format === 'openmetrics') {
      const base = `${series} ${s.valueText}`;
      if (ts === undefined && s.exemplar === undefined) {
        omLine = textLine = `${base}\n`;
      } else {
        omLine = ts === undefined ? base : `${base} ${ts}`;
        if (s.exemplar !== undefined) omLine += ` # ${s.exemplar}`;
        omLine += '\n';
        textLine = ts === undefined ? `${base}\n` : `${base} ${this.tsOut(ts, s.timestampMs!)}\n`;
      }
    } else {
      const omValueOk = OM_FLOAT.test(s.valueText);
      if (ts === undefined && omValueOk) {
        omLine = textLine = `${series} ${s.valueText}\n`;
      } else {
        const omValue = omValueOk ? s.valueText : formatOmFloat(s.value);
        textLine = ts === undefined ? `${series} ${s.valueText}\n` : `${series} ${s.valueText} ${ts}\n`;
        omLine = ts === undefined ? `${series} ${omValue}\n` : `${series} ${omValue} ${this.tsOut(ts, s.timestampMs!)}\n`;
      }
    }

    const split = this.format === 'openmetrics' ? textSplitIndex(info, s.name) : -1;
    // Clone before adding: everything so far is shared, this sample is where the formats part.
    if (part.text === null && (split >= 0 || textLine !== omLine)) part.text = part.om.clone();
    part.om.add(omLine);
    if (split >= 0) (part.split[split] ??= new LineSink()).add(textLine);
    else part.text?.add(textLine);
  }

  /** Timestamp in the other format; consecutive samples nearly always share it, so remember one. */
  private tsOut(tsText: string, tsMs: number): string {
    if (tsText === this.lastTsIn) return this.lastTsOut;
    this.lastTsIn = tsText;
    this.lastTsOut = this.format === 'openmetrics' ? String(tsMs) : msToOmSeconds(tsMs);
    return this.lastTsOut;
  }

  private addExtraLabels(): void {
    const names = this.names;
    const values = this.values;
    for (const [name, value] of this.extraLabels) {
      let clash = names.indexOf(name);
      let renamed = name;
      while (clash >= 0) {
        renamed = `exported_${renamed}`;
        const next = names.indexOf(renamed);
        names[clash] = renamed;
        clash = next;
      }
      names.push(name);
      values.push(value);
    }
  }

  finish(): SourceData {
    for (const fam of this.families.values()) {
      for (const part of fam.parts) part?.finish();
    }
    return { families: this.families, series: this.series, seriesPerShard: this.seriesPerShard };
  }
}
