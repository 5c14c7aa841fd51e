// Rendezvous (highest-random-weight) hashing of targets over fleet groups: each target goes to the
// group with the highest hash of (group, target). Pure and deterministic, so every promfront that
// sees the same groups and targets (one etcd revision) computes the same assignment, and a change
// of N groups moves only the targets whose winner joined or left: about 1/N of them. promster's
// ring library placed about three points per node and split unevenly; HRW needs no virtual nodes.

/** FNV-1a over the UTF-16 code units, 32 bits: cheap, and only a seed for the finaliser below. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: full avalanche, so nearby inputs give unrelated weights. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weight of `target` (its seed) in `group` (its seed); two rounds so group and target mix fully. */
function weight(groupSeed: number, targetSeed: number): number {
  return fmix32(fmix32(targetSeed ^ groupSeed) + groupSeed);
}

/**
 * The default load bound: with it no group of 4 holds more than 16 of 60 targets (so none fewer
 * than 12), and when one of 50 groups leaves about 4% more than the ideal 1/N of targets move
 * (the overflow of full groups cascades a little); 1.05 would be evener but move about 10% more.
 */
export const DEFAULT_MAX_LOAD = 1.1;

/** Groups in a fixed order and with their seeds, reusable over many targets. */
export interface GroupSeeds {
  names: readonly string[];
  seeds: Uint32Array;
}

export function groupSeeds(groups: Iterable<string>): GroupSeeds {
  const names = [...new Set(groups)].sort();
  const seeds = new Uint32Array(names.length);
  names.forEach((g, i) => (seeds[i] = fmix32(fnv1a(g))));
  return { names, seeds };
}

/** The group `targetKey` belongs to; undefined when there is no group. Ties go to the smaller name. */
export function ownerOf(targetKey: string, groups: GroupSeeds): string | undefined {
  const t = fnv1a(targetKey);
  let best = -1;
  let bestW = -1;
  for (let i = 0; i < groups.names.length; i++) {
    const w = weight(groups.seeds[i], t);
    if (w > bestW) {
      bestW = w;
      best = i;
    }
  }
  return best < 0 ? undefined : groups.names[best];
}

/**
 * Every target's owner: target key to group name (no entry when there are no groups). With a
 * `maxLoad` factor, rendezvous hashing with bounded loads: a group takes at most
 * max(ceil(targets / groups), floor(maxLoad x targets / groups)) targets, and a target whose first choice is full goes to its
 * next choice. Pure HRW spreads 60 targets over 4 groups with a standard deviation of about 22%
 * of even; the bound caps the fullest group and, by pushing the overflow to the others, lifts the
 * emptiest. Targets are placed in the order of their own hash, so the result does not depend on
 * the order they were given in.
 */
export function assign(targetKeys: Iterable<string>, groups: Iterable<string>, maxLoad = Infinity): Map<string, string> {
  const seeds = groupSeeds(groups);
  const out = new Map<string, string>();
  const n = seeds.names.length;
  if (n === 0) return out;
  const keys = [...new Set(targetKeys)];
  const hashes = keys.map(fnv1a);
  if (!Number.isFinite(maxLoad)) {
    for (let i = 0; i < keys.length; i++) out.set(keys[i], seeds.names[best(hashes[i], seeds, undefined, 0)]);
    return out;
  }
  // Rounded down (but never below an even share) so the bound holds for small fleets: 60 over 4 at 1.1 is 16, not 17.
  const cap = Math.max(Math.ceil(keys.length / n), Math.floor((maxLoad * keys.length) / n));
  const load = new Uint32Array(n);
  const rank = hashes.map(fmix32);
  const order = keys.map((_, i) => i).sort((a, b) => rank[a] - rank[b] || (keys[a] < keys[b] ? -1 : 1));
  for (const i of order) {
    const g = best(hashes[i], seeds, load, cap);
    load[g]++;
    out.set(keys[i], seeds.names[g]);
  }
  return out;
}

/** The index of the highest-weight group for a target seed, among groups whose load is under cap. */
function best(t: number, groups: GroupSeeds, load: Uint32Array | undefined, cap: number): number {
  let bi = -1;
  let bw = -1;
  for (let i = 0; i < groups.names.length; i++) {
    if (load !== undefined && load[i] >= cap) continue;
    const w = weight(groups.seeds[i], t);
    if (w > bw) {
      bw = w;
      bi = i;
    }
  }
  return bi;
}

/** How many targets present in both assignments changed group. */
export function countMoves(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): number {
  let n = 0;
  for (const [t, g] of after) {
    const old = before.get(t);
    if (old !== undefined && old !== g) n++;
  }
  return n;
}
