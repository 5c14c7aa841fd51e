// A small text-format 0.0.4 writer for the stream capability's own /metrics families; the server has
// one too, but capabilities may not import src/server.

function escapeValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class MetricsText {
  private out = '';

  family(name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): this {
    this.out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    for (const [labels, value] of samples) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeValue(v)}"`);
      this.out += `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}\n`;
    }
    return this;
  }

  toString(): string {
    return this.out;
  }
}
