// Rollback (Java's ManageSnapshots.rollbackTo): make an ancestor of the current snapshot current
// again. Metadata only; later snapshots stay until expiry, so a rollback can itself be undone by
// rolling forward to one of them (a descendant of the current snapshot), until a commit branches off.


import { JobError } from '../../core/errors.js';
import { MAIN_BRANCH, withBranchAt } from '../spec/snapshot.js';
import type { Table } from '../table.js';

/** Rolls `main` back to `snapshotId`, or to the current snapshot's parent when it is undefined; or forward to a descendant (undoing a rollback). */
export async function rollbackTo(table: Table, snapshotId?: bigint): Promise<Table> {
  const current = table.currentSnapshot();
  if (current === undefined) throw new JobError('USAGE', `table ${table.location} has no snapshot to roll back from`);
  const target = snapshotId ?? current.parentSnapshotId;
  if (target === undefined) throw new JobError('USAGE', `snapshot ${current.snapshotId} of ${table.location} has no parent; give --to`);
  if (target === current.snapshotId) return table;
  if (!table.isAncestorOf(current.snapshotId, target) && !table.isAncestorOf(target, current.snapshotId)) {
    throw new JobError('USAGE', `snapshot ${target} is neither an ancestor of the current snapshot ${current.snapshotId} of ${table.location} nor a descendant of it (see mwlake table snapshots)`, {
      context: { table: table.location },
    });
  }
  return table.updateMetadata((m) => {
    if (m.currentSnapshotId !== current.snapshotId) {
      throw new JobError('COMMIT_CONFLICT', `table ${table.location} moved on during the rollback; look again and retry`, { context: { table: table.location } });
    }
    // A retry runs on newer metadata: snapshot expiry may have removed the target meanwhile.
    if (!m.snapshots.some((s) => s.snapshotId === target)) {
      throw new JobError('NOT_FOUND', `snapshot ${target} of ${table.location} was expired during the rollback; it cannot be made current again (see mwlake table snapshots)`, { context: { table: table.location } });
    }
    // One clock reading for the log entry and lastUpdatedMs (updateMetadata keeps one set here).
    const nowMs = Math.max(Date.now(), m.lastUpdatedMs);
    return {
      ...m,
      lastUpdatedMs: nowMs,
      currentSnapshotId: target,
      refs: withBranchAt(m.refs, MAIN_BRANCH, target),
      snapshotLog: [...m.snapshotLog, { timestampMs: nowMs, snapshotId: target }],
    };
  });
}
