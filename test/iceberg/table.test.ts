// Table operations and the file-system commit protocol, read back through src/iceberg's own scan
// and DuckDB. What other engines read is in interop.test.ts.

import assert from 'node:assert/strict';
import { cp, link, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CommitConflictError, CommitStateUnknownError, JobError, storageError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/log.js';
import { LocalStorage } from '../../src/core/storage.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import { avroCompatibleName, decodeManifest, manifestEntrySchema } from '../../src/iceberg/avro/manifest.js';
import { decodeContainer, encodeContainer } from '../../src/iceberg/avro/container.js';
import { partitionSpecToJson, schemaToJson } from '../../src/iceberg/spec/serde/schema.js';
import { withAddedColumns } from '../../src/iceberg/commit/evolve-schema.js';
import { withPartitionSpec } from '../../src/iceberg/commit/evolve-spec.js';
import { rollbackTo } from '../../src/iceberg/commit/rollback.js';
import { retryPolicy, retryWaitMs } from '../../src/iceberg/commit/retry-policy.js';
import { decodeManifestList, encodeManifestList, MANIFEST_LIST_SCHEMA } from '../../src/iceberg/avro/manifest-list.js';
import { removeOrphanFiles } from '../../src/iceberg/maintenance/remove-orphans.js';
import { readManifestList } from '../../src/iceberg/scan/manifest-cache.js';
import { writeManifest } from '../../src/iceberg/commit/write-manifest.js';
import { prepareAddedManifests } from '../../src/iceberg/commit/table-change.js';
import { relocateTable } from '../../src/iceberg/commit/relocate.js';
import type { ManifestFile } from '../../src/iceberg/spec/manifest-list.js';
import { decodeValue } from '../../src/iceberg/spec/bounds.js';
import { DataFileContent, ManifestContent, ManifestEntryStatus, type ManifestEntry } from '../../src/iceberg/spec/manifest.js';
import type { PartitionSpec } from '../../src/iceberg/spec/partition.js';
import type { Schema } from '../../src/iceberg/spec/types.js';
import { currentVersion, type Table } from '../../src/iceberg/table.js';
import { openSampleWriter, SAMPLE_SCHEMA, SAMPLE_SPEC, type SampleWriter } from './sample-table.js';

let dir: string;
let w: SampleWriter;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-iceberg-'));
  w = await openSampleWriter(dir);
});
after(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

async function ids(table: Table, snapshotId?: bigint): Promise<number[]> {
  const sql = await tableRelationSql(table, snapshotId === undefined ? {} : { snapshotId });
  const rows = await w.db.all<{ id: bigint }>(`SELECT id FROM (${sql}) ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

let n = 0;
async function freshTable(): Promise<Table> {
  return w.warehouse.createTable('ns', `t${n++}`, { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC });
}

test('append, overwrite, position delete and file delete each make one snapshot', async () => {
  let t = await freshTable();
  const first = await w.write(t, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  t = (await t.commit({ addDataFiles: first, summary: { 'mwlake.test': 'yes' } })).table;
  assert.equal(t.currentSnapshot()?.summary.operation, 'append');
  assert.equal(t.currentSnapshot()?.summary.properties['mwlake.test'], 'yes');
  assert.equal(t.currentSnapshot()?.summary.properties['added-records'], '12');
  assert.deepEqual(await ids(t), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

  const victim = first.find((f) => f.recordCount >= 2)!;
  const victimRows = victim.recordCount;
  const del = await w.writeDeletes(t, victim, [0]);
  t = (await t.commit({ addDeleteFiles: [del] })).table;
  assert.equal(t.currentSnapshot()?.summary.operation, 'delete');
  assert.equal((await ids(t)).length, 11);

  t = (await t.commit({ removeDataFiles: [victim.filePath], addDataFiles: await w.write(t, [20]) })).table;
  assert.equal(t.currentSnapshot()?.summary.operation, 'overwrite');
  const plan = await t.planFiles();
  assert.equal(plan.deleteFiles.length, 0, 'a delete file whose data file was removed is no longer planned');
  assert.equal(t.currentSnapshot()?.summary.properties['total-records'], String(12 - victimRows + 1));
  assert.deepEqual((await ids(t)).length, 12 - victimRows + 1);

  // Old snapshots stay readable (time travel).
  const snaps = t.metadata.snapshots;
  assert.equal(snaps.length, 3);
  assert.deepEqual(await ids(t, snaps[0]!.snapshotId), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(t.snapshotAsOf(snaps[0]!.timestampMs)?.snapshotId !== undefined, true);
  assert.equal(t.version, 4);
});

test('version-hint.text holds bare digits and a stale hint is walked forward', async () => {
  let t = await freshTable();
  t = (await t.commit({ addDataFiles: await w.write(t, [1]) })).table;
  const hintPath = join(w.warehouse.storage.localPath(t.location)!, 'metadata', 'version-hint.text');
  assert.equal(await readFile(hintPath, 'utf8'), '2');
  await writeFile(hintPath, '1');
  const again = await t.refresh();
  assert.equal(again.version, 2);
  assert.equal(again.currentSnapshot()?.snapshotId, t.currentSnapshot()?.snapshotId);
});

test('a version hint naming a metadata file that is missing fails with DATA naming the newest present; one behind newer files is walked forward', async () => {
  let t = await freshTable();
  t = (await t.commit({ addDataFiles: await w.write(t, [1]) })).table;
  const metadataDir = join(w.warehouse.storage.localPath(t.location)!, 'metadata');
  // A copy that caught the new hint but not the new metadata file.
  await writeFile(join(metadataDir, 'version-hint.text'), '3');
  await assert.rejects(t.refresh(), (error: unknown) => {
    assert.ok(error instanceof JobError && error.code === 'DATA' && error.exitCode === 65, String(error));
    assert.equal(error.message.startsWith(`${t.location}/metadata/version-hint.text names version 3, but its metadata file ${t.location}/metadata/v3.metadata.json is missing (the newest present is ${t.location}/metadata/v2.metadata.json)`), true, error.message);
    return true;
  });
  // Relocation is told of the hint and reads the newest file present instead.
  let hinted: number | undefined;
  assert.equal(await currentVersion(w.warehouse.storage, t.location, { onHintAhead: (v) => (hinted = v) }), 2);
  assert.equal(hinted, 3);
  // A hint whose file expiry removed after later commits is stale, not lost metadata.
  t = (await (await t.commit({ addDataFiles: await w.write(t, [2]) })).table.commit({ addDataFiles: await w.write(t, [3]) })).table;
  await rm(join(metadataDir, 'v3.metadata.json'));
  await writeFile(join(metadataDir, 'version-hint.text'), '3');
  assert.equal((await t.refresh()).version, 4);
  // Listed (or hinted) and then gone when read: a concurrent change, as before.
  class Vanishing extends LocalStorage {
    override async stat(location: string) {
      if (location.endsWith('/v4.metadata.json')) return undefined;
      return super.stat(location);
    }
  }
  await assert.rejects(new Warehouse(new Vanishing(), w.warehouse.rootLocation).loadTable('ns', t.location.split('/').pop()!), CommitStateUnknownError);
  // Metadata cleanup took the hinted file and the one after it: go on from the newest listed.
  t = (await t.commit({ addDataFiles: await w.write(t, [4]) })).table;
  await rm(join(metadataDir, 'v4.metadata.json'));
  await writeFile(join(metadataDir, 'version-hint.text'), '3');
  assert.equal((await t.refresh()).version, 5);
});

/** Local storage on a disk that fills just as a commit's version hint is written. */
class HintFails extends LocalStorage {
  override async writeAtomic(location: string, bytes: Uint8Array | string): Promise<void> {
    if (location.endsWith('/version-hint.text')) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    return super.writeAtomic(location, bytes);
  }
}

test('a commit whose version-hint write fails stands: it is reported committed and its files stay', async () => {
  const t = await freshTable();
  const failing = await new Warehouse(new HintFails(), w.warehouse.rootLocation).loadTable('ns', t.location.split('/').pop()!);
  const result = await failing.commit({ addDataFiles: await w.write(t, [1, 2]) });
  assert.equal(result.table.version, 2);
  const hintPath = join(w.warehouse.storage.localPath(t.location)!, 'metadata', 'version-hint.text');
  assert.equal(await readFile(hintPath, 'utf8'), '1', 'the hint is stale');
  const reloaded = await t.refresh();
  assert.equal(reloaded.currentSnapshot()?.snapshotId, result.snapshot.snapshotId);
  assert.deepEqual(await ids(reloaded), [1, 2]);
});

test('a commit stands when the log lines about it cannot be written: none of its files is removed', async () => {
  const t = await freshTable();
  // What a pino logger does when its stream's write throws (stderr on the same full disk).
  const refuse = () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  const logger = { trace: refuse, debug: refuse, info: refuse, warn: refuse, error: refuse, fatal: refuse, child: () => logger } as unknown as Logger;
  const failing = await new Warehouse(new HintFails(), w.warehouse.rootLocation, logger).loadTable('ns', t.location.split('/').pop()!);
  const files = await w.write(t, [1, 2]);
  const result = await failing.commit({ addDataFiles: files });
  const reloaded = await t.refresh();
  assert.equal(reloaded.currentSnapshot()?.snapshotId, result.snapshot.snapshotId);
  assert.deepEqual(await ids(reloaded), [1, 2], 'its manifest list, manifests and data files are all there');
});

test('a commit that surely failed (disk full, a conflict) leaves none of its manifests behind; one of unknown outcome keeps them', async () => {
  let t = await freshTable();
  const [first] = await w.write(t, [1]);
  t = (await t.commit({ addDataFiles: [first!] })).table;
  const name = t.location.split('/').pop()!;
  const metadataFiles = async () => (await readdir(join(w.warehouse.storage.localPath(t.location)!, 'metadata'))).sort();
  let outcome: 'list full' | 'full' | 'list unsynced' | 'manifest unsynced' | 'unknown' = 'list full';
  const full = (location: string) => storageError('create', location, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  class MetadataWriteFails extends LocalStorage {
    override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
      if (outcome === 'list full' && /\/snap-[^/]*\.avro$/.test(location)) throw full(location);
      // What LocalStorage throws when the file was created but its folder could not be synced.
      const unsynced = (outcome === 'list unsynced' && /\/snap-[^/]*\.avro$/.test(location)) || (outcome === 'manifest unsynced' && /\/[^/]*-m\d+\.avro$/.test(location));
      if (unsynced) {
        await super.writeIfAbsent(location, bytes);
        throw new CommitStateUnknownError(`created ${location}, but syncing its folder failed`, { cause: Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }), context: { location, folderSync: 'failed' } });
      }
      if (!location.endsWith('.metadata.json')) return super.writeIfAbsent(location, bytes);
      if (outcome === 'full') throw full(location);
      await super.writeIfAbsent(location, bytes);
      throw new CommitStateUnknownError(`created ${location}, but syncing its folder failed`);
    }
  }
  const failing = await new Warehouse(new MetadataWriteFails(), w.warehouse.rootLocation).loadTable('ns', name);
  const before = await metadataFiles();
  // An overwrite: the commit writes a manifest of the added file, and each attempt rewrites the
  // manifest that loses `first` and writes a manifest list.
  const change = { removeDataFiles: [first!.filePath], addDataFiles: await w.write(t, [2]) };
  for (const o of ['list full', 'full'] as const) {
    outcome = o;
    await assert.rejects(failing.commit(change), (e: unknown) => e instanceof JobError && e.code === 'RESOURCES');
    assert.deepEqual(await metadataFiles(), before, `${o}: no manifest or manifest list of the failed commit is left`);
  }
  // A manifest or list no metadata names yet is no commit point: its folder's failed sync is a
  // storage failure (69, files removed), not a commit of unknown outcome (74, files kept).
  for (const o of ['list unsynced', 'manifest unsynced'] as const) {
    outcome = o;
    await assert.rejects(failing.commit(change), (e: unknown) => e instanceof JobError && !(e instanceof CommitStateUnknownError) && e.code === 'STORAGE' && e.exitCode === 69);
    assert.deepEqual(await metadataFiles(), before, `${o}: no manifest or manifest list of the failed commit is left`);
  }
  await assert.rejects(t.commit({ ...change, requireCurrentSnapshotId: t.currentSnapshot()!.snapshotId + 1n }), CommitConflictError);
  assert.deepEqual(await metadataFiles(), before, 'nor of a conflicting one');
  outcome = 'unknown';
  await assert.rejects(failing.commit(change), CommitStateUnknownError);
  const kept = (await metadataFiles()).filter((f) => !before.includes(f));
  assert.equal(kept.filter((f) => f.endsWith('.avro')).length, 3, `the new version names its manifests and list: ${kept.join(', ')}`);
  assert.deepEqual(await ids(await t.refresh()), [2]);
});

test('a hint written late, after another writer committed the next version, is moved on to the newest', async () => {
  const t = await freshTable();
  const rival = await w.warehouse.loadTable('ns', t.location.split('/').pop()!);
  const rivalFiles = await w.write(t, [2]);
  let raced = false;
  class SlowHint extends LocalStorage {
    override async writeAtomic(location: string, bytes: Uint8Array | string): Promise<void> {
      // Between this writer's v2 and its hint, the rival commits v3 and writes hint 3.
      if (location.endsWith('/version-hint.text') && !raced) {
        raced = true;
        await (await rival.refresh()).commit({ addDataFiles: rivalFiles });
      }
      return super.writeAtomic(location, bytes);
    }
  }
  const slow = await new Warehouse(new SlowHint(), w.warehouse.rootLocation).loadTable('ns', t.location.split('/').pop()!);
  await slow.commit({ addDataFiles: await w.write(t, [1]) });
  assert.ok(raced);
  const hintPath = join(w.warehouse.storage.localPath(t.location)!, 'metadata', 'version-hint.text');
  assert.equal(await readFile(hintPath, 'utf8'), '3');
});

test('a commit makes its data and delete files durable before it creates the metadata naming them', async () => {
  const t = await freshTable();
  const events: string[] = [];
  class Recording extends LocalStorage {
    override async makeDurable(locations: readonly string[], root: string): Promise<void> {
      events.push(...locations.map((l) => `durable ${l}`));
      assert.equal(root, t.location);
      return super.makeDurable(locations, root);
    }
    override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
      events.push(`create ${location.split('/').pop()}`);
      return super.writeIfAbsent(location, bytes);
    }
  }
  const recording = await new Warehouse(new Recording(), w.warehouse.rootLocation).loadTable('ns', t.location.split('/').pop()!);
  const data = await w.write(t, [1, 2, 3]);
  const { table } = await recording.commit({ addDataFiles: data });
  const del = await w.writeDeletes(table, data[0]!, [0]);
  await table.commit({ addDeleteFiles: [del] });
  assert.deepEqual(events.filter((e) => e.startsWith('durable') || e.endsWith('.metadata.json')), [...data.map((f) => `durable ${f.filePath}`), 'create v2.metadata.json', `durable ${del.filePath}`, 'create v3.metadata.json']);
  await assert.rejects(new LocalStorage().makeDurable([`${t.location}/data/missing.parquet`], t.location), /missing\.parquet/);
});

test('two writers: the loser re-reads and re-applies its append; a required snapshot conflicts', async () => {
  const base = await freshTable();
  const a = await w.write(base, [1, 2]);
  const b = await w.write(base, [3]);
  const first = await base.commit({ addDataFiles: a });
  // `base` is stale now: its commit must not overwrite version 2.
  const second = await base.commit({ addDataFiles: b });
  assert.equal(second.table.version, 3);
  assert.equal(second.snapshot.parentSnapshotId, first.snapshot.snapshotId);
  assert.deepEqual(await ids(second.table), [1, 2, 3]);
  await assert.rejects(
    base.commit({ addDataFiles: await w.write(base, [4]), requireCurrentSnapshotId: null }),
    (e: unknown) => e instanceof CommitConflictError && /moved on/.test(e.message),
  );
  assert.deepEqual(await ids(await base.refresh()), [1, 2, 3]);
});

test('commit retries follow the table properties commit.retry.*, with the defaults of Java and doubling waits', () => {
  const defaults = retryPolicy({ properties: {} });
  assert.deepEqual(defaults, { retries: 4, minWaitMs: 100, maxWaitMs: 60_000, totalTimeoutMs: 1_800_000 });
  assert.deepEqual([1, 2, 3, 4].map((r) => retryWaitMs(defaults, r, () => 0)), [100, 200, 400, 800]);
  assert.equal(retryWaitMs(defaults, 1, () => 0.999), 109);
  assert.equal(retryWaitMs(defaults, 20, () => 0), 60_000);
  const set = retryPolicy({ properties: { 'commit.retry.num-retries': '0', 'commit.retry.min-wait-ms': '5', 'commit.retry.max-wait-ms': '7', 'commit.retry.total-timeout-ms': 'x' } });
  assert.deepEqual(set, { retries: 0, minWaitMs: 5, maxWaitMs: 7, totalTimeoutMs: 1_800_000 });
});

test('a writer that keeps losing the race retries as often as commit.retry.num-retries says, waiting between attempts', async () => {
  // A rival commits just before each of our metadata writes, `wins` times.
  async function raced(properties: Record<string, string>, wins: number): Promise<{ attempts: number; outcome: unknown }> {
    const t = await w.warehouse.createTable('ns', `t${n++}`, { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC, properties });
    const name = t.location.split('/').pop()!;
    let rival = await w.warehouse.loadTable('ns', name);
    let attempts = 0;
    class Racing extends LocalStorage {
      override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
        if (location.endsWith('.metadata.json') && ++attempts <= wins) {
          rival = (await (await rival.refresh()).commit({ addDataFiles: await w.write(t, [100 + attempts]) })).table;
        }
        return super.writeIfAbsent(location, bytes);
      }
    }
    const loser = await new Warehouse(new Racing(), w.warehouse.rootLocation).loadTable('ns', name);
    const outcome = await loser.commit({ addDataFiles: await w.write(t, [1]) }).catch((e: unknown) => e);
    return { attempts, outcome };
  }
  const fast = { 'commit.retry.min-wait-ms': '1', 'commit.retry.max-wait-ms': '2' };
  const gaveUp = await raced({ ...fast, 'commit.retry.num-retries': '1' }, 5);
  assert.equal(gaveUp.attempts, 2);
  assert.ok(gaveUp.outcome instanceof JobError && gaveUp.outcome.code === 'COMMIT_CONFLICT' && /after 2 attempts/.test(gaveUp.outcome.message), String(gaveUp.outcome));
  const won = await raced({ ...fast, 'commit.retry.num-retries': '5' }, 5);
  assert.equal(won.attempts, 6);
  assert.deepEqual(await ids((won.outcome as { table: Table }).table), [1, 101, 102, 103, 104, 105]);
  // A total timeout already passed still allows one retry, as in Java; then it ends the retrying.
  const timedOut = await raced({ ...fast, 'commit.retry.num-retries': '5', 'commit.retry.total-timeout-ms': '0' }, 5);
  assert.equal(timedOut.attempts, 2);
  assert.ok(timedOut.outcome instanceof JobError && /after 2 attempts/.test(timedOut.outcome.message), String(timedOut.outcome));
  const once = await raced({ ...fast, 'commit.retry.total-timeout-ms': '0' }, 1);
  assert.equal(once.attempts, 2);
  assert.deepEqual(await ids((once.outcome as { table: Table }).table), [1, 101]);
});

test('removing a file that is no longer live conflicts instead of losing data', async () => {
  let t = await freshTable();
  const files = await w.write(t, [1]);
  t = (await t.commit({ addDataFiles: files })).table;
  t = (await t.commit({ removeDataFiles: [files[0]!.filePath] })).table;
  await assert.rejects(t.commit({ removeDataFiles: [files[0]!.filePath] }), /no longer live/);
});

test('deletes over several data files conflict when one of the files they name was rewritten meanwhile', async () => {
  let t = await freshTable();
  const [first, second] = await w.write(t, [1, 2]); // two partitions, two files
  t = (await t.commit({ addDataFiles: [first!, second!] })).table;
  const deleter = await t.refresh();
  const dels = [await w.writeDeletes(t, first!, [0]), await w.writeDeletes(t, second!, [0])].map(({ referencedDataFile: _, ...d }) => d);
  await t.commit({ operation: 'replace', removeDataFiles: [second!.filePath], addDataFiles: await w.write(t, [2]) });
  const change = { addDeleteFiles: dels, referencedDataFiles: [first!.filePath, second!.filePath] };
  await assert.rejects(deleter.commit(change), (e: unknown) => e instanceof CommitConflictError && /no longer live/.test(e.message));
  assert.deepEqual(await ids(await t.refresh()), [1, 2]);
});

test('a rewrite and a position delete of the same data file, committed at once: the loser conflicts instead of undoing the delete', async () => {
  // The rewrite commits first: the delete names a file that is gone, its row lives on in the rewrite.
  let t = await freshTable();
  const [file] = await w.write(t, [1, 7]); // one partition, one file
  t = (await t.commit({ addDataFiles: [file!] })).table;
  const deleter = await t.refresh();
  const del = await w.writeDeletes(t, file!, [0]);
  await t.commit({ operation: 'replace', removeDataFiles: [file!.filePath], addDataFiles: await w.write(t, [1, 7]) });
  await assert.rejects(deleter.commit({ addDeleteFiles: [del] }), (e: unknown) => e instanceof CommitConflictError && /no longer live/.test(e.message));
  assert.deepEqual(await ids(await t.refresh()), [1, 7]);

  // The delete commits first: the rewrite, made before it, still holds the deleted row.
  t = await freshTable();
  const [other] = await w.write(t, [4, 10]);
  t = (await t.commit({ addDataFiles: [other!] })).table;
  const rewriter = await t.refresh();
  const rewrite = await w.write(t, [4, 10]);
  t = (await t.commit({ addDeleteFiles: [await w.writeDeletes(t, other!, [0])] })).table;
  assert.deepEqual(await ids(t), [10]);
  await assert.rejects(
    rewriter.commit({ operation: 'replace', removeDataFiles: [other!.filePath], addDataFiles: rewrite }),
    (e: unknown) => e instanceof CommitConflictError && /would bring their rows back/.test(e.message),
  );
  assert.deepEqual(await ids(await t.refresh()), [10]);
  // Made after the delete, the same rewrite goes through (and drops the delete with its file).
  const after = await t.commit({ operation: 'replace', removeDataFiles: [other!.filePath], addDataFiles: await w.write(t, [10]) });
  assert.deepEqual(await ids(after.table), [10]);
  assert.equal((await after.table.planFiles()).deleteFiles.length, 0);
  // Deletes may name a data file the same commit adds.
  const [fresh] = await w.write(t, [16, 22]);
  const both = await after.table.commit({ addDataFiles: [fresh!], addDeleteFiles: [await w.writeDeletes(t, fresh!, [1])] });
  assert.deepEqual(await ids(both.table), [10, 16]);
});

test('manifests carry field ids, the key-value metadata readers need, and round-trip', async () => {
  let t = await freshTable();
  const files = await w.write(t, [1, 2, 3]);
  t = (await t.commit({ addDataFiles: files })).table;
  const storage = w.warehouse.storage;
  const listBytes = await storage.read(t.currentSnapshot()!.manifestList);
  const list = await decodeContainer(listBytes, 'list');
  assert.equal(list.metadata['format-version'], '2');
  assert.equal(list.metadata['avro.codec'], 'deflate');
  assert.equal(list.metadata['parent-snapshot-id'], 'null');
  assert.match(list.metadata['avro.schema']!, /"field-id":500/);
  assert.match(list.metadata['avro.schema']!, /"element-id":508/);
  const manifests = await decodeManifestList(listBytes, 'list');
  assert.equal(manifests[0]!.manifestLength, (await storage.stat(manifests[0]!.manifestPath))!.sizeBytes);
  assert.equal(manifests[0]!.sequenceNumber, 1n);
  const mBytes = await storage.read(manifests[0]!.manifestPath);
  const raw = await decodeContainer(mBytes, 'manifest');
  for (const key of ['schema', 'partition-spec', 'partition-spec-id', 'format-version', 'content']) assert.ok(raw.metadata[key] !== undefined, key);
  assert.equal(raw.metadata['content'], 'data');
  assert.match(raw.metadata['avro.schema']!, /"name":"k117_v118"/);
  assert.doesNotMatch(raw.metadata['avro.schema']!, /\["[a-z]+","null"\]/, 'null comes first in every union');
  const decoded = await decodeManifest(mBytes, 'manifest');
  assert.equal(decoded.entries.length, files.length);
  const e = decoded.entries.find((x) => x.dataFile.filePath === files[0]!.filePath)!;
  assert.equal(e.status, ManifestEntryStatus.Added);
  assert.deepEqual(e.dataFile.partition, files[0]!.partition);
  assert.deepEqual(e.dataFile.lowerBounds, files[0]!.lowerBounds);
  assert.equal(e.dataFile.fileSizeInBytes, (await storage.stat(files[0]!.filePath))!.sizeBytes);
});

test('manifest-list partition summaries say contains_nan and keep NaN out of the bounds', async () => {
  const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 'x', required: false, type: 'double' }] };
  const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'x', transform: { kind: 'identity' } }] };
  const entries = [NaN, 2.5, null, 1.5].map((x, i): ManifestEntry => ({
    status: ManifestEntryStatus.Added,
    snapshotId: 1n,
    dataFile: { content: DataFileContent.Data, filePath: `file:///t/data/${i}.parquet`, fileFormat: 'PARQUET', partition: [x], recordCount: 1, fileSizeInBytes: 10 },
  }));
  const location = `file://${join(dir, 'nan-summary')}`;
  await mkdir(join(dir, 'nan-summary', 'metadata'), { recursive: true });
  const m = await writeManifest(w.warehouse.storage, { tableLocation: location, commitUuid: 'u', index: 0, schema, spec, content: ManifestContent.Data, entries, snapshotId: 1n, sequenceNumber: 1n, minSequenceNumber: 1n });
  const [summary] = (await decodeManifestList(await encodeManifestList([m], { snapshotId: 1n, sequenceNumber: 1n }), 'list'))[0]!.partitions!;
  assert.equal(summary!.containsNull, true);
  assert.equal(summary!.containsNan, true, 'PyIceberg and Java skip the manifest for isNaN when this is false');
  assert.equal(decodeValue('double', summary!.lowerBound!), 1.5);
  assert.equal(decodeValue('double', summary!.upperBound!), 2.5);
});

