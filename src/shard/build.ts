// Turns one cycle's ingested sources into every shard's finished response bodies (text and
// OpenMetrics, plain and gzipped), dropping series two sources both serve, so that a shard request
// only picks ready buffers.

import { createGzip } from 'node:zlib';
import { TEXT_SPLIT_SUFFIXES, type FamilyInfo } from './family.js';
import type { FamilyPart, SourceData, SourceFamily } from './ingest.js';
import { BodyWriter, LineSink } from './line-sink.js';

/** One shard's prebuilt response bodies: requests only pick these buffers, never compute. */
export interface ShardBody {
  id: number;
  series: number;
  families: number;
  text: Buffer[];
  textBytes: number;
  textGzip: Buffer;
  om: Buffer[];
  omBytes: number;
  omGzip: Buffer;
}

export interface ShardSet {
  builtAt: number;
  shards: ShardBody[];
  /** Series left out because an earlier source (config order) had the same series, per source index. */
  duplicatesDropped: number[];
}

function escapeHelp(help: string, om: boolean): string {
  return help.replace(om ? /[\\\n"]/g : /[\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

export function omHeader(info: FamilyInfo): string {
  if (!info.declared) return '';
  const name = info.omName;
  let h = '';
  if (info.help !== undefined) h += `# HELP ${name} ${escapeHelp(info.help, true)}\n`;
  h += `# TYPE ${name} ${info.omType}\n`;
  if (info.unit !== undefined) h += `# UNIT ${name} ${info.unit}\n`;
  return h;
}

export function textHeader(info: FamilyInfo, name = info.textName, type = info.textType): string {
  if (!info.declared) return '';
  let h = '';
  if (info.help !== undefined) h += `# HELP ${name} ${escapeHelp(info.help, false)}\n`;
  return `${h}# TYPE ${name} ${type}\n`;
}

/**
 * The identity of the series on an exposition line: its name and label pairs sorted by name, empty
 * values left out. Lines pass through in the upstream's own spelling, so two sources may write one
 * series with its labels in different orders.
 */
export function seriesIdentity(line: string): string {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (brace < 0 || (space >= 0 && space < brace)) return line.slice(0, space < 0 ? line.length : space);
  const pairs: string[] = [];
  let i = brace + 1;
  while (i < line.length) {
    while (line.charCodeAt(i) === 32 || line.charCodeAt(i) === 9 || line.charCodeAt(i) === 44) i++;
    if (line.charCodeAt(i) === 125 || i >= line.length) break;
    const start = i;
    while (i < line.length && line.charCodeAt(i) !== 34) i++;
    i++;
    while (i < line.length && line.charCodeAt(i) !== 34) i += line.charCodeAt(i) === 92 ? 2 : 1;
    i++;
    const pair = line.slice(start, i).replace(/\s*=\s*/, '=');
    if (!pair.endsWith('=""')) pairs.push(pair);
  }
  pairs.sort();
  return `${line.slice(0, brace).trim()}{${pairs.join(',')}}`;
}

function linesOf(chunks: readonly Buffer[]): string[] {
  const text = Buffer.concat(chunks).toString('latin1');
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

/** A copy of `sink` without the lines whose series is in `seen`; returns the copy and the drop count. */
function withoutSeen(sink: LineSink, seen: Set<string>): [LineSink, number] {
  const out = new LineSink();
  let dropped = 0;
  for (const line of linesOf(sink.buffers)) {
    if (seen.has(seriesIdentity(line))) dropped++;
    else out.add(`${line}\n`);
  }
  out.flush();
  return [out, dropped];
}

/**
 * Parts of one family on one shard from several sources: a series that an earlier source (config
 * order) already has is left out, so no shard ever exposes one series twice. Reading every line
 * back is the costly part; parts whose sources differ in a label they all carry (fixedLabels, e.g.
 * one target's `instance` against another's) cannot share a series, so only parts that agree on
 * those labels are compared with each other.
 */
function dedupeParts(parts: { part: FamilyPart; source: number }[], dropped: number[], fixed: FixedLabels[]): FamilyPart[] {
  let common: string[] | undefined;
  for (const { source } of parts) {
    const f = fixed[source];
    common = common === undefined ? [...f.keys()] : common.filter((n) => f.has(n));
    if (common.length === 0) break;
  }
  if (common === undefined || common.length === 0) return dedupeGroup(parts, dropped);
  const groups = new Map<string, number[]>();
  parts.forEach(({ source }, i) => {
    const f = fixed[source];
    const key = JSON.stringify(common.map((n) => f.get(n)));
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const out = parts.map(({ part }) => part);
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    // Config order within the group is the order of `parts`: the earlier source keeps the series.
    dedupeGroup(
      g.map((i) => parts[i]),
      dropped,
    ).forEach((kept, j) => (out[g[j]] = kept));
  }
  return out;
}

/** Every part against every earlier one, by reading their lines back. */
export function dedupeGroup(parts: { part: FamilyPart; source: number }[], dropped: number[]): FamilyPart[] {
  const seen = new Set<string>();
  const out: FamilyPart[] = [];
  parts.forEach(({ part, source }, i) => {
    let kept = part;
    if (seen.size > 0) {
      const [om, n] = withoutSeen(part.om, seen);
      dropped[source] += n;
      kept = part.mapSinks((sink) => (sink === part.om ? om : withoutSeen(sink, seen)[0]), part.series - n);
    }
    // The last part's series are compared with nothing after it.
    if (i < parts.length - 1) for (const line of linesOf(part.om.buffers)) seen.add(seriesIdentity(line));
    out.push(kept);
  });
  return out;
}

/** A source's fixedLabels by name. */
type FixedLabels = ReadonlyMap<string, string>;
const NO_FIXED: FixedLabels = new Map();

/** Beyond this many sources, which family keys were written is remembered rather than looked up in every earlier source. */
const MANY_SOURCES = 8;

function gzip(chunks: readonly Buffer[], level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = createGzip({ level });
    const out: Buffer[] = [];
    z.on('data', (d: Buffer) => out.push(d));
    z.on('end', () => resolve(Buffer.concat(out)));
    z.on('error', reject);
    for (const c of chunks) z.write(c);
    z.end();
  });
}

function total(chunks: readonly Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** Longest stretch the build runs without letting the event loop serve other requests. */
const SLICE_MS = 5;

/** One shard's body under construction. */
interface ShardDraft {
  om: BodyWriter;
  text: BodyWriter;
  series: number;
  families: number;
}

/**
 * Assembles every shard's text 0.0.4 and OpenMetrics body from the sources' latest good data
 * (`undefined` for a source with nothing to serve), in config order, then gzips them.
 */
export async function buildShards(sources: (SourceData | undefined)[], numShards: number, gzipLevel: number): Promise<ShardSet> {
  const duplicatesDropped = new Array<number>(sources.length).fill(0);
  const drafts: ShardDraft[] = [];
  for (let k = 0; k < numShards; k++) drafts.push({ om: new BodyWriter(), text: new BodyWriter(), series: 0, families: 0 });

  // Family order: first appearance, sources in config order. A family is written when its first
  // source reaches it, with the same family of every later source; nothing is allocated per family
  // for a family only one source has (bodies may hold a million of them).
  const entries: { fam: SourceFamily; source: number }[] = [];
  const fixed = sources.map((d) => (d?.fixedLabels?.length ? new Map(d.fixedLabels) : NO_FIXED));
  // Hundreds of sources (one per pushed target) make the look-back below quadratic; a set of the
  // written keys answers the same question (a key is written when its first source reaches it).
  const written = sources.length > MANY_SOURCES ? new Set<string>() : undefined;
  let sliceStart = performance.now();
  let sinceCheck = 0;
  for (let source = 0; source < sources.length; source++) {
    const data = sources[source];
    if (!data) continue;
    for (const [key, fam] of data.families) {
      let earlier = false;
      if (written) {
        earlier = written.has(key);
        written.add(key);
      } else for (let t = 0; t < source && !earlier; t++) earlier = sources[t]?.families.has(key) ?? false;
      if (earlier) continue;
      entries.length = 0;
      entries.push({ fam, source });
      for (let t = source + 1; t < sources.length; t++) {
        const other = sources[t]?.families.get(key);
        if (other) entries.push({ fam: other, source: t });
      }
      writeFamily(entries, drafts, duplicatesDropped, fixed);
      // A million families take seconds: health checks and shard requests are answered in between.
      if (++sinceCheck === 64) {
        sinceCheck = 0;
        if (performance.now() - sliceStart > SLICE_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
  }

  const shards: Omit<ShardBody, 'textGzip' | 'omGzip'>[] = drafts.map((d, id) => {
    d.om.write('# EOF\n');
    const text = d.text.finish();
    const om = d.om.finish();
    return { id, series: d.series, families: d.families, om, omBytes: total(om), text, textBytes: total(text) };
  });

  // zlib runs on libuv's thread pool: all shards compress in parallel off the event loop.
  const gz = await Promise.all(shards.flatMap((s) => [gzip(s.text, gzipLevel), gzip(s.om, gzipLevel)]));
  return {
    builtAt: Date.now(),
    shards: shards.map((s, i) => ({ ...s, textGzip: gz[2 * i], omGzip: gz[2 * i + 1] })),
    duplicatesDropped,
  };
}

/** Writes one family (its parts from every source that has it) into every shard it has series on. */
function writeFamily(entries: readonly { fam: SourceFamily; source: number }[], drafts: ShardDraft[], dropped: number[], fixed: FixedLabels[]): void {
  const info = entries[0].fam.info;
  let oh: string | undefined;
  let th: string | undefined;
  for (let k = 0; k < drafts.length; k++) {
    let parts: FamilyPart[];
    if (entries.length === 1) {
      const part = entries[0].fam.parts[k];
      if (!part) continue;
      parts = [part];
    } else {
      const found = entries.flatMap(({ fam, source }) => (fam.parts[k] ? [{ part: fam.parts[k]!, source }] : []));
      if (found.length === 0) continue;
      parts = found.length === 1 ? [found[0].part] : dedupeParts(found, dropped, fixed);
    }
    const d = drafts[k];
    d.families++;
    oh ??= omHeader(info);
    th ??= textHeader(info);
    if (oh) d.om.write(oh);
    if (th) d.text.write(th);
    let split = false;
    for (const p of parts) {
      d.series += p.series;
      p.om.writeTo(d.om);
      (p.text ?? p.om).writeTo(d.text);
      if (p.split !== null) split = true;
    }
    if (!split) continue;
    TEXT_SPLIT_SUFFIXES.forEach((suffix, i) => {
      const splits = parts.filter((p) => p.split?.[i]);
      if (splits.length === 0) return;
      const h = textHeader(info, info.omName + suffix, 'gauge');
      if (h) d.text.write(h);
      for (const p of splits) p.split![i]!.writeTo(d.text);
    });
  }
}
