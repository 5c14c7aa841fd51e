// OpenMetrics 1.0: its stricter line grammar (single spaces, no blank lines, only HELP/TYPE/UNIT/EOF comments,
// a mandatory final "# EOF"), exemplars, timestamps in seconds, and the checks it adds per Metric (a label set
// of a family, without le/quantile/the stateset label): its samples are contiguous, timestamps are all present
// or all absent and do not go backwards, counters have _total, and each histogram MetricPoint is consistent.
// Family rules shared with the text format are in groups.ts.
//
// Functions rather than methods, so the core (core.ts) holds the state and imports no format; the group checks
// that must run when a family ends reach the core as its endGroups hook (endOmFamily), set by parse.ts.

import {
  CH_BRACE_OPEN,
  CH_HASH,
  CH_SPACE,
  C_METRIC,
  C_METRIC_START,
  CHAR_CLASS,
  findLabel,
  K_BARE,
  K_BUCKET,
  K_COUNT,
  K_GCOUNT,
  K_GSUM,
  K_INFO,
  K_SUM,
  K_TOTAL,
  T_COUNTER,
  T_GAUGEHISTOGRAM,
  T_HISTOGRAM,
  T_STATESET,
  T_SUMMARY,
  TYPE_NAMES,
} from './core.js';
import { NUM_INF, NUM_INVALID, NUM_REAL } from './numbers.js';
import { codePointCount, escapeLabelValue, quoteSnippet, readable, unescape } from './escapes.js';
import { checkLabelNames, emit, endFamily, sampleKind, setHelp, setType, setUnit } from './groups.js';
import type { ParserCore } from './core.js';

const MAX_EXEMPLAR_LABEL_CHARS = 128;

/** The type word s[i, end), compared in place (a body may have a million TYPE lines), or undefined. */
function omTypeAt(s: string, i: number, end: number): number | undefined {
  const n = end - i;
  for (let t = 0; t < TYPE_NAMES.length; t++) if (TYPE_NAMES[t].length === n && s.startsWith(TYPE_NAMES[t], i)) return t;
  return undefined;
}

/** The keyword of a metadata line at s[i, end): compared in place, no string is made for it. */
function keywordAt(s: string, i: number, end: number): string | undefined {
  if (end - i !== 4) return undefined;
  if (s.startsWith('TYPE', i)) return 'TYPE';
  if (s.startsWith('HELP', i)) return 'HELP';
  if (s.startsWith('UNIT', i)) return 'UNIT';
  return undefined;
}

export function parseOpenMetrics(p: ParserCore, text: string): void {
  p.text = text;
  p.sample.text = text;
  p.nextBackslash = -1;
  const s = text;
  const len = s.length;
  if (len === 0) return;
  if (p.sawEof) p.fail('unexpected content after # EOF: it must be the last line', p.line + 1);
  p.endedWithNewline = s.charCodeAt(len - 1) === 10;
  let pos = 0;
  while (pos < len) {
    p.line++;
    let eol = s.indexOf('\n', pos);
    if (eol < 0) eol = len;
    const c = s.charCodeAt(pos);
    if (c === CH_HASH) {
      if (eol - pos === 5 && s.startsWith('# EOF', pos)) {
        p.sawEof = true;
        endFamily(p);
        if (eol + 1 < len) p.fail('unexpected content after # EOF: it must be the last line', p.line + 1);
        break;
      }
      omMetadata(p, pos, eol);
    } else if (pos === eol) {
      p.fail('blank lines are not allowed in OpenMetrics');
    } else {
      omSample(p, pos, eol);
    }
    pos = eol + 1;
  }
}

export function endOpenMetrics(p: ParserCore): void {
  if (!p.sawEof) {
    p.fail('missing # EOF: an OpenMetrics exposition must end with a "# EOF" line', p.endedWithNewline ? p.line + 1 : p.line);
  }
}