test('a decimal identity partition: values in their Avro fixed form, summary bounds by value (negative ones first) in minimal bytes', async () => {
  const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 'price', required: false, type: 'decimal(9, 2)' }] };
  const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'price', transform: { kind: 'identity' } }] };
  // decimal(9, 2) is a 4-byte fixed: 1.50, -2.00, 3.25 and null.
  const values = [Uint8Array.of(0, 0, 0, 150), Uint8Array.of(0xff, 0xff, 0xff, 0x38), Uint8Array.of(0, 0, 1, 0x45), null];
  const entries = values.map((price, i): ManifestEntry => ({
    status: ManifestEntryStatus.Added,
    snapshotId: 1n,
    dataFile: { content: DataFileContent.Data, filePath: `file:///t/data/${i}.parquet`, fileFormat: 'PARQUET', partition: [price], recordCount: 1, fileSizeInBytes: 10 },
  }));
  const location = `file://${join(dir, 'decimal-partition')}`;
  await mkdir(join(dir, 'decimal-partition', 'metadata'), { recursive: true });
  const m = await writeManifest(w.warehouse.storage, { tableLocation: location, commitUuid: 'u', index: 0, schema, spec, content: ManifestContent.Data, entries, snapshotId: 1n, sequenceNumber: 1n, minSequenceNumber: 1n });
  const decoded = await decodeManifest(await w.warehouse.storage.read(m.manifestPath), 'manifest');
  assert.deepEqual(decoded.entries.map((e) => (e.dataFile.partition[0] === null ? null : [...(e.dataFile.partition[0] as Uint8Array)])), values.map((v) => (v === null ? null : [...v])));
  const [summary] = m.partitions!;
  assert.equal(summary!.containsNull, true);
  assert.deepEqual([...summary!.lowerBound!], [0xff, 0x38]);
  assert.deepEqual([...summary!.upperBound!], [0x01, 0x45]);
  assert.equal(decodeValue('decimal(9, 2)', summary!.lowerBound!), -200n);
  assert.equal(decodeValue('decimal(9, 2)', summary!.upperBound!), 325n);
});

