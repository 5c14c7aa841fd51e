// Escaping of label values and HELP texts, and quoting of body text in error messages. Bodies arrive as
// UTF-8 bytes read as latin1 (one char per byte, see the scraper), so error messages and length limits must
// decode them back to code points before showing or counting.

import { isUtf8 } from 'node:buffer';

const CH_QUOTE = 34;
const CH_BACKSLASH = 92;

/** Unescapes s[start, end): \\ and \n always, \" when `quote`; any other backslash sequence is kept as it is. */
export function unescape(s: string, start: number, end: number, quote: boolean): string {
  // No indexOf: it would search past `end`, through the rest of a body that may be tens of megabytes.
  let i = start;
  while (i < end && s.charCodeAt(i) !== CH_BACKSLASH) i++;
  if (i >= end) return s.slice(start, end);
  let out = '';
  let from = start;
  while (i < end - 1) {
    const n = s.charCodeAt(i + 1);
    const rep = n === CH_BACKSLASH ? '\\' : n === 110 ? '\n' : n === CH_QUOTE && quote ? '"' : undefined;
    if (rep !== undefined) {
      out += s.slice(from, i) + rep;
      from = i + 2;
    }
    i += 2;
    while (i < end && s.charCodeAt(i) !== CH_BACKSLASH) i++;
  }
  return out + s.slice(from, end);
}

/** A label value as it appears between quotes in canonical (minimal) escaping. */
export function escapeLabelValue(v: string): string {
  let need = false;
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k);
    if (c === CH_BACKSLASH || c === CH_QUOTE || c === 10) {
      need = true;
      break;
    }
  }
  if (!need) return v;
  let out = '';
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k);
    out += c === CH_BACKSLASH ? '\\\\' : c === CH_QUOTE ? '\\"' : c === 10 ? '\\n' : v[k];
  }
  return out;
}

/** Bytes-as-latin1 text (how the scraper decodes bodies) back to readable text for error messages. */
export function readable(str: string): string {
  let high = false;
  for (let k = 0; k < str.length; k++) {
    const c = str.charCodeAt(k);
    if (c > 0xff) return str;
    if (c >= 0x80) high = true;
  }
  if (!high) return str;
  const buf = Buffer.from(str, 'latin1');
  return isUtf8(buf) ? buf.toString('utf8') : str;
}

/** Number of Unicode code points, whether `str` holds UTF-8 bytes as latin1 chars or is a real UTF-16 string. */
export function codePointCount(str: string): number {
  let wide = false;
  let high = false;
  for (let k = 0; k < str.length; k++) {
    const c = str.charCodeAt(k);
    if (c > 0xff) wide = true;
    else if (c >= 0x80) high = true;
  }
  if (!wide && high) {
    const buf = Buffer.from(str, 'latin1');
    if (isUtf8(buf)) str = buf.toString('utf8');
  }
  let n = 0;
  for (let k = 0; k < str.length; k++) {
    const c = str.charCodeAt(k);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

export function quoteSnippet(s: string, start: number, end: number): string {
  const max = 60;
  const long = end - start > max;
  return JSON.stringify(readable(s.slice(start, long ? start + max : end)) + (long ? '…' : ''));
}
