// A copied warehouse made usable where it is (mwlake table relocate): every path the new metadata
// version names is under the copy, the rows read the same, the original is untouched, merges go on
// in the copy, and an incomplete copy is refused before anything is written.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CommitStateUnknownError, JobError } from '../../src/core/errors.js';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { silentLogger } from '../../src/core/log.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { sqlString } from '../../src/duckdb/iceberg-types.js';
import { readManifest, readManifestList } from '../../src/iceberg/scan/manifest-cache.js';
import { DataFileContent, ManifestEntryStatus } from '../../src/iceberg/spec/manifest.js';
import { EVENTS_SCHEMA, EVENTS_SPEC } from '../../src/events/events-table.js';
import { metadataFileLocation } from '../../src/iceberg/table-files.js';
import { PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { relocateTables } from '../../src/pipeline/relocate.js';
import { runCliCaptured } from '../helpers/cli.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, stateHashes, warehouseAt } from '../merge/merge-fixture.js';

const TABLES = [`${EVENTS_NS}.${EVENTS_NAME}`, `${STATE_NAMESPACE}.${PAGES_TABLE}`, `${STATE_NAMESPACE}.${REVISIONS_TABLE}`];

/** md5 of every file under `dir`, by path relative to it. */
async function fileHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!name.isFile()) continue;
    const path = join(name.parentPath, name.name);
    out.set(path.slice(dir.length), createHash('md5').update(await readFile(path)).digest('hex'));
  }
  return out;
}

/**
 * `<dir>/wh` with the first 1,200 of `count` generated events merged in two batches: the second
 * merge replaces stored rows (deletes, moves, visibility changes), so the state tables have
 * position delete files.
 */
async function mergedTwice(dir: string, seed: number, count: number) {
  const originalDir = join(dir, 'wh');
  const original = warehouseAt(originalDir);
  const events = generatedEvents(seed, count);
  for (const batch of [events.slice(0, 600), events.slice(600, 1200)]) {
    await appendBatch(original, batch);
    await merge(original);
  }
  return { originalDir, original, events };
}