test('identity partitions on time and timestamp columns write and read their microseconds (Avro long with a logical type)', async () => {
  for (const type of ['timestamptz', 'timestamp', 'time'] as const) {
    const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 'ts', required: false, type }] };
    const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'ts', transform: { kind: 'identity' } }] };
    const entries = [1704067200000001n, null, 1704067200000000n].map((ts, i): ManifestEntry => ({
      status: ManifestEntryStatus.Added,
      snapshotId: 1n,
      dataFile: { content: DataFileContent.Data, filePath: `file:///t/data/${i}.parquet`, fileFormat: 'PARQUET', partition: [ts], recordCount: 1, fileSizeInBytes: 10 },
    }));
    const location = `file://${join(dir, `ts-partition-${type}`)}`;
    await mkdir(join(dir, `ts-partition-${type}`, 'metadata'), { recursive: true });
    const m = await writeManifest(w.warehouse.storage, { tableLocation: location, commitUuid: 'u', index: 0, schema, spec, content: ManifestContent.Data, entries, snapshotId: 1n, sequenceNumber: 1n, minSequenceNumber: 1n });
    const decoded = await decodeManifest(await w.warehouse.storage.read(m.manifestPath), 'manifest');
    assert.deepEqual(decoded.entries.map((e) => e.dataFile.partition[0]), [1704067200000001n, null, 1704067200000000n], type);
    assert.match(JSON.stringify(manifestEntrySchema({ type: 'struct', fields: [{ id: 1000, name: 'ts', required: false, type }] })), /micros/);
    assert.equal(decodeValue(type, m.partitions![0]!.lowerBound!), 1704067200000000n);
    assert.equal(decodeValue(type, m.partitions![0]!.upperBound!), 1704067200000001n);
  }
});

