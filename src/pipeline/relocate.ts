// `mwlake table relocate`: makes a copied or moved warehouse's tables usable where they are now
// (iceberg/commit/relocate.ts), rewriting the position delete files with DuckDB, since they name
// data files by their absolute path.

import { dirname } from 'node:path';
import { JobError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { makeDirectory } from '../core/make-directory.js';
import { fieldIdsOption, sqlString, sqlStringList } from '../duckdb/iceberg-types.js';
import { openDuckDb } from '../duckdb/connection.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { relocateTable, type RelocateResult } from '../iceberg/commit/relocate.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import { describePositionDeleteFile, POSITION_DELETE_SCHEMA } from '../parquet/footer-data-file.js';

export interface RelocatedTable extends RelocateResult {
  /** namespace.name */
  readonly table: string;
}

/** Relocates each table (namespace and name; default every table of the warehouse) to where the warehouse is now. */
export async function relocateTables(warehouse: Warehouse, logger: Logger, tables?: readonly (readonly [string, string])[]): Promise<RelocatedTable[]> {
  const names = tables ?? (await warehouse.listTables()).map((t) => [t.namespace, t.name] as const);
  const db = await openDuckDb();
  try {
    const out: RelocatedTable[] = [];
    for (const [namespace, name] of names) {
      const id = `${namespace}.${name}`;
      const location = warehouse.tableLocation(namespace, name);
      const storage = warehouse.storage;
      const local = (l: string): string => {
        const path = storage.localPath(l);
        if (path === undefined) throw new JobError('CONFIG', `relocation rewrites delete files with DuckDB and needs local files; ${l} has no local path`);
        return path;
      };
      const rewriteDeleteFile = async (file: DataFile, to: string, mapPath: (l: string) => string): Promise<DataFile> => {
        // Every path the file holds must map: mapPath refuses one outside the table, naming it.
        // A list literal: read_parquet reads a plain string as a glob (`/srv/c*py` would read `/srv/copy` too).
        const source = sqlStringList([local(mapPath(file.filePath))]);
        const paths = await db.all<{ p: string }>(`SELECT DISTINCT file_path AS p FROM read_parquet(${source})`);
        const pairs = paths.map((r) => `(${sqlString(r.p)}, ${sqlString(mapPath(r.p))})`).join(', ');
        await makeDirectory(dirname(local(to)));
        await db.run(`COPY (SELECT m.to_path AS file_path, d.pos FROM read_parquet(${source}) d
          JOIN (VALUES ${pairs}) m(from_path, to_path) ON m.from_path = d.file_path ORDER BY file_path, pos)
          TO ${sqlString(local(to))} (FORMAT parquet, COMPRESSION zstd, FIELD_IDS ${fieldIdsOption(POSITION_DELETE_SCHEMA)})`);
        await storage.makeDurable([to], location);
        return describePositionDeleteFile({ storage, location: to, partition: file.partition });
      };
      const result = await relocateTable({ storage, tableLocation: location, rewriteDeleteFile, logger });
      if (result.relocated) logger.info({ table: id, from: result.from, to: result.to, version: result.version }, `relocate: ${id} now names ${result.to}`);
      out.push({ table: id, ...result });
    }
    return out;
  } finally {
    await db.close();
  }
}