function omMetadata(p: ParserCore, pos: number, eol: number): void {
  const s = p.text;
  if (pos + 1 >= eol || s.charCodeAt(pos + 1) !== CH_SPACE) {
    p.fail(`invalid line ${quoteSnippet(s, pos, eol)}: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines starting with #`);
  }
  let i = pos + 2;
  let ke = i;
  while (ke < eol && s.charCodeAt(ke) !== CH_SPACE) ke++;
  const keyword = keywordAt(s, i, ke);
  if (keyword === undefined) {
    p.fail(
      s.slice(i, ke) === 'EOF'
        ? 'unexpected text after # EOF'
        : `invalid line ${quoteSnippet(s, pos, eol)}: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines starting with #`,
    );
  }
  if (ke >= eol) p.fail(`# ${keyword} line without a metric name`);
  i = ke + 1;
  let ne = i;
  while (ne < eol && s.charCodeAt(ne) !== CH_SPACE) ne++;
  if (ne === i) p.fail(`# ${keyword} line without a metric name`);
  if (!(CHAR_CLASS[s.charCodeAt(i)] & C_METRIC_START)) p.fail(`invalid metric name ${quoteSnippet(s, i, ne)} in # ${keyword} line`);
  for (let k = i + 1; k < ne; k++) {
    if (!(CHAR_CLASS[s.charCodeAt(k)] & C_METRIC)) p.fail(`invalid metric name ${quoteSnippet(s, i, ne)} in # ${keyword} line`);
  }
  if (ne >= eol) {
    p.fail(
      keyword === 'HELP'
        ? `# HELP line for ${s.slice(i, ne)} needs a space and the help text after the name (the text may be empty)`
        : keyword === 'TYPE'
          ? `# TYPE line for ${s.slice(i, ne)} has no type`
          : `# UNIT line for ${s.slice(i, ne)} needs a space and the unit after the name (the unit may be empty)`,
    );
  }
  const rest = ne + 1;
  if (keyword === 'HELP') {
    setHelp(p, i, ne, unescape(s, rest, eol, true));
  } else if (keyword === 'TYPE') {
    const t = omTypeAt(s, rest, eol);
    if (t === undefined) {
      p.fail(
        `invalid metric type ${JSON.stringify(readable(s.slice(rest, eol)))} for ${s.slice(i, ne)}: expected counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown`,
      );
    }
    setType(p, i, ne, t);
  } else {
    setUnit(p, i, ne, s.slice(rest, eol));
  }
}

function omSample(p: ParserCore, pos: number, eol: number): void {
  const s = p.text;
  const name = p.metricName(pos, eol);
  let i = pos + name.length;
  const labels = p.labels;
  p.labelsEscaped = false;
  let c = i < eol ? s.charCodeAt(i) : -1;
  if (c === CH_BRACE_OPEN) {
    i = p.parseLabels(i + 1, eol, labels, true, false, name);
    c = i < eol ? s.charCodeAt(i) : -1;
  } else {
    if (c !== CH_SPACE && c !== -1) {
      p.fail(`invalid character ${JSON.stringify(readable(s[i]))} in metric name ${p.tokenSnippet(pos, eol)}`);
    }
    if (labels.length !== 0) labels.length = 0;
  }
  if (c !== CH_SPACE) {
    p.fail(c === -1 ? `missing value for sample ${name}` : `expected a space before the value of sample ${name}, found ${quoteSnippet(s, i, eol)}`);
  }
  const vs = i + 1;
  let ve = vs;
  while (ve < eol && s.charCodeAt(ve) !== CH_SPACE) ve++;
  const value = p.num.parseNumber(s, vs, ve);
  if (p.num.kind === NUM_INVALID) {
    p.fail(
      ve === vs
        ? `missing value for sample ${name} (exactly one space must separate the parts of a line)`
        : `invalid value ${quoteSnippet(s, vs, ve)} for sample ${name}`,
    );
  }
  let tsSeconds: number | undefined;
  let tsText: string | undefined;
  let exemplar: string | undefined;
  if (ve < eol) {
    i = ve + 1;
    if (i < eol && s.charCodeAt(i) === CH_HASH) {
      exemplar = omExemplar(p, i, eol, name);
    } else {
      let te = i;
      while (te < eol && s.charCodeAt(te) !== CH_SPACE) te++;
      tsSeconds = p.num.parseNumber(s, i, te);
      if (p.num.kind !== NUM_REAL) {
        p.fail(
          te === i
            ? `unexpected space after the value of sample ${name}`
            : `invalid timestamp ${quoteSnippet(s, i, te)} for sample ${name}: expected a number of seconds`,
        );
      }
      tsText = s.slice(i, te);
      if (te < eol) {
        i = te + 1;
        if (i < eol && s.charCodeAt(i) === CH_HASH) exemplar = omExemplar(p, i, eol, name);
        else p.fail(`unexpected text ${quoteSnippet(s, te, eol)} after the timestamp of sample ${name}`);
      }
    }
  }
  const smp = p.sample;
  smp.lineStart = pos;
  smp.seriesEnd = vs - 1;
  smp.escaped = p.labelsEscaped;
  smp.lineEnd = eol;
  omAccept(p, name, value, vs, ve, tsSeconds, tsText, exemplar);
}

