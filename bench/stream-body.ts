// The exposition both NATS benches publish (bench/stream.ts end to end, bench/stream-apply.ts in
// process), so their per-scrape figures are about the same body, and their numeric flags.

/** `--name=N` from the command line, or `dflt`. */
export function numArg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
}

/**
 * A body like a node exporter's: 20 gauge families with several labels, `series` lines, values
 * drawn anew on each call: counter-like integers and short floats, as exporters mostly write
 * (random 17-digit floats would not compress at all).
 */
export function exporterBody(series: number): string {
  let out = '';
  const fams = 20;
  const per = Math.ceil(series / fams);
  let n = 0;
  for (let f = 0; f < fams && n < series; f++) {
    out += `# HELP bench_family_${f} A benchmark family.\n# TYPE bench_family_${f} gauge\n`;
    for (let i = 0; i < per && n < series; i++, n++) {
      const v = i % 3 === 0 ? (Math.random() * 100).toFixed(2) : String(Math.floor(Math.random() * 1e7));
      out += `bench_family_${f}{device="dev${i % 17}",mode="m${i}",cpu="${i % 8}"} ${v}\n`;
    }
  }
  return out;
}
