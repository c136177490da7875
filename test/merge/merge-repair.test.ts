// The merge after the two repairs README describes: a rollback of the events table (the recorded
// source is no longer an ancestor: the merge goes on from the newest common ancestor) and a forced
// replay (position deletes plus the same events again: the merge reads the events with their
// deletes applied and folds the replaced keys again from their live events).

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { JobError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { fieldIdsOption, sqlString, sqlStringList } from '../../src/duckdb/iceberg-types.js';
import { filesRelationSql } from '../../src/duckdb/table-view.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import type { Warehouse } from '../../src/iceberg/catalog.js';
import { rollbackTo } from '../../src/iceberg/commit/rollback.js';
import { expireSnapshots } from '../../src/iceberg/maintenance/expire-snapshots.js';
import type { DataFile } from '../../src/iceberg/spec/manifest.js';
import type { Table } from '../../src/iceberg/table.js';
import { PAGES_TABLE, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { describePositionDeleteFile, POSITION_DELETE_SCHEMA } from '../../src/parquet/footer-data-file.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { EventStager } from '../../src/pipeline/event-files.js';
import { runMaintenance } from '../../src/pipeline/maintenance.js';
import { stateViewStatements } from '../../src/pipeline/state-views.js';
import { appendBatch, appendVisibilityBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, stateHashes, VISIBILITY_NAME, warehouseAt } from './merge-fixture.js';

let dir: string;
let runs = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-merge-repair-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fresh = () => warehouseAt(join(dir, `w${runs++}`));
const events = (w: Warehouse) => w.loadTable(EVENTS_NS, EVENTS_NAME);

/** A logger that keeps its warnings. */
function warnings(): { logger: Logger; seen: string[] } {
  const seen: string[] = [];
  const logger = Object.create(silentLogger(), { warn: { value: (o: unknown, msg?: string) => seen.push(`${msg ?? ''} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`) } }) as Logger;
  return { logger, seen };
}

/** The state a warehouse gets from these batches drained and merged one by one. */
async function reference(batches: readonly (readonly PageChangeEvent[])[]): Promise<Record<string, string>> {
  const w = fresh();
  for (const b of batches) {
    await appendBatch(w, b);
    await merge(w);
  }
  return stateHashes(w);
}

/** Position delete files (one per data file) hiding the rows of `table` where `condition` holds, and those rows' meta.id and Kafka coordinates. */
async function deletesWhere(db: DuckDb, table: Table, condition: string): Promise<{ deletes: DataFile[]; held: { id: string; t: string; p: number; o: bigint }[] }> {
  const plan = await table.planFiles();
  const byLocal = new Map(plan.dataFiles.map((f) => [table.storage.localPath(f.file.filePath)!, f.file]));
  const held = await db.all<{ id: string; t: string; p: number; o: bigint; filename: string; pos: bigint }>(
    `SELECT meta.id AS id, _kafka_topic AS t, _kafka_partition AS p, _kafka_offset AS o, filename, file_row_number AS pos
     FROM (${filesRelationSql(table, plan.dataFiles, plan.deleteFiles, { positions: true })}) WHERE ${condition}`,
  );
  const deletes: DataFile[] = [];
  for (const local of new Set(held.map((h) => h.filename))) {
    const data = byLocal.get(local)!;
    const location = `${data.filePath.slice(0, data.filePath.lastIndexOf('/'))}/${randomUUID()}-deletes.parquet`;
    const values = held.filter((h) => h.filename === local).map((h) => `(${sqlString(data.filePath)}, ${h.pos}::BIGINT)`).join(', ');
    await db.run(`COPY (SELECT * FROM (VALUES ${values}) v(file_path, pos) ORDER BY pos) TO ${sqlString(table.storage.localPath(location)!)} (FORMAT parquet, FIELD_IDS ${fieldIdsOption(POSITION_DELETE_SCHEMA)})`);
    deletes.push(await describePositionDeleteFile({ storage: table.storage, location, partition: data.partition, referencedDataFile: data.filePath }));
  }
  return { deletes, held };
}

/**
 * What `drain --force` commits: position deletes for the held rows of these events' meta.ids and
 * the events again at those rows' Kafka coordinates, one snapshot.
 */
async function forceReplace(w: Warehouse, replacements: readonly PageChangeEvent[]): Promise<void> {
  const table = await events(w);
  const db = await openDuckDb();
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20 });
  try {
    const { deletes, held } = await deletesWhere(db, table, `meta.id IN (SELECT unnest(${sqlStringList(replacements.map((e) => e.meta.id!))}))`);
    assert.equal(held.length, replacements.length);
    const byId = new Map(held.map((h) => [h.id, h]));
    for (const e of replacements) {
      const h = byId.get(e.meta.id!)!;
      await stager.add(e, { topic: h.t, partition: h.p, offset: BigInt(h.o), timestampMs: 0 });
    }
    await table.commit({ addDataFiles: await stager.finish(), addDeleteFiles: deletes });
  } finally {
    await stager.close();
    await db.close();
  }
}

