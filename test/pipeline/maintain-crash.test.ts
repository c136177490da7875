// `mwlake maintain` SIGKILLed inside compaction, snapshot expiry and orphan removal: every table
// (events, visibility changes, state.revisions, state.pages) still reads its last commit, through
// the query views and through a plain scan, with the same rows; no file a snapshot references is
// gone; and the next maintain and merge succeed, end where an uninterrupted run ends, and leave no
// file behind that nothing references.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/core/log.js';
import { localPathOf } from '../../src/core/storage.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import type { Warehouse } from '../../src/iceberg/catalog.js';
import { reachableFiles } from '../../src/iceberg/maintenance/reachable-files.js';
import { statisticsPaths } from '../../src/iceberg/spec/table-metadata.js';
import { PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { runDumps } from '../../src/pipeline/dump.js';
import { runMaintenance } from '../../src/pipeline/maintenance.js';
import { stateViewStatements } from '../../src/pipeline/state-views.js';
import { appendBatch, appendVisibilityBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, stateHashes, VISIBILITY_NAME, warehouseAt } from '../merge/merge-fixture.js';

const TABLES = [
  [EVENTS_NS, EVENTS_NAME],
  [EVENTS_NS, VISIBILITY_NAME],
  [STATE_NAMESPACE, REVISIONS_TABLE],
  [STATE_NAMESPACE, PAGES_TABLE],
] as const;
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'maintain-child.js');
/** Everything on, and a clock a month ahead, so that expiry and orphan removal have work. */
const SETTINGS = { compact: true, compactMinInputFiles: 2, expireSnapshots: true, expireSnapshotsOlderThanDays: 7, retainLastSnapshots: 1, removeOrphans: true, removeOrphansOlderThanHours: 1 };
const CLOCK = Date.now() + 30 * 86_400_000;

const events = generatedEvents(31, 1000);
const batches = [events.slice(0, 250), events.slice(250, 500), events.slice(500, 750)];
const lastBatch = events.slice(750);
let serial = 0;

/** A legacy visibility change hiding the text of every 7th edit of the batch, a day later. */
function visibilityChanges(batch: readonly PageChangeEvent[]): object[] {
  return batch
    .filter((e, i) => e.page_change_kind === 'edit' && e.revision !== undefined && i % 7 === 0)
    .map((e) => ({
      $schema: '/mediawiki/revision/visibility-change/1.0.0',
      database: e.wiki_id,
      meta: { dt: new Date(Date.parse(e.meta.dt!) + 86_400_000).toISOString(), id: `f0000000-0000-4000-8000-${String(serial++).padStart(12, '0')}`, stream: 'mediawiki.revision-visibility-change', domain: 'x.wikipedia.org' },
      page_id: e.page.page_id,
      page_is_redirect: false,
      page_namespace: e.page.namespace_id,
      page_title: e.page.page_title,
      prior_state: { visibility: { text: true, user: true, comment: true } },
      rev_id: e.revision!.rev_id,
      rev_timestamp: e.revision!.rev_dt,
      visibility: { text: false, user: true, comment: true },
    }));
}
const legacy = batches.map(visibilityChanges);
const lastLegacy = visibilityChanges(lastBatch);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-maintain-crash-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Three nights of drains and merges: several small files and snapshots in every table. */
async function nights(name: string): Promise<Warehouse> {
  const wh = warehouseAt(join(dir, name));
  for (const [i, batch] of batches.entries()) {
    await appendBatch(wh, batch);
    await appendVisibilityBatch(wh, legacy[i]!);
    await merge(wh);
  }
  return wh;
}

async function maintain(wh: Warehouse, settings: object = SETTINGS) {
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'maintain-crash', MWLAKE_WAREHOUSE: localPathOf(wh.rootLocation) }, {}, { jobNameRequired: false });
  return runMaintenance({ config: { ...config, maintenance: { ...config.maintenance, ...settings } }, warehouse: wh, logger: silentLogger(), nowMs: CLOCK });
}

function killAt(wh: Warehouse, point: string, settings: object = SETTINGS): void {
  const child = spawnSync(process.execPath, [CHILD, localPathOf(wh.rootLocation), point, JSON.stringify(settings), String(CLOCK)], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `the child was not killed at ${point}: status ${child.status}, stderr ${child.stderr}`);
}

