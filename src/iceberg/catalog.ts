// A file-system warehouse (Java's HadoopCatalog layout): `<warehouse>/<namespace>/<table>`, where
// a directory is a table if its `metadata/` holds a `v<N>.metadata.json`.

import { randomUUID } from 'node:crypto';
import { JobError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { joinLocation, type Storage } from '../core/storage.js';
import { UNPARTITIONED_LAST_PARTITION_ID, type PartitionSpec } from './spec/partition.js';
import { UNSORTED_ORDER, type SortOrder } from './spec/sort-order.js';
import type { TableMetadata } from './spec/table-metadata.js';
import { isList, isMap, isStruct, type IcebergType, type Schema } from './spec/types.js';
import { commitPath, loadTableAt, Table } from './table.js';

export interface CreateTableOptions {
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  readonly sortOrder?: SortOrder;
  readonly properties?: Readonly<Record<string, string>>;
}

function maxFieldId(type: IcebergType): number {
  if (isStruct(type)) return Math.max(0, ...type.fields.map((f) => Math.max(f.id, maxFieldId(f.type))));
  if (isList(type)) return Math.max(type.elementId, maxFieldId(type.element));
  if (isMap(type)) return Math.max(type.keyId, type.valueId, maxFieldId(type.key), maxFieldId(type.value));
  return 0;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export class Warehouse {
  constructor(
    readonly storage: Storage,
    readonly rootLocation: string,
    private readonly logger?: Logger,
  ) {}

  tableLocation(namespace: string, name: string): string {
    for (const [what, value] of [['namespace', namespace], ['table name', name]] as const) {
      if (!NAME.test(value)) throw new JobError('CONFIG', `invalid ${what} ${JSON.stringify(value)}: use letters, digits, _ . -`);
    }
    return joinLocation(this.rootLocation, namespace, name);
  }

  loadTable(namespace: string, name: string): Promise<Table> {
    return loadTableAt(this.storage, this.tableLocation(namespace, name), this.logger);
  }

  async tryLoadTable(namespace: string, name: string): Promise<Table | undefined> {
    try {
      return await this.loadTable(namespace, name);
    } catch (error) {
      if (error instanceof JobError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** Creates the table (v1.metadata.json, no snapshot); ALREADY_EXISTS if it is there. */
  async createTable(namespace: string, name: string, o: CreateTableOptions): Promise<Table> {
    const draft = this.draftTable(namespace, name, o);
    const { writeMetadataVersion } = await commitPath();
    if (!(await writeMetadataVersion(this.storage, draft.metadata, 1))) {
      throw new JobError('ALREADY_EXISTS', `table ${namespace}.${name} already exists at ${draft.location}`, { context: { table: draft.location } });
    }
    return draft;
  }

  /** The table createTable would create, with nothing written: what a dry run reads when the table does not exist yet. */
  draftTable(namespace: string, name: string, o: CreateTableOptions): Table {
    const location = this.tableLocation(namespace, name);
    const metadata: TableMetadata = {
      formatVersion: 2,
      tableUuid: randomUUID(),
      location,
      lastSequenceNumber: 0n,
      lastUpdatedMs: Date.now(),
      lastColumnId: maxFieldId({ type: 'struct', fields: o.schema.fields }),
      schemas: [o.schema],
      currentSchemaId: o.schema.schemaId,
      partitionSpecs: [o.spec],
      defaultSpecId: o.spec.specId,
      lastPartitionId: Math.max(UNPARTITIONED_LAST_PARTITION_ID, ...o.spec.fields.map((f) => f.fieldId)),
      properties: { 'write.format.default': 'parquet', ...(o.properties ?? {}) },
      snapshots: [],
      snapshotLog: [],
      metadataLog: [],
      sortOrders: [o.sortOrder ?? UNSORTED_ORDER],
      defaultSortOrderId: (o.sortOrder ?? UNSORTED_ORDER).orderId,
      refs: {},
    };
    return new Table(this.storage, metadata, 1, this.logger);
  }

  async loadOrCreateTable(namespace: string, name: string, o: CreateTableOptions): Promise<Table> {
    const existing = await this.tryLoadTable(namespace, name);
    if (existing !== undefined) return existing;
    try {
      return await this.createTable(namespace, name, o);
    } catch (error) {
      if (error instanceof JobError && error.code === 'ALREADY_EXISTS') return this.loadTable(namespace, name);
      throw error;
    }
  }

  /** Every table under the warehouse, as namespace and name. */
  async listTables(): Promise<{ namespace: string; name: string }[]> {
    const found = new Map<string, { namespace: string; name: string }>();
    const root = this.rootLocation.endsWith('/') ? this.rootLocation : this.rootLocation + '/';
    for await (const o of this.storage.list(this.rootLocation)) {
      const rel = o.location.slice(root.length).split('/');
      if (rel.length === 4 && rel[2] === 'metadata' && /^v\d+\.metadata\.json$/.test(rel[3]!)) {
        found.set(`${rel[0]}.${rel[1]}`, { namespace: rel[0]!, name: rel[1]! });
      }
    }
    return [...found.values()].sort((a, b) => `${a.namespace}.${a.name}`.localeCompare(`${b.namespace}.${b.name}`));
  }
}
