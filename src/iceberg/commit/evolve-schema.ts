// Schema evolution (spec §Schema Evolution): adding optional top-level columns. The new schema
// takes the next schema id and each column the next id after last-column-id, so it never reuses
// the id of a column another engine added or dropped; files written before it read the column as
// null, since readers resolve columns by field id.

import { SpecViolationError } from '../../core/errors.js';
import type { TableMetadata } from '../spec/table-metadata.js';
import type { PrimitiveType, Schema } from '../spec/types.js';

export interface NewColumn {
  readonly name: string;
  readonly type: PrimitiveType;
  readonly doc?: string;
}

/** The metadata with `columns` added to the current schema as optional; the same metadata when it has them all. */
export function withAddedColumns(m: TableMetadata, columns: readonly NewColumn[]): TableMetadata {
  const current = m.schemas.find((s) => s.schemaId === m.currentSchemaId);
  if (current === undefined) throw new SpecViolationError(`table ${m.location} has no schema ${m.currentSchemaId}`);
  const missing = columns.filter((c) => {
    const field = current.fields.find((f) => f.name === c.name);
    if (field !== undefined && field.type !== c.type) {
      throw new SpecViolationError(`table ${m.location} has a column ${c.name} of type ${JSON.stringify(field.type)}, not ${c.type}`, { context: { table: m.location, column: c.name } });
    }
    return field === undefined;
  });
  if (missing.length === 0) return m;
  let lastColumnId = m.lastColumnId;
  const schema: Schema = {
    ...current,
    schemaId: Math.max(...m.schemas.map((s) => s.schemaId)) + 1,
    fields: [...current.fields, ...missing.map((c) => ({ id: ++lastColumnId, name: c.name, required: false, type: c.type, ...(c.doc === undefined ? {} : { doc: c.doc }) }))],
  };
  return { ...m, schemas: [...m.schemas, schema], currentSchemaId: schema.schemaId, lastColumnId };
}