/**
 * The events as a faulty drain stored them: the same meta.id, meta.dt and revision (so the same
 * merge key), but a wrong comment, title and text; with `later`, meta.dt a second later too.
 */
function wrong(e: PageChangeEvent, o: { later?: boolean; revId?: number } = {}): PageChangeEvent {
  const slots = e.revision.content_slots === undefined ? undefined : Object.fromEntries(Object.entries(e.revision.content_slots).map(([k, s]) => [k, s.content_body === undefined ? s : { ...s, content_body: `WRONG ${s.content_body}` }]));
  return {
    ...e,
    meta: { ...e.meta, ...(o.later === true ? { dt: new Date(Date.parse(e.meta.dt!) + 1000).toISOString() } : {}) },
    page: { ...e.page, page_title: `Wrong_${e.page.page_title}` },
    revision: { ...e.revision, ...(o.revId === undefined ? {} : { rev_id: o.revId }), comment: `WRONG ${e.revision.comment ?? ''}`, ...(slots === undefined ? {} : { content_slots: slots }) },
  };
}

const all = generatedEvents(41, 600);
const [b1, b2, b3] = [all.slice(0, 200), all.slice(200, 400), all.slice(400)];

/** A fresh warehouse with b1 drained and merged, and the events snapshot that holds it. */
async function mergedFirstBatch(): Promise<{ w: Warehouse; s1: bigint }> {
  const w = fresh();
  await appendBatch(w, b1);
  await merge(w);
  return { w, s1: (await events(w)).currentSnapshot()!.snapshotId };
}

test('after the events table is rolled back, the merge goes on from the newest common ancestor, warning what state still holds', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2, b3]);
  const { w, s1 } = await mergedFirstBatch();
  const stateAtS1 = (await w.loadTable(STATE_NAMESPACE, PAGES_TABLE)).currentSnapshot()!.snapshotId;
  await appendBatch(w, b2);
  await merge(w);
  await rollbackTo(await events(w), s1);

  // Nothing drained since: nothing to merge, no error.
  const idle = warnings();
  await merge(w, { logger: idle.logger });
  // The drain reads the rolled-back events again; the merge picks them up, once, and warns.
  await appendBatch(w, b2);
  const seen = warnings();
  const r = await merge(w, { logger: seen.logger });
  assert.equal(r.tables.filter((t) => !t.skipped).length, 2, JSON.stringify(r));
  assert.ok(seen.seen.some((m) => m.includes('not an ancestor') && m.includes(`"commonAncestor":"${s1}"`) && m.includes(String(stateAtS1))), seen.seen.join('\n'));
  // Later merges are incremental again.
  await appendBatch(w, b3);
  const later = warnings();
  await merge(w, { logger: later.logger });
  assert.deepEqual(later.seen, []);
  assert.deepEqual(await stateHashes(w), expected);
  const pages = await w.loadTable(STATE_NAMESPACE, PAGES_TABLE);
  assert.equal(pages.summaryProperty(SOURCE_SNAPSHOT_PROPERTY)?.value, String((await events(w)).currentSnapshot()!.snapshotId));
});

