// V8 settings for a long-running server whose work comes in bursts (a dashboard refreshed every
// 30 s, a query now and then), applied when this module is imported: first of all by the CLI, so
// before any worker thread (query thread, partial workers) starts; V8's flags are per process.
//
// Why: between two bursts the process is idle, and V8 then (1) runs the memory reducer, major
// collections that shrink the heap, and (2) ages the bytecode of functions not run since, flushing it
// after a few of those collections; a flushed function loses its optimized code and feedback with
// it. The next burst then runs the hot paths (remote-read decoding, the HA merge, the engine)
// interpreted, allocating a boxed number for every double, and recompiles them on V8's helper
// threads. Measured on the HA-pair dashboard (docs/performance.md, issue 16 target 3, quiet): 6 of 7
// cached refreshes at 540-670 ms of CPU without these flags, all 7 at 240-370 ms with them. The cost:
// bytecode of every function run stays (a few MB), and an idle process keeps the heap it last
// needed instead of shrinking it; the peak, which the memory targets bound, is unchanged.

import { setFlagsFromString } from 'node:v8';

export const V8_SETTINGS = ['--no-flush-bytecode', '--no-memory-reducer'] as const;

for (const flag of V8_SETTINGS) setFlagsFromString(flag);
