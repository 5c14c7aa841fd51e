// The storage one API request reads from, with what it collects while the request runs: warnings
// (a server group left out) and counts (groups asked, samples returned). Every handler asks for a
// fresh view per request, so one request's warnings never reach another's answer.

import type { StorageStats } from './counting.js';
import type { Storage } from './interface.js';

/** A storage for one request, with the warnings it collects while the request runs (e.g. a group left out). */
export interface ScopedStorage {
  storage: Storage;
  warnings: string[];
  /** What the storage did for this request (groups asked, samples returned), when it counts. */
  stats?: StorageStats;
}

/** A fixed storage, or a factory of per-request views (the fan-out's, with its warnings). */
export type StorageSource = Storage | (() => ScopedStorage);

/** The storage view for one request: a fixed storage, or a fresh view from the factory. */
export function scopedStorage(storage: StorageSource): ScopedStorage {
  return typeof storage === 'function' ? storage() : { storage, warnings: [] };
}
