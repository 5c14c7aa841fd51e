// Applying a target's scrape when only its values changed since the last one, as Prometheus's scrape
// cache does: most exporters write the same series in the same order every time, so the centre need
// not parse, label, hash and shard 1,000 series again for every message. The previous scrape leaves
// a template: the body's text between the values, and where each value's line was served (its
// shard, family part and served series). A body that is that text with other values in between is
// served from the template; anything else (a series added or gone, a comment changed, a timestamp,
// a value spelled unusually) goes through the full parse, which makes the next template. The output
// is byte for byte what the full parse gives (unit-tested against it).

import type { FamilyInfo } from '../shard/family.js';
import { FamilyPart, msToOmSeconds, type SourceData, type SourceFamily } from '../shard/ingest.js';
import { LineSink, type BodyWriter } from '../shard/line-sink.js';
import { StreamingIngest } from '../shard/stream-ingest.js';
import { FlatWriter, type TemplatedData } from './served-bodies.js';

/**
 * Values the template carries over as they are: spellings both the parser and OpenMetrics take
 * unchanged (no respelling, no range error). Anything else goes through the full parse. The
 * fraction may be long: a duration in seconds printed as the shortest round trip of a double, as the
 * edge's scrape_duration_seconds is, has up to 6 zeros before its 17 digits (below 1e-6 it is
 * printed with an exponent), and with at most 17 fraction digits every target's meta series missed
 * their template on most scrapes.
 */
const PLAIN_VALUE = /^-?(?:0|[1-9]\d{0,17})(?:\.\d{1,30})?(?:[eE][+-]?\d{1,2})?$/;

/**
 * Where the value starting at `p` ends: the index of its line's newline if the bytes up to it are a
 * PLAIN_VALUE, else -1. Byte by byte, so that applying a scrape needs no string of its body and no
 * string per value (the same spellings as the regular expression, unit-tested against it).
 */
export function plainValueEnd(b: Uint8Array, p: number): number {
  const len = b.length;
  let c = p < len ? b[p] : -1;
  if (c === 45 /* - */) c = ++p < len ? b[p] : -1;
  if (c === 48 /* 0 */) {
    c = ++p < len ? b[p] : -1;
  } else if (c >= 49 && c <= 57) {
    let digits = 1;
    c = ++p < len ? b[p] : -1;
    while (c >= 48 && c <= 57) {
      if (++digits > 18) return -1;
      c = ++p < len ? b[p] : -1;
    }
  } else return -1;
  if (c === 46 /* . */) {
    let digits = 0;
    c = ++p < len ? b[p] : -1;
    while (c >= 48 && c <= 57) {
      if (++digits > 30) return -1;
      c = ++p < len ? b[p] : -1;
    }
    if (digits === 0) return -1;
  }
  if (c === 101 || c === 69 /* e E */) {
    c = ++p < len ? b[p] : -1;
    if (c === 43 || c === 45) c = ++p < len ? b[p] : -1;
    let digits = 0;
    while (c >= 48 && c <= 57) {
      if (++digits > 2) return -1;
      c = ++p < len ? b[p] : -1;
    }
    if (digits === 0) return -1;
  }
  return c === 10 ? p : -1;
}

/**
 * A template's served lines, every part's back to back: line j shows sample samples[j] (the value's
 * index), and its served series up to the value (`name{labels} `, latin1) is
 * prefixes[prefixEnds[j - 1], prefixEnds[j]) (from 0 for the first). One Buffer and two Int32Arrays
 * per template: a typed array or a view per part (three per part, 8,000 parts for 200 targets) were
 * a sixth of the centre's heap objects, every one marked, and every ArrayBuffer swept, by each full
 * collection; a view per line before that was 200,000.
 */
interface LineTable {
  samples: Int32Array;
  prefixes: Buffer;
  prefixEnds: Int32Array;
}

/** One served family part of the template: lines [from, to) of its table; their prefixes are prefixes[prefixStart, prefixEnd). */
interface TemplatePart {
  table: LineTable;
  from: number;
  to: number;
  prefixStart: number;
  prefixEnd: number;
}

/**
 * Writes a templated part's lines into `out` from `o`, where room for their `bytes` is; returns
 * where they end. The prefixes are copied in one piece to the end of that room, then each moved
 * down into place by copyWithin: a line's prefix never lands past where the next one waits (the
 * room ahead of it holds only values and suffixes), and copyWithin, unlike TypedArray.set from a
 * range, needs no view object per line (a byte loop in JavaScript was five times slower).
 */
