// Reads and validates a config file, collecting every problem as `path: what is wrong` so that a
// user fixes all mistakes in one go.

import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { ConfigError } from '../errors.js';
import { plainIssues, yamlProblem } from './messages.js';

/** Every issue as `path: what is wrong` (see messages.ts); `root` adds "did you mean" to unknown fields. */
export function formatIssues(issues: z.core.$ZodIssue[], root?: unknown): string[] {
  return plainIssues(issues, root);
}

// What readFileSync's error codes mean, in words.
const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
};

export function parseConfigText(text: string, file = '<config>'): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // The first error only: the ones after it mostly follow from it.
    throw new ConfigError(file, [yamlProblem(doc.errors[0], text)]);
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, ['(top level): must be a mapping']);
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues, configSchema));
  return result.data;
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code !== undefined && READ_ERRORS[code] ? `${READ_ERRORS[code]} (${code})` : (code ?? (err as Error).message);
    throw new ConfigError(file, [`cannot read the config file: ${why}`]);
  }
  return parseConfigText(text, file);
}
