// Times and durations as the query page's inputs take them: Prometheus's duration syntax (1h30m)
// and either RFC 3339 or Unix seconds for a point in time, as the HTTP API accepts.

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds in a Prometheus duration ("1h30m", "15s"); throws naming the text when it is not one. */
export function parseDuration(text: string): number {
  const t = text.trim();
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    end = re.lastIndex;
  }
  if (t === '' || end !== t.length) throw new Error(`"${text}" is not a duration (e.g. 1h, 5m, 30s, 1h30m)`);
  return total;
}

export function formatDuration(secs: number): string {
  const parts: string[] = [];
  let s = Math.round(secs * 1000);
  for (const [u, n] of [
    ['d', 86400000],
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
  }
  return parts.join('') || '0s';
}

/** Unix seconds for an input time; empty means now. Throws naming the text when it is not a time. */
export function parseTime(text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === '') return now / 1000;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`"${text}" is not a time (RFC 3339 such as 2024-01-01T02:00:00Z, or Unix seconds)`);
  return ms / 1000;
}

/** Prometheus's UI default step: the range over 250 points, at least 1s. */
export function autoStep(rangeSecs: number): number {
  return Math.max(1, Math.round(rangeSecs / 250));
}