/** Validates the exemplar starting at the '#' at `i` and returns its text after "# ". */
function omExemplar(p: ParserCore, i: number, eol: number, name: string): string {
  const s = p.text;
  if (i + 2 >= eol || s.charCodeAt(i + 1) !== CH_SPACE || s.charCodeAt(i + 2) !== CH_BRACE_OPEN) {
    p.fail(`invalid exemplar ${quoteSnippet(s, i, eol)} on sample ${name}: expected "# {labels} value [timestamp]"`);
  }
  const start = i + 2;
  const ex = p.exemplarLabels;
  const what = `the exemplar of ${name}`;
  let j = p.parseLabels(start + 1, eol, ex, false, false, what);
  if (j >= eol || s.charCodeAt(j) !== CH_SPACE) p.fail(`missing value in ${what}`);
  j++;
  let ve = j;
  while (ve < eol && s.charCodeAt(ve) !== CH_SPACE) ve++;
  p.num.parseNumber(s, j, ve);
  if (p.num.kind === NUM_INVALID) p.fail(ve === j ? `missing value in ${what}` : `invalid value ${quoteSnippet(s, j, ve)} in ${what}`);
  if (ve < eol) {
    const ts = ve + 1;
    let te = ts;
    while (te < eol && s.charCodeAt(te) !== CH_SPACE) te++;
    p.num.parseNumber(s, ts, te);
    if (p.num.kind !== NUM_REAL) p.fail(te === ts ? `unexpected space after the value of ${what}` : `invalid timestamp ${quoteSnippet(s, ts, te)} in ${what}`);
    if (te < eol) p.fail(`unexpected text after the timestamp of ${what}`);
  }
  checkLabelNames(p, ex, what);
  let units = 0;
  for (let k = 0; k < ex.length; k++) units += ex[k].length;
  if (units > MAX_EXEMPLAR_LABEL_CHARS) {
    let chars = 0;
    for (let k = 0; k < ex.length; k++) chars += codePointCount(ex[k]);
    if (chars > MAX_EXEMPLAR_LABEL_CHARS) {
      p.fail(`the labels of the exemplar of ${name} have ${chars} characters; names and values together may have at most ${MAX_EXEMPLAR_LABEL_CHARS}`);
    }
  }
  return s.slice(start, eol);
}