test('a copied warehouse relocated names only its own files, reads the same rows, merges on, and leaves the original untouched; an incomplete copy is refused before anything is written', { timeout: 180_000 }, async () => {
  await inTempDir('mwlake-relocate-', async (dir) => {
    const { originalDir, original, events } = await mergedTwice(dir, 41, 1800);
    const revisions = await original.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
    assert.ok((await revisions.planFiles()).deleteFiles.length > 0, 'the fixture has position deletes to relocate');
    const before = await fileHashes(originalDir);

    const copyDir = join(dir, 'copy');
    await cp(originalDir, copyDir, { recursive: true });
    const copy = warehouseAt(copyDir);
    await assert.rejects(copy.loadTable(STATE_NAMESPACE, REVISIONS_TABLE), /copied or moved from there.*mwlake table relocate/);

    const cli = await runCliCaptured(['table', 'relocate', '--warehouse', copyDir, '--json'], { MWLAKE_JOB_NAME: 'j' });
    assert.equal(cli.code, 0, cli.err);
    const results = (JSON.parse(cli.out) as { tables: { table: string; relocated: boolean; deleteFiles: number; linkedFiles: number; from: string; to: string }[] }).tables;
    assert.deepEqual(results.map((r) => [r.table, r.relocated, r.linkedFiles]), TABLES.map((t) => [t, true, 0]));
    assert.ok(results.some((r) => r.deleteFiles > 0));

    // Every path the new versions name is the copy's and exists; no byte of their metadata names the original.
    const oldRoot = `file://${originalDir}/`;
    const db = await openDuckDb();
    try {
      for (const id of TABLES) {
        const [namespace, name] = id.split('.') as [string, string];
        const table = await copy.loadTable(namespace, name);
        const mine = (path: string) => assert.ok(path.startsWith(`file://${copyDir}/`), `${id} names ${path}`);
        const metadataText = await readFile(join(copyDir, namespace, name, 'metadata', `v${table.version}.metadata.json`), 'utf8');
        assert.ok(!metadataText.includes(oldRoot), `${id} v${table.version}.metadata.json names the original`);
        assert.equal(metadataFileLocation(table.location, table.version), `file://${join(copyDir, namespace, name, 'metadata', `v${table.version}.metadata.json`)}`);
        for (const snapshot of table.metadata.snapshots) {
          mine(snapshot.manifestList);
          assert.ok(!Buffer.from(await table.storage.read(snapshot.manifestList)).includes(Buffer.from(oldRoot)));
          for (const manifest of await readManifestList(table.storage, snapshot.manifestList)) {
            mine(manifest.manifestPath);
            assert.ok(!Buffer.from(await table.storage.read(manifest.manifestPath)).includes(Buffer.from(oldRoot)), `${manifest.manifestPath} names the original`);
            for (const entry of (await readManifest(table.storage, manifest.manifestPath, manifest.manifestLength)).entries) {
              mine(entry.dataFile.filePath);
              if (entry.status === ManifestEntryStatus.Deleted) continue;
              assert.ok(await table.storage.stat(entry.dataFile.filePath), `${entry.dataFile.filePath} exists`);
              if (entry.dataFile.content !== DataFileContent.PositionDeletes) continue;
              const [paths] = await db.all<{ n: bigint; theirs: bigint }>(
                `SELECT count(*) AS n, count(*) FILTER (WHERE NOT starts_with(file_path, ${sqlString(`file://${copyDir}/`)})) AS theirs FROM read_parquet(${sqlString(table.storage.localPath(entry.dataFile.filePath)!)})`,
              );
              assert.ok(paths!.n > 0n);
              assert.equal(paths!.theirs, 0n, `${entry.dataFile.filePath} deletes rows of the original's files`);
            }
          }
        }
      }
    } finally {
      await db.close();
    }
    assert.deepEqual(await stateHashes(copy), await stateHashes(original), 'the same rows, deletes applied');
    assert.deepEqual(await fileHashes(originalDir), before, 'the original is untouched');

    // Again: nothing to do.
    assert.deepEqual((await relocateTables(copy, silentLogger())).map((r) => r.relocated), [false, false, false]);

    // The copy merges on by itself, as the original does.
    await appendBatch(copy, events.slice(1200));
    await merge(copy);
    assert.deepEqual(await fileHashes(originalDir), before, 'the copy commits into itself');
    await appendBatch(original, events.slice(1200));
    await merge(original);
    assert.deepEqual(await stateHashes(copy), await stateHashes(original));

    // A copy that lacks a data file is refused, naming it, and gets no new metadata version.
    const partialDir = join(dir, 'partial');
    await cp(originalDir, partialDir, { recursive: true });
    const dataDir = join(partialDir, STATE_NAMESPACE, PAGES_TABLE, 'data');
    const missing = (await readdir(dataDir, { recursive: true })).find((name) => name.endsWith('.parquet') && !name.includes('deletes'))!;
    await rm(join(dataDir, missing));
    const metadataDir = join(partialDir, STATE_NAMESPACE, PAGES_TABLE, 'metadata');
    const versions = (await readdir(metadataDir)).filter((name) => name.endsWith('.metadata.json')).length;
    await assert.rejects(relocateTables(warehouseAt(partialDir), silentLogger(), [[STATE_NAMESPACE, PAGES_TABLE]]), (error: unknown) => {
      assert.ok(error instanceof JobError && error.code === 'DATA', String(error));
      assert.match(error.message, new RegExp(`lacks file file://${join(dataDir, missing).replaceAll('.', '\\.')}`));
      return true;
    });
    assert.equal((await readdir(metadataDir)).filter((name) => name.endsWith('.metadata.json')).length, versions);
  });
});

