// Decodes DuckDB result chunks into plain row objects column by column, for the hot read paths
// (the dump's history pass). The package's generic converter wraps every value before converting
// it and copies a BLOB twice (native → ArrayBuffer → Buffer); this reads each vector directly and
// keeps the one native copy. Only the types those paths select are decoded; any other type is
// refused by column name at the first chunk, never decoded wrongly.

import { createRequire } from 'node:module';
import type { DuckDBBlobVector, DuckDBDataChunk, DuckDBListVector, DuckDBStructType, DuckDBStructVector, DuckDBVector } from '@duckdb/node-api';
import { JobError } from '../core/errors.js';

const { DuckDBTypeId } = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');

type Read = (row: number) => unknown;

/** BLOBs of up to 12 bytes are inlined in the chunk's own memory: copied, so a row outlives its chunk. */
const INLINE_BYTES = 12;

function readerOf(vector: DuckDBVector, column: string): Read {
  switch (vector.type.typeId) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.VARCHAR:
      // number, bigint (BIGINT), boolean or string, as the package's JS converter gives them.
      return (row) => vector.getItem(row);
    case DuckDBTypeId.BLOB: {
      const blob = vector as DuckDBBlobVector;
      return (row) => {
        const bytes = blob.getItemBytes(row);
        return bytes !== null && bytes.length <= INLINE_BYTES ? bytes.slice() : bytes;
      };
    }
    case DuckDBTypeId.LIST: {
      const list = vector as DuckDBListVector;
      const item = readerOf(list.childVector, `${column}[]`);
      return (row) => {
        // getItemVector is the public validity test (null for a NULL list); offsets index the flat child.
        if (list.getItemVector(row) === null) return null;
        const offset = list.getEntryOffset(row);
        const out = new Array<unknown>(list.getEntryLength(row));
        for (let i = 0; i < out.length; i++) out[i] = item(offset + i);
        return out;
      };
    }
    case DuckDBTypeId.STRUCT: {
      const struct = vector as DuckDBStructVector;
      const names = (struct.type as DuckDBStructType).entryNames;
      const fields = names.map((name, index) => readerOf(struct.entryVectorAt(index), `${column}.${name}`));
      return (row) => {
        if (!struct.isItemValid(row)) return null;
        const out: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) out[names[i]!] = fields[i]!(row);
        return out;
      };
    }
    default:
      throw new JobError('INTERNAL', `column ${column} is ${vector.type.toString()}, which the row decoder does not read; select it as another type or read it with stream()`);
  }
}

/** The rows of one chunk as objects keyed by `names` (the result's column names). */
export function decodeChunk(chunk: DuckDBDataChunk, names: readonly string[]): Record<string, unknown>[] {
  const readers = names.map((name, index) => readerOf(chunk.getColumnVector(index), name));
  const rows = new Array<Record<string, unknown>>(chunk.rowCount);
  for (let row = 0; row < rows.length; row++) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) out[names[i]!] = readers[i]!(row);
    rows[row] = out;
  }
  return rows;
}
