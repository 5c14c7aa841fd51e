// The standard process_* and nodejs_* families of /metrics, under the names client_golang and
// prom-client give them, so stock dashboards and alerts work on promfront too. Hand-written rather
// than prom-client's collectors: these are a dozen reads of /proc and of Node's own counters, and
// prom-client would bring a global registry and a second exposition writer next to ours (the
// query layer's families are written by hand, in another thread). The query thread's heap is
// reported by the query thread itself (queryThreadHeapMetrics), since a worker has its own heap.

import { readdirSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Exposition } from './self-metrics.js';

/** Linux's clock ticks per second for /proc/self/stat (USER_HZ, 100 on every architecture Node runs on). */
const CLOCK_TICKS = 100;
const PAGE_SIZE = 4096;

let loopDelay: IntervalHistogram | undefined;

/** Starts sampling the event loop's delay (20 ms resolution); idempotent. */
export function startEventLoopMonitor(): void {
  if (loopDelay) return;
  loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** virtual and resident memory and start time from /proc/self/stat, when on Linux. */
function procStat(): { vsize: number; rss: number; startTicks: number } | undefined {
  const stat = readProc('/proc/self/stat');
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): starttime is field 22, vsize 23, rss 24.
  return { startTicks: Number(fields[19]), vsize: Number(fields[20]), rss: Number(fields[21]) * PAGE_SIZE };
}

function bootTimeSeconds(): number | undefined {
  const m = /^btime (\d+)$/m.exec(readProc('/proc/stat') ?? '');
  return m ? Number(m[1]) : undefined;
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readProc('/proc/self/limits') ?? '');
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

const fallbackStart = performance.timeOrigin / 1000;

export function renderProcessMetrics(): string {
  const e = new Exposition();
  const cpu = process.cpuUsage();
  e.family('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', [[{}, cpu.user / 1e6]]);
  e.family('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', [[{}, cpu.system / 1e6]]);
  e.family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  const stat = procStat();
  const btime = bootTimeSeconds();
  const start = stat && btime !== undefined ? btime + stat.startTicks / CLOCK_TICKS : fallbackStart;
  e.family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [[{}, start]]);
  const mem = process.memoryUsage();
  e.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[{}, stat?.rss ?? mem.rss]]);
  if (stat) e.family('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', [[{}, stat.vsize]]);
  e.family('process_heap_bytes', 'gauge', 'Process heap size in bytes.', [[{}, mem.heapTotal]]);
  const open = openFds();
  if (open !== undefined) e.family('process_open_fds', 'gauge', 'Number of open file descriptors.', [[{}, open]]);
  const max = maxFds();
  if (max !== undefined) e.family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', [[{}, max]]);

  const [major, minor, patch] = process.versions.node.split('.');
  e.family('nodejs_version_info', 'gauge', 'Node.js version info.', [[{ version: process.version, major, minor, patch }, 1]]);
  const heap = getHeapStatistics();
  e.family('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', [[{}, heap.total_heap_size]]);
  e.family('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', [[{}, heap.used_heap_size]]);
  e.family('nodejs_heap_size_limit_bytes', 'gauge', 'The V8 heap limit of the main thread in bytes.', [[{}, heap.heap_size_limit]]);
  e.family('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', [[{}, mem.external]]);
  const spaces = getHeapSpaceStatistics();
  e.family(
    'nodejs_heap_space_size_used_bytes',
    'gauge',
    'Process heap space size used from Node.js in bytes.',
    spaces.map((s) => [{ space: s.space_name.replace(/_space$/, '') }, s.space_used_size]),
  );
  e.family('nodejs_active_resources_total', 'gauge', 'Number of active resources that are currently keeping the event loop alive.', [
    [{}, process.getActiveResourcesInfo().length],
  ]);
  if (loopDelay && loopDelay.count > 0) {
    // Nanoseconds in the histogram; each render reports the delays since the previous one. Two
    // renders close together may see none: the families then repeat the last values, never vanish.
    lastLag = { mean: loopDelay.mean / 1e9, p99: loopDelay.percentile(99) / 1e9, max: loopDelay.max / 1e9 };
    loopDelay.reset();
  }
  e.family('nodejs_eventloop_lag_mean_seconds', 'gauge', 'The mean of the recorded event loop delays.', [[{}, lastLag.mean]]);
  e.family('nodejs_eventloop_lag_p99_seconds', 'gauge', 'The 99th percentile of the recorded event loop delays.', [[{}, lastLag.p99]]);
  e.family('nodejs_eventloop_lag_max_seconds', 'gauge', 'The maximum recorded event loop delay.', [[{}, lastLag.max]]);
  return e.toString();
}

let lastLag = { mean: 0, p99: 0, max: 0 };

/** The query thread's V8 heap, written by the query thread into its part of /metrics. */
export function queryThreadHeapMetrics(): string {
  const heap = getHeapStatistics();
  const e = new Exposition();
  e.family('promfront_query_thread_heap_used_bytes', 'gauge', 'V8 heap used by the query thread (a worker with a heap of its own).', [
    [{}, heap.used_heap_size],
  ]);
  e.family('promfront_query_thread_heap_limit_bytes', 'gauge', "The query thread's V8 heap limit (--query.thread-heap-limit).", [[{}, heap.heap_size_limit]]);
  return e.toString();
}
