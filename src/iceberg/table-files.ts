// Where a file-system table keeps its files (iceberg-notes §1.6, §8): `metadata/v<N>.metadata.json`,
// `metadata/version-hint.text`, manifests and lists under `metadata/`, data under `data/`.

import { randomBytes, randomUUID } from 'node:crypto';
import { joinLocation } from '../core/storage.js';

export const METADATA_DIR = 'metadata';
export const DATA_DIR = 'data';
export const VERSION_HINT = 'version-hint.text';

/**
 * A folder made under a partition for one write's files (a COPY to a directory), never written
 * again: once deletes empty it, orphan removal may take it without racing a writer.
 */
export function writeFolderName(): string {
  return `w-${randomUUID()}`;
}

export const WRITE_FOLDER_NAME = /^w-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function metadataFileLocation(tableLocation: string, version: number): string {
  return joinLocation(tableLocation, METADATA_DIR, `v${version}.metadata.json`);
}

export function versionHintLocation(tableLocation: string): string {
  return joinLocation(tableLocation, METADATA_DIR, VERSION_HINT);
}

/** The version N of `v<N>.metadata.json`, or undefined for any other name. */
export function versionOfMetadataFile(location: string): number | undefined {
  const match = /\/v(\d+)\.metadata\.json$/.exec(location);
  return match === null ? undefined : Number(match[1]);
}

export function manifestLocation(tableLocation: string, commitUuid: string, index: number): string {
  return joinLocation(tableLocation, METADATA_DIR, `${commitUuid}-m${index}.avro`);
}

export function manifestListLocation(tableLocation: string, snapshotId: bigint, attempt: number, commitUuid: string): string {
  return joinLocation(tableLocation, METADATA_DIR, `snap-${snapshotId}-${attempt}-${commitUuid}.avro`);
}

/** A new data file name in a partition directory. */
export function dataFileLocation(tableLocation: string, partitionPath: string, name = `${randomUUID()}.parquet`): string {
  return partitionPath === '' ? joinLocation(tableLocation, DATA_DIR, name) : joinLocation(tableLocation, DATA_DIR, partitionPath, name);
}

/** A positive 63-bit snapshot id, random like Java's (so two writers never pick the same one). */
export function newSnapshotId(): bigint {
  const id = randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
  return id === 0n ? 1n : id;
}
