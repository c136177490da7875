// `mwlake table list|show|snapshots|files|relocate|rollback`: what operators look at when something is off.
// Human-readable columns by default, one JSON document with --json.

import { Command } from '../commander.js';
import { JobError } from '../../core/errors.js';
import { stringifyJsonBigInt } from '../../core/json-bigint.js';
import type { Warehouse } from '../../iceberg/catalog.js';
import { DataFileContent } from '../../iceberg/spec/manifest.js';
import { partitionSpecToJson, schemaToJson } from '../../iceberg/spec/serde/schema.js';
import type { Table } from '../../iceberg/table.js';
import { loadConfig } from '../../pipeline/config.js';
import { warehouseOf } from '../../pipeline/warehouse.js';
import type { CliContext, RegisterCommand } from '../context.js';
import { refuseEmptyFlags } from '../empty-flags.js';
import { requireWarehouseFolder } from '../warehouse-folder.js';

interface Flags {
  config?: string;
  warehouse?: string;
  json?: boolean;
}

function withCommon(cmd: Command): Command {
  return cmd.option('--config <file>', 'job file (YAML)').option('--warehouse <dir>', 'Iceberg warehouse directory (default: $MWLAKE_WAREHOUSE, else warehouse of the job file, else ./warehouse)').option('--json', 'print JSON');
}

/** `table files`' names of file contents; equality deletes (another engine's) block compaction. */
const CONTENT_NAMES: Record<DataFileContent, string> = { [DataFileContent.Data]: 'data', [DataFileContent.PositionDeletes]: 'position-deletes', [DataFileContent.EqualityDeletes]: 'equality-deletes' };

async function openWarehouse(flags: Flags, context: CliContext): Promise<Warehouse> {
  refuseEmptyFlags([['--config', flags.config], ['--warehouse', flags.warehouse]]);
  // The table commands need no job name: default one so they work without a job file.
  const env = { MWLAKE_JOB_NAME: 'mwlake', ...context.env };
  const config = await loadConfig(flags.config, env, flags.warehouse === undefined ? {} : { warehouse: flags.warehouse }, { jobNameRequired: false });
  await requireWarehouseFolder(config.warehouse);
  return warehouseOf(config, context.logger());
}

/** `namespace.name` split in two; a usage error otherwise. */
function tableId(id: string): [string, string] {
  const dot = id.indexOf('.');
  if (dot <= 0 || dot === id.length - 1) throw new JobError('USAGE', `table must be namespace.name (see mwlake table list), found ${JSON.stringify(id)}`);
  return [id.slice(0, dot), id.slice(dot + 1)];
}

async function openTable(flags: Flags, context: CliContext, id: string): Promise<Table> {
  return (await openWarehouse(flags, context)).loadTable(...tableId(id));
}