/** count:md5 of every row, per table through a plain scan and per query view. */
async function contents(wh: Warehouse): Promise<Record<string, string>> {
  const db = await openDuckDb();
  try {
    const out: Record<string, string> = {};
    const hash = async (key: string, relation: string) => {
      const [row] = await db.all<{ h: string | null; n: bigint }>(`SELECT md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))) AS h, count(*) AS n FROM (${relation}) AS t`);
      out[key] = `${row!.n}:${row!.h}`;
    };
    for (const [ns, name] of TABLES) {
      const table = await wh.tryLoadTable(ns, name);
      if (table !== undefined) await hash(`scan ${ns}.${name}`, await tableRelationSql(table));
    }
    const { statements } = await stateViewStatements(wh, { namespace: EVENTS_NS, name: EVENTS_NAME, visibilityName: VISIBILITY_NAME });
    for (const sql of statements) await db.run(sql);
    for (const view of ['events', 'visibility_changes', 'pages', 'revisions_raw', 'current']) await hash(`view ${view}`, `SELECT * FROM ${view}`);
    return out;
  } finally {
    await db.close();
  }
}

/** Files a snapshot of the table references that are gone, and files under it nothing references. */
async function fileCheck(wh: Warehouse): Promise<{ missing: string[]; unreferenced: string[] }> {
  const missing: string[] = [];
  const unreferenced: string[] = [];
  for (const [ns, name] of TABLES) {
    const table = await wh.tryLoadTable(ns, name);
    if (table === undefined) continue;
    const reach = await reachableFiles(table.storage, table.metadata.snapshots);
    const live = [...reach.manifestLists, ...reach.manifests, ...reach.contentFiles];
    for (const f of live) if ((await table.storage.stat(f)) === undefined) missing.push(f);
    const referenced = new Set([...live, ...reach.removedFiles, ...statisticsPaths(table.metadata)].map(localPathOf));
    for await (const f of table.storage.list(table.location)) {
      const path = localPathOf(f.location);
      if (!referenced.has(path) && !/\/metadata\/(v\d+\.metadata\.json|version-hint\.text)$/.test(path)) unreferenced.push(path);
    }
  }
  return { missing, unreferenced };
}

/** md5 of every dump file of a run over the warehouse (dumpstatus.json, the run info files and the latest/ feeds carry the wall clock). */
async function dumps(wh: Warehouse, name: string): Promise<Record<string, string>> {
  const root = join(dir, `dumps-${name}`);
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'maintain-crash', MWLAKE_WAREHOUSE: localPathOf(wh.rootLocation) }, {}, { jobNameRequired: false });
  await runDumps({ config: { ...config, dumps: { ...config.dumps, root, wikis: 'all' } }, warehouse: wh, logger: silentLogger(), wikis: 'all', dates: ['2026-11-20'] });
  const out: Record<string, string> = {};
  for (const entry of (await readdir(root, { recursive: true })).sort()) {
    const path = join(root, entry);
    if (entry.endsWith('dumpstatus.json') || /\/dumpruninfo\.(json|txt)$/.test(entry) || entry.endsWith('-rss.xml') || !(await stat(path)).isFile()) continue;
    out[entry] = createHash('md5').update(await readFile(path)).digest('hex');
  }
  return out;
}

let reference: { contents: Record<string, string>; after: Record<string, string>; dumps: Record<string, string> } | undefined;

/** The uninterrupted run: maintain, then one more night. */
async function uninterrupted(): Promise<NonNullable<typeof reference>> {
  if (reference !== undefined) return reference;
  const wh = await nights('reference');
  await maintain(wh);
  const c = await contents(wh);
  assert.deepEqual(await fileCheck(wh), { missing: [], unreferenced: [] });
  await appendBatch(wh, lastBatch);
  await appendVisibilityBatch(wh, lastLegacy);
  await merge(wh);
  await maintain(wh);
  return (reference = { contents: c, after: await stateHashes(wh), dumps: await dumps(wh, 'reference') });
}

