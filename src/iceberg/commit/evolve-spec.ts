// Partition evolution (spec §Partition Evolution): a new spec becomes the default; old manifests
// keep their spec id, so old snapshots read as before. Equivalent fields keep their field ids.

import type { PartitionField, PartitionSpec } from '../spec/partition.js';
import { transformToString } from '../spec/serde/schema.js';
import type { TableMetadata } from '../spec/table-metadata.js';

export type NewPartitionField = Omit<PartitionField, 'fieldId'>;

const sameField = (a: NewPartitionField, b: NewPartitionField) => a.sourceId === b.sourceId && transformToString(a.transform) === transformToString(b.transform);

export function withPartitionSpec(m: TableMetadata, fields: readonly NewPartitionField[]): TableMetadata {
  const known = m.partitionSpecs.flatMap((s) => s.fields);
  let lastId = m.lastPartitionId;
  const assigned = fields.map((f): PartitionField => ({ ...f, fieldId: known.find((k) => sameField(k, f))?.fieldId ?? ++lastId }));
  const existing = m.partitionSpecs.find(
    (s) => s.fields.length === assigned.length && s.fields.every((f, i) => f.fieldId === assigned[i]!.fieldId && f.name === assigned[i]!.name),
  );
  if (existing !== undefined) return { ...m, defaultSpecId: existing.specId };
  const spec: PartitionSpec = { specId: Math.max(...m.partitionSpecs.map((s) => s.specId)) + 1, fields: assigned };
  return { ...m, partitionSpecs: [...m.partitionSpecs, spec], defaultSpecId: spec.specId, lastPartitionId: lastId };
}
