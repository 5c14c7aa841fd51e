// The text exposition format 0.0.4 as Prometheus's /federate writes it (expfmt's text encoder fed
// by web/federate.go): samples sorted by metric name, one untyped family per name with only a
// `# TYPE name untyped` line, label pairs in the series' order followed by the external labels the
// series lacks (`instance=""` at least), values as Go's strconv 'g' shortest, timestamps in ms.

import { METRIC_NAME, type Labels } from '../model/labels.js';
import { compareStrings } from '../model/labels.js';
import { isLegacyLabelName, isLegacyMetricName } from '../model/label-name.js';

export interface FederatedSample {
  labels: Labels;
  t: number;
  v: number;
}

/** expfmt writeFloat: strconv.AppendFloat(f, 'g', -1, 64) with +Inf/-Inf/NaN. */
export function goFormatFloatG(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return '0';
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-])(\d+)$/.exec(v.toExponential())!;
  const [, sign, first, rest = '', expSign, expDigits] = m;
  const exp = Number(expDigits) * (expSign === '-' ? -1 : 1);
  // Go switches to exponent form below 1e-4 and from 1e6 up (precision 6 for shortest output).
  if (exp < -4 || exp >= 6) {
    return `${sign}${first}${rest === '' ? '' : `.${rest}`}e${expSign}${expDigits.padStart(2, '0')}`;
  }
  // In this range JavaScript's shortest form is plain decimal, the digits Go prints.
  return String(v);
}

function escapeLabelValue(v: string): string {
  return v.replace(/[\\\n"]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function escapeName(n: string): string {
  return `"${n.replace(/[\\\n"]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`;
}

function labelName(n: string): string {
  return isLegacyLabelName(n) ? n : escapeName(n);
}

function metricNameOf(l: Labels): string {
  for (const x of l) if (x.name === METRIC_NAME) return x.value;
  return '';
}

/**
 * Sorts the samples by metric name (stably: series keep their label order within a family) and
 * writes them. Samples without a metric name are left out and reported through `onNameless`.
 */
export function federationText(samples: FederatedSample[], externalLabels: Record<string, string>, onNameless?: (l: Labels) => void): string {
  const named: { name: string; s: FederatedSample }[] = [];
  for (const s of samples) {
    const name = metricNameOf(s.labels);
    if (name === '') onNameless?.(s.labels);
    else named.push({ name, s });
  }
  named.sort((a, b) => compareStrings(a.name, b.name));

  const external: Record<string, string> = { instance: '', ...externalLabels };
  const externalNames = Object.keys(external).sort(compareStrings);
  const out: string[] = [];
  let last: string | undefined;
  for (const { name, s } of named) {
    if (name !== last) {
      out.push(`# TYPE ${isLegacyMetricName(name) ? name : escapeName(name)} untyped\n`);
      last = name;
    }
    const pairs: string[] = [];
    if (!isLegacyMetricName(name)) pairs.push(escapeName(name));
    const own = new Set<string>();
    for (const l of s.labels) {
      if (l.name === METRIC_NAME || l.value === '') continue;
      own.add(l.name);
      pairs.push(`${labelName(l.name)}="${escapeLabelValue(l.value)}"`);
    }
    for (const n of externalNames) if (!own.has(n)) pairs.push(`${labelName(n)}="${escapeLabelValue(external[n])}"`);
    const series = isLegacyMetricName(name) ? `${name}{${pairs.join(',')}}` : `{${pairs.join(',')}}`;
    out.push(`${series} ${goFormatFloatG(s.v)} ${Math.trunc(s.t)}\n`);
  }
  return out.join('');
}