function fillLines(
  part: TemplatePart,
  /** The scrape's values back to back: value i is values[ends[i - 1], ends[i]) (from 0 for the first). */
  values: Uint8Array,
  ends: Int32Array,
  /** The timestamp and newline every line ends with, in the body's form. */
  suffix: Uint8Array,
  bytes: number,
  out: Uint8Array,
  o: number,
): number {
  const { samples, prefixes, prefixEnds } = part.table;
  const { from, to, prefixStart } = part;
  const sl = suffix.length;
  const base = o + bytes - (part.prefixEnd - prefixStart) - prefixStart;
  prefixes.copy(out, base + prefixStart, prefixStart, part.prefixEnd);
  let p = prefixStart;
  for (let j = from; j < to; j++) {
    const pe = prefixEnds[j];
    out.copyWithin(o, base + p, base + pe);
    o += pe - p;
    p = pe;
    // A value is a few bytes: a loop beats a call.
    const i = samples[j];
    for (let v = i === 0 ? 0 : ends[i - 1], ve = ends[i]; v < ve; v++) out[o++] = values[v];
    out.set(suffix, o);
    o += sl;
  }
  return o;
}

/** fillLines into a served body, at its position. */
function writeLines(out: FlatWriter, part: TemplatePart, values: Uint8Array, ends: Int32Array, suffix: Uint8Array, bytes: number): void {
  const from = out.position;
  out.advance(fillLines(part, values, ends, suffix, bytes, out.reserve(bytes), from) - from);
}

/** The bytes of a templated part's values. */
function valueBytes(part: TemplatePart, ends: Int32Array): number {
  const samples = part.table.samples;
  let n = 0;
  for (let j = part.from; j < part.to; j++) {
    const i = samples[j];
    n += ends[i] - (i === 0 ? 0 : ends[i - 1]);
  }
  return n;
}

/**
 * The lines of one templated family part in one form, as a LineSink, for readers of a templated
 * scrape's `families` (the duplicate check between targets of one job and instance, buildShards when
 * the source is not the only one, tests); a served set's plan writes the lines straight from the
 * template instead (TemplatedScrape.writePart). Read-only: only writeTo, buffers and readRange are
 * used on served parts.
 */
class TemplateLines extends LineSink {
  constructor(
    private readonly part: TemplatePart,
    private readonly values: Uint8Array,
    private readonly ends: Int32Array,
    private readonly suffix: Uint8Array,
    bytes: number,
  ) {
    super();
    this.bytes = bytes;
  }

  private flat(): Buffer {
    const buf = Buffer.allocUnsafe(this.bytes);
    fillLines(this.part, this.values, this.ends, this.suffix, this.bytes, buf, 0);
    return buf;
  }

  override writeTo(out: BodyWriter): void {
    if (out instanceof FlatWriter) writeLines(out, this.part, this.values, this.ends, this.suffix, this.bytes);
    else out.copy(this.flat(), 0, this.bytes);
  }

  override get buffers(): readonly Buffer[] {
    return [this.flat()];
  }

  override readRange(start: number, end: number): string {
    return this.flat().toString('latin1', start, end);
  }

  override add(): void {
    throw new Error('a templated part is read-only');
  }

  override seal(): void {}
}

interface TemplateFamily {
  key: string;
  info: FamilyInfo;
  parts: (TemplatePart | undefined)[];
}

/** Where the values of the body being applied are, reused from one apply to the next (read before apply returns). */
let valueAt = new Int32Array(0);

export class ScrapeTemplate {
  private constructor(
    /** The body's bytes around the values, back to back: segment i comes before value i, the last after the last value. */
    private readonly fixed: Buffer,
    /** Where each segment of `fixed` ends (it starts where the one before ends). */
    private readonly fixedEnds: Int32Array,
    readonly families: readonly TemplateFamily[],
    private readonly numShards: number,
    readonly duplicates: number,
    readonly fixedLabels: ReadonlyArray<readonly [string, string]>,
  ) {
    this.seriesPerShard = new Array<number>(numShards).fill(0);
    for (const fam of families) fam.parts.forEach((t, k) => (this.seriesPerShard[k] += t ? t.to - t.from : 0));
    this.series = this.seriesPerShard.reduce((a, n) => a + n, 0);
    this.familyKeys = families.map((f) => f.key);
    this.fixedView = new DataView(fixed.buffer, fixed.byteOffset, fixed.byteLength);
  }

  private readonly fixedView: DataView;

  /** Every scrape that fits the template has these families, series, split so (read-only). */
  readonly familyKeys: readonly string[];
  readonly series: number;
  readonly seriesPerShard: number[];

