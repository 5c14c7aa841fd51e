// Cutting a backfill data set the way a real deployment would hold it: over the shards of the sharding
// core (each series on the shard its shard key picks), and per HA replica with stretches of time that
// the replica missed (restarts, failed scrapes).

import type { BackfillDataSet, BackfillFamily } from './backfill.js';
import { initHash } from '../src/shard/hash.js';
import { SourceIngest } from '../src/shard/ingest.js';
import { parseExposition } from '../src/shard/textparse/parse.js';

/**
 * The shard (0 .. numShards-1) of every series of `data`, as `[family][series]`, decided by the
 * sharding core itself: the first sample of every series goes through SourceIngest as one OpenMetrics
 * scrape (first samples, so histograms and summaries stay valid), and the shard each line was filed
 * under is read back (OpenMetrics lines pass through unchanged).
 */
export async function shardPlacement(data: BackfillDataSet, numShards: number): Promise<number[][]> {
  await initHash();
  const lines: string[] = [];
  const index = new Map<string, [number, number]>();
  data.families.forEach((f, fi) => {
    lines.push(`# TYPE ${f.name} ${f.type}`);
    f.series.forEach((s, si) => {
      const { __name__: name, ...rest } = s.labels;
      const ls = Object.entries(rest).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
      const series = ls.length === 0 ? name : `${name}{${ls.join(',')}}`;
      const v = s.values[0] ?? 0;
      lines.push(`${series} ${Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v)}`);
      index.set(series, [fi, si]);
    });
  });
  lines.push('# EOF', '');
  const text = Buffer.from(lines.join('\n'), 'utf8').toString('latin1');
  const ingest = new SourceIngest('openmetrics', numShards);
  parseExposition(text, 'openmetrics', ingest);
  const out = data.families.map((f) => new Array<number>(f.series.length).fill(-1));
  for (const fam of ingest.finish().families.values()) {
    fam.parts.forEach((part, shard) => {
      if (!part) return;
      for (const line of Buffer.concat(part.om.buffers).toString('utf8').split('\n')) {
        if (line === '') continue;
        const [fi, si] = index.get(line.slice(0, line.lastIndexOf(' ')))!;
        out[fi][si] = shard;
      }
    });
  }
  data.families.forEach((f, fi) => {
    const missing = out[fi].indexOf(-1);
    if (missing >= 0) throw new Error(`series ${JSON.stringify(f.series[missing].labels)} was not placed on any shard`);
  });
  return out;
}

/** The data set restricted to the series `keep` accepts; families left without series are dropped. */
export function filterSeries(data: BackfillDataSet, keep: (familyIndex: number, seriesIndex: number) => boolean): BackfillDataSet {
  const families: BackfillFamily[] = [];
  data.families.forEach((f, fi) => {
    const series = f.series.filter((_, si) => keep(fi, si));
    if (series.length > 0) families.push({ ...f, series });
  });
  return recount({ ...data, families });
}

/** One data set per shard, each holding exactly the series the sharding core puts on that shard. */
export async function splitByShard(data: BackfillDataSet, numShards: number): Promise<BackfillDataSet[]> {
  const placement = await shardPlacement(data, numShards);
  return Array.from({ length: numShards }, (_, shard) => filterSeries(data, (fi, si) => placement[fi][si] === shard));
}

/** A stretch of time [fromMs, toMs) that a replica has no samples for. */
export interface Stretch {
  fromMs: number;
  toMs: number;
}

/** The data set without any sample inside the given stretches (series left empty are dropped). */
export function withoutStretches(data: BackfillDataSet, stretches: Stretch[]): BackfillDataSet {
  const inGap = (t: number): boolean => stretches.some((g) => t >= g.fromMs && t < g.toMs);
  const families: BackfillFamily[] = [];
  for (const f of data.families) {
    const series = f.series
      .map((s) => {
        const keep = s.timestamps.map((t) => !inGap(t));
        return { ...s, timestamps: s.timestamps.filter((_, i) => keep[i]), values: s.values.filter((_, i) => keep[i]) };
      })
      .filter((s) => s.timestamps.length > 0);
    if (series.length > 0) families.push({ ...f, series });
  }
  return recount({ ...data, families });
}

function recount(data: BackfillDataSet): BackfillDataSet {
  let seriesCount = 0;
  let sampleCount = 0;
  for (const f of data.families) {
    seriesCount += f.series.length;
    for (const s of f.series) sampleCount += s.values.length;
  }
  return { ...data, seriesCount, sampleCount };
}
