// Warnings a downstream sends with its answer (a lower promfront's "server group ... failed", a
// Prometheus's own warnings), carried up to the fan-out without widening the Storage interface: the
// fan-out runs each target call inside a sink (AsyncLocalStorage, so every wrapper between the
// fan-out and the client passes them on untouched) and the clients report into it. Over remote read,
// which has no place for warnings, a promfront sends them in a response header (WARNINGS_HEADER).

import { AsyncLocalStorage } from 'node:async_hooks';

const sink = new AsyncLocalStorage<string[]>();

/** The header a promfront's remote-read answer carries its warnings in. */
export const WARNINGS_HEADER = 'x-promfront-warnings';

/** Bound on the header's size: a few kilobytes of warnings are plenty; more are cut, saying so. */
const MAX_HEADER_CHARS = 8192;

/** Runs fn; the warnings clients report while it runs are pushed to `into`. */
export function collectDownstreamWarnings<T>(into: string[], fn: () => Promise<T>): Promise<T> {
  return sink.run(into, fn);
}

/** Told by a client: the downstream answered with these warnings. */
export function reportDownstreamWarnings(warnings: readonly string[]): void {
  if (warnings.length === 0) return;
  sink.getStore()?.push(...warnings);
}

/** The header value: the warnings as a JSON list, percent-encoded (header values are Latin-1). */
export function encodeWarningsHeader(warnings: readonly string[]): string {
  const kept: string[] = [];
  let size = 2;
  for (const w of warnings) {
    size += encodeURIComponent(JSON.stringify(w)).length + 1;
    if (size > MAX_HEADER_CHARS) {
      kept.push(`${warnings.length - kept.length} more warnings left out`);
      break;
    }
    kept.push(w);
  }
  return encodeURIComponent(JSON.stringify(kept));
}

/** The warnings of a header value; a malformed one is itself reported as a warning. */
export function decodeWarningsHeader(value: string): string[] {
  try {
    const list: unknown = JSON.parse(decodeURIComponent(value));
    if (Array.isArray(list) && list.every((w) => typeof w === 'string')) return list;
  } catch {
    // reported below
  }
  return [`malformed ${WARNINGS_HEADER} header`];
}
