// The file-system commit point (iceberg-notes §8): `v<N+1>.metadata.json` is created only if
// absent, so of two racing writers exactly one wins; then `version-hint.text` gets the bare
// number. A reader that sees a stale hint still finds a complete table at the hinted version, so
// a failed hint write leaves the commit standing: reporting it as failed would make callers
// delete files the new version references.

import { JobError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Storage } from '../../core/storage.js';
import { serializeTableMetadata } from '../spec/serde/table-metadata.js';
import { snapshotReferenceViolation, type TableMetadata } from '../spec/table-metadata.js';
import { metadataFileLocation, versionHintLocation } from '../table-files.js';

/** Java's default for write.metadata.previous-versions-max. */
const PREVIOUS_VERSIONS_MAX = 100;

/** Adds the replaced metadata file to the metadata log, keeping the newest entries. */
export function withMetadataLog(next: TableMetadata, previousLocation: string | undefined, previous: TableMetadata | undefined): TableMetadata {
  if (previousLocation === undefined || previous === undefined) return next;
  const log = [...next.metadataLog, { timestampMs: previous.lastUpdatedMs, metadataFile: previousLocation }];
  return { ...next, metadataLog: log.slice(-PREVIOUS_VERSIONS_MAX) };
}

/** Writes version `version`; false if another writer created it first. */
export async function writeMetadataVersion(storage: Storage, metadata: TableMetadata, version: number, logger?: Logger): Promise<boolean> {
  const location = metadataFileLocation(metadata.location, version);
  // Committed, it would make the table unloadable for every reader: a bug, stopped before the commit point.
  const violation = snapshotReferenceViolation(metadata);
  if (violation !== undefined) throw new JobError('INTERNAL', `refusing to commit ${location}: its ${violation}`, { context: { table: metadata.location } });
  try {
    await storage.writeIfAbsent(location, serializeTableMetadata(metadata));
  } catch (error) {
    if (error instanceof JobError && error.code === 'ALREADY_EXISTS') return false;
    throw error;
  }
  try {
    // A writer that won the next version may have written its hint before this one: end at the newest.
    let newest = version;
    for (let hinted = 0; hinted !== newest; ) {
      await storage.writeAtomic(versionHintLocation(metadata.location), String(newest));
      hinted = newest;
      while ((await storage.stat(metadataFileLocation(metadata.location, newest + 1))) !== undefined) newest++;
    }
  } catch (error) {
    try {
      logger?.warn({ table: metadata.location, version, err: error }, 'committed, but version-hint.text could not be updated; readers that follow the hint see an older version until the next commit');
    } catch {
      // As the hint: a log line that cannot be written (stderr on the same full disk) must not undo the commit.
    }
  }
  return true;
}
