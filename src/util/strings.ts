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
  const n = s.length;
  // Short strings (family names, a million of them in some bodies) go through one reused buffer:
  // a Buffer made per string cost more than the copy.
  if (n > DETACH_SCRATCH) return Buffer.from(s, 'latin1').toString('latin1');
  const b = detachScratch;
  for (let i = 0; i < n; i++) b[i] = s.charCodeAt(i);
  return latin1Slice.call(b, 0, n);
}

const DETACH_SCRATCH = 256;
const detachScratch = Buffer.allocUnsafeSlow(DETACH_SCRATCH);
// Buffer's native latin1 decoder, called on the scratch buffer without making a view of it.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Buffer, start: number, end: number) => string }).latin1Slice;

/** detach(s.slice(start, end)) without the slice: a body of a million families detaches a million names. */
export function detachRange(s: string, start: number, end: number): string {
  const n = end - start;
  // Shorter than 13 characters, V8 copies a slice; longer than the scratch, a slice is copied through a Buffer.
  if (n < 13 || n > DETACH_SCRATCH) return detach(s.slice(start, end));
  const b = detachScratch;
  for (let i = 0; i < n; i++) b[i] = s.charCodeAt(start + i);
  return latin1Slice.call(b, 0, n);
}
