// Rule files in Prometheus's format (prometheus/model/rulefmt), read and checked the way
// `promtool check rules` 2.42 checks them, with its error texts and yaml positions, so that
// check-config and reload refuse what Prometheus would refuse and say it the same way.

import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { isLegacyLabelName, isLegacyMetricName } from '../model/label-name.js';
import { parseExpr } from '../promql/parser.js';
import type { Expr } from '../promql/ast.js';
import { Template } from './template.js';

export interface RuleDef {
  kind: 'record' | 'alert';
  /** The record's metric name or the alert's name. */
  name: string;
  exprText: string;
  expr: Expr;
  forMs: number;
  keepFiringForMs: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface GroupDef {
  file: string;
  name: string;
  /** undefined: the global evaluation_interval. */
  intervalMs: number | undefined;
  limit: number;
  queryOffsetMs: number;
  rules: RuleDef[];
}

const GROUP_FIELDS = new Set(['name', 'interval', 'limit', 'rules', 'query_offset']);
const RULE_FIELDS = new Set(['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

/** Expands the rule_files patterns (a "*" in the file name, as Prometheus's filepath.Glob use) relative to the config file. */
export function expandRuleFiles(patterns: readonly string[], configFile: string | undefined): string[] {
  const base = configFile ? dirname(resolve(configFile)) : process.cwd();
  const out: string[] = [];
  for (const p of patterns) {
    const abs = isAbsolute(p) ? p : join(base, p);
    const name = basename(abs);
    if (!/[*?[]/.test(name)) {
      out.push(abs);
      continue;
    }
    const re = new RegExp(
      `^${name
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    let entries: string[] = [];
    try {
      entries = readdirSync(dirname(abs));
    } catch {
      // A pattern matching nothing is not an error in Prometheus either.
    }
    out.push(
      ...entries
        .filter((e) => re.test(e))
        .sort()
        .map((e) => join(dirname(abs), e)),
    );
  }
  return [...new Set(out)];
}

/** Reads and checks one rule file; throws RuleFileError listing every problem, as promtool does. */
export function loadRuleFile(file: string, displayName = file): GroupDef[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RuleFileError(displayName, [
      `${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `open ${file}: no such file or directory` : (e as Error).message}`,
    ]);
  }
  return parseRuleFile(text, file, displayName);
}

export class RuleFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${file}: ${p}`).join('\n'));
  }
}

/** Parses rule file text; `file` is what groups remember (and hash for their schedule). */
export function parseRuleFile(text: string, file: string, displayName = file): GroupDef[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new RuleFileError(displayName, [`yaml: line ${e.linePos?.[0].line ?? 0}: ${e.message.split('\n')[0]}`]);
  }
  const pos = (n: YamlNode | null | undefined): string => {
    if (!n?.range) return '0:0';
    const p = lc.linePos(n.range[0]);
    return `${p.line}:${p.col}`;
  };
  const lineOf = (n: YamlNode | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 0);
  const root = doc.contents;
  if (root === null) return [];
  const unknown: string[] = [];
  const problems: string[] = [];
  const typeErr = (n: YamlNode | null | undefined, want: string) => unknown.push(`line ${lineOf(n)}: cannot unmarshal into ${want}`);
  if (!isMap(root)) {
    typeErr(root, 'rulefmt.RuleGroups');
    throw new RuleFileError(displayName, [`yaml: unmarshal errors:\n  ${unknown.join('\n  ')}`]);
  }
  const groups: GroupDef[] = [];
  const groupsNode = root.get('groups', true) as YamlNode | undefined;
  for (const item of root.items) {
    const k = isScalar(item.key) ? String(item.key.value) : '';
    if (k !== 'groups') unknown.push(`line ${lineOf(item.key)}: field ${k} not found in type rulefmt.RuleGroups`);
  }
  const seen = new Set<string>();
  const scalar = (n: unknown): string => (isScalar(n) && n.value !== null && typeof n.value !== 'object' ? `${n.value as string | number | boolean}` : '');
  if (groupsNode !== undefined && !isSeq(groupsNode) && !(isScalar(groupsNode) && groupsNode.value === null)) typeErr(groupsNode, '[]rulefmt.RuleGroup');
  for (const gNode of isSeq(groupsNode) ? groupsNode.items : []) {
    if (!isMap(gNode)) {
      typeErr(gNode as YamlNode, 'rulefmt.RuleGroup');
      continue;
    }
    for (const item of gNode.items) {
      const k = isScalar(item.key) ? String(item.key.value) : '';
      if (!GROUP_FIELDS.has(k)) unknown.push(`line ${lineOf(item.key as YamlNode)}: field ${k} not found in type rulefmt.RuleGroup`);
    }
    const name = scalar(gNode.get('name', true));
    const g: GroupDef = { file, name, intervalMs: undefined, limit: 0, queryOffsetMs: 0, rules: [] };
    const dur = (key: string): number | undefined => {
      const v = gNode.get(key, true);
      if (v === undefined || (isScalar(v) && v.value === null)) return undefined;
      try {
        return parseDuration(scalar(v));
      } catch (e) {
        problems.push((e as Error).message);
        return undefined;
      }
    };
    g.intervalMs = dur('interval');
    g.queryOffsetMs = dur('query_offset') ?? 0;
    const limitNode = gNode.get('limit', true);
    if (limitNode !== undefined) {
      const v = isScalar(limitNode) ? limitNode.value : undefined;
      if (typeof v !== 'number' || !Number.isInteger(v)) typeErr(limitNode, 'int');
      else g.limit = v;
    }
    if (name === '') problems.push(`${pos(gNode)}: Groupname must not be empty`);
    if (seen.has(name)) problems.push(`${pos(gNode)}: groupname: "${name}" is repeated in the same file`);
    seen.add(name);
    const rulesNode = gNode.get('rules', true) as YamlNode | undefined;
    let i = 0;
    for (const rNode of isSeq(rulesNode) ? rulesNode.items : []) {
      i++;
      if (!isMap(rNode)) {
        typeErr(rNode as YamlNode, 'rulefmt.RuleNode');
        continue;
      }
      for (const item of rNode.items) {
        const k = isScalar(item.key) ? String(item.key.value) : '';
        if (!RULE_FIELDS.has(k)) unknown.push(`line ${lineOf(item.key as YamlNode)}: field ${k} not found in type rulefmt.RuleNode`);
      }
      const recordN = rNode.get('record', true) as YamlNode | undefined;
      const alertN = rNode.get('alert', true) as YamlNode | undefined;
      const exprN = rNode.get('expr', true) as YamlNode | undefined;
      const record = scalar(recordN);
      const alert = scalar(alertN);
      const exprText = scalar(exprN);
      const ruleName = alert !== '' ? alert : record;
      const at = (n: YamlNode | undefined, msg: string) =>
        problems.push(`${n === undefined ? '' : `${pos(n)}: `}group "${name}", rule ${i}, "${ruleName}": ${msg}`);
      const map = (key: string): Record<string, string> => {
        const m = rNode.get(key, true);
        const out: Record<string, string> = {};
        if (isMap(m)) for (const it of m.items) out[scalar(it.key)] = scalar(it.value);
        else if (m !== undefined && !(isScalar(m) && m.value === null)) typeErr(m, 'map[string]string');
        return out;
      };
      const labels = map('labels');
      const annotations = map('annotations');
      const ruleDur = (key: string): number => {
        const v = rNode.get(key, true);
        if (v === undefined) return 0;
        try {
          return parseDuration(scalar(v));
        } catch (e) {
          problems.push((e as Error).message);
          return 0;
        }
      };
      const forMs = ruleDur('for');
      const keepFiringForMs = ruleDur('keep_firing_for');
      if (record !== '' && alert !== '')
        problems.push(`${pos(recordN)}: ${pos(alertN)}: group "${name}", rule ${i}, "${ruleName}": only one of 'record' and 'alert' must be set`);
      if (record === '' && alert === '') at(recordN ?? ({} as YamlNode), `one of 'record' or 'alert' must be set`);
      let expr: Expr | undefined;
      if (exprText === '') at(exprN ?? ({} as YamlNode), `field 'expr' must be set in rule`);
      else {
        try {
          expr = parseExpr(exprText);
        } catch (e) {
          at(exprN, `could not parse expression: ${(e as Error).message}`);
        }
      }
      if (record !== '') {
        if (Object.keys(annotations).length > 0) at(recordN, `invalid field 'annotations' in recording rule`);
        if (forMs !== 0) at(recordN, `invalid field 'for' in recording rule`);
        if (keepFiringForMs !== 0) at(recordN, `invalid field 'keep_firing_for' in recording rule`);
        if (!isLegacyMetricName(record)) at(recordN, `invalid recording rule name: ${record}`);
      }
      for (const k of Object.keys(labels)) if (!isLegacyLabelName(k) || k === '__name__') at(undefined, `invalid label name: ${k}`);
      for (const k of Object.keys(annotations)) if (!isLegacyLabelName(k)) at(undefined, `invalid annotation name: ${k}`);
      if (alert !== '') {
        for (const [what, m] of [
          ['label', labels],
          ['annotation', annotations],
        ] as const) {
          for (const [k, v] of Object.entries(m)) {
            try {
              Template.parse(`__alert_${alert}`, v);
            } catch (e) {
              at(undefined, `${what} "${k}": ${(e as Error).message}`);
            }
          }
        }
      }
      if (expr !== undefined && (record !== '') !== (alert !== '')) {
        g.rules.push({ kind: record !== '' ? 'record' : 'alert', name: ruleName, exprText, expr, forMs, keepFiringForMs, labels, annotations });
      }
    }
    groups.push(g);
  }
  if (unknown.length > 0) throw new RuleFileError(displayName, [`yaml: unmarshal errors:\n  ${unknown.join('\n  ')}`]);
  if (problems.length > 0) throw new RuleFileError(displayName, problems);
  return groups;
}

/** Every group of every file the patterns name, or the problems as "file: problem" lines. */
export function loadRuleFiles(patterns: readonly string[], configFile: string | undefined): { groups: GroupDef[]; problems: string[] } {
  const groups: GroupDef[] = [];
  const problems: string[] = [];
  for (const f of expandRuleFiles(patterns, configFile)) {
    try {
      groups.push(...loadRuleFile(f));
    } catch (e) {
      if (e instanceof RuleFileError) problems.push(...e.problems.map((p) => `${e.file}: ${p}`));
      else throw e;
    }
  }
  return { groups, problems };
}