/** Kills maintain at each point in turn on one warehouse, then checks what the brief promises. */
async function crashAndRecover(name: string, points: readonly (readonly [string, object?])[]): Promise<void> {
  const ref = await uninterrupted();
  const wh = await nights(name);
  const before = await contents(wh);
  for (const [point, settings] of points) {
    killAt(wh, point, settings);
    assert.deepEqual(await contents(wh), before, `every table reads the same rows after a kill at ${point}`);
    assert.deepEqual((await fileCheck(wh)).missing, [], `no referenced file is gone after a kill at ${point}`);
  }
  // The rerun completes, and a later orphan removal (the rerun's own) takes the leftovers.
  await maintain(wh);
  const c = await contents(wh);
  assert.deepEqual(c, before);
  // Events rows carry Kafka offsets, which differ between warehouses built in one process.
  for (const key of Object.keys(c).filter((k) => !k.includes('events') && !k.includes('visibility'))) assert.equal(c[key], ref.contents[key], key);
  assert.deepEqual(await fileCheck(wh), { missing: [], unreferenced: [] });
  await appendBatch(wh, lastBatch);
  await appendVisibilityBatch(wh, lastLegacy);
  await merge(wh);
  await maintain(wh);
  assert.deepEqual(await stateHashes(wh), ref.after);
  assert.deepEqual(await dumps(wh, name), ref.dumps, 'the dump is the one of an uninterrupted run');
}

test('compaction killed after writing its files, before its commit', { timeout: 600_000 }, async () => {
  await crashAndRecover('compact-before', [['compact-before-commit:1'], ['compact-before-commit:3']]);
});

test('compaction killed right after its commit', { timeout: 600_000 }, async () => {
  await crashAndRecover('compact-after', [['compact-after-commit:2'], ['compact-after-commit:2']]);
});

test('expiry killed after its metadata commit, before and while deleting the expired files', { timeout: 600_000 }, async () => {
  await crashAndRecover('expire', [['expire-after-commit:1'], ['expire-mid-delete:2'], ['expire-mid-delete:1']]);
});

test('orphan removal killed midway', { timeout: 600_000 }, async () => {
  const orphansOnly = { ...SETTINGS, compact: false, expireSnapshots: false };
  await crashAndRecover('orphans', [['compact-before-commit:1'], ['compact-before-commit:3'], ['orphans-mid-delete:1', orphansOnly]]);
});

test('maintain after a merge killed between its two state commits: the views keep their pair, the next merge completes it', { timeout: 600_000 }, async () => {
  const ref = await uninterrupted();
  const wh = await nights('half-merged');
  await appendBatch(wh, lastBatch);
  await appendVisibilityBatch(wh, lastLegacy);
  const mergeChild = join(dirname(fileURLToPath(import.meta.url)), '..', 'merge', 'merge-child.js');
  const child = spawnSync(process.execPath, [mergeChild, localPathOf(wh.rootLocation)], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `the merge was not killed: status ${child.status}, stderr ${child.stderr}`);
  const state = async () => Object.fromEntries(Object.entries(await contents(wh)).filter(([k]) => k.startsWith('view') && k !== 'view events' && k !== 'view visibility_changes'));
  const halfMerged = await state();
  await maintain(wh);
  assert.deepEqual(await state(), halfMerged, 'maintain keeps the pair the views read');
  assert.deepEqual((await fileCheck(wh)).missing, []);
  // Compaction gave the events table a newer (replace) snapshot: the merge reads the same events
  // up to it as revisions merged, and the two tables must say they merged the same events.
  await merge(wh);
  await state();
  await maintain(wh);
  assert.deepEqual(await stateHashes(wh), ref.after);
  assert.deepEqual(await dumps(wh, 'half-merged'), ref.dumps, 'the dump is the one of an uninterrupted run');
});

test('maintain after the first merge was killed between its two state commits', { timeout: 600_000 }, async () => {
  const ref = await uninterrupted();
  const wh = warehouseAt(join(dir, 'first-half-merged'));
  for (const [i, batch] of batches.entries()) {
    await appendBatch(wh, batch);
    await appendVisibilityBatch(wh, legacy[i]!);
  }
  await appendBatch(wh, lastBatch);
  await appendVisibilityBatch(wh, lastLegacy);
  const mergeChild = join(dirname(fileURLToPath(import.meta.url)), '..', 'merge', 'merge-child.js');
  const child = spawnSync(process.execPath, [mergeChild, localPathOf(wh.rootLocation)], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `the merge was not killed: status ${child.status}, stderr ${child.stderr}`);
  const before = await contents(wh);
  await maintain(wh);
  assert.deepEqual(await contents(wh), before);
  await merge(wh);
  await maintain(wh);
  assert.deepEqual(await stateHashes(wh), ref.after);
  assert.deepEqual(await fileCheck(wh), { missing: [], unreferenced: [] });
});
