// Manifest lists (spec §Manifest Lists): one `manifest_file` record per manifest, with field ids
// 500–520 and the key-value metadata Java and PyIceberg write (iceberg-notes §2).

import { SpecViolationError } from '../../core/errors.js';
import { ManifestContent } from '../spec/manifest.js';
import type { FieldSummary, ManifestFile } from '../spec/manifest-list.js';
import { decodeContainer, encodeContainer } from './container.js';

const optional = (type: unknown) => ['null', type];

export const MANIFEST_LIST_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      type: optional({
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: optional('boolean'), default: null, 'field-id': 518 },
            { name: 'lower_bound', type: optional('bytes'), default: null, 'field-id': 510 },
            { name: 'upper_bound', type: optional('bytes'), default: null, 'field-id': 511 },
          ],
        },
      }),
      default: null,
      'field-id': 507,
    },
    { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 519 },
  ],
} as const;

const buf = (v: Uint8Array | undefined) => (v === undefined ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
const bytes = (v: unknown) => (v === null || v === undefined ? undefined : new Uint8Array(v as Buffer));

export interface ManifestListWrite {
  readonly snapshotId: bigint;
  readonly parentSnapshotId?: bigint;
  readonly sequenceNumber: bigint;
}

export async function encodeManifestList(files: readonly ManifestFile[], o: ManifestListWrite): Promise<Uint8Array> {
  const uncounted = files.find((m) => m.countsUnknown === true);
  // Zeros would make Java's readers skip it: the caller counts its entries first (withCounts).
  if (uncounted !== undefined) throw new SpecViolationError(`manifest ${uncounted.manifestPath} is listed without its file counts (a v1 list left them out); count its entries before listing it`);
  const records = files.map((m) => ({
    manifest_path: m.manifestPath,
    manifest_length: BigInt(m.manifestLength),
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: m.sequenceNumber,
    min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: BigInt(m.addedRowsCount),
    existing_rows_count: BigInt(m.existingRowsCount),
    deleted_rows_count: BigInt(m.deletedRowsCount),
    partitions:
      m.partitions?.map((p) => ({
        contains_null: p.containsNull,
        contains_nan: p.containsNan ?? null,
        lower_bound: buf(p.lowerBound),
        upper_bound: buf(p.upperBound),
      })) ?? null,
    key_metadata: buf(m.keyMetadata),
  }));
  return encodeContainer(MANIFEST_LIST_SCHEMA, records, {
    'snapshot-id': o.snapshotId.toString(),
    'parent-snapshot-id': o.parentSnapshotId === undefined ? 'null' : o.parentSnapshotId.toString(),
    'sequence-number': o.sequenceNumber.toString(),
    'format-version': '2',
  });
}

/** Reads a v1 or v2 manifest list (v1 lacks content and sequence numbers: they default to data and 0). */
export async function decodeManifestList(data: Uint8Array, what: string): Promise<ManifestFile[]> {
  // mwlake wrote the list of a snapshot without files as 0 bytes until December 2026 (avsc's way
  // with an empty container): read as empty, or expiry could never remove those snapshots.
  if (data.byteLength === 0) return [];
  const { records } = await decodeContainer(data, what);
  return (records as Record<string, unknown>[]).map((r): ManifestFile => {
    const count = (k: string) => (r[k] == null ? undefined : Number(r[k]));
    // v1 names the file counts after data files; either may be left out there.
    const counts = [
      count('added_files_count') ?? count('added_data_files_count'),
      count('existing_files_count') ?? count('existing_data_files_count'),
      count('deleted_files_count') ?? count('deleted_data_files_count'),
      count('added_rows_count'),
      count('existing_rows_count'),
      count('deleted_rows_count'),
    ] as const;
    return {
      manifestPath: r['manifest_path'] as string,
      manifestLength: Number(r['manifest_length']),
      partitionSpecId: r['partition_spec_id'] as number,
      content: (r['content'] as ManifestContent | undefined) ?? ManifestContent.Data,
      sequenceNumber: (r['sequence_number'] as bigint | undefined) ?? 0n,
      minSequenceNumber: (r['min_sequence_number'] as bigint | undefined) ?? 0n,
      addedSnapshotId: r['added_snapshot_id'] as bigint,
      addedFilesCount: counts[0] ?? 0,
      existingFilesCount: counts[1] ?? 0,
      deletedFilesCount: counts[2] ?? 0,
      addedRowsCount: counts[3] ?? 0,
      existingRowsCount: counts[4] ?? 0,
      deletedRowsCount: counts[5] ?? 0,
      ...(counts.includes(undefined) ? { countsUnknown: true } : {}),
      partitions: (r['partitions'] as Record<string, unknown>[] | null | undefined)?.map(
        (p): FieldSummary => ({
          containsNull: p['contains_null'] as boolean,
          containsNan: (p['contains_nan'] as boolean | null) ?? undefined,
          lowerBound: bytes(p['lower_bound']),
          upperBound: bytes(p['upper_bound']),
        }),
      ),
      keyMetadata: bytes(r['key_metadata']),
    };
  });
}