/** `ts` is the timestamp in seconds as written (ordering is checked on it, not on truncated milliseconds). */
function omAccept(
  p: ParserCore,
  name: string,
  value: number,
  vs: number,
  ve: number,
  ts: number | undefined,
  tsText: string | undefined,
  exemplar: string | undefined,
): void {
  const kind = sampleKind(p, name);
  const labels = p.labels;
  checkLabelNames(p, labels, name);
  const t = p.famType;

  // The label that tells a Metric's samples apart (excluded from the group), and per-kind value rules.
  let ex = -1;
  let le = 0;
  switch (kind) {
    case K_BUCKET: {
      ex = findLabel(labels, 'le');
      if (ex < 0) p.fail(`histogram bucket ${name} has no "le" label`);
      const lv = labels[2 * ex + 1];
      le = p.num.parseNumber(lv, 0, lv.length);
      if (!(p.num.kind === NUM_REAL || (p.num.kind === NUM_INF && (lv === '+Inf' || lv === '-Inf')))) {
        p.fail(`invalid "le" label value ${JSON.stringify(readable(lv))} in ${name}: expected a number or "+Inf"`);
      }
      checkCounterLike(p, name, value);
      break;
    }
    case K_BARE:
      if (t === T_SUMMARY) {
        ex = findLabel(labels, 'quantile');
        if (ex < 0) p.fail(`summary sample ${name} has no "quantile" label`);
        const qv = labels[2 * ex + 1];
        const q = p.num.parseNumber(qv, 0, qv.length);
        if (p.num.kind !== NUM_REAL || !(q >= 0 && q <= 1)) {
          p.fail(`invalid "quantile" label value ${JSON.stringify(readable(qv))} in ${name}: expected a number from 0 to 1`);
        }
        if (value < 0) p.fail(`quantile value ${value} of ${name} must not be negative`);
      } else if (t === T_STATESET) {
        ex = findLabel(labels, p.famName);
        if (ex < 0) p.fail(`stateset sample ${name} has no "${p.famName}" label naming its state`);
        if (value !== 0 && value !== 1) p.fail(`stateset sample ${name} has value ${value}; states must be 0 or 1`);
      }
      break;
    case K_TOTAL:
    case K_COUNT:
    case K_GCOUNT:
    case K_SUM:
      checkCounterLike(p, name, value);
      break;
    case K_GSUM:
      if (value !== value) p.fail(`${name} must not be NaN`);
      break;
    case K_INFO:
      if (value !== 1) p.fail(`info sample ${name} has value ${value}; info samples must have value 1`);
      break;
  }
  if (exemplar !== undefined && kind !== K_TOTAL && kind !== K_BUCKET) {
    p.fail(`exemplars are allowed only on counter _total and histogram _bucket samples, not on ${name} (${TYPE_NAMES[t]})`);
  }

  // Grouping: a Metric's samples must be contiguous, and within a Metric timestamps present on all and ordered.
  // Same raw label text (without the excluded pair) as the previous sample: surely the same group. Otherwise
  // the canonical key decides, as the same label set may be written in another order or escaping.
  const raw = rawGroupText(p, ex);
  let same = false;
  if (p.groupActive && raw === p.groupRaw) {
    same = true;
  } else {
    const key = groupKeyOf(p, ex, raw);
    if (p.groupActive && key === p.groupKey) same = true;
    else {
      endGroup(p);
      startGroup(p, key);
    }
  }
  p.groupRaw = raw;
  if (same) {
    if ((ts !== undefined) !== p.groupHasTs) {
      p.fail(
        ts === undefined
          ? `sample ${name} has no timestamp but earlier samples of ${groupName(p)} do`
          : `sample ${name} has a timestamp but earlier samples of ${groupName(p)} do not`,
      );
    }
    if (ts !== undefined) {
      if (ts < p.groupTs) p.fail(`timestamps of ${groupName(p)} go backwards at sample ${name}`);
      if (ts !== p.groupTs) endPoint(p);
    }
  }
  // Kept as a flag and a plain number: a number | undefined field would box every timestamp.
  p.groupHasTs = ts !== undefined;
  if (ts !== undefined) p.groupTs = ts;
  p.groupLine = p.line;
  if (kind === K_TOTAL) p.groupHasTotal = true;
  if (t === T_HISTOGRAM || t === T_GAUGEHISTOGRAM) addToPoint(p, kind, value, le, ex);

  // What Prometheus stores: int64(seconds * 1000).
  emit(p, name, value, vs, ve, ts === undefined ? undefined : Math.trunc(ts * 1000), tsText, exemplar);
}

function checkCounterLike(p: ParserCore, name: string, value: number): void {
  if (value !== value) p.fail(`${name} must not be NaN`);
  if (value < 0) p.fail(`${name} must not be negative, got ${value}`);
}

