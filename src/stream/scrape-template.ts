// Applying a target's scrape when only its values changed since the last one, as Prometheus's scrape
// cache does: most exporters write the same series in the same order every time, so the centre need
// not parse, label, hash and shard 1,000 series again for every message. The previous scrape leaves
// a template: the body's text between the values, and where each value's line was served (its
// shard, family part and served series). A body that is that text with other values in between is
// served from the template; anything else (a series added or gone, a comment changed, a timestamp,
// a value spelled unusually) goes through the full parse, which makes the next template. The output
// is byte for byte what the full parse gives (unit-tested against it).

import type { FamilyInfo } from '../shard/family.js';
import { FamilyPart, msToOmSeconds, type SourceData } from '../shard/ingest.js';
import { LineSink, type BodyWriter } from '../shard/line-sink.js';
import { StreamingIngest } from '../shard/stream-ingest.js';

/**
 * Values the template carries over as they are: spellings both the parser and OpenMetrics take
 * unchanged (no respelling, no range error). Anything else goes through the full parse.
 */
const PLAIN_VALUE = /^-?(?:0|[1-9]\d{0,17})(?:\.\d{1,17})?(?:[eE][+-]?\d{1,2})?$/;

/** One served family part of the template: the samples it holds (by index) and their served series. */
interface TemplatePart {
  samples: number[];
  prefixes: string[];
  /** The prefixes' total length. */
  prefixBytes: number;
}

/**
 * The lines of one templated family part in one form, written only when a body asks for them: a
 * scrape arrives every interval for every target, but a shard body holding it is mostly asked for
 * once (by the Prometheus scraping the shard, which asks for one form), so making both forms' lines
 * at apply time was work and garbage for nothing. Not kept once written: a body is asked for about
 * once per scrape, and kept lines would outlive young-generation collections and be copied into the
 * old generation, which cost more than writing them again for a rare second request.
 * Read-only: only writeTo, buffers and readRange are used on served parts.
 */
class TemplateLines extends LineSink {
  constructor(
    private readonly part: TemplatePart,
    private readonly values: readonly string[],
    private readonly suffix: string,
    bytes: number,
  ) {
    super();
    this.bytes = bytes;
  }

  private lines(): string {
    const { samples, prefixes } = this.part;
    const values = this.values;
    const suffix = this.suffix;
    let out = '';
    for (let j = 0; j < samples.length; j++) out += prefixes[j] + values[samples[j]] + suffix;
    return out;
  }

  override writeTo(out: BodyWriter): void {
    out.write(this.lines());
  }

  override get buffers(): readonly Buffer[] {
    return [Buffer.from(this.lines(), 'latin1')];
  }

  override readRange(start: number, end: number): string {
    return this.lines().slice(start, end);
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

export class ScrapeTemplate {
  private constructor(
    /** The body's text around the values: fixed[i] comes before value i, the last one after the last value. */
    private readonly fixed: string[],
    private readonly families: TemplateFamily[],
    private readonly numShards: number,
    private readonly duplicates: number,
    private readonly fixedLabels: ReadonlyArray<readonly [string, string]>,
  ) {}

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
        const samples: number[] = [];
        const prefixes: string[] = [];
        let prefixBytes = 0;
        for (const line of lines) {
          // `<served series> <i> 1`: a line ending otherwise had a timestamp of its own.
          if (!line.endsWith(tsSuffix)) return undefined;
          const end = line.length - tsSuffix.length;
          const sp = line.lastIndexOf(' ', end - 1);
          const i = Number(line.slice(sp + 1, end));
          if (!Number.isInteger(i) || i < 0 || i >= n || seen[i] || String(i) !== line.slice(sp + 1, end)) return undefined;
          seen[i] = 1;
          samples.push(i);
          prefixes.push(line.slice(0, sp + 1));
          prefixBytes += sp + 1;
        }
        if (samples.length !== part.series) return undefined;
        parts.push({ samples, prefixes, prefixBytes });
      }
      families.push({ key, info: fam.info, parts });
    }
    return new ScrapeTemplate(fixed, families, numShards, data.duplicates, data.fixedLabels ?? []);
  }

  /** The served data for `text` at scrape time `tsMs`, or undefined when `text` does not fit the template. */
  apply(text: string, tsMs: number): SourceData | undefined {
    const fixed = this.fixed;
    const n = fixed.length - 1;
    const values = new Array<string>(n);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const f = fixed[i];
      if (!text.startsWith(f, pos)) return undefined;
      pos += f.length;
      const nl = text.indexOf('\n', pos);
      if (nl < 0) return undefined;
      const v = text.slice(pos, nl);
      if (!PLAIN_VALUE.test(v)) return undefined;
      values[i] = v;
      pos = nl;
    }
    const last = fixed[n];
    if (text.length - pos !== last.length || !text.startsWith(last, pos)) return undefined;

    const tsText = ` ${tsMs}\n`;
    const tsOm = ` ${msToOmSeconds(tsMs)}\n`;
    const families = new Map<string, { info: FamilyInfo; parts: (FamilyPart | undefined)[] }>();
    const seriesPerShard = new Array<number>(this.numShards).fill(0);
    let series = 0;
    for (const fam of this.families) {
      const parts: (FamilyPart | undefined)[] = [];
      for (let k = 0; k < this.numShards; k++) {
        const t = fam.parts[k];
        if (!t) {
          parts.push(undefined);
          continue;
        }
        // The lines themselves are written when a body asks for them (TemplateLines); their length now.
        const samples = t.samples;
        let bytes = t.prefixBytes;
        for (let j = 0; j < samples.length; j++) bytes += values[samples[j]].length;
        const part = new FamilyPart();
        part.series = samples.length;
        part.om = new TemplateLines(t, values, tsOm, bytes + samples.length * tsOm.length);
        part.text = new TemplateLines(t, values, tsText, bytes + samples.length * tsText.length);
        parts.push(part);
        series += part.series;
        seriesPerShard[k] += part.series;
      }
      families.set(fam.key, { info: fam.info, parts });
    }
    return { families, series, duplicates: this.duplicates, seriesPerShard, fixedLabels: this.fixedLabels };
  }
}
