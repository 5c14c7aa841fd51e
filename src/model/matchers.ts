// Label matchers with Prometheus semantics: a label absent from a set has the value "" for matching.

import type { LabelMatcher, Labels } from './labels.js';
import { compileRegex, type RegexOptions } from './regex.js';

export type MatcherOptions = RegexOptions;

export interface CompiledMatcher {
  readonly name: string;
  readonly type: LabelMatcher['type'];
  readonly value: string;
  /** Whether a label value satisfies the matcher ('' stands for an absent label). */
  readonly matches: (value: string) => boolean;
  /** Whether the matcher accepts "" (i.e. series lacking the label). */
  readonly matchesEmpty: boolean;
}

/** The predicate on label values for one matcher. Throws RegexError for an invalid regex. */
export function compileMatcher(m: LabelMatcher, opts: MatcherOptions): (value: string) => boolean {
  switch (m.type) {
    case '=': {
      const want = m.value;
      return (v) => v === want;
    }
    case '!=': {
      const want = m.value;
      return (v) => v !== want;
    }
    case '=~':
      return compileRegex(m.value, opts).matches;
    case '!~': {
      const f = compileRegex(m.value, opts).matches;
      return (v) => !f(v);
    }
    default:
      throw new Error(`unknown match type ${String(m.type)}`);
  }
}

export function compileLabelMatcher(m: LabelMatcher, opts: MatcherOptions): CompiledMatcher {
  const matches = compileMatcher(m, opts);
  return { name: m.name, type: m.type, value: m.value, matches, matchesEmpty: matches('') };
}

export function compileMatchers(ms: ReadonlyArray<LabelMatcher>, opts: MatcherOptions): CompiledMatcher[] {
  return ms.map((m) => compileLabelMatcher(m, opts));
}

/** The value of label `name`, or "" when absent. Labels are sorted by name: binary search. */
export function getLabelValue(labels: Labels, name: string): string {
  let lo = 0;
  let hi = labels.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const n = labels[mid].name;
    if (n === name) return labels[mid].value;
    if (n < name) lo = mid + 1;
    else hi = mid - 1;
  }
  // Fall back to a scan in case the set is not sorted by UTF-16 order (it is sorted by code point).
  for (const l of labels) if (l.name === name) return l.value;
  return '';
}

/** Whether every matcher accepts the label set. */
export function matchesLabels(matchers: ReadonlyArray<CompiledMatcher>, labels: Labels): boolean {
  for (const m of matchers) {
    if (!m.matches(getLabelValue(labels, m.name))) return false;
  }
  return true;
}

/** How matchers apply to series that get fixed labels added here (a server group's or a target's). */
export interface FixedLabelPlan {
  /** A matcher on a fixed label fails for its value: no series of the source can match. */
  pruned: boolean;
  /** The matchers to send on: those on other labels. */
  downstream: LabelMatcher[];
  /** The matchers on fixed labels, to check on the final label sets (a series' own value wins). */
  local: CompiledMatcher[];
}

/** Splits `matchers` for a source whose series get `fixed` labels (name -> value) added. */
export function planFixedLabels(fixed: ReadonlyMap<string, string>, matchers: LabelMatcher[]): FixedLabelPlan {
  if (fixed.size === 0) return { pruned: false, downstream: matchers, local: [] };
  const downstream: LabelMatcher[] = [];
  const local: CompiledMatcher[] = [];
  for (const m of matchers) {
    const v = fixed.get(m.name);
    if (v === undefined) {
      downstream.push(m);
      continue;
    }
    const c = compileLabelMatcher(m, { dotAll: true });
    if (!c.matches(v)) return { pruned: true, downstream: [], local: [] };
    local.push(c);
  }
  return { pruned: false, downstream, local };
}

/** A key equal for the same matchers in any order (to share identical downstream calls). */
export function matchersKey(ms: readonly LabelMatcher[]): string {
  return ms
    .map((m) => JSON.stringify([m.name, m.type, m.value]))
    .sort()
    .join(',');
}