test('after a rollback whose abandoned snapshots expired, the merge goes on from the source of its newest clean state snapshot', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2]);
  const { w, s1 } = await mergedFirstBatch();
  await appendBatch(w, b2);
  await merge(w);
  const s2 = (await events(w)).currentSnapshot()!.snapshotId;
  await rollbackTo(await events(w), s1);
  const expiry = await expireSnapshots(await events(w), { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.ok(expiry.expiredSnapshotIds.includes(s2), 'the abandoned snapshot the state merged up to is gone');
  // With no common ancestor left, the state's own record of its sources tells where to start.
  await appendBatch(w, b2);
  const seen = warnings();
  const r = await merge(w, { logger: seen.logger });
  assert.ok(seen.seen.some((m) => m.includes('not an ancestor') && m.includes(`"commonAncestor":"${s1}"`)), seen.seen.join('\n'));
  const added = Number((await events(w)).currentSnapshot()!.summary.properties['added-data-files']);
  assert.ok(r.tables.every((t) => t.eventFiles === added), `only the files appended since: ${added}; ${JSON.stringify(r)}`);
  assert.deepEqual(await stateHashes(w), expected);
});

test('rolled-back events that were wrong leave state once the state tables are rolled back as the warning says', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2]);
  const { w, s1 } = await mergedFirstBatch();
  // A bad drain, rolled back and drained again: the wrong values have the same keys, so they stay.
  await appendBatch(w, b2.map((e) => wrong(e)));
  await merge(w);
  await rollbackTo(await events(w), s1);
  await appendBatch(w, b2);
  const seen = warnings();
  await merge(w, { logger: seen.logger });
  assert.notDeepEqual(await stateHashes(w), expected);
  for (const name of [REVISIONS_TABLE, PAGES_TABLE]) {
    const said = seen.seen.find((m) => m.includes(`"table":"${STATE_NAMESPACE}.${name}"`));
    const to = /"rollBackTo":"(\d+)"/.exec(said ?? '')?.[1];
    assert.ok(to !== undefined && said!.includes(`mwlake table rollback ${STATE_NAMESPACE}.${name} --to ${to}`), said);
    await rollbackTo(await w.loadTable(STATE_NAMESPACE, name), BigInt(to));
  }
  await merge(w);
  assert.deepEqual(await stateHashes(w), expected);
});

test('after both state tables are rolled back and merged again, a query of a pages snapshot the rollback left pairs it with its own merge\'s revisions', { timeout: 300_000 }, async () => {
  const { w } = await mergedFirstBatch();
  const state = async () => ({ pages: await w.loadTable(STATE_NAMESPACE, PAGES_TABLE), revisions: await w.loadTable(STATE_NAMESPACE, REVISIONS_TABLE) });
  const first = await state();
  const [pagesA, revisionsA] = [first.pages.currentSnapshot()!.snapshotId, first.revisions.currentSnapshot()!.snapshotId];
  await appendBatch(w, b2);
  await merge(w);
  const second = await state();
  const [pagesB, revisionsB] = [second.pages.currentSnapshot()!.snapshotId, second.revisions.currentSnapshot()!.snapshotId];
  // The repair README describes: roll both back, merge the same events again.
  await rollbackTo(second.revisions, revisionsA);
  await rollbackTo(second.pages, pagesA);
  await merge(w);
  const third = await state();
  const [pagesB2, revisionsB2] = [third.pages.currentSnapshot()!.snapshotId, third.revisions.currentSnapshot()!.snapshotId];
  assert.notEqual(revisionsB2, revisionsB);
  const paired = async (snapshotId: bigint) => (await stateViewStatements(w, { namespace: EVENTS_NS, name: EVENTS_NAME }, { snapshotId })).bound;
  const left = await paired(pagesB);
  assert.deepEqual([left.pages, left.revisions], [pagesB, revisionsB].map(String), 'the rollback left pages snapshot pairs with the revisions of its own merge');
  assert.deepEqual([(await paired(pagesB2)).revisions, (await paired(pagesA)).revisions], [revisionsB2, revisionsA].map(String));
  // Expiry trimmed the revisions log (its entries before a rollback of revisions alone): it no
  // longer tells which run's revisions were current, and the current history's are paired, not a failure.
  await (await w.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).updateMetadata((m) => ({ ...m, snapshotLog: m.snapshotLog.slice(-1) }));
  assert.deepEqual([(await paired(pagesB)).revisions, (await paired(pagesA)).revisions], [revisionsB2, revisionsA].map(String));
});

