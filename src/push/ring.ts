// Which Pushgateway owns a grouping key: rendezvous (highest random weight) hashing over the
// healthy members. Every member scores every key (xxh64 of member address and key); the highest
// score owns it, the second is the next owner a push falls back to when the owner just died.
//
// Rendezvous rather than jump hashing because members are named addresses that come and go in any
// order (health, discovery): jump hashing maps keys to bucket numbers 0..n-1 and so moves keys when
// a member in the middle of the list leaves, while rendezvous moves only the keys of the member
// that left (to their second choice) and, when it returns, only those keys back. The cost is one
// hash per member per push, nothing for three to a few dozen Pushgateways.

import { hash64 } from '../shard/hash.js';

/** The members in order of preference for the key: owner first. */
export function rankMembers(key: string, members: readonly string[]): string[] {
  const scored = members.map((m) => {
    const [hi, lo] = hash64(`${m}\xff${key}`);
    return { m, hi, lo };
  });
  // Ties (equal 64-bit hashes) fall back to the address so every proxy agrees.
  scored.sort((a, b) => b.hi - a.hi || b.lo - a.lo || (a.m < b.m ? -1 : a.m > b.m ? 1 : 0));
  return scored.map((s) => s.m);
}

/** The owner of the key among the members; undefined when there are none. */
export function ownerOf(key: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestHi = -1;
  let bestLo = -1;
  for (const m of members) {
    const [hi, lo] = hash64(`${m}\xff${key}`);
    if (hi > bestHi || (hi === bestHi && (lo > bestLo || (lo === bestLo && best !== undefined && m < best)))) {
      best = m;
      bestHi = hi;
      bestLo = lo;
    }
  }
  return best;
}
