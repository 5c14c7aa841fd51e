// The Prometheus text exposition format 0.0.4: its line grammar, which is looser than OpenMetrics' (blanks
// around tokens, blank lines, "#" comments, "untyped", a trailing comma in label sets) and has integer
// millisecond timestamps. What a family may contain is checked in groups.ts, shared with OpenMetrics.
//
// Functions rather than methods, so the core (core.ts) holds the state and imports no format; parse.ts picks
// this file or openmetrics.ts per body.

import {
  C_METRIC,
  C_METRIC_START,
  CHAR_CLASS,
  CH_BRACE_OPEN,
  CH_HASH,
  CH_SPACE,
  CH_TAB,
  skipBlanks,
  T_COUNTER,
  T_GAUGE,
  T_HISTOGRAM,
  T_SUMMARY,
  T_UNKNOWN,
} from './core.js';
import { NUM_INVALID, NUM_REAL } from './numbers.js';
import { quoteSnippet, readable, unescape } from './escapes.js';
import { checkLabelNames, emit, sampleKind, setHelp, setType } from './groups.js';
import type { ParserCore } from './core.js';

/** The type word s[i, te) of a # TYPE line; compared in place, as a body may have a million TYPE lines. */
function textTypeAt(s: string, i: number, te: number): number | undefined {
  // Told apart by their first letter; then the whole word is compared.
  let word: string;
  let t: number;
  switch (s.charCodeAt(i)) {
    case 103: // g
      word = 'gauge';
      t = T_GAUGE;
      break;
    case 99: // c
      word = 'counter';
      t = T_COUNTER;
      break;
    case 104: // h
      word = 'histogram';
      t = T_HISTOGRAM;
      break;
    case 115: // s
      word = 'summary';
      t = T_SUMMARY;
      break;
    case 117: // u
      word = 'untyped';
      t = T_UNKNOWN;
      break;
    default:
      return undefined;
  }
  return te - i === word.length && s.startsWith(word, i) ? t : undefined;
}

export function parseText(p: ParserCore, text: string): void {
  p.text = text;
  p.sample.text = text;
  p.nextBackslash = -1;
  const s = text;
  const len = s.length;
  let pos = 0;
  while (pos < len) {
    p.line++;
    let eol = s.indexOf('\n', pos);
    if (eol < 0) eol = len;
    let c = s.charCodeAt(pos);
    if (c === CH_SPACE || c === CH_TAB) {
      pos = skipBlanks(s, pos, eol);
      c = pos < eol ? s.charCodeAt(pos) : -1;
    }
    if (c === CH_HASH) textComment(p, pos, eol);
    else if (pos < eol) textSample(p, pos, eol);
    pos = eol + 1;
  }
}