test('the merge applies the position deletes of a forced replay made before it merged the replaced rows', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2]);
  const { w } = await mergedFirstBatch();
  // Stored wrong with meta.dt a second late: read with its replacement, the wrong row would win.
  await appendBatch(w, b2.map((e) => wrong(e, { later: true })));
  await forceReplace(w, b2);
  await merge(w);
  assert.deepEqual(await stateHashes(w), expected);
});

test('a forced replay corrects state: the replaced keys are folded again from their live events', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2, b3]);
  const { w } = await mergedFirstBatch();
  // Wrong rows merged into state: the same keys (the usual case), a later meta.dt, and one
  // with a revision id that does not exist, whose state row must go.
  const stored = b2.map((e, i) => wrong(e, i % 10 === 3 ? { later: true } : i === 7 ? { revId: 9_000_000_000 } : {}));
  await appendBatch(w, stored);
  await merge(w);
  assert.notDeepEqual(await stateHashes(w), await reference([b1, b2]));
  await appendBatch(w, b3);
  await forceReplace(w, b2);
  const r = await merge(w);
  assert.ok(r.tables.every((t) => t.rowsReplaced > 0), JSON.stringify(r));
  assert.deepEqual(await stateHashes(w), expected);
  // Merging again changes nothing.
  await forceReplace(w, b2.slice(0, 20));
  await merge(w);
  assert.deepEqual(await stateHashes(w), expected);
});

test('a forced replay merged after the history the state merged from expired: the range reads folded files again, and their replaced keys are still folded again', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2]);
  const { w } = await mergedFirstBatch();
  await appendBatch(w, b2.map((e) => wrong(e)));
  await merge(w);
  const s2 = (await events(w)).currentSnapshot()!.snapshotId;
  await forceReplace(w, b2);
  // Another engine's expiry (mwlake's keeps the snapshots state merged from).
  const expiry = await expireSnapshots(await events(w), { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.ok(expiry.expiredSnapshotIds.includes(s2));
  const seen = warnings();
  const r = await merge(w, { logger: seen.logger });
  assert.ok(seen.seen.some((m) => m.includes('merging every live row again')), seen.seen.join('\n'));
  assert.ok(r.tables.every((t) => (t.refoldedKeys ?? 0) > 0), JSON.stringify(r));
  assert.deepEqual(await stateHashes(w), expected);
});

test('a forced replay of many keys is folded again in memory passes, to the same state', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2]);
  const { w } = await mergedFirstBatch();
  await appendBatch(w, b2.map((e, i) => wrong(e, i === 7 ? { revId: 9_000_000_000 } : {})));
  await merge(w);
  await forceReplace(w, b2);
  // A budget of a few events' content: the delta of the replay's new rows and the refold both split.
  const r = await merge(w, { passBytes: 40_000 });
  const revisions = r.tables.find((t) => t.table.endsWith(REVISIONS_TABLE))!;
  assert.ok((revisions.refoldPasses ?? 1) >= 3, JSON.stringify(r));
  assert.equal(r.tables.find((t) => t.table.endsWith(PAGES_TABLE))?.refoldPasses, undefined, 'pages carry no content: one pass');
  assert.deepEqual(await stateHashes(w), expected);
  const summary = (await w.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).currentSnapshot()!.summary.properties;
  assert.equal(summary['mwlake.merge.refold-passes'], String(revisions.refoldPasses));
});