test('a spec with two identity partitions of one uuid type and two of one decimal type writes and reads back', async () => {
  // Avro allows each fixed type name once per schema.
  const schema: Schema = {
    schemaId: 0,
    fields: [
      { id: 1, name: 'a', required: false, type: 'uuid' },
      { id: 2, name: 'b', required: false, type: 'uuid' },
      { id: 3, name: 'p', required: false, type: 'decimal(9, 2)' },
      { id: 4, name: 'q', required: false, type: 'decimal(9, 2)' },
    ],
  };
  const spec: PartitionSpec = {
    specId: 0,
    fields: schema.fields.map((f, i) => ({ sourceId: f.id, fieldId: 1000 + i, name: f.name, transform: { kind: 'identity' as const } })),
  };
  const tuples = [
    [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2), Uint8Array.of(0, 0, 0, 150), Uint8Array.of(0xff, 0xff, 0xff, 0x38)],
    [null, new Uint8Array(16).fill(3), null, Uint8Array.of(0, 0, 1, 0x45)],
  ];
  const entries = tuples.map((partition, i): ManifestEntry => ({
    status: ManifestEntryStatus.Added,
    snapshotId: 1n,
    dataFile: { content: DataFileContent.Data, filePath: `file:///t/data/${i}.parquet`, fileFormat: 'PARQUET', partition, recordCount: 1, fileSizeInBytes: 10 },
  }));
  const location = `file://${join(dir, 'same-type-partitions')}`;
  await mkdir(join(dir, 'same-type-partitions', 'metadata'), { recursive: true });
  const m = await writeManifest(w.warehouse.storage, { tableLocation: location, commitUuid: 'u', index: 0, schema, spec, content: ManifestContent.Data, entries, snapshotId: 1n, sequenceNumber: 1n, minSequenceNumber: 1n });
  const decoded = await decodeManifest(await w.warehouse.storage.read(m.manifestPath), 'manifest');
  const bytes = (tuple: readonly unknown[]) => tuple.map((v) => (v === null ? null : [...(v as Uint8Array)]));
  assert.deepEqual(decoded.entries.map((e) => bytes(e.dataFile.partition)), tuples.map(bytes));
  assert.equal(decodeValue('decimal(9, 2)', m.partitions![3]!.lowerBound!), -200n);
  assert.equal(decodeValue('decimal(9, 2)', m.partitions![3]!.upperBound!), 325n);
});

