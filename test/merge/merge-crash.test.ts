// A merge SIGKILLed between the commits of its two state tables: readers keep seeing a consistent
// pair (the views bind the revisions snapshot that merged up to the same events snapshot as the
// pages snapshot), and the next merge completes the pair, ending where an uninterrupted merge ends.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { PAGES_TABLE, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, stateHashes, warehouseAt } from './merge-fixture.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-merge-crash-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('SIGKILL between the two state commits: readers see a consistent pair, the next merge repairs', { timeout: 300_000 }, async () => {
  const events = generatedEvents(23, 300);
  const [first, second] = [events.slice(0, 150), events.slice(150)];
  const reference = warehouseAt(join(dir, 'reference'));
  const crashed = warehouseAt(join(dir, 'crashed'));
  for (const w of [reference, crashed]) {
    await appendBatch(w, first);
    await merge(w);
    await appendBatch(w, second);
  }
  await merge(reference);

  const before = (await crashed.loadTable(EVENTS_NS, EVENTS_NAME)).currentSnapshot()!.snapshotId.toString();
  const oldSource = (await crashed.loadTable(STATE_NAMESPACE, PAGES_TABLE)).currentSnapshot()!.summary.properties[SOURCE_SNAPSHOT_PROPERTY];
  const child = spawnSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'merge-child.js'), join(dir, 'crashed')], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `the child was not killed: status ${child.status}, stderr ${child.stderr}`);

  const revisions = await crashed.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  const pages = await crashed.loadTable(STATE_NAMESPACE, PAGES_TABLE);
  assert.equal(revisions.currentSnapshot()!.summary.properties[SOURCE_SNAPSHOT_PROPERTY], before, 'revisions committed');
  assert.equal(pages.currentSnapshot()!.summary.properties[SOURCE_SNAPSHOT_PROPERTY], oldSource, 'pages did not');

  const db = await openDuckDb();
  try {
    const bound = await bindStateViews(db, crashed, { namespace: EVENTS_NS, name: EVENTS_NAME });
    assert.equal(bound.sourceSnapshotId, oldSource);
    assert.equal(bound.revisions, revisions.currentSnapshot()!.parentSnapshotId?.toString(), 'the views bind the revisions snapshot matching pages');
  } finally {
    await db.close();
  }

  const repair = await merge(crashed);
  assert.deepEqual(repair.tables.map((t) => [t.table, t.skipped]), [[`${STATE_NAMESPACE}.${REVISIONS_TABLE}`, true], [`${STATE_NAMESPACE}.${PAGES_TABLE}`, false]]);
  assert.deepEqual(await stateHashes(crashed), await stateHashes(reference));
});

test('after a crash between the two commits, a drain that added no files (offsets only) leaves the repaired pair recording the same events', { timeout: 300_000 }, async () => {
  const events = generatedEvents(23, 100);
  const w = warehouseAt(join(dir, 'empty-drain'));
  await appendBatch(w, events.slice(0, 50));
  await merge(w);
  await appendBatch(w, events.slice(50));
  const rowsSnapshot = (await w.loadTable(EVENTS_NS, EVENTS_NAME)).currentSnapshot()!.snapshotId.toString();
  await assert.rejects(merge(w, { afterFirstCommit: () => Promise.reject(new Error('crashed')) }), /crashed/);
  // A drain that read only canaries, bad events or repeats commits its offsets in an append of no files.
  await appendBatch(w, []);
  const repair = await merge(w);
  assert.deepEqual(repair.tables.map((t) => [t.table, t.skipped]), [[`${STATE_NAMESPACE}.${REVISIONS_TABLE}`, true], [`${STATE_NAMESPACE}.${PAGES_TABLE}`, false]]);
  for (const name of [REVISIONS_TABLE, PAGES_TABLE]) {
    assert.equal((await w.loadTable(STATE_NAMESPACE, name)).currentSnapshot()!.summary.properties[SOURCE_SNAPSHOT_PROPERTY], rowsSnapshot, `${name} records the snapshot whose rows it holds`);
  }
  const db = await openDuckDb();
  try {
    const bound = await bindStateViews(db, w, { namespace: EVENTS_NS, name: EVENTS_NAME });
    assert.equal(bound.sourceSnapshotId, rowsSnapshot);
  } finally {
    await db.close();
  }
});