/** A legacy visibility change event hiding (or showing) the text of `e`'s revision, a minute after it. */
function legacy(e: PageChangeEvent, text: boolean): object {
  return {
    $schema: '/mediawiki/revision/visibility-change/1.0.0',
    database: e.wiki_id,
    meta: { dt: new Date(Date.parse(e.meta.dt!) + 60_000).toISOString(), id: randomUUID(), stream: 'mediawiki.revision-visibility-change', domain: 'x.wikipedia.org' },
    page_id: e.page.page_id,
    page_is_redirect: false,
    page_namespace: e.page.namespace_id,
    page_title: e.page.page_title,
    prior_state: { visibility: { text: !text, user: true, comment: true } },
    rev_id: e.revision.rev_id,
    rev_timestamp: e.revision.rev_dt,
    visibility: { text, user: true, comment: true },
  };
}

test('the legacy visibility change table: a rollback and a forced replay of it reach the revisions too', { timeout: 300_000 }, async () => {
  const edits = b1.filter((e) => e.page_change_kind === 'edit' && e.revision.is_content_visible !== false);
  const [hide1, hide2] = [legacy(edits[0]!, false), legacy(edits[1]!, false)];
  const expected = await (async () => {
    const r = fresh();
    await appendBatch(r, b1);
    await appendVisibilityBatch(r, [hide2]);
    await merge(r);
    return stateHashes(r);
  })();
  const w = fresh();
  await appendBatch(w, b1);
  await appendVisibilityBatch(w, [hide1]);
  await merge(w);
  const v1 = (await w.loadTable(EVENTS_NS, VISIBILITY_NAME)).currentSnapshot()!.snapshotId;
  await appendVisibilityBatch(w, [hide2]);
  await merge(w);
  await rollbackTo(await w.loadTable(EVENTS_NS, VISIBILITY_NAME), v1);
  await appendVisibilityBatch(w, [hide2]);
  const seen = warnings();
  await merge(w, { logger: seen.logger });
  assert.ok(seen.seen.some((m) => m.includes(`"table":"${STATE_NAMESPACE}.${REVISIONS_TABLE}"`) && m.includes(VISIBILITY_NAME)), seen.seen.join('\n'));

  // hide1 was never sent (a bad row): a forced replay that finds nothing to re-read only deletes it.
  const visibility = await w.loadTable(EVENTS_NS, VISIBILITY_NAME);
  const db = await openDuckDb();
  try {
    const { deletes } = await deletesWhere(db, visibility, `meta.id = ${sqlString((hide1 as { meta: { id: string } }).meta.id)}`);
    await visibility.commit({ addDeleteFiles: deletes });
  } finally {
    await db.close();
  }
  const r = await merge(w);
  assert.equal(r.tables.find((t) => t.table.endsWith(REVISIONS_TABLE))?.refoldedKeys, 1);
  assert.deepEqual(await stateHashes(w), expected);
});