/** A table whose spec field names are no Avro names (`meta.dt_day`, as Spark and PyIceberg name a days() field). */
const DOTTED: { readonly schema: Schema; readonly spec: PartitionSpec } = {
  schema: {
    schemaId: 0,
    fields: [
      { id: 1, name: 'meta', required: false, type: { type: 'struct', fields: [{ id: 2, name: 'dt', required: false, type: 'timestamptz' }] } },
      { id: 3, name: 'wiki-id', required: false, type: 'string' },
    ],
  },
  spec: {
    specId: 0,
    fields: [
      { sourceId: 2, fieldId: 1000, name: 'meta.dt_day', transform: { kind: 'day' } },
      { sourceId: 3, fieldId: 1001, name: 'wiki-id', transform: { kind: 'identity' } },
    ],
  },
};

test('partition values are read by field id when the writer sanitized the Avro name (PyIceberg, Java: meta.dt_day)', async () => {
  // What PyIceberg (0.12, checked) writes for spec field names that are no Avro names: sanitized, id kept.
  const { schema, spec } = DOTTED;
  const avroSchema = manifestEntrySchema({
    type: 'struct',
    fields: [
      { id: 1000, name: 'meta_x2Edt_day', required: false, type: 'date' },
      { id: 1001, name: 'wiki_x2Did', required: false, type: 'string' },
    ],
  });
  const record = {
    status: 1,
    snapshot_id: 1n,
    sequence_number: null,
    file_sequence_number: null,
    data_file: {
      content: 0,
      file_path: 'file:///t/data/a.parquet',
      file_format: 'PARQUET',
      partition: { meta_x2Edt_day: 19723, wiki_x2Did: 'en' },
      record_count: 1n,
      file_size_in_bytes: 10n,
      column_sizes: null,
      value_counts: null,
      null_value_counts: null,
      nan_value_counts: null,
      lower_bounds: null,
      upper_bounds: null,
      key_metadata: null,
      split_offsets: null,
      equality_ids: null,
      sort_order_id: null,
      referenced_data_file: null,
    },
  };
  const bytes = await encodeContainer(avroSchema, [record], {
    schema: JSON.stringify(schemaToJson(schema)),
    'partition-spec': JSON.stringify((partitionSpecToJson(spec) as { fields: unknown }).fields),
    'partition-spec-id': '0',
    'format-version': '2',
    content: 'data',
  });
  const decoded = await decodeManifest(bytes, 'manifest');
  assert.deepEqual(decoded.entries[0]!.dataFile.partition, [19723, 'en'], 'not nulls: a scan filtering on meta.dt would skip the file');
});

test('a snapshot without files has a manifest list with an Avro header and its metadata (0 bytes would fail every other engine)', async () => {
  const t = (await (await freshTable()).commit({ operation: 'append', summary: { note: 'no files' } })).table;
  const bytes = await t.storage.read(t.currentSnapshot()!.manifestList);
  assert.equal(Buffer.from(bytes.subarray(0, 4)).toString('latin1'), 'Obj\x01');
  const { records, metadata } = await decodeContainer(bytes, 'list');
  assert.deepEqual(records, []);
  assert.equal(metadata['format-version'], '2');
  assert.match(metadata['avro.schema']!, /"field-id":500/);
});