test('a copy whose metadata or data folder links to the original is refused before anything is written; a folder name with glob characters reads only its own files', { timeout: 180_000 }, async () => {
  await inTempDir('mwlake-relocate-links-', async (dir) => {
    const { originalDir, original } = await mergedTwice(dir, 43, 1200);
    const before = await fileHashes(originalDir);
    const pages = join(STATE_NAMESPACE, PAGES_TABLE);

    // A shallow copy: the table folder is new, its metadata/ (or one partition of data/) links to the original's.
    for (const linked of ['metadata', 'data']) {
      const copyDir = join(dir, `shallow-${linked}`);
      await cp(originalDir, copyDir, { recursive: true });
      const table = join(copyDir, pages);
      const target = linked === 'metadata' ? 'metadata' : join('data', (await readdir(join(originalDir, pages, 'data')))[0]!);
      await rm(join(table, target), { recursive: true });
      await mkdir(join(table, target, '..'), { recursive: true });
      await symlink(join(originalDir, pages, target), join(table, target));
      await assert.rejects(relocateTables(warehouseAt(copyDir), silentLogger(), [[STATE_NAMESPACE, PAGES_TABLE]]), (error: unknown) => {
        assert.ok(error instanceof JobError && error.code === 'DATA', String(error));
        assert.match(error.message, /is the original's folder .*a symlink or a bind mount/);
        return true;
      });
      assert.deepEqual(await fileHashes(originalDir), before, `the original is untouched (${linked} linked)`);
    }

    // A copy of links to the original's files (cp -rs): relocated, since it never writes into the
    // original, but with a warning and a count, since it reads the original's files.
    const linkedCopy = join(dir, 'linked');
    for (const entry of await readdir(originalDir, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      const into = join(linkedCopy, path.slice(originalDir.length));
      if (entry.isDirectory()) await mkdir(into, { recursive: true });
      else await symlink(path, into);
    }
    // The original commits on after the copy: the copy's version-hint.text, a link, names a
    // version the copy lacks.
    await appendBatch(original, generatedEvents(44, 100));
    await merge(original);
    const committed = await fileHashes(originalDir);
    const { logger, messages } = capturingLogger();
    const [linked] = await relocateTables(warehouseAt(linkedCopy), logger, [[STATE_NAMESPACE, REVISIONS_TABLE]]);
    assert.ok(linked!.relocated && linked!.dataFiles > 0 && linked!.deleteFiles > 0, JSON.stringify(linked));
    assert.equal(linked!.linkedFiles, linked!.dataFiles, 'every data file is a link (the delete files are written anew)');
    const warnings = messages();
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /^relocate: \S+\/metadata\/version-hint\.text names version (\d+), which the copy at \S+ lacks; relocating its newest own metadata, version (\d+)/);
    const [, hinted, own] = /version (\d+),.* version (\d+)/.exec(warnings[0]!)!;
    assert.equal(linked!.version, Number(own) + 1, 'the relocation commits the version after its newest own');
    assert.ok(Number(hinted) > Number(own), warnings[0]);
    assert.match(warnings[1]!, new RegExp(`^relocate: ${linked!.linkedFiles} data files of the copy at .* are links to the original's .*compaction, snapshot expiry or orphan removal`));
    assert.deepEqual(await fileHashes(originalDir), committed, 'the original is untouched (a copy of links)');
    // A linked data folder of a table without delete files: its merges would write into the original.
    const events_ = join(linkedCopy, EVENTS_NS, EVENTS_NAME, 'data');
    await rm(events_, { recursive: true });
    await symlink(join(originalDir, EVENTS_NS, EVENTS_NAME, 'data'), events_);
    await assert.rejects(relocateTables(warehouseAt(linkedCopy), silentLogger(), [[EVENTS_NS, EVENTS_NAME]]), (error: unknown) => {
      assert.ok(error instanceof JobError && error.code === 'DATA', String(error));
      assert.match(error.message, /events\/page_content_change\/data is the original's folder .*\(a symlink or a bind mount\): relocating, or the copy's merges and maintenance after it, would write and delete in the original/);
      return true;
    });
    assert.deepEqual(await fileHashes(originalDir), committed, 'the original is untouched (a linked data folder)');
    // The same for a table without files yet: its first commit would write into the original.
    await original.loadOrCreateTable(EVENTS_NS, 'empty', { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
    await mkdir(join(originalDir, EVENTS_NS, 'empty', 'data'));
    const emptyCopy = join(dir, 'empty-copy');
    await cp(originalDir, emptyCopy, { recursive: true });
    await rm(join(emptyCopy, EVENTS_NS, 'empty', 'data'), { recursive: true });
    await symlink(join(originalDir, EVENTS_NS, 'empty', 'data'), join(emptyCopy, EVENTS_NS, 'empty', 'data'));
    await assert.rejects(relocateTables(warehouseAt(emptyCopy), silentLogger(), [[EVENTS_NS, 'empty']]), (error: unknown) => {
      assert.ok(error instanceof JobError && error.code === 'DATA', String(error));
      assert.match(error.message, /events\/empty\/data is the original's folder /);
      return true;
    });

    // Two copies, `copy` and `c*py`: relocating the second reads its own delete files only.
    await cp(originalDir, join(dir, 'copy'), { recursive: true });
    const globbed = join(dir, 'c*py');
    await cp(originalDir, globbed, { recursive: true });
    const [relocated] = await relocateTables(warehouseAt(globbed), silentLogger(), [[STATE_NAMESPACE, REVISIONS_TABLE]]);
    assert.ok(relocated!.deleteFiles > 0, JSON.stringify(relocated));
    const copy = await warehouseAt(globbed).loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
    const plan = await copy.planFiles();
    const originalPlan = await (await original.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).planFiles();
    const deleteRows = (p: typeof plan) => p.deleteFiles.reduce((n, f) => n + f.file.recordCount, 0);
    assert.equal(deleteRows(plan), deleteRows(originalPlan), 'as many deleted positions as the original has');
  });
});

test('a relocation whose manifest folder fails to sync fails as storage (not 74) and leaves none of its files; a table in place lacking its hinted metadata fails 65, not "already there"; the copied data files are made durable before the version naming them', { timeout: 180_000 }, async () => {
  await inTempDir('mwlake-relocate-sync-', async (dir) => {
    const { originalDir, original } = await mergedTwice(dir, 43, 1200);
    // A statistics file another engine wrote: relocation names it in the copy and syncs it too.
    let stated = await original.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
    const statsPath = `${stated.location}/metadata/stats-${stated.currentSnapshot()!.snapshotId}.puffin`;
    await stated.storage.writeIfAbsent(statsPath, 'x');
    stated = await stated.updateMetadata((m) => ({ ...m, statistics: [{ 'snapshot-id': stated.currentSnapshot()!.snapshotId, 'statistics-path': statsPath, 'file-size-in-bytes': 1, 'file-footer-size-in-bytes': 0, 'blob-metadata': [] }] }));
    const copyDir = join(dir, 'copy');
    await cp(originalDir, copyDir, { recursive: true });
    const metadataDir = join(copyDir, STATE_NAMESPACE, REVISIONS_TABLE, 'metadata');
    const before = (await readdir(metadataDir)).sort();
    // What LocalStorage throws when it created the file but could not sync its folder.
    class FolderSyncFails extends LocalStorage {
      override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
        await super.writeIfAbsent(location, bytes);
        if (location.endsWith('-relocated.avro')) {
          throw new CommitStateUnknownError(`created ${location}, but syncing its folder failed`, { cause: Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }), context: { location, folderSync: 'failed' } });
        }
      }
    }
    await assert.rejects(relocateTables(new Warehouse(new FolderSyncFails(), fileLocation(copyDir)), silentLogger(), [[STATE_NAMESPACE, REVISIONS_TABLE]]), (error: unknown) => {
      assert.ok(error instanceof JobError && !(error instanceof CommitStateUnknownError), String(error));
      assert.notEqual(error.exitCode, 74, error.message);
      return true;
    });
    assert.deepEqual((await readdir(metadataDir)).sort(), before, 'no manifest or list of the failed relocation is left');

    // cp syncs nothing: the copied data files are made durable before the version naming them.
    const events: string[] = [];
    class Recording extends LocalStorage {
      override async makeDurable(locations: readonly string[], root: string): Promise<void> {
        events.push(...locations.map((l) => `durable ${l}`));
        return super.makeDurable(locations, root);
      }
      override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
        if (location.endsWith('.metadata.json')) events.push('create metadata');
        return super.writeIfAbsent(location, bytes);
      }
    }
    const copied = new Warehouse(new Recording(), fileLocation(copyDir));
    const [relocated] = await relocateTables(copied, silentLogger(), [[STATE_NAMESPACE, REVISIONS_TABLE]]);
    assert.equal(relocated!.relocated, true);
    const dataFiles = (await (await copied.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).planFiles()).dataFiles.map((f) => f.file.filePath);
    assert.ok(dataFiles.length > 0);
    const created = events.indexOf('create metadata');
    assert.ok(created > 0, events.join('\n'));
    for (const f of dataFiles) assert.ok(events.slice(0, created).includes(`durable ${f}`), `${f} made durable before the metadata`);
    const copiedStats = (await copied.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).metadata.statistics as { 'statistics-path': string }[];
    assert.deepEqual(copiedStats.map((e) => e['statistics-path']), [statsPath.replace(fileLocation(originalDir), fileLocation(copyDir))]);
    assert.ok(events.slice(0, created).includes(`durable ${copiedStats[0]!['statistics-path']}`), 'the statistics file made durable before the metadata');

    // In place, its hint ahead of every metadata file: the table lost its newest metadata.
    const version = Number((await readFile(join(originalDir, STATE_NAMESPACE, REVISIONS_TABLE, 'metadata', 'version-hint.text'), 'utf8')).trim());
    await writeFile(join(originalDir, STATE_NAMESPACE, REVISIONS_TABLE, 'metadata', 'version-hint.text'), String(version + 3));
    await assert.rejects(relocateTables(original, silentLogger(), [[STATE_NAMESPACE, REVISIONS_TABLE]]), (error: unknown) => {
      assert.ok(error instanceof JobError && error.code === 'DATA', String(error));
      assert.match(error.message, new RegExp(`version-hint\\.text names version ${version + 3}, but its metadata file .* is missing`));
      return true;
    });
  });
});
