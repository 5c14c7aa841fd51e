// Family naming across the two exposition formats: which name and type a family has in text 0.0.4
// and in OpenMetrics, and which OpenMetrics samples need a family of their own in text.

import type { ExpositionFormat, MetricType } from './exposition.js';

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
  /** Name and type in OpenMetrics and in text 0.0.4; flat fields, one object per family. */
  omName: string;
  omType: MetricType;
  textName: string;
  textType: string;
  /** Label that tells children of one histogram/summary apart; left out of the shard key. */
  childLabel: 'le' | 'quantile' | undefined;
}

export function describeFamily(name: string, type: MetricType, help: string | undefined, unit: string | undefined, format: ExpositionFormat): FamilyInfo {
  // Object literals of one fixed shape: this runs once per family, a million times for some bodies.
  const info: FamilyInfo = {
    key: '',
    help: undefined,
    unit: undefined,
    declared: false,
    omName: '',
    omType: 'unknown',
    textName: '',
    textType: '',
    childLabel: undefined,
  };
  return describeFamilyInto(info, name, type, help, unit, format);
}

/** describeFamily written into `out` (for a caller that needs one family's info at a time) and returned. */
export function describeFamilyInto(
  out: FamilyInfo,
  name: string,
  type: MetricType,
  help: string | undefined,
  unit: string | undefined,
  format: ExpositionFormat,
): FamilyInfo {
  const declared = type !== 'unknown' || help !== undefined || unit !== undefined;
  const childLabel = type === 'histogram' || type === 'gaugehistogram' ? 'le' : type === 'summary' ? 'quantile' : undefined;
  let key = name;
  let omType = type;
  let textName = name;
  let textType: string;
  if (format === 'openmetrics') {
    if (type === 'counter') textName = `${name}_total`;
    else if (type === 'info') textName = `${name}_info`;
    textType = textTypeOf(type);
  } else if (type === 'counter') {
    // Text 0.0.4 names a counter family after its sample (x_total); OpenMetrics after the stem (x).
    // A counter without _total cannot be an OpenMetrics counter: it is kept as-is, typed unknown there.
    if (name.endsWith('_total') && name.length > 6) key = name.slice(0, -6);
    else omType = 'unknown';
    textType = 'counter';
  } else {
    textType = textTypeOf(type);
  }
  out.key = key;
  out.help = help;
  out.unit = unit;
  out.declared = declared;
  out.omName = key;
  out.omType = omType;
  out.textName = textName;
  out.textType = textType;
  out.childLabel = childLabel;
  return out;
}

function textTypeOf(t: MetricType): string {
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

/**
 * OpenMetrics samples that text 0.0.4 has no place for inside their family; they are served in
 * text as gauge families of their own (`x_created`, `x_gcount`, `x_gsum`), as client libraries do.
 * Returns the index into TEXT_SPLIT_SUFFIXES, or -1.
 */
export const TEXT_SPLIT_SUFFIXES = ['_created', '_gcount', '_gsum'] as const;

export function textSplitIndex(info: FamilyInfo, sampleName: string): number {
  if (sampleName.length <= info.omName.length) return -1;
  const t = info.omType;
  if (t !== 'counter' && t !== 'histogram' && t !== 'summary' && t !== 'gaugehistogram') return -1;
  if (!sampleName.startsWith(info.omName)) return -1;
  const suffix = sampleName.slice(info.omName.length);
  if (suffix === '_created' && t !== 'gaugehistogram') return 0;
  if (t === 'gaugehistogram') {
    if (suffix === '_gcount') return 1;
    if (suffix === '_gsum') return 2;
  }
  return -1;
}
