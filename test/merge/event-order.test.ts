import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { pageChangeOrderSql } from '../../src/merge/event-order.js';

// The keys are fixed-width strings the merge compares with `>`: these pin their exact layout.

let db: DuckDb;
before(async () => {
  db = await openDuckDb();
  await db.run("SET TimeZone = 'UTC'");
});
after(async () => db.close());

interface Keys {
  k: string;
  r: string;
}

async function keysOf(kind: string, metaDt: string, dt: string | null, revId: number, offset: number): Promise<Keys> {
  const event = `(SELECT {'dt': TIMESTAMPTZ '${metaDt}', 'id': 'e-1'} AS meta, {'rev_id': ${revId}::BIGINT} AS revision,
    ${dt === null ? 'NULL::TIMESTAMPTZ' : `TIMESTAMPTZ '${dt}'`} AS dt, '${kind}' AS page_change_kind, ${offset}::BIGINT AS _kafka_offset)`;
  const [row] = await db.all<Keys>(`SELECT k, r FROM (${pageChangeOrderSql(event)})`);
  return row!;
}

test('an event key is dt in µs, the kind priority, the revision id in 20 digits, then meta.id', async () => {
  const { k, r } = await keysOf('delete', '2025-11-01T10:00:04.5Z', '2025-11-01T10:00:00.5Z', 42, 7);
  assert.equal(k, '2025-11-01T10:00:00.500000Z|1|00000000000000000042|e-1');
  assert.equal(r, `2025-11-01T10:00:00.500000Z|1|00000000000000000042|00000000000000000007|${k}`);
});

test('every kind ranks at its dt (meta.dt without one); creates and edits have the lower priority', async () => {
  for (const kind of ['create', 'edit']) {
    const { k } = await keysOf(kind, '2025-11-01T10:00:00Z', '2025-10-01T08:30:00.25Z', 42, 7);
    assert.equal(k, '2025-10-01T08:30:00.250000Z|0|00000000000000000042|e-1', kind);
  }
  for (const kind of ['move', 'delete', 'undelete', 'visibility_change']) {
    const { k } = await keysOf(kind, '2025-11-01T10:00:00Z', '2025-10-01T08:30:00Z', 42, 7);
    assert.equal(k, '2025-10-01T08:30:00.000000Z|1|00000000000000000042|e-1', kind);
  }
  const noDt = await keysOf('edit', '2025-11-01T10:00:00Z', null, 42, 7);
  assert.equal(noDt.k, '2025-11-01T10:00:00.000000Z|0|00000000000000000042|e-1');
});

test('a late edit ranks below a move made after its dt, though delivered later', async () => {
  const move = await keysOf('move', '2025-11-01T10:00:04Z', '2025-11-01T10:00:00Z', 41, 5);
  const lateEdit = await keysOf('edit', '2025-11-01T12:00:00Z', '2025-11-01T09:00:00Z', 42, 9);
  assert.ok(lateEdit.r < move.r);
});

test('a create or edit loses a same-second tie against another kind, whatever the revision id or offset', async () => {
  const hide = await keysOf('visibility_change', '2025-11-01T10:00:00Z', '2025-11-01T10:00:00Z', 41, 5);
  const lateCreate = await keysOf('create', '2025-11-10T10:00:00Z', '2025-11-01T10:00:00Z', 42, 9);
  assert.ok(lateCreate.r < hide.r);
});