  /**
   * A template for bodies like `text` (latin1, text format 0.0.4), served with `labels` at the given
   * scrape times; undefined when the body has a shape the template does not cover (a timestamp, an
   * unusual value, no final newline). Parses the body once more, each value replaced by its index.
   */
  static make(text: string, numShards: number, labels: ReadonlyArray<readonly [string, string]>): ScrapeTemplate | undefined {
    if (text.length === 0 || text.charCodeAt(text.length - 1) !== 10 || text.charCodeAt(0) === 0xef) return undefined;
    const fixed: string[] = [];
    let marked = '';
    let from = 0;
    let n = 0;
    for (let start = 0; start < text.length;) {
      const nl = text.indexOf('\n', start);
      const c = text.charCodeAt(start);
      // Comments and blank lines stay in the fixed text.
      if (c !== 35 && nl > start) {
        const sp = text.lastIndexOf(' ', nl);
        if (sp <= start) return undefined;
        const value = text.slice(sp + 1, nl);
        if (!PLAIN_VALUE.test(value)) return undefined;
        fixed.push(text.slice(from, sp + 1));
        marked += `${text.slice(from, sp + 1)}${n}`;
        from = nl;
        n++;
      }
      start = nl + 1;
    }
    fixed.push(text.slice(from));
    marked += text.slice(from);

    // The same body with value i replaced by i: every served line says which sample it is.
    // No explicit timestamp of a marked line can be this one: markers are below n.
    const ts = 999_999_999_999;
    let data: SourceData;
    try {
      const ingest = new StreamingIngest('text', numShards, labels, ts);
      ingest.write(Buffer.from(marked, 'latin1'));
      data = ingest.finish();
    } catch {
      return undefined;
    }
    const tsSuffix = ` ${ts}`;
    const seen = new Uint8Array(n);
    const families: TemplateFamily[] = [];
    const table: LineTable = { samples: new Int32Array(data.series), prefixes: Buffer.alloc(0), prefixEnds: new Int32Array(data.series) };
    let prefixText = '';
    let line = 0;
    for (const [key, fam] of data.families) {
      const parts: (TemplatePart | undefined)[] = [];
      for (let k = 0; k < numShards; k++) {
        const part = fam.parts[k];
        if (!part) {
          parts.push(undefined);
          continue;
        }
        if (part.split !== null) return undefined;
        const lines = Buffer.concat((part.text ?? part.om).buffers)
          .toString('latin1')
          .split('\n');
        lines.pop();
        if (lines.length !== part.series || line + lines.length > table.samples.length) return undefined;
        const from = line;
        const prefixStart = prefixText.length;
        for (const text of lines) {
          // `<served series> <i> 1`: a line ending otherwise had a timestamp of its own.
          if (!text.endsWith(tsSuffix)) return undefined;
          const end = text.length - tsSuffix.length;
          const sp = text.lastIndexOf(' ', end - 1);
          const i = Number(text.slice(sp + 1, end));
          if (!Number.isInteger(i) || i < 0 || i >= n || seen[i] || String(i) !== text.slice(sp + 1, end)) return undefined;
          seen[i] = 1;
          table.samples[line] = i;
          prefixText += text.slice(0, sp + 1);
          table.prefixEnds[line++] = prefixText.length;
        }
        parts.push({ table, from, to: line, prefixStart, prefixEnd: prefixText.length });
      }
      families.push({ key, info: fam.info, parts });
    }
    if (line !== table.samples.length) return undefined;
    table.prefixes = Buffer.from(prefixText, 'latin1');
    const fixedEnds = new Int32Array(fixed.length);
    let at = 0;
    fixed.forEach((f, i) => (fixedEnds[i] = at += f.length));
    return new ScrapeTemplate(Buffer.from(fixed.join(''), 'latin1'), fixedEnds, families, numShards, data.duplicates, data.fixedLabels ?? []);
  }

