// Prometheus duration syntax: one or more <int><unit> terms in decreasing unit order,
// e.g. "1h30m", "15s", "500ms". Units: y w d h m s ms. Returns milliseconds.
const UNIT_MS: Record<string, number> = {
  y: 365 * 24 * 3600_000,
  w: 7 * 24 * 3600_000,
  d: 24 * 3600_000,
  h: 3600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
const TERM = /(\d+)(ms|y|w|d|h|m|s)/y;

export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (text === '') throw new Error('empty duration string');
  let pos = 0;
  let total = 0;
  let lastRank = -1;
  while (pos < text.length) {
    TERM.lastIndex = pos;
    const m = TERM.exec(text);
    if (!m) throw new Error(`not a valid duration string: "${text}"`);
    const rank = ORDER.indexOf(m[2]);
    if (rank <= lastRank) throw new Error(`not a valid duration string: "${text}"`);
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = TERM.lastIndex;
  }
  if (!Number.isSafeInteger(total)) throw new Error(`duration out of range: "${text}"`);
  return total;
}

/** Formats milliseconds the way Prometheus prints durations ("1h30m", "15s", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let out = '';
  let rest = ms;
  for (const unit of ORDER) {
    const size = UNIT_MS[unit];
    // Prometheus only prints y/w when the value is an exact multiple; otherwise it falls back to days.
    if ((unit === 'y' || unit === 'w') && rest % size !== 0) continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Byte sizes as users write them in config: 1048576, "64MiB", "100MB", "1GiB". */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new Error(`not a valid byte size: ${input}`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const mult = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || mult === undefined) throw new Error(`not a valid byte size: "${input}" (use e.g. 1048576, "64MiB", "100MB")`);
  return Math.floor(Number(m[1]) * mult);
}