test('a second job merging another events table into the same warehouse is refused (78) before it changes the state', { timeout: 300_000 }, async () => {
  const w = fresh();
  const all = generatedEvents(31, 400);
  await appendBatch(w, all.slice(0, 200));
  await merge(w);
  const before = await stateHashes(w);
  const mine = await events(w);
  const other = await w.loadOrCreateTable(EVENTS_NS, 'other_job', { schema: mine.schema(), spec: mine.spec() });
  await other.commit({ addDataFiles: (await mine.planFiles()).dataFiles.map((f) => f.file) });
  await assert.rejects(merge(w, { eventsTable: 'other_job' }), (error: Error & { exitCode?: number }) => {
    assert.equal(error.exitCode, 78);
    assert.match(error.message, /state\.revisions merges from another events table \(uuid [0-9a-f-]+\) than this job's .*other_job .*give each job its own warehouse/);
    return true;
  });
  assert.deepEqual(await stateHashes(w), before, 'nothing changed');
  await appendBatch(w, all.slice(200));
  await merge(w);
  assert.deepEqual(await stateHashes(w), await reference([all.slice(0, 200), all.slice(200)]), "the state's own job still merges");
});

test('a forced replay after the events were compacted, before the merge read them: the replaced rows stay replaced', { timeout: 300_000 }, async () => {
  const expected = await reference([b1, b2]);
  const path = join(dir, `w${runs++}`);
  const w = warehouseAt(path);
  await appendBatch(w, b1);
  await merge(w);
  // Stored wrong in two files, then compacted into one: the replay's deletes name the compacted
  // file, while the merge's incremental read sees the files the drains added.
  await appendBatch(w, b2.slice(0, 100).map((e) => wrong(e, { later: true })));
  await appendBatch(w, b2.slice(100).map((e) => wrong(e, { later: true })));
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'repair', MWLAKE_WAREHOUSE: path });
  const maintenance = { ...config.maintenance, compactMinInputFiles: 2, expireSnapshots: false, removeOrphans: false };
  const m = await runMaintenance({ config: { ...config, maintenance }, warehouse: w, logger: silentLogger() });
  assert.ok((m.tables.find((t) => t.table === `${EVENTS_NS}.${EVENTS_NAME}`)?.compaction?.filesRewritten ?? 0) >= 2, JSON.stringify(m.tables));
  await forceReplace(w, b2);
  const r = await merge(w);
  assert.ok(r.tables.every((t) => (t.refoldedKeys ?? 0) > 0), JSON.stringify(r));
  assert.deepEqual(await stateHashes(w), expected);
});

test('an event or state file that is gone fails the merge as data (65) naming it, not as a bug', { timeout: 300_000 }, async () => {
  const all = generatedEvents(23, 60);
  for (const [name, under] of [['events', join(EVENTS_NS, EVENTS_NAME)], ['state', join(STATE_NAMESPACE, REVISIONS_TABLE)]] as const) {
    const w = fresh();
    const root = join(dir, `w${runs - 1}`);
    await appendBatch(w, all.slice(0, 30));
    if (name === 'state') await merge(w);
    const data = join(root, under, 'data');
    const file = (await readdir(data, { recursive: true })).find((f) => f.endsWith('.parquet') && !f.endsWith('-deletes.parquet'))!;
    await rm(join(data, file));
    // For state, events of the revisions it holds: the merge reads the rows they replace.
    await appendBatch(w, name === 'state' ? all.slice(0, 30) : all.slice(30));
    await assert.rejects(merge(w), (error: unknown) => {
      assert.ok(error instanceof JobError, String(error));
      assert.equal(error.code, 'NOT_FOUND', error.message);
      assert.equal(error.exitCode, ExitCode.Data);
      assert.ok(error.message.includes(file.split('/').at(-1)!), error.message);
      return true;
    }, name);
  }
});

test('an events table that is gone while state merged from it fails the merge (65) instead of finding nothing to do', { timeout: 300_000 }, async () => {
  const w = fresh();
  const root = join(dir, `w${runs - 1}`);
  const none = await merge(w);
  assert.deepEqual(none.tables, [], 'before the first drain there is nothing to do');
  await appendBatch(w, generatedEvents(29, 20));
  await merge(w);
  await rm(join(root, EVENTS_NS, EVENTS_NAME), { recursive: true });
  await assert.rejects(merge(w), (error: unknown) => {
    assert.ok(error instanceof JobError, String(error));
    assert.equal(error.code, 'NOT_FOUND', error.message);
    assert.equal(error.exitCode, ExitCode.Data);
    assert.match(error.message, new RegExp(`events table ${EVENTS_NS}\\.${EVENTS_NAME} does not exist, yet state\\.revisions merged up to its snapshot \\d+`));
    return true;
  });
});