/** The raw text of the sample's label pairs without pair `ex` (not canonical: order and escapes as written). */
function rawGroupText(p: ParserCore, ex: number): string {
  const n = p.labels.length >> 1;
  if (n === 0 || (n === 1 && ex === 0)) return '';
  const s = p.text;
  const at = p.labelPos;
  if (ex < 0) return s.slice(at[0], at[2 * n - 1]);
  if (ex === 0) return s.slice(at[2], at[2 * n - 1]);
  if (ex === n - 1) return s.slice(at[0], at[2 * n - 3]);
  return `${s.slice(at[0], at[2 * ex - 1])},${s.slice(at[2 * ex + 2], at[2 * n - 1])}`;
}

/**
 * The key of the label set without pair `ex`: name="value" pairs joined by ',', values in minimal escaping.
 * Equal label sets must get equal keys whatever order they are written in, so the pairs go in a fixed order:
 * the order of the family's first label set when the names are the same set (nearly always: exporters write a
 * family's labels in one order, and then the raw text is the key), otherwise by name. Label sets with different
 * name sets never have equal keys, so the two orders never meet. `raw` is rawGroupText(ex).
 */
function groupKeyOf(p: ParserCore, ex: number, raw: string): string {
  const labels = p.labels;
  const n = labels.length >> 1;
  const m = n - (ex >= 0 ? 1 : 0);
  if (m === 0) return '';
  let ref = p.familyLabelOrder;
  if (ref === null) {
    // The family's first label set sets the order.
    ref = p.familyLabelOrder = [];
    for (let k = 0; k < n; k++) if (k !== ex) ref.push(labels[2 * k]);
  }
  // Same names in the same order as the reference: the raw text is the key.
  let order = p.pairOrder;
  if (order.length < n) order = p.pairOrder = new Int32Array(2 * n);
  let inOrder = ref.length === m;
  if (inOrder) {
    for (let k = 0, j = 0; k < n; k++) {
      if (k === ex) continue;
      if (labels[2 * k] !== ref[j++]) {
        inOrder = false;
        break;
      }
    }
  }
  if (inOrder) {
    if (!p.labelsEscaped) return raw;
    for (let k = 0, j = 0; k < n; k++) if (k !== ex) order[j++] = k;
    return buildKey(p, m);
  }
  // A permutation of the reference names: in reference order.
  if (ref.length === m) {
    let j = 0;
    for (; j < m; j++) {
      const k = findLabel(labels, ref[j]);
      if (k < 0 || k === ex) break;
      order[j] = k;
    }
    if (j === m) return buildKey(p, m);
  }
  // Other names: by name (insertion sort, label sets are small).
  let j = 0;
  for (let k = 0; k < n; k++) {
    if (k === ex) continue;
    const name = labels[2 * k];
    let i = j++;
    while (i > 0 && labels[2 * order[i - 1]] > name) {
      order[i] = order[i - 1];
      i--;
    }
    order[i] = k;
  }
  return buildKey(p, m);
}

/** The key of the first `m` pairs listed in pairOrder. */
function buildKey(p: ParserCore, m: number): string {
  const order = p.pairOrder;
  let key = '';
  if (!p.labelsEscaped) {
    const s = p.text;
    const at = p.labelPos;
    for (let j = 0; j < m; j++) key += (j === 0 ? '' : ',') + s.slice(at[2 * order[j]], at[2 * order[j] + 1]);
  } else {
    const labels = p.labels;
    for (let j = 0; j < m; j++) {
      const k = order[j];
      key += `${j === 0 ? '' : ','}${labels[2 * k]}="${escapeLabelValue(labels[2 * k + 1])}"`;
    }
  }
  return key;
}

/**
 * Starts a new group, rejecting a label set the family had before. Exporters usually write series in increasing
 * order, and then no key can repeat: keys are only collected in an array, and hashed into a set from the first
 * time the order breaks.
 */
