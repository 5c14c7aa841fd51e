// String helpers for long-lived strings cut out of large bodies.

/**
 * A copy of `s` that does not point into the string it was sliced from. V8 keeps a slice of 13 or
 * more characters as a view of its parent, so a short name kept for long (a family name, a HELP
 * text) would otherwise keep a whole body piece alive.
 */
export function detach(s: string): string;
export function detach(s: string | undefined): string | undefined;
export function detach(s: string | undefined): string | undefined {
  if (s === undefined || s.length < 13) return s;
  return Buffer.from(s, 'latin1').toString('latin1');
}