/** Left-aligned columns, two spaces apart. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}

function emit(context: CliContext, flags: Flags, json: unknown, human: string): void {
  context.stdout.write(flags.json === true ? stringifyJsonBigInt(json) + '\n' : human);
}

const iso = (ms: number) => new Date(ms).toISOString();

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function snapshotsOf(t: Table) {
  return t.metadata.snapshots.map((s) => ({
    snapshotId: s.snapshotId.toString(),
    parentSnapshotId: s.parentSnapshotId?.toString() ?? null,
    sequenceNumber: s.sequenceNumber.toString(),
    timestamp: iso(s.timestampMs),
    operation: s.summary.operation,
    current: s.snapshotId === t.metadata.currentSnapshotId,
    summary: s.summary.properties,
  }));
}

export const registerTable: RegisterCommand = (program, context) => {
  const table = program.command('table').description('inspect the warehouse tables and roll one back');

  withCommon(table.command('list').description('every table of the warehouse with its current snapshot')).action(async (flags: Flags) => {
    const warehouse = await openWarehouse(flags, context);
    const out = [];
    for (const { namespace, name } of await warehouse.listTables()) {
      const t = await warehouse.loadTable(namespace, name);
      const s = t.currentSnapshot();
      out.push({
        table: `${namespace}.${name}`,
        location: t.location,
        snapshots: t.metadata.snapshots.length,
        currentSnapshotId: s?.snapshotId.toString() ?? null,
        lastUpdated: iso(t.metadata.lastUpdatedMs),
        records: s?.summary.properties['total-records'] ?? '0',
        dataFiles: s?.summary.properties['total-data-files'] ?? '0',
        bytes: s?.summary.properties['total-files-size'] ?? '0',
      });
    }
    emit(context, flags, out, formatColumns([['TABLE', 'SNAPSHOTS', 'RECORDS', 'FILES', 'BYTES', 'UPDATED'], ...out.map((t) => [t.table, String(t.snapshots), t.records, t.dataFiles, t.bytes, t.lastUpdated])]));
  });

  withCommon(table.command('show').description('schema, partitioning, properties and current snapshot of a table').argument('<table>', 'namespace.name')).action(async (id: string, flags: Flags) => {
    const t = await openTable(flags, context, id);
    const m = t.metadata;
    const json = {
      table: id,
      location: t.location,
      metadataFile: t.metadataLocation,
      formatVersion: m.formatVersion,
      tableUuid: m.tableUuid,
      lastUpdated: iso(m.lastUpdatedMs),
      currentSnapshot: snapshotsOf(t).find((s) => s.current) ?? null,
      schema: schemaToJson(t.schema()),
      partitionSpec: partitionSpecToJson(t.spec()),
      properties: m.properties,
      refs: Object.fromEntries(Object.entries(m.refs).map(([k, r]) => [k, { type: r.type, snapshotId: r.snapshotId.toString() }])),
    };
    const fields = t.schema().fields.map((f) => [`  ${f.name}`, typeof f.type === 'string' ? f.type : f.type.type, f.required ? 'required' : 'optional', `id ${f.id}`]);
    const human =
      formatColumns([
        ['table', id],
        ['location', t.location],
        ['metadata', t.metadataLocation],
        ['format', `v${m.formatVersion}, uuid ${m.tableUuid}`],
        ['current snapshot', json.currentSnapshot === null ? '(none)' : `${json.currentSnapshot.snapshotId} (${json.currentSnapshot.operation}, ${json.currentSnapshot.timestamp})`],
        ['records', json.currentSnapshot?.summary['total-records'] ?? '0'],
        ['partition spec', `${t.spec().specId}: ${t.spec().fields.map((f) => f.name).join(', ') || '(unpartitioned)'}`],
        ['properties', Object.entries(m.properties).map(([k, v]) => `${k}=${v}`).join(', ')],
      ]) +
      'schema:\n' +
      formatColumns(fields);
    emit(context, flags, json, human);
  });

  withCommon(table.command('snapshots').description('the snapshots of a table, oldest first').argument('<table>', 'namespace.name')).action(async (id: string, flags: Flags) => {
    const t = await openTable(flags, context, id);
    const snaps = snapshotsOf(t);
    const p = (s: (typeof snaps)[number], k: string) => s.summary[k] ?? '';
    emit(
      context,
      flags,
      snaps,
      formatColumns([
        ['SNAPSHOT', 'PARENT', 'TIME', 'OPERATION', '+FILES', '-FILES', '+RECORDS', 'RECORDS', ''],
        ...snaps.map((s) => [s.snapshotId, s.parentSnapshotId ?? '-', s.timestamp, s.operation, p(s, 'added-data-files'), p(s, 'deleted-data-files'), p(s, 'added-records'), p(s, 'total-records'), s.current ? '(current)' : '']),
      ]),
    );
  });

  withCommon(table.command('files').description('the live data and delete files of a snapshot').argument('<table>', 'namespace.name'))
    .option('--snapshot <id>', 'snapshot id (default: current)')
    .action(async (id: string, flags: Flags & { snapshot?: string }) => {
      const t = await openTable(flags, context, id);
      if (flags.snapshot !== undefined && !/^\d+$/.test(flags.snapshot)) throw new JobError('USAGE', `--snapshot must be a snapshot id, found ${JSON.stringify(flags.snapshot)}`);
      // A mistyped id is the caller's (64), as for rollback --to and query --snapshot.
      if (flags.snapshot !== undefined && t.snapshot(BigInt(flags.snapshot)) === undefined) {
        throw new JobError('USAGE', `--snapshot ${flags.snapshot} is not a snapshot of ${id} (see mwlake table snapshots ${id})`);
      }
      const plan = await t.planFiles(flags.snapshot === undefined ? {} : { snapshotId: BigInt(flags.snapshot) });
      const files = [...plan.dataFiles, ...plan.deleteFiles].map((f) => ({
        path: f.file.filePath,
        content: CONTENT_NAMES[f.file.content],
        specId: f.specId,
        partition: f.file.partition,
        records: f.file.recordCount,
        bytes: f.file.fileSizeInBytes,
        sequenceNumber: f.dataSequenceNumber.toString(),
      }));
      emit(
        context,
        flags,
        files,
        formatColumns([
          ['CONTENT', 'RECORDS', 'BYTES', 'SEQ', 'PATH'],
          ...files.map((f) => [f.content, String(f.records), String(f.bytes), f.sequenceNumber, f.path]),
        ]),
      );
    });

  withCommon(
    table
      .command('relocate')
      .description('make the tables of a copied or moved warehouse name their files where they are now (Iceberg keeps absolute paths); run it on the copy')
      .argument('[tables...]', 'namespace.name (default: every table of the warehouse)'),
  ).action(async (ids: string[], flags: Flags) => {
    const tables = ids.map(tableId);
    const warehouse = await openWarehouse(flags, context);
    const { relocateTables } = await import('../../pipeline/relocate.js');
    const results = await relocateTables(warehouse, context.logger(), tables.length === 0 ? undefined : tables);
    emit(
      context,
      flags,
      { tables: results },
      results.length === 0
        ? `no tables under ${warehouse.rootLocation}\n`
        : results
            .map((r) =>
              r.relocated
                ? `${r.table}: relocated from ${r.from} (metadata v${r.version}; rewrote ${count(r.manifestLists, 'manifest list')}, ${count(r.manifests, 'manifest')} and ${count(r.deleteFiles, 'position delete file')}; ${count(r.dataFiles, 'data file')} kept as they are)\n`
                : `${r.table}: already at ${r.to}\n`,
            )
            .join(''),
    );
  });

  withCommon(table.command('rollback').description('make an ancestor snapshot current again (metadata only; the newer snapshots stay until expiry, and --to one of them undoes the rollback)').argument('<table>', 'namespace.name'))
    .option('--to <snapshot>', 'an ancestor snapshot id (default: the parent of the current one), or a descendant of the current one to undo a rollback')
    .action(async (id: string, flags: Flags & { to?: string }) => {
      if (flags.to !== undefined && !/^\d+$/.test(flags.to)) throw new JobError('USAGE', `--to must be a snapshot id, found ${JSON.stringify(flags.to)}`);
      const t = await openTable(flags, context, id);
      const from = t.currentSnapshot()?.snapshotId;
      const { rollbackTo } = await import('../../iceberg/commit/rollback.js');
      const after = await rollbackTo(t, flags.to === undefined ? undefined : BigInt(flags.to));
      const to = after.currentSnapshot()?.snapshotId;
      emit(context, flags, { table: id, from: from?.toString() ?? null, to: to?.toString() ?? null }, `${id}: current snapshot ${from} -> ${to}\n`);
    });
};