function textComment(p: ParserCore, pos: number, eol: number): void {
  const s = p.text;
  let i = pos + 1;
  if (i >= eol || (s.charCodeAt(i) !== CH_SPACE && s.charCodeAt(i) !== CH_TAB)) return;
  i = skipBlanks(s, i, eol);
  // "HELP" or "TYPE", told apart by the first letter before comparing the word.
  const first = s.charCodeAt(i);
  const isHelp = first === 72;
  if (!(isHelp ? s.startsWith('HELP', i) : first === 84 && s.startsWith('TYPE', i))) return;
  const keyword = isHelp ? 'HELP' : 'TYPE';
  i += 4;
  if (i < eol && s.charCodeAt(i) !== CH_SPACE && s.charCodeAt(i) !== CH_TAB) return; // e.g. "# HELPFUL": a comment
  i = skipBlanks(s, i, eol);
  if (i >= eol) return; // "# HELP" alone: a comment, as Prometheus reads it
  const ns = i;
  if (!(CHAR_CLASS[s.charCodeAt(i)] & C_METRIC_START)) p.fail(`invalid metric name ${p.tokenSnippet(ns, eol)} in # ${keyword} line`);
  i++;
  while (i < eol && CHAR_CLASS[s.charCodeAt(i)] & C_METRIC) i++;
  if (i < eol && s.charCodeAt(i) !== CH_SPACE && s.charCodeAt(i) !== CH_TAB) {
    p.fail(`invalid metric name ${p.tokenSnippet(ns, eol)} in # ${keyword} line`);
  }
  const ne = i;
  i = skipBlanks(s, i, eol);
  if (isHelp) {
    setHelp(p, ns, ne, unescape(s, i, eol, false));
    return;
  }
  let te = i;
  while (te < eol && s.charCodeAt(te) !== CH_SPACE && s.charCodeAt(te) !== CH_TAB) te++;
  if (skipBlanks(s, te, eol) < eol) p.fail(`unexpected text after the type in # TYPE line for ${s.slice(ns, ne)}`);
  const t = textTypeAt(s, i, te);
  if (t === undefined) {
    const name = s.slice(ns, ne);
    const word = s.slice(i, te);
    p.fail(
      word === ''
        ? `# TYPE line for ${name} has no type`
        : `invalid metric type ${JSON.stringify(readable(word))} for ${name}: expected counter, gauge, histogram, summary or untyped`,
    );
  }
  setType(p, ns, ne, t);
}

function textSample(p: ParserCore, pos: number, eol: number): void {
  const s = p.text;
  const name = p.metricName(pos, eol);
  let i = pos + name.length;
  const labels = p.labels;
  let c = i < eol ? s.charCodeAt(i) : -1;
  if (c !== CH_SPACE && c !== CH_TAB && c !== CH_BRACE_OPEN && c !== -1) {
    p.fail(`invalid character ${JSON.stringify(readable(s[i]))} in metric name ${p.tokenSnippet(pos, eol)}`);
  }
  let seriesEnd = i;
  i = skipBlanks(s, i, eol);
  if (i < eol && s.charCodeAt(i) === CH_BRACE_OPEN) {
    seriesEnd = p.parseLabels(i + 1, eol, labels, false, true, name);
    i = skipBlanks(s, seriesEnd, eol);
  } else if (labels.length !== 0) {
    labels.length = 0;
  }
  if (i >= eol) p.fail(`missing value for sample ${name}`);
  const vs = i;
  let ve = i;
  while (ve < eol && (c = s.charCodeAt(ve)) !== CH_SPACE && c !== CH_TAB) ve++;
  const value = p.num.parseNumber(s, i, ve);
  if (p.num.kind === NUM_INVALID) p.fail(`invalid value ${quoteSnippet(s, i, ve)} for sample ${name}`);
  if (p.num.kind === NUM_REAL && (value === Infinity || value === -Infinity)) {
    p.fail(`value ${quoteSnippet(s, i, ve)} of sample ${name} is out of the float64 range`);
  }
  let ts: number | undefined;
  let tsText: string | undefined;
  i = skipBlanks(s, ve, eol);
  if (i < eol) {
    let te = i;
    while (te < eol && (c = s.charCodeAt(te)) !== CH_SPACE && c !== CH_TAB) te++;
    ts = p.num.parseIntMs(s, i, te);
    tsText = s.slice(i, te);
    if (p.num.kind === NUM_INVALID) {
      p.fail(`invalid timestamp ${quoteSnippet(s, i, te)} for sample ${name}: expected an integer number of milliseconds`);
    }
    if (skipBlanks(s, te, eol) < eol) p.fail(`unexpected text after the timestamp of sample ${name}`);
  }

  sampleKind(p, name); // for its side effect: a name the family cannot have starts a new family
  checkLabelNames(p, labels, name);
  const smp = p.sample;
  smp.lineStart = pos;
  smp.seriesEnd = seriesEnd;
  smp.lineEnd = eol;
  emit(p, name, value, vs, ve, ts, tsText, undefined);
}