test('an Avro container cut short, anywhere but after a whole block, or with bytes after its last block, is refused, not read as fewer records', async () => {
  const schema = { type: 'record', name: 'r', fields: [{ name: 'id', type: 'long', 'field-id': 1 }, { name: 's', type: 'string', 'field-id': 2 }] };
  const records = Array.from({ length: 6000 }, (_, i) => ({ id: BigInt(i), s: `row ${i} `.padEnd(40, 'x') }));
  const bytes = Buffer.from(await encodeContainer(schema, records, { note: 'cut' }));
  assert.equal((await decodeContainer(bytes, 'whole')).records.length, 6000);
  const marker = (() => {
    // The last 16 bytes are the sync marker, which ends the header and every block.
    const m = bytes.subarray(bytes.length - 16);
    const ends: number[] = [];
    for (let at = bytes.indexOf(m); at >= 0; at = bytes.indexOf(m, at + 1)) ends.push(at + 16);
    return ends;
  })();
  const [headerEnd, firstBlockEnd] = marker;
  assert.ok(marker.length >= 3 && headerEnd !== undefined && firstBlockEnd !== undefined, `several blocks (${marker.length - 1})`);
  const refused = async (b: Uint8Array, why: RegExp) =>
    assert.rejects(decodeContainer(b, 'manifest m.avro'), (e: unknown) => e instanceof JobError && e.exitCode === 65 && /^manifest m\.avro is not a whole Avro file/.test(e.message) && why.test(e.message));
  await refused(bytes.subarray(0, 0), /does not start with an Avro header/);
  await refused(bytes.subarray(0, 10), /ends inside the header/);
  await refused(bytes.subarray(0, headerEnd - 1), /ends inside the header/);
  await refused(bytes.subarray(0, firstBlockEnd - 100), new RegExp(`ends inside the block at byte ${headerEnd}`));
  await refused(bytes.subarray(0, bytes.length - 1), /ends inside the block at byte/);
  await refused(Buffer.concat([bytes, Buffer.from([2, 4, 0, 0])]), /ends inside the block at byte/);
  const garbled = Buffer.from(bytes);
  garbled[firstBlockEnd - 1]! ^= 0xff;
  await refused(garbled, new RegExp(`the block at byte ${headerEnd} does not end with the file's sync marker`));
  // Cut right after a whole block it is a valid, shorter container: the manifest length catches that (below).
  assert.ok((await decodeContainer(bytes.subarray(0, firstBlockEnd), 'first block')).records.length < 6000);
});

test('a manifest whose length is not the one its list records is refused by scans and orphan removal, which would otherwise lose its files', async () => {
  const table = await freshTable();
  const files = await w.write(table, [1, 2, 3]);
  const committed = (await table.commit({ addDataFiles: files })).table;
  const [manifest] = await readManifestList(committed.storage, committed.currentSnapshot()!.manifestList);
  const path = committed.storage.localPath(manifest!.manifestPath)!;
  const bytes = await readFile(path);
  // Only the header, a valid Avro container of no entries: as if the copy stopped after it.
  const syncAt = bytes.indexOf(bytes.subarray(bytes.length - 16));
  await writeFile(path, bytes.subarray(0, syncAt + 16));
  const fresh = await new Warehouse(new LocalStorage(), w.warehouse.rootLocation).loadTable('ns', committed.location.split('/').pop()!);
  const refused = (e: unknown) => e instanceof JobError && e.exitCode === 65 && e.message.includes(`manifest ${manifest!.manifestPath} has ${syncAt + 16} bytes, but its manifest list records ${manifest!.manifestLength}`);
  await assert.rejects(fresh.planFiles(), refused);
  await assert.rejects(removeOrphanFiles(fresh, { olderThanMs: Date.now() + 60_000 }), refused);
  for (const f of files) assert.ok(await committed.storage.stat(f.filePath), `${f.filePath} is still there`);
});

test('the 0-byte manifest list of a snapshot without files, as mwlake wrote it until December 2026, reads as empty, for scans and maintenance', async () => {
  const t = (await (await freshTable()).commit({ operation: 'append', summary: { note: 'no files' } })).table;
  const list = t.storage.localPath(t.currentSnapshot()!.manifestList)!;
  await writeFile(list, '');
  const fresh = await new Warehouse(new LocalStorage(), w.warehouse.rootLocation).loadTable('ns', t.location.split('/').pop()!);
  assert.deepEqual((await fresh.planFiles()).dataFiles, []);
  assert.deepEqual((await removeOrphanFiles(fresh, { olderThanMs: 0 })).orphans, []);
  // Any other cut list is refused (another table: decoded lists are cached by location).
  const other = (await (await freshTable()).commit({ operation: 'append', summary: { note: 'no files' } })).table;
  await writeFile(other.storage.localPath(other.currentSnapshot()!.manifestList)!, 'Obj');
  const cut = await new Warehouse(new LocalStorage(), w.warehouse.rootLocation).loadTable('ns', other.location.split('/').pop()!);
  await assert.rejects(cut.planFiles(), /is not a whole Avro file \(3 bytes\)/);
});

test('partition evolution keeps old snapshots readable', async () => {
  let t = await freshTable();
  t = (await t.commit({ addDataFiles: await w.write(t, [1, 2]) })).table;
  const before = t.currentSnapshot()!.snapshotId;
  t = await t.updateMetadata((m) => withPartitionSpec(m, [{ sourceId: 2, name: 'category', transform: { kind: 'identity' } }, { sourceId: 1, name: 'id_bucket', transform: { kind: 'bucket', numBuckets: 4 } }]));
  assert.equal(t.spec().specId, 1);
  assert.equal(t.spec().fields[0]!.fieldId, 1000, 'an equivalent field keeps its id');
  assert.equal(t.spec().fields[1]!.fieldId, 1002);
  t = (await t.commit({ addDataFiles: await w.write(t, [3, 4]) })).table;
  assert.deepEqual(await ids(t), [1, 2, 3, 4]);
  assert.deepEqual(await ids(t, before), [1, 2]);
  const plan = await t.planFiles();
  assert.deepEqual([...new Set(plan.dataFiles.map((f) => f.specId))].sort(), [0, 1]);
});

test('adding columns: a new schema with the next ids, kept on reload; older files read them as NULL; adding again changes nothing', async () => {
  let t = await freshTable();
  t = (await t.commit({ addDataFiles: await w.write(t, [1, 2]) })).table;
  const last = t.metadata.lastColumnId;
  t = await t.updateMetadata((m) => withAddedColumns(m, [{ name: 'note', type: 'string' }, { name: 'rank', type: 'int', doc: 'why' }, { name: 'id', type: 'long' }]));
  assert.equal(t.schema().schemaId, 1);
  assert.deepEqual(t.schema().fields.slice(-2), [
    { id: last + 1, name: 'note', required: false, type: 'string' },
    { id: last + 2, name: 'rank', required: false, type: 'int', doc: 'why' },
  ]);
  assert.equal(t.metadata.lastColumnId, last + 2);
  assert.equal(t.metadata.schemas.length, 2, 'the old schema stays for the snapshots written with it');
  const reloaded = await t.refresh();
  assert.deepEqual(reloaded.schema(), t.schema());
  assert.equal(withAddedColumns(reloaded.metadata, [{ name: 'note', type: 'string' }]), reloaded.metadata);
  assert.throws(() => withAddedColumns(reloaded.metadata, [{ name: 'note', type: 'long' }]), /column note of type "string", not long/);
  const rows = await w.db.all<{ id: bigint; note: string | null; rank: number | null }>(`SELECT id, note, rank FROM (${await tableRelationSql(reloaded)}) ORDER BY id`);
  assert.deepEqual(rows, [{ id: 1n, note: null, rank: null }, { id: 2n, note: null, rank: null }]);
});

