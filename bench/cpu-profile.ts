// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per source file.

import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time excluding (idle), ms. */
  busyMs: number;
  topFunctions: { name: string; where: string; ms: number; share: number }[];
  topFiles: { file: string; ms: number; share: number }[];
}

/** A short location: the part after node_modules/ or after the repository's dist/ (or dist-tools/), else the url. */
function shortFile(url: string): string {
  if (url === '') return '(native / V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = /\/dist(?:-tools)?\//.exec(url);
  if (dist) return url.slice(dist.index + dist[0].length);
  return url.replace(/^file:\/\//, '');
}

/**
 * `sinceUs`: only samples taken at or after this monotonic time (µs, the clock of
 * `process.hrtime`, which V8's profile timestamps share on Linux), so a bench can leave out its
 * warm-up.
 */
export function summarizeProfile(file: string, top = 15, sinceUs = -Infinity): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; it is attributed to that sample's node.
  let at = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    at += prof.timeDeltas[i] ?? 0;
    if (at < sinceUs) continue;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const files = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') continue;
    busy += us;
    const where = cf.url === '' ? '' : `${shortFile(cf.url)}:${cf.lineNumber + 1}`;
    const name = cf.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const f = cf.url === '' ? cf.functionName : shortFile(cf.url);
    files.set(f, (files.get(f) ?? 0) + us);
  }
  return {
    busyMs: busy / 1000,
    topFunctions: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, share: e.us / busy })),
    topFiles: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([file, us]) => ({ file, ms: us / 1000, share: us / busy })),
  };
}

/** The single .cpuprofile written into `dir`. */
export function profileIn(dir: string): string {
  const found = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (found.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${found.length}`);
  return path.join(dir, found[0]);
}
