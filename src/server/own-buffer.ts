// The bytes of an answer chunk as an ArrayBuffer the query thread can transfer to the main thread.
// Chunks come from several places (encoded text, gzip output, views of a downstream's body), and a
// transfer detaches the whole ArrayBuffer behind a view: only a chunk that owns all of its buffer may
// go without a copy.

/** An ArrayBuffer holding exactly `chunk`, moved without a copy when the chunk owns its whole buffer. */
export function ownBuffer(chunk: Uint8Array): ArrayBuffer {
  // A pooled Buffer, or a view of a larger body, shares its ArrayBuffer: transferring it would
  // detach the rest. Copied through the Uint8Array constructor: Buffer's own slice() is a view.
  if (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer) return chunk.buffer;
  return new Uint8Array(chunk).buffer;
}