test('files a crashed commit left behind do not change what readers see', async () => {
  let t = await freshTable();
  t = (await t.commit({ addDataFiles: await w.write(t, [1]) })).table;
  await w.write(t, [2]); // written, never committed: an orphan
  const metaDir = join(w.warehouse.storage.localPath(t.location)!, 'metadata');
  await writeFile(join(metaDir, 'deadbeef-m0.avro'), 'partial');
  const again = await t.refresh();
  assert.deepEqual(await ids(again), [1]);
  assert.ok((await readdir(metaDir)).includes('v2.metadata.json'));
});

test('small manifests are merged at commit: 1,000 appends leave at most about 100 manifests', async () => {
  let t = await freshTable();
  const [template] = await w.write(t, [1]);
  const local = w.warehouse.storage.localPath(template!.filePath)!;
  for (let i = 0; i < 1000; i++) {
    // A commit refuses a file that does not exist: each append gets its own link to the one file.
    await link(local, `${local}.copy${i}`);
    t = (await t.commit({ addDataFiles: [{ ...template!, filePath: `${template!.filePath}.copy${i}` }] })).table;
  }
  const manifests = await readManifestListOf(t);
  assert.ok(manifests.length <= 100, `${manifests.length} manifests`);
  assert.ok(manifests.length >= 2, 'the newest appends are not merged yet');
  const plan = await t.planFiles();
  assert.equal(plan.dataFiles.length, 1000);
  assert.equal(new Set(plan.dataFiles.map((f) => f.file.filePath)).size, 1000);
  assert.equal(t.currentSnapshot()?.summary.properties['total-data-files'], '1000');
  // Every file keeps the sequence number of the append that added it.
  const seqs = plan.dataFiles.map((f) => Number(f.dataSequenceNumber)).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 1));
});

test('merged manifests keep data, deletes and every snapshot readable', async () => {
  let t = await freshTable();
  t = await t.updateMetadata((m) => ({ ...m, properties: { ...m.properties, 'commit.manifest.min-count-to-merge': '3' } }));
  const all: number[] = [];
  for (let i = 1; i <= 7; i++) {
    t = (await t.commit({ addDataFiles: await w.write(t, [i * 10, i * 10 + 1]) })).table;
    all.push(i * 10, i * 10 + 1);
  }
  assert.ok((await readManifestListOf(t)).length < 7);
  const victim = (await t.planFiles()).dataFiles[0]!.file;
  t = (await t.commit({ addDeleteFiles: [await w.writeDeletes(t, victim, [0])] })).table;
  t = (await t.commit({ addDataFiles: await w.write(t, [99]) })).table;
  const seen = await ids(t);
  assert.equal(seen.length, all.length, 'one row deleted, one appended');
  assert.ok(seen.includes(99));
  for (const s of t.metadata.snapshots.slice(0, 7)) assert.equal((await ids(t, s.snapshotId)).length, 2 * (t.metadata.snapshots.indexOf(s) + 1));
  const off = await t.updateMetadata((m) => ({ ...m, properties: { ...m.properties, 'commit.manifest-merge.enabled': 'false' } }));
  const before = (await readManifestListOf(off)).length;
  const next = (await off.commit({ addDataFiles: await w.write(off, [100]) })).table;
  assert.equal((await readManifestListOf(next)).length, before + 1);
});

async function readManifestListOf(t: Table) {
  return decodeManifestList(await w.warehouse.storage.read(t.currentSnapshot()!.manifestList), 'list');
}

test('a manifest rewritten and then merged in the same commit leaves no file behind', async () => {
  let t = await freshTable();
  t = await t.updateMetadata((m) => ({ ...m, properties: { ...m.properties, 'commit.manifest.min-count-to-merge': '3' } }));
  const first = await w.write(t, [1, 2]);
  t = (await t.commit({ addDataFiles: first })).table;
  t = (await t.commit({ addDataFiles: await w.write(t, [3]) })).table;
  // Removing a file of the first manifest rewrites it; with the new file's manifest the group
  // reaches three, so the rewritten manifest is merged into another one at once.
  t = (await t.commit({ removeDataFiles: [first[0]!.filePath], addDataFiles: await w.write(t, [4]) })).table;
  assert.deepEqual(await ids(t), [2, 3, 4]);
  const referenced = new Set<string>();
  for (const s of t.metadata.snapshots) {
    for (const m of await decodeManifestList(await w.warehouse.storage.read(s.manifestList), 'list')) referenced.add(m.manifestPath.split('/').at(-1)!);
  }
  const metaDir = join(w.warehouse.storage.localPath(t.location)!, 'metadata');
  const manifests = (await readdir(metaDir)).filter((name) => name.endsWith('.avro') && !name.startsWith('snap-'));
  assert.deepEqual(manifests.filter((name) => !referenced.has(name)), [], 'every manifest on disk is in some manifest list');
  assert.ok(manifests.length >= 3);
});

test('changesBetween: the data and position delete files a range added, compaction skipped; without from, the live files', async () => {
  let t = await freshTable();
  const first = await w.write(t, [1, 2, 3]);
  t = (await t.commit({ addDataFiles: first })).table;
  const s1 = t.currentSnapshot()!.snapshotId;
  const second = await w.write(t, [4, 5]);
  const del = await w.writeDeletes(t, first[0]!, [0]);
  t = (await t.commit({ addDataFiles: second, addDeleteFiles: [del] })).table;
  const onlyDeletes = await w.writeDeletes(t, second[0]!, [0]);
  t = (await t.commit({ addDeleteFiles: [onlyDeletes] })).table;
  const compacted = await w.write(t, [3]);
  t = (await t.commit({ operation: 'replace', addDataFiles: compacted, removeDataFiles: [first.at(-1)!.filePath] })).table;
  const paths = (fs: readonly { file: { filePath: string } }[]) => fs.map((f) => f.file.filePath).sort();

  const range = await t.changesBetween(s1, t.currentSnapshot()!.snapshotId);
  assert.deepEqual(paths(range.dataFiles), paths(second.map((file) => ({ file }))));
  assert.deepEqual(paths(range.deleteFiles), paths([del, onlyDeletes].map((file) => ({ file }))), 'deletes of an overwrite and of a delete snapshot');
  const all = await t.changesBetween(undefined, t.currentSnapshot()!.snapshotId);
  assert.equal(all.dataFiles.length, (await t.planFiles()).dataFiles.length);
  assert.equal(all.deleteFiles.length, 2);
});

