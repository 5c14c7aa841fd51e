// Lowers the calling thread's own CPU priority (raises its nice value), so that when the cores are
// short the main thread, which scrapes the upstreams and answers health and shard requests, runs
// first. Linux's setpriority(2) acts on one thread when given a thread id; a thread finds its own
// in /proc/thread-self. Raising a nice value needs no privilege; lowering it again does, so this
// only ever raises it. Where there is no per-thread priority (not Linux, no /proc) nothing is done
// and the reason is returned for the caller to log.

import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Sets this thread's nice value to at least `nice` (0 to 19). Returns undefined when done or
 * nothing was asked (0), else why it could not be done.
 */
export function raiseThreadNice(nice: number): string | undefined {
  if (nice <= 0) return undefined;
  if (process.platform !== 'linux') return `per-thread priority is supported on Linux only (this is ${process.platform})`;
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return 'could not read this thread id from /proc/thread-self';
    if (getPriority(tid) < nice) setPriority(tid, nice);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
