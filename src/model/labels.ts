// Label sets, the data model every layer shares (PromQL engine, storage, query layer, API): the
// types, Prometheus's ordering of names and values (Go's byte order, not JavaScript's UTF-16 order),
// a collision-free key, and the printed forms Prometheus uses in answers and error texts.

import { goQuote } from '../util/go-quote.js';
import { isLegacyLabelName, isLegacyMetricName } from './label-name.js';

/** A label set: sorted by name, no duplicate names, no empty values; __name__ included when present. */
export type Labels = ReadonlyArray<Label>;

export interface Label {
  readonly name: string;
  readonly value: string;
}

export type MatchType = '=' | '!=' | '=~' | '!~';

/** A label matcher as written in a selector; regex matchers are fully anchored (RE2 semantics). */
export interface LabelMatcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
}

export const METRIC_NAME = '__name__';

/**
 * Go's string order (byte-wise on UTF-8, i.e. code point order). JavaScript's `<` compares UTF-16
 * code units, which differs only between surrogate pairs (U+10000 and up) and U+E000..U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** Prometheus's labels.Compare: pairwise by name then value; a set that is a prefix of the other comes first. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x.name !== y.name) return compareStrings(x.name, y.name);
    if (x.value !== y.value) return compareStrings(x.value, y.value);
  }
  return a.length - b.length;
}

/**
 * A collision-free key of a label set: each name and value prefixed by its length, so no character
 * a value may hold (every one may) can make two different sets meet.
 */
export function labelsKey(l: Labels): string {
  let k = '';
  for (const x of l) k += `${x.name.length}:${x.name}${x.value.length}:${x.value}`;
  return k;
}

/** A label set from a record: sorted by name, empty values dropped (as Prometheus does). */
export function labelsFromRecord(r: Record<string, string>): Labels {
  const out: Label[] = [];
  for (const name of Object.keys(r)) {
    const value = r[name];
    if (value !== '' && value !== undefined) out.push({ name, value });
  }
  out.sort((x, y) => compareStrings(x.name, y.name));
  return out;
}

/** Sorts a label list by name and drops empty values; returns the input itself when already in shape. */
export function normalizeLabels(l: ReadonlyArray<Label>): Labels {
  let ok = true;
  for (let i = 0; i < l.length; i++) {
    if (l[i].value === '' || (i > 0 && compareStrings(l[i - 1].name, l[i].name) >= 0)) {
      ok = false;
      break;
    }
  }
  if (ok) return l;
  const out = l.filter((x) => x.value !== '').sort((x, y) => compareStrings(x.name, y.name));
  // Duplicate names: keep the last one given.
  const dedup: Label[] = [];
  for (const x of out) {
    if (dedup.length > 0 && dedup[dedup.length - 1].name === x.name) dedup[dedup.length - 1] = x;
    else dedup.push(x);
  }
  return dedup;
}

export function labelsToRecord(l: Labels): Record<string, string> {
  const r: Record<string, string> = {};
  for (const x of l) r[x.name] = x.value;
  return r;
}

/**
 * The form Prometheus prints a series in (model.Metric's String): `name{a="b", c="d"}`, `name` alone
 * without other labels, `{a="b"}` without a name, `{}` for the empty set. Label names that are not
 * legacy identifiers are quoted, and so is such a metric name, inside the braces, as Prometheus 3 does:
 * `{"my.metric", a="b"}`.
 */
export function labelsToString(l: Labels): string {
  let name: string | undefined;
  const parts: string[] = [];
  for (const x of l) {
    if (x.name === METRIC_NAME) {
      name = x.value;
      continue;
    }
    const n = isLegacyLabelName(x.name) ? x.name : goQuote(x.name);
    parts.push(`${n}=${goQuote(x.value)}`);
  }
  if (name !== undefined && !isLegacyMetricName(name)) {
    return `{${[goQuote(name), ...parts].join(', ')}}`;
  }
  if (parts.length === 0) return name ?? '{}';
  return `${name ?? ''}{${parts.join(', ')}}`;
}

/** Prometheus's labels.Labels String(): `{__name__="up", job="x"}`, every label including __name__. */
export function labelsToSetString(l: Labels): string {
  return `{${l.map((x) => `${isLegacyLabelName(x.name) ? x.name : goQuote(x.name)}=${goQuote(x.value)}`).join(', ')}}`;
}