  /**
   * The served data for `body` (the scrape's decompressed bytes) at scrape time `tsMs`, or undefined
   * when it does not fit the template. Only the values' bytes are kept (copied out, a few KB), not the
   * body: kept until the target's next scrape, whole bodies were ~60 KB each of off-heap memory that
   * lived into V8's old generation and counted towards the limit that starts its full collections.
   */
  apply(body: Uint8Array, tsMs: number): SourceData | undefined {
    const fixed = this.fixed;
    // The text between values is compared eight bytes at a time (two 32-bit reads from a DataView,
    // at any alignment), then byte by byte: 4x faster than bytes alone on 58-byte segments.
    const fv = this.fixedView;
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const ends = this.fixedEnds;
    const n = ends.length - 1;
    const len = body.length;
    // Where value i is in the body: [at[2i], at[2i + 1]).
    if (valueAt.length < 2 * n) valueAt = new Int32Array(2 * n);
    const at = valueAt;
    let valueBytes = 0;
    let pos = 0;
    let f = 0;
    // Segment i of the fixed bytes, then (but after the last segment) value i.
    for (let i = 0; ; i++) {
      const fe = ends[i];
      if (pos + fe - f > len) return undefined;
      for (; f + 8 <= fe; f += 8, pos += 8) if (bv.getInt32(pos) !== fv.getInt32(f) || bv.getInt32(pos + 4) !== fv.getInt32(f + 4)) return undefined;
      while (f < fe) if (body[pos++] !== fixed[f++]) return undefined;
      if (i === n) break;
      const nl = plainValueEnd(body, pos);
      if (nl < 0) return undefined;
      at[2 * i] = pos;
      at[2 * i + 1] = nl;
      valueBytes += nl - pos;
      pos = nl;
    }
    if (pos !== len) return undefined;
    const values = new Uint8Array(valueBytes);
    const valueEnds = new Int32Array(n);
    for (let i = 0, o = 0; i < n; i++) {
      for (let v = at[2 * i], ve = at[2 * i + 1]; v < ve; v++) values[o++] = body[v];
      valueEnds[i] = o;
    }

    return new TemplatedScrape(this, values, valueEnds, tsMs);
  }

  /**
   * The families of a scrape applied from this template (TemplatedScrape.families): the parts'
   * lines are written only when a body asks for them (TemplateLines); their lengths now.
   */
  familiesOf(values: Uint8Array, valueEnds: Int32Array, [tsText, tsOm]: readonly [Buffer, Buffer]): Map<string, SourceFamily> {
    const families = new Map<string, SourceFamily>();
    for (const fam of this.families) {
      const parts: (FamilyPart | undefined)[] = [];
      for (let k = 0; k < this.numShards; k++) {
        const t = fam.parts[k];
        if (!t) {
          parts.push(undefined);
          continue;
        }
        const n = t.to - t.from;
        const bytes = t.prefixEnd - t.prefixStart + valueBytes(t, valueEnds);
        const part = new FamilyPart();
        part.series = n;
        part.om = new TemplateLines(t, values, valueEnds, tsOm, bytes + n * tsOm.length);
        part.text = new TemplateLines(t, values, valueEnds, tsText, bytes + n * tsText.length);
        parts.push(part);
      }
      families.set(fam.key, { info: fam.info, parts });
    }
    return families;
  }
}

/**
 * A scrape applied from a template: its values and scrape time, and nothing else. It is kept as its
 * target's latest for a whole interval, so whatever it holds lives into V8's old generation, and
 * each full collection marks it. A served set's plan takes its parts straight from the template
 * (templateFamilies, partBytes, writePart: served-bodies.ts), so serving it makes no object per
 * part either; `families` (a Map, a part per family and shard, two line sinks per part: about 190
 * objects for 20 families on 2 shards) is made afresh for the few readers that want it.
 */
export class TemplatedScrape implements TemplatedData<TemplatePart> {
  /** The timestamp and newline of its lines in text and in OpenMetrics, made when first written. */
  private suffixes: readonly [Buffer, Buffer] | undefined;

  constructor(
    private readonly template: ScrapeTemplate,
    private readonly values: Uint8Array,
    private readonly valueEnds: Int32Array,
    private readonly tsMs: number,
  ) {}

  private suffix(om: boolean): Buffer {
    this.suffixes ??= [Buffer.from(` ${this.tsMs}\n`, 'latin1'), Buffer.from(` ${msToOmSeconds(this.tsMs)}\n`, 'latin1')];
    return this.suffixes[om ? 1 : 0];
  }

  get families(): ReadonlyMap<string, SourceFamily> {
    return this.template.familiesOf(this.values, this.valueEnds, [this.suffix(false), this.suffix(true)]);
  }

  familyKeys(): Iterable<string> {
    return this.template.familyKeys;
  }

  get templateFamilies(): readonly TemplateFamily[] {
    return this.template.families;
  }

  partSeries(part: TemplatePart): number {
    return part.to - part.from;
  }

  partBytes(part: TemplatePart, om: boolean): number {
    return part.prefixEnd - part.prefixStart + valueBytes(part, this.valueEnds) + (part.to - part.from) * this.suffix(om).length;
  }

  writePart(part: TemplatePart, om: boolean, out: FlatWriter, bytes = this.partBytes(part, om)): void {
    writeLines(out, part, this.values, this.valueEnds, this.suffix(om), bytes);
  }

  get series(): number {
    return this.template.series;
  }

  get duplicates(): number {
    return this.template.duplicates;
  }

  get seriesPerShard(): number[] {
    return this.template.seriesPerShard;
  }

  get fixedLabels(): ReadonlyArray<readonly [string, string]> {
    return this.template.fixedLabels;
  }
}
