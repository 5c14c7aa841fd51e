// The process's logger, for the main thread and the query thread alike: pino with level names and
// ISO 8601 times, written as logfmt (the default, as Prometheus and its exporters log) or as JSON
// lines (--log.format=json, for log shippers). logfmt is a small writer of our own behind pino's
// JSON rather than a transport package: pino's transports run in a worker thread of their own and
// the well-known logfmt ones are unmaintained; turning one JSON line into key=value pairs is a few
// lines, synchronous, so a fatal line is out before the process exits.

import { pino, type DestinationStream, type Logger } from 'pino';

export const LOG_FORMATS = ['logfmt', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const DEFAULT_LOG_FORMAT: LogFormat = 'logfmt';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

// Printed first, in this order, as go-kit's logfmt lines start; the rest follow as logged.
const FIRST_KEYS = ['ts', 'level', 'component', 'msg'];

// Bare logfmt values: printable ASCII other than space, quote, "=" and backslash, and not empty.
const BARE = /^[!#-<>-[\]-~]+$/;

function logfmtValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return BARE.test(s) ? s : JSON.stringify(s);
}

/** One pino JSON line as one logfmt line: `ts=... level=info msg="..." key=value ...`. */
export function jsonLineToLogfmt(line: string): string {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const parts: string[] = [];
  for (const k of FIRST_KEYS) if (k in obj) parts.push(`${k}=${logfmtValue(obj[k])}`);
  for (const [k, v] of Object.entries(obj)) if (!FIRST_KEYS.includes(k)) parts.push(`${k}=${logfmtValue(v)}`);
  return `${parts.join(' ')}\n`;
}

export interface LoggerOptions {
  level: string;
  format?: LogFormat;
  /** Where lines go; standard output unless said (tests capture them). */
  destination?: { write(line: string): void };
}

export function createLogger(opts: LoggerOptions): Logger {
  const out = opts.destination ?? pino.destination({ dest: 1, sync: true });
  const format = opts.format ?? DEFAULT_LOG_FORMAT;
  const stream: DestinationStream = format === 'json' ? out : { write: (line: string) => void out.write(jsonLineToLogfmt(line)) };
  return pino(
    {
      level: opts.level,
      // No pid and hostname on every line: systemd and container runtimes add their own.
      base: undefined,
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
