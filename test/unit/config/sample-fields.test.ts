// `generate-config` shows every field of every section: each field name of the config schema is in
// the sample (most commented), and the commented sections are valid once uncommented.

import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';
import { SAMPLE_CONFIG } from '../../../src/server/sample-config.js';

interface Def {
  type: string;
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
}

/** Every field path of the schema, e.g. query.server_groups.http_client.dial_timeout. */
function fieldPaths(def: Def, prefix: string, out: string[]): string[] {
  if (def.innerType) return fieldPaths(def.innerType._zod.def, prefix, out);
  if (def.type === 'pipe' && def.in) return fieldPaths(def.in._zod.def, prefix, out);
  if (def.type === 'array' && def.element) return fieldPaths(def.element._zod.def, prefix, out);
  if (def.type === 'union') for (const o of def.options ?? []) fieldPaths(o._zod.def, prefix, out);
  if (def.type === 'object' && def.shape) {
    for (const [k, v] of Object.entries(def.shape)) {
      const path = prefix ? `${prefix}.${k}` : k;
      out.push(path);
      fieldPaths(v._zod.def, path, out);
    }
  }
  return out;
}

describe('the generated sample config', () => {
  it('names every field of the schema', () => {
    const paths = fieldPaths((configSchema as unknown as { _zod: { def: Def } })._zod.def, '', []);
    expect(paths.length).toBeGreaterThan(60);
    const missing = paths.filter((p) => !new RegExp(`\\b${p.split('.').at(-1)}\\b:`).test(SAMPLE_CONFIG));
    expect(missing).toEqual([]);
  });

  it('is valid with its commented query section uncommented', () => {
    // Only the query section: the sections after it are commented the same way and tested on their own.
    let inQuery = false;
    const uncommented = SAMPLE_CONFIG.split('\n')
      .map((l) => {
        if (l.startsWith('# query:')) inQuery = true;
        else if (!l.startsWith('#   ')) inQuery = false;
        return inQuery ? l.slice(2) : l;
      })
      .map((l) => l.replace(/^( *)# (remote_read|sigv4): .*$/, '$1$2: true').replace(/^( *)sigv4: true$/, ''))
      .join('\n');
    const c = parseConfigText(uncommented);
    expect(c.query!.server_groups.map((g) => g.name)).toEqual(['shard-0', 'shard-1']);
    expect(c.query!.server_groups[0]).toMatchObject({ remote_read: true, stale_nan: false, pushdown: false, remote_read_path: '/api/v1/read' });
  });
});
