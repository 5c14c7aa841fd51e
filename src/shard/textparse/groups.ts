// Family consistency checks shared by both formats: which sample names a family may use (histogram and summary
// children, counter _total, ...), that a family's metadata comes before its samples and that a family forms one
// contiguous block, that no two families claim the same name, and that a sample repeats no label name.
//
// Both grammars feed the same family state in the core, so these rules are written once; the formats differ only
// in the tables they pick (the core's `om` flag) and in what OpenMetrics checks per group, which it hooks into
// endFamily through the core (endGroups) because this module must not import openmetrics.ts.

import { detach, detachRange } from '../../util/strings.js';
import {
  BARE_KINDS,
  K_BARE,
  K_BUCKET,
  K_COUNT,
  K_CREATED,
  K_GCOUNT,
  K_GSUM,
  K_INFO,
  K_SUM,
  K_TOTAL,
  SUFFIXES,
  T_INFO,
  T_STATESET,
  T_UNKNOWN,
  TYPE_NAMES,
} from './core.js';
import { readable } from './escapes.js';
import { hashAt } from './name-table.js';
import type { ParserCore } from './core.js';

/** Sample kinds each type allows, by type code. */
const OM_KINDS: readonly (readonly number[])[] = [
  [K_TOTAL, K_CREATED],
  [K_BARE],
  [K_BUCKET, K_COUNT, K_SUM, K_CREATED],
  [K_BUCKET, K_GCOUNT, K_GSUM],
  [K_BARE, K_COUNT, K_SUM, K_CREATED],
  [K_INFO],
  [K_BARE],
  [K_BARE],
];
const TEXT_KINDS: readonly (readonly number[])[] = [[K_BARE], [K_BARE], [K_BUCKET, K_SUM, K_COUNT], [], [K_BARE, K_SUM, K_COUNT], [], [], [K_BARE]];
/** The sample name's kind in the current family; a name the family cannot have starts a family of its own. */
export function sampleKind(p: ParserCore, name: string): number {
  if (name === p.lastName) return p.lastKind;
  let kind = kindOf(p, name);
  if (kind < 0) {
    startFamilyForSample(p, name);
    kind = K_BARE;
  }
  p.lastName = name;
  p.lastKind = kind;
  return kind;
}

/** Hands a validated sample to the handler (its line offsets are already set), after its family. */
export function emit(
  p: ParserCore,
  name: string,
  value: number,
  vs: number,
  ve: number,
  tsMs: number | undefined,
  tsText: string | undefined,
  exemplar: string | undefined,
): void {
  if (!p.famReported) reportFamily(p);
  p.famHasSamples = true;
  const smp = p.sample;
  smp.name = name;
  smp.value = value;
  smp.valueText = p.text.slice(vs, ve);
  smp.timestampMs = tsMs;
  smp.timestampText = tsText;
  smp.exemplar = exemplar;
  p.handler.sample(smp);
}

function kindOf(p: ParserCore, name: string): number {
  const names = p.famSampleNames;
  for (let k = 0; k < names.length; k++) if (names[k] === name) return p.famKinds[k];
  return -1;
}

function startFamily(p: ParserCore, name: string, what: string): void {
  const h = hashAt(name, 0, name.length);
  const entry = p.used.findHashed(name, 0, name.length, h);
  if (entry >= 0) clash(p, name, entry, what);
  endFamily(p);
  // Family names live in `used` until the end of the body: they must not pin the piece they came from.
  beginFamily(p, detach(name), h);
}

/** startFamily for the name at p.text[ns, ne) of a metadata line: no string is made but the kept copy. */
function startFamilyAt(p: ParserCore, ns: number, ne: number, keyword: string): void {
  const h = hashAt(p.text, ns, ne);
  const entry = p.used.findHashed(p.text, ns, ne, h);
  if (entry >= 0) clash(p, p.text.slice(ns, ne), entry, `# ${keyword} for`);
  endFamily(p);
  beginFamily(p, detachRange(p.text, ns, ne), h);
}

function clash(p: ParserCore, name: string, entry: number, what: string): never {
  const u = { family: p.used.family(entry), line: p.used.line(entry) };
  if (p.famActive && u.family === p.famName) {
    if (name === p.famName) {
      p.fail(`sample name ${name} is not valid for ${TYPE_NAMES[p.famType]} family ${p.famName}; expected ${p.famSampleNames.join(' or ')}`);
    }
    p.fail(`${what} ${name} clashes with the sample names of the current family ${u.family} (${TYPE_NAMES[p.famType]})`);
  }
  if (u.family === name) {
    p.fail(`${what} ${name}: family ${name} already appeared at line ${u.line}; a family's metadata and samples must form one contiguous block`);
  }
  p.fail(`${what} ${name} clashes with family ${u.family} (line ${u.line}), which uses that name`);
}

