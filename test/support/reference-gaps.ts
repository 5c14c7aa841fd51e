// The HA topology of the query layer's reference suite, shared by its e2e test and the speed bench
// that times the same topology (bench/query-ha.ts): the reference data split over 3 server groups by
// the sharding core's shard key, each group two replicas that miss different stretches of time (long
// and short, one at the very start and one at the very end), so that only the HA merge of a group
// has all its samples.
import { BACKFILL_START_MS, REFERENCE_END_MS, type BackfillDataSet } from '../../dev/backfill.js';
import { splitByShard, withoutStretches, type Stretch } from '../../dev/split.js';

const MIN = 60_000;
const S0 = BACKFILL_START_MS;
const S_END = REFERENCE_END_MS;

export const REFERENCE_GROUPS = 3;

/** Stretches each replica misses: [group][replica]. Within a group they never overlap. */
export const REFERENCE_GAPS: Stretch[][][] = [
  [
    [{ fromMs: S0, toMs: S0 + 20 * MIN }], // the very start, 20 minutes
    [
      { fromMs: S0 + 95 * MIN, toMs: S0 + 95 * MIN + 15_000 },
      { fromMs: S0 + 150 * MIN, toMs: S0 + 170 * MIN },
    ], // one scrape; 20 minutes
  ],
  [
    [
      { fromMs: S0 + 40 * MIN, toMs: S0 + 60 * MIN },
      { fromMs: S_END - 30_000, toMs: S_END + 1 },
    ], // 20 minutes; the last two scrapes
    [
      { fromMs: S0 + 63 * MIN, toMs: S0 + 63 * MIN + 30_000 },
      { fromMs: S0 + 200 * MIN, toMs: S0 + 220 * MIN },
    ], // two scrapes; 20 minutes
  ],
  [
    [
      { fromMs: S0 + 7 * MIN, toMs: S0 + 7 * MIN + 30_000 },
      { fromMs: S0 + 110 * MIN, toMs: S0 + 130 * MIN },
    ], // two scrapes; 20 minutes
    [
      { fromMs: S0 + 45 * MIN, toMs: S0 + 45 * MIN + 15_000 },
      { fromMs: S_END - 20 * MIN, toMs: S_END + 1 },
    ], // one scrape; the very end, 20 minutes
  ],
];

/** Each group's data, and each replica's ([group][replica]): the group's data without its gaps. */
export async function gappedReplicas(data: BackfillDataSet): Promise<{ groups: BackfillDataSet[]; replicas: BackfillDataSet[][] }> {
  const groups = await splitByShard(data, REFERENCE_GROUPS);
  return { groups, replicas: groups.map((g, gi) => REFERENCE_GAPS[gi].map((gaps) => withoutStretches(g, gaps))) };
}