function startGroup(p: ParserCore, key: string): void {
  let set = p.seenGroupSet;
  if (set === null) {
    const keys = p.seenGroupKeys;
    if (keys.length === 0 || key > keys[keys.length - 1]) {
      keys.push(key);
    } else {
      set = p.seenGroupSet = new Set(keys);
      keys.length = 0;
    }
  }
  if (set !== null) {
    const size = set.size;
    if (set.add(key).size === size) {
      p.fail(`samples of ${p.famName}{${readable(key)}} are not contiguous: all samples of one series (Metric) must be exposed together`);
    }
  }
  p.groupKey = key;
  p.groupActive = true;
  p.groupHasTotal = false;
  p.ptActive = false;
}

function groupName(p: ParserCore): string {
  return p.groupKey === '' ? p.famName : `${p.famName}{${readable(p.groupKey)}}`;
}

function endGroup(p: ParserCore): void {
  if (!p.groupActive) return;
  endPoint(p);
  p.groupActive = false;
  if (p.famType === T_COUNTER && !p.groupHasTotal) p.fail(`counter ${groupName(p)} has no ${p.famName}_total sample`, p.groupLine);
}

function addToPoint(p: ParserCore, kind: number, value: number, le: number, ex: number): void {
  if (!p.ptActive) {
    p.ptActive = true;
    p.ptHasBucket = false;
    p.ptNegBucket = false;
    p.ptHasCount = false;
    p.ptHasSum = false;
    p.ptNegSum = false;
    p.ptLastLe = 0;
    p.ptLastBucket = 0;
    p.ptCount = 0;
  }
  switch (kind) {
    case K_BUCKET:
      if (p.ptHasBucket) {
        if (!(le > p.ptLastLe)) {
          p.fail(
            `bucket le="${readable(p.labels[2 * ex + 1])}" of ${groupName(p)} comes after le="${readable(p.ptLastLeText)}": buckets must be in increasing order of le`,
          );
        }
        if (value < p.ptLastBucket) {
          p.fail(
            `bucket le="${readable(p.labels[2 * ex + 1])}" of ${groupName(p)} has count ${value}, less than the previous bucket's ${p.ptLastBucket}: buckets are cumulative`,
          );
        }
      }
      p.ptHasBucket = true;
      p.ptLastLe = le;
      p.ptLastLeText = p.labels[2 * ex + 1];
      p.ptLastBucket = value;
      if (le < 0) p.ptNegBucket = true;
      break;
    case K_COUNT:
    case K_GCOUNT:
      p.ptHasCount = true;
      p.ptCount = value;
      break;
    case K_SUM:
    case K_GSUM:
      p.ptHasSum = true;
      if (value < 0) p.ptNegSum = true;
      break;
  }
}

/** Checks the finished histogram MetricPoint, if any. */
function endPoint(p: ParserCore): void {
  if (!p.ptActive) return;
  p.ptActive = false;
  const line = p.groupLine;
  const gauge = p.famType === T_GAUGEHISTOGRAM;
  const count = gauge ? '_gcount' : '_count';
  const sum = gauge ? '_gsum' : '_sum';
  if (!p.ptHasBucket || p.ptLastLe !== Infinity) p.fail(`histogram ${groupName(p)} has no le="+Inf" bucket`, line);
  if (p.ptHasCount && p.ptCount !== p.ptLastBucket) {
    p.fail(`${groupName(p)}: ${count} is ${p.ptCount} but the +Inf bucket is ${p.ptLastBucket}; they must be equal`, line);
  }
  if (p.ptHasCount !== p.ptHasSum) p.fail(`${groupName(p)} has ${p.ptHasCount ? count : sum} without ${p.ptHasCount ? sum : count}; they go together`, line);
  if (!gauge && p.ptNegBucket && p.ptHasSum) p.fail(`histogram ${groupName(p)} has negative buckets, so it must not have _sum`, line);
  if (gauge && p.ptNegSum && !p.ptNegBucket) p.fail(`gauge histogram ${groupName(p)} has a negative _gsum but no negative buckets`, line);
}
/** The part of ending a family that only OpenMetrics has: its last group, and forgetting its groups. */
export function endOmFamily(p: ParserCore): void {
  endGroup(p);
  p.seenGroupKeys.length = 0;
  p.seenGroupSet = null;
  p.familyLabelOrder = null;
  p.groupKey = '';
}