/** Starts family `name` (detached, not in `used`; `h` its hashAt). */
function beginFamily(p: ParserCore, name: string, h: number): void {
  p.famActive = true;
  p.famName = name;
  p.famType = T_UNKNOWN;
  p.famHelp = undefined;
  p.famUnit = undefined;
  p.famHasHelp = false;
  p.famHasType = false;
  p.famHasUnit = false;
  p.famHasSamples = false;
  p.famReported = false;
  p.famKinds = BARE_KINDS;
  const names = p.famSampleNames;
  // Setting an array's length is a runtime call: done only when it changes.
  if (names.length !== 1) names.length = 1;
  names[0] = name;
  p.lastName = '';
  // The previous sample's name cannot start this family's samples: metricName tries the family's name first.
  p.predName = '';
  p.famEntry = p.used.addHashed(name, -1, p.line, h);
}

function startFamilyForSample(p: ParserCore, name: string): void {
  startFamily(p, name, 'sample');
}

/**
 * Makes the name at p.text[ns, ne) of a # HELP, TYPE or UNIT line the current family (it may be
 * already) and returns it, as the family's detached string.
 */
function metadataFamily(p: ParserCore, ns: number, ne: number, keyword: string): string {
  const cur = p.famName;
  if (p.famActive && ne - ns === cur.length && p.text.startsWith(cur, ns)) {
    if (p.famHasSamples && (p.om || keyword === 'TYPE')) p.fail(`# ${keyword} for ${cur} comes after its samples; metadata must come first`);
    return cur;
  }
  startFamilyAt(p, ns, ne, keyword);
  return p.famName;
}

/** The # HELP line of the name at p.text[ns, ne). */
export function setHelp(p: ParserCore, ns: number, ne: number, help: string): void {
  const name = metadataFamily(p, ns, ne, 'HELP');
  if (p.famHasHelp) p.fail(`second # HELP for ${name}`);
  p.famHasHelp = true;
  // Text format: HELP after the family's samples is allowed but arrives too late to report; it is dropped.
  if (!p.famHasSamples) p.famHelp = help;
}

/** The # TYPE line of the name at p.text[ns, ne). */
export function setType(p: ParserCore, ns: number, ne: number, t: number): void {
  const name = metadataFamily(p, ns, ne, 'TYPE');
  if (p.famHasType) p.fail(`second # TYPE for ${name}`);
  if ((t === T_INFO || t === T_STATESET) && p.famUnit !== undefined) p.fail(`${TYPE_NAMES[t]} ${name} must not have a unit`);
  p.famHasType = true;
  p.famType = t;
  const kinds = (p.om ? OM_KINDS : TEXT_KINDS)[t];
  const names = p.famSampleNames;
  p.famKinds = kinds;
  p.lastName = '';
  if (kinds.length === 1 && SUFFIXES[kinds[0]] === '') {
    // One sample name, the family's own (gauge, untyped, ...): already reserved by startFamily. The
    // family's detached name is used, which the sample lines' names are matched against by reference.
    if (names.length !== 1) names.length = 1;
    names[0] = p.famName;
    return;
  }
  names.length = 0;
  for (const k of kinds) {
    const n = name + SUFFIXES[k];
    names.push(n);
    if (n === name) continue;
    const u = p.used.find(n);
    if (u >= 0) {
      p.fail(`${TYPE_NAMES[t]} ${name} would use the sample name ${n}, which already belongs to family ${p.used.family(u)} (line ${p.used.line(u)})`);
    }
    p.used.add(n, p.famEntry, p.line);
  }
}

/** The # UNIT line of the name at p.text[ns, ne). */
export function setUnit(p: ParserCore, ns: number, ne: number, unit: string): void {
  const name = metadataFamily(p, ns, ne, 'UNIT');
  if (p.famHasUnit) p.fail(`second # UNIT for ${name}`);
  p.famHasUnit = true;
  if (unit === '') return;
  if (!(name.length > unit.length + 1 && name.endsWith(unit) && name.charCodeAt(name.length - unit.length - 1) === 95)) {
    p.fail(`unit ${JSON.stringify(readable(unit))} is not a suffix of the metric name ${name}: the name must end with "_${readable(unit)}"`);
  }
  if (p.famType === T_INFO || p.famType === T_STATESET) p.fail(`${TYPE_NAMES[p.famType]} ${name} must not have a unit`);
  p.famUnit = unit;
}

function reportFamily(p: ParserCore): void {
  p.famReported = true;
  const meta = p.meta;
  meta.name = p.famName;
  meta.type = TYPE_NAMES[p.famType];
  meta.help = p.famHelp;
  meta.unit = p.famUnit;
  p.handler.family(meta);
}

export function endFamily(p: ParserCore): void {
  if (!p.famActive) return;
  p.endGroups(p);
  if (!p.famReported) reportFamily(p);
  p.famActive = false;
}

/** Rejects repeated label names (names in increasing order, the common case, cannot repeat). */
export function checkLabelNames(p: ParserCore, labels: string[], what: string): void {
  const n = labels.length;
  for (let k = 2; k < n; k += 2) {
    if (!(labels[k - 2] < labels[k])) {
      for (let a = 0; a < n; a += 2) {
        for (let b = a + 2; b < n; b += 2) if (labels[a] === labels[b]) p.fail(`duplicate label name "${labels[a]}" in ${what}`);
      }
      return;
    }
  }
}
