// The wikis a job with `dumps.wikis: all` dumps: those the state holds, read from the wiki_id
// partitions of state.pages (its manifests, no data file read). Dumps and due dates use the same
// list, so a folder of a wiki the job does not dump (a manual `mwlake dump --wiki`) is never due.

import { JobError } from '../core/errors.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { planSnapshot } from '../iceberg/scan/plan.js';
import { PAGES_TABLE, STATE_NAMESPACE } from '../merge/state-schema.js';

/** The wiki ids with rows in state.pages at its current snapshot (or `snapshotId`), sorted; none before the first merge. */
export async function stateWikis(warehouse: Warehouse, o: { snapshotId?: bigint } = {}): Promise<string[]> {
  const table = await warehouse.tryLoadTable(STATE_NAMESPACE, PAGES_TABLE);
  if (table === undefined) return [];
  const snapshot = o.snapshotId === undefined ? table.currentSnapshot() : table.snapshot(o.snapshotId);
  // Created by a first merge that stopped before its commit: no merge has run yet.
  if (snapshot === undefined && o.snapshotId === undefined) return [];
  if (snapshot === undefined) throw new JobError('NOT_FOUND', `${STATE_NAMESPACE}.${PAGES_TABLE} has no snapshot ${o.snapshotId} (expired since it was read?)`, { context: { snapshotId: String(o.snapshotId) } });
  const plan = await planSnapshot(warehouse.storage, snapshot);
  const wikis = new Set<string>();
  for (const planned of plan.dataFiles) {
    const at = table.spec(planned.specId).fields.findIndex((f) => f.name === 'wiki_id' && f.transform.kind === 'identity');
    const wiki = at < 0 ? undefined : planned.file.partition[at];
    if (typeof wiki === 'string' && planned.file.recordCount > 0) wikis.add(wiki);
  }
  return [...wikis].sort();
}
