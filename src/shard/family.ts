// Family naming across the two exposition formats: which name and type a family has in text 0.0.4
// and in OpenMetrics, and which OpenMetrics samples need a family of their own in text.

import type { ExpositionFormat, FamilyMeta, MetricType } from './exposition.js';

/**
 * How one upstream family is named and typed in each output format. Families from different
 * sources are merged by `key`, the OpenMetrics family name, so a counter exposed as `x_total`
 * in text 0.0.4 by one source and as `x` in OpenMetrics by another is one family.
 */
export interface FamilyInfo {
  key: string;
  help: string | undefined;
  unit: string | undefined;
  /** False for a family that had neither TYPE nor HELP: it is emitted without metadata lines. */
  declared: boolean;
  om: { name: string; type: MetricType };
  text: { name: string; type: string };
  /** Label that tells children of one histogram/summary apart; left out of the shard key. */
  childLabel: 'le' | 'quantile' | undefined;
}

export function describeFamily(meta: FamilyMeta, format: ExpositionFormat): FamilyInfo {
  const declared = meta.type !== 'unknown' || meta.help !== undefined || meta.unit !== undefined;
  const childLabel = meta.type === 'histogram' || meta.type === 'gaugehistogram' ? 'le' : meta.type === 'summary' ? 'quantile' : undefined;
  const base = { help: meta.help, unit: meta.unit, declared, childLabel } as const;
  if (format === 'openmetrics') {
    return { ...base, key: meta.name, om: { name: meta.name, type: meta.type }, text: textNaming(meta.name, meta.type) };
  }
  // Text 0.0.4 names a counter family after its sample (x_total); OpenMetrics after the stem (x).
  if (meta.type === 'counter') {
    if (meta.name.endsWith('_total') && meta.name.length > 6) {
      const stem = meta.name.slice(0, -6);
      return { ...base, key: stem, om: { name: stem, type: 'counter' }, text: { name: meta.name, type: 'counter' } };
    }
    // An OpenMetrics counter must have _total samples; this one is kept as-is, typed unknown there.
    return { ...base, key: meta.name, om: { name: meta.name, type: 'unknown' }, text: { name: meta.name, type: 'counter' } };
  }
  return { ...base, key: meta.name, om: { name: meta.name, type: meta.type }, text: { name: meta.name, type: textType(meta.type) } };
}

function textType(t: MetricType): string {
  switch (t) {
    case 'counter':
    case 'gauge':
    case 'histogram':
    case 'summary':
      return t;
    case 'gaugehistogram':
      // Closest shape in 0.0.4; its _gcount/_gsum go to gauge families of their own.
      return 'histogram';
    case 'info':
    case 'stateset':
      return 'gauge';
    case 'unknown':
      return 'untyped';
  }
}

function textNaming(name: string, type: MetricType): { name: string; type: string } {
  if (type === 'counter') return { name: `${name}_total`, type: 'counter' };
  if (type === 'info') return { name: `${name}_info`, type: 'gauge' };
  return { name, type: textType(type) };
}

/**
 * OpenMetrics samples that text 0.0.4 has no place for inside their family; they are served in
 * text as gauge families of their own (`x_created`, `x_gcount`, `x_gsum`), as client libraries do.
 * Returns the index into TEXT_SPLIT_SUFFIXES, or -1.
 */
export const TEXT_SPLIT_SUFFIXES = ['_created', '_gcount', '_gsum'] as const;

export function textSplitIndex(info: FamilyInfo, sampleName: string): number {
  if (sampleName.length <= info.om.name.length) return -1;
  const t = info.om.type;
  if (t !== 'counter' && t !== 'histogram' && t !== 'summary' && t !== 'gaugehistogram') return -1;
  if (!sampleName.startsWith(info.om.name)) return -1;
  const suffix = sampleName.slice(info.om.name.length);
  if (suffix === '_created' && t !== 'gaugehistogram') return 0;
  if (t === 'gaugehistogram') {
    if (suffix === '_gcount') return 1;
    if (suffix === '_gsum') return 2;
  }
  return -1;
}
