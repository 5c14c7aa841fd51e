// The running config written back as YAML for /api/v1/status/config, the way Prometheus shows its
// own: every default filled in, durations with their units, and every secret replaced by
// "<secret>" (passwords, tokens, credential-carrying headers and query parameters, URL passwords).

import { stringify } from 'yaml';
import type { z } from 'zod';
import { byteSizeSchema, configSchema, durationSchema, positiveDurationSchema, type Config } from '../config/schema.js';
import { formatDuration } from '../util/duration.js';
import { isCredentialName } from '../client/credential-names.js';

export const SECRET = '<secret>';

/** Config keys whose value is itself a secret (the *_file variants name a path and stay). */
const SECRET_KEY = /^(password|bearer_token|token|secret|client_secret|credentials|api_key|access_key|secret_key)$/i;
/** Maps of HTTP headers and of URL query parameters: values of these names carry credentials. */
const HEADER_MAP_KEY = /^(headers|http_headers)$/;
const QUERY_PARAM_MAP_KEY = /^(query_params|params)$/;

type AnySchema = z.core.$ZodType;

/** The parts of a zod schema definition this walk reads; which are set depends on `type`. */
interface SchemaDef {
  type: string;
  innerType?: AnySchema;
  out?: AnySchema;
  element?: AnySchema;
  shape?: Record<string, AnySchema>;
  valueType?: AnySchema;
}

function defOf(s: AnySchema): SchemaDef {
  return (s as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

/**
 * A refined duration or size (`duration.refine(...)`, e.g. dial_timeout's positive duration) is a
 * copy of its schema sharing the same transform: recognised by that, or it would print as a number.
 */
function sameAs(s: AnySchema, base: AnySchema): boolean {
  if (s === base) return true;
  const d = defOf(s);
  const b = defOf(base);
  return d.type === 'pipe' && b.type === 'pipe' && d.out !== undefined && d.out === b.out;
}

/** Follows wrappers (optional, default, nullable, ...) down to the schema that shapes the value. */
function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    if (sameAs(s, durationSchema) || sameAs(s, positiveDurationSchema)) return durationSchema;
    if (sameAs(s, byteSizeSchema)) return byteSizeSchema;
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.out && defOf(def.out).type !== 'transform') s = def.out;
    else return s;
  }
}

function redactUrl(v: string): string {
  try {
    const u = new URL(v);
    if (u.password === '') return v;
    u.password = 'SECRETPLACEHOLDER';
    return u.toString().replace('SECRETPLACEHOLDER', SECRET);
  } catch {
    return v;
  }
}

/** The value as written in YAML: durations formatted, secrets replaced, following the schema. */
function present(schema: AnySchema | undefined, value: unknown, key: string | undefined): unknown {
  if (value === undefined || value === null) return value;
  const s = schema === undefined ? undefined : unwrap(schema);
  if ((s === durationSchema || s === positiveDurationSchema) && typeof value === 'number') return formatDuration(value);
  if (key !== undefined && SECRET_KEY.test(key) && typeof value === 'string') return SECRET;
  if (typeof value === 'string') return key === 'url' ? redactUrl(value) : value;
  if (Array.isArray(value)) {
    const element: AnySchema | undefined = s === undefined ? undefined : defOf(s).element;
    return value.map((v) => present(element, v, undefined));
  }
  if (typeof value === 'object') {
    const def = s === undefined ? undefined : defOf(s);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (key !== undefined && (HEADER_MAP_KEY.test(key) || QUERY_PARAM_MAP_KEY.test(key)) && typeof v === 'string') {
        out[k] = isCredentialName(k) ? SECRET : v;
        continue;
      }
      const child = def?.type === 'object' ? def.shape?.[k] : def?.type === 'record' ? def.valueType : undefined;
      out[k] = present(child, v, k);
    }
    return out;
  }
  return value;
}

/** The config as YAML with defaults, units and secrets hidden. */
export function configToYaml(config: Config): string {
  return stringify(present(configSchema, config, undefined), { lineWidth: 0 });
}