test('lineage after a rollback: isAncestorOf and the newest common ancestor of the abandoned and the new history', async () => {
  let t = await freshTable();
  for (const ids of [[1], [2], [3]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const [s1, s2, s3] = t.metadata.snapshots.map((s) => s.snapshotId);
  t = await rollbackTo(t, s1);
  t = (await t.commit({ addDataFiles: await w.write(t, [4]) })).table;
  const s4 = t.currentSnapshot()!.snapshotId;
  assert.ok(t.isAncestorOf(s4, s1) && t.isAncestorOf(s4, s4));
  assert.ok(!t.isAncestorOf(s4, s3!) && !t.isAncestorOf(s4, s2!));
  assert.equal(t.newestCommonAncestor(s3!, s4), s1);
  assert.equal(t.newestCommonAncestor(s4, s1!), s1);
  assert.equal(t.newestCommonAncestor(123n, s4), undefined, 'an unknown (expired) snapshot');
  assert.throws(() => t.ancestorsBetween(s3, s4), /not an ancestor/);
});

test('a table copied or moved elsewhere is refused with DATA naming both locations; the same folder through a symlink or as file:/ is not', async () => {
  const root = await mkdtemp(join(tmpdir(), 'mwlake-copied-'));
  try {
    const storage = new LocalStorage();
    const original = new Warehouse(storage, `file://${join(root, 'wh')}`);
    await original.createTable('ns', 't', { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC });
    await cp(join(root, 'wh'), join(root, 'copy'), { recursive: true });
    await assert.rejects(new Warehouse(storage, `file://${join(root, 'copy')}`).loadTable('ns', 't'), (error: unknown) => {
      assert.ok(error instanceof JobError && error.code === 'DATA', String(error));
      assert.match(error.message, new RegExp(`the table at file://${root}/copy/ns/t says its location is file://${root}/wh/ns/t: it was copied or moved`));
      return true;
    });
    // Copied from object storage: the same refusal (65), not a configuration error about the scheme.
    const copied = join(root, 'copy', 'ns', 't', 'metadata', 'v1.metadata.json');
    await writeFile(copied, (await readFile(copied, 'utf8')).replace(`file://${join(root, 'wh')}`, 's3://bucket/wh'));
    await assert.rejects(new Warehouse(storage, `file://${join(root, 'copy')}`).loadTable('ns', 't'), (error: unknown) => error instanceof JobError && error.code === 'DATA' && /says its location is s3:\/\/bucket\/wh\/ns\/t/.test(error.message));
    await symlink(join(root, 'wh'), join(root, 'link'));
    assert.equal((await new Warehouse(storage, `file://${join(root, 'link')}`).loadTable('ns', 't')).metadata.location, `file://${join(root, 'wh', 'ns', 't')}`);
    assert.ok(await new Warehouse(storage, `file:${join(root, 'wh')}`).loadTable('ns', 't'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a spec whose field names are no Avro names (Spark, PyIceberg: meta.dt_day) is written under the names Java gives them, and read back', async () => {
  assert.deepEqual(['meta.dt_day', 'wiki-id', '1st', 'plain_name', 'día'].map(avroCompatibleName), ['meta_x2Edt_day', 'wiki_x2Did', '_1st', 'plain_name', 'd_xEDa']);
  const { schema, spec } = DOTTED;
  const name = `dotted${n++}`;
  const table = await w.warehouse.createTable('ns', name, { schema, spec });
  const filePath = `${table.location}/data/a.parquet`;
  await table.storage.writeIfAbsent(filePath, new Uint8Array(10));
  await table.commit({ addDataFiles: [{ content: DataFileContent.Data, filePath, fileFormat: 'PARQUET', partition: [19723, 'en'], recordCount: 1, fileSizeInBytes: 10 }] });
  const plan = await (await w.warehouse.loadTable('ns', name)).planFiles({});
  assert.deepEqual(plan.dataFiles.map((f) => f.file.partition), [[19723, 'en']]);
});


test('a v1 manifest list that left the file counts out is listed again with the counts of its manifest, not zeros', async () => {
  let t = await freshTable();
  const files = await w.write(t, [1, 2, 3, 21, 22]);
  t = (await t.commit({ addDataFiles: files })).table;
  // The list as an old v1 writer could leave it: the counts (optional in v1) null.
  const listPath = t.currentSnapshot()!.manifestList;
  const { records, metadata } = await decodeContainer(await t.storage.read(listPath), 'list');
  const countFields = new Set(['added_files_count', 'existing_files_count', 'deleted_files_count', 'added_rows_count', 'existing_rows_count', 'deleted_rows_count']);
  const nullable = { ...MANIFEST_LIST_SCHEMA, fields: MANIFEST_LIST_SCHEMA.fields.map((f) => (countFields.has(f.name) ? { ...f, type: ['null', f.type], default: null } : f)) };
  const stripped = (records as Record<string, unknown>[]).map((r) => ({ ...r, ...Object.fromEntries([...countFields].map((k) => [k, null])) }));
  await rm(t.storage.localPath(listPath)!);
  const { 'avro.schema': _schema, 'avro.codec': _codec, ...keyValues } = metadata;
  await t.storage.writeIfAbsent(listPath, await encodeContainer(nullable, stripped, keyValues));
  const [decoded] = await decodeManifestList(await t.storage.read(listPath), 'list');
  assert.equal(decoded!.countsUnknown, true);
  const counts = (m: ManifestFile) => [m.addedFilesCount, m.existingFilesCount, m.deletedFilesCount, m.addedRowsCount, m.existingRowsCount, m.deletedRowsCount];
  await assert.rejects(encodeManifestList([decoded!], { snapshotId: 1n, sequenceNumber: 1n }), /listed without its file counts/);

  // A copy relocated lists it with its counts too.
  const copy = join(dir, `copy${n++}`);
  await cp(t.storage.localPath(t.location)!, copy, { recursive: true });
  const refuse = async (): Promise<never> => {
    throw new Error('no delete file to rewrite');
  };
  assert.equal((await relocateTable({ storage: t.storage, tableLocation: `file://${copy}`, rewriteDeleteFile: refuse })).relocated, true);
  const moved = (await currentVersion(t.storage, `file://${copy}`))!;
  const movedMetadata = JSON.parse(await readFile(join(copy, 'metadata', `v${moved}.metadata.json`), 'utf8')) as { 'current-snapshot-id': number | string; snapshots: { 'snapshot-id': number | string; 'manifest-list': string }[] };
  const movedList = movedMetadata.snapshots.find((s) => String(s['snapshot-id']) === String(movedMetadata['current-snapshot-id']))!['manifest-list'];
  assert.deepEqual((await decodeManifestList(await t.storage.read(movedList), 'list')).map(counts), [[files.length, 0, 0, 5, 0, 0]]);

  t = (await t.commit({ addDataFiles: await w.write(t, [4]) })).table;
  const listed = await decodeManifestList(await t.storage.read(t.currentSnapshot()!.manifestList), 'list');
  const kept = listed.find((m) => m.manifestPath === decoded!.manifestPath)!;
  assert.deepEqual(counts(kept), [files.length, 0, 0, 5, 0, 0]);
  assert.equal(kept.countsUnknown, undefined);
});

test('a position delete for a data file of an older spec is listed under that spec, so it applies', async () => {
  let t = await freshTable();
  const [victim] = await w.write(t, [1]);
  t = (await t.commit({ addDataFiles: [victim!] })).table;
  // A new spec with as many fields: a tuple of spec 0 fits it, but means something else there.
  t = await t.updateMetadata((m) => withPartitionSpec(m, [{ sourceId: 2, name: 'category', transform: { kind: 'identity' } }, { sourceId: 1, name: 'id_bucket', transform: { kind: 'bucket', numBuckets: 4 } }]));
  const del = { ...(await w.writeDeletes(t, victim!, [0])), specId: 0 };
  t = (await t.commit({ addDeleteFiles: [del] })).table;
  const plan = await t.planFiles();
  assert.deepEqual(plan.deleteFiles.map((d) => d.specId), [0]);
  assert.deepEqual(await ids(t), [], 'the row is deleted');
  await assert.rejects(prepareAddedManifests(t.storage, t.metadata, { addDeleteFiles: [{ ...del, specId: 7 }] }, { snapshotId: 1n, commitUuid: 'x' }), /has no partition spec 7/);
});
