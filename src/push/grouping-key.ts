// The canonical grouping key of a push path, read exactly as Pushgateway 1.5.1 reads it, so one
// group always hashes to one Pushgateway however a client spells it (label order, @base64, percent
// escapes, a trailing slash).
//
// Pushgateway's steps (main.go routes, handler/push.go): Go's server percent-decodes the whole path
// first (so %2F becomes a separator, not part of a value), ServeMux redirects a path that is not
// clean (`//`, `/./`), the router takes `/metrics/job[@base64]/:job` and the rest as `*labels`,
// splitLabels splits the rest on "/" into name/value pairs (a lone trailing "/" means none), a name
// ending in @base64 has its value decoded as URL-safe base64 with "=" padding ignored, and the
// job label comes last, overriding a "job" pair in the rest. Values may be empty; a group with an
// empty value is a different group from one without the label (Pushgateway keys its groups by
// every pair, empty ones included).

import { PushPathError } from '../errors.js';
import { isLegacyLabelName } from '../model/label-name.js';

export { PushPathError };

export const PUSH_PATH_PREFIX = '/metrics/job';

export interface GroupingKey {
  job: string;
  /** Every label of the group but job, sorted by name. */
  labels: [string, string][];
  /** The canonical form: job first, then the others by name; what the ring hashes. */
  key: string;
}

/** Whether a path (not decoded) is a push path at all. */
export function isPushPath(rawPath: string): boolean {
  return rawPath === PUSH_PATH_PREFIX || rawPath.startsWith(`${PUSH_PATH_PREFIX}/`) || rawPath.startsWith(`${PUSH_PATH_PREFIX}@base64/`);
}

/**
 * The grouping key of a push path as it arrives (still percent-encoded, no query string). Throws
 * PushPathError with Pushgateway's message when Pushgateway would answer 400.
 */
export function parseGroupingKey(rawPath: string): GroupingKey {
  const path = cleanPath(percentDecode(rawPath));
  let rest: string;
  let jobBase64 = false;
  if (path.startsWith(`${PUSH_PATH_PREFIX}@base64/`)) {
    jobBase64 = true;
    rest = path.slice(PUSH_PATH_PREFIX.length + '@base64/'.length);
  } else if (path.startsWith(`${PUSH_PATH_PREFIX}/`)) rest = path.slice(PUSH_PATH_PREFIX.length + 1);
  else throw new PushPathError(`not a push path: ${JSON.stringify(rawPath)} (want /metrics/job/<job>{/<label>/<value>})`);
  const slash = rest.indexOf('/');
  let job = slash === -1 ? rest : rest.slice(0, slash);
  const labelsString = slash === -1 ? '' : rest.slice(slash);
  // httprouter does not match an empty :job segment: Pushgateway answers 404 there, we say why.
  if (job === '') throw new PushPathError('job name is required');
  if (jobBase64) {
    const decoded = decodeBase64(job);
    if (decoded === undefined) throw new PushPathError(`invalid base64 encoding in job name ${JSON.stringify(job)}: illegal base64 data`);
    job = decoded;
  }
  const pairs = splitLabels(labelsString);
  if (job === '') throw new PushPathError('job name is required');
  pairs.delete('job');
  const labels = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { job, labels, key: canonicalKey(job, labels) };
}

/** job, then each pair, joined with 0xff as Prometheus separates label pairs (no valid UTF-8 has it). */
function canonicalKey(job: string, labels: [string, string][]): string {
  return ['job', job, ...labels.flat()].join('\xff');
}

/** The grouping key as a path every Pushgateway reads back to the same group (values @base64 when needed). */
export function groupPath(job: string, labels: Iterable<[string, string]>): string {
  let out = `/metrics/${segment('job', job)}`;
  for (const [n, v] of labels) if (n !== 'job') out += `/${segment(n, v)}`;
  return out;
}

/** Plain where the value needs no escaping, @base64 otherwise (the one spelling every client library reads the same). */
function segment(name: string, value: string): string {
  if (value === '') return `${name}@base64/=`;
  return /^[A-Za-z0-9_.~-]+$/.test(value) ? `${name}/${value}` : `${name}@base64/${encodeBase64(value)}`;
}

function splitLabels(labels: string): Map<string, string> {
  const result = new Map<string, string>();
  if (labels.length <= 1) return result;
  const components = labels.slice(1).split('/');
  if (components.length % 2 !== 0) throw new PushPathError(`odd number of components in label string ${JSON.stringify(labels)}`);
  for (let i = 0; i < components.length; i += 2) {
    const name = components[i];
    const value = components[i + 1];
    const trimmed = name.endsWith('@base64') ? name.slice(0, -'@base64'.length) : name;
    if (!isLegacyLabelName(trimmed) || trimmed.startsWith('__')) throw new PushPathError(`improper label name ${JSON.stringify(trimmed)}`);
    if (name === trimmed) {
      result.set(name, value);
      continue;
    }
    const decoded = decodeBase64(value);
    if (decoded === undefined) throw new PushPathError(`invalid base64 encoding for label ${trimmed}=${JSON.stringify(value)}: illegal base64 data`);
    result.set(trimmed, decoded);
  }
  return result;
}

/**
 * Go's base64.RawURLEncoding.DecodeString after trimming trailing "=": URL-safe alphabet only, no
 * padding, CR and LF skipped, a final group of one character refused. Undefined when Go would fail.
 * Bytes that are not UTF-8 become U+FFFD, as Prometheus shows them.
 */
export function decodeBase64(s: string): string | undefined {
  const body = s.replace(/=+$/, '').replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) return undefined;
  return Buffer.from(body, 'base64url').toString('utf8');
}

export function encodeBase64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

/** Go's url.PathUnescape: %XX to bytes, "+" kept; a bad escape is refused as Go's server refuses the request. */
function percentDecode(raw: string): string {
  if (!raw.includes('%')) return raw;
  if (/%(?![0-9a-fA-F]{2})/.test(raw)) throw new PushPathError(`invalid URL escape in path ${JSON.stringify(raw)}`);
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '%') {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else for (const b of Buffer.from(raw[i], 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Go's path.Clean as ServeMux applies it (trailing slash kept): Pushgateway redirects other
 * spellings to it, and the client then pushes the clean path, so the key is the clean path's.
 */
function cleanPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  let clean = `/${out.join('/')}`;
  if (p.endsWith('/') && clean !== '/') clean += '/';
  return clean;
}
