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
  ks: string;
  rs: string;
}

async function keysOf(kind: string, metaDt: string, dt: string | null, revId: number, offset: number): Promise<Keys> {
  const event = `(SELECT {'dt': TIMESTAMPTZ '${metaDt}', 'id': 'e-1'} AS meta, {'rev_id': ${revId}::BIGINT} AS revision,
    ${dt === null ? 'NULL::TIMESTAMPTZ' : `TIMESTAMPTZ '${dt}'`} AS dt, '${kind}' AS page_change_kind, ${offset}::BIGINT AS _kafka_offset)`;
  const [row] = await db.all<Keys>(`SELECT k, r, ks, rs FROM (${pageChangeOrderSql(event)})`);
  return row!;
}

test('an event key is meta.dt in µs, the revision id in 20 digits, then meta.id', async () => {
  const { k, r } = await keysOf('delete', '2025-11-01T10:00:00.5Z', '2025-10-01T00:00:00Z', 42, 7);
  assert.equal(k, '2025-11-01T10:00:00.500000Z|00000000000000000042|e-1');
  assert.equal(r, `2025-11-01T10:00:00.500000Z|00000000000000000042|00000000000000000007|${k}`);
});

test("a create's or edit's state key is its key at dt; other kinds keep meta.dt", async () => {
  for (const kind of ['create', 'edit']) {
    const { ks, rs } = await keysOf(kind, '2025-11-01T10:00:00Z', '2025-10-01T08:30:00.25Z', 42, 7);
    assert.equal(ks, '2025-10-01T08:30:00.250000Z|00000000000000000042|e-1', kind);
    assert.equal(rs, `2025-10-01T08:30:00.250000Z|00000000000000000042|00000000000000000007|${ks}`, kind);
  }
  for (const kind of ['move', 'delete', 'visibility_change']) {
    const { k, r, ks, rs } = await keysOf(kind, '2025-11-01T10:00:00Z', '2025-10-01T08:30:00Z', 42, 7);
    assert.equal(ks, k, kind);
    assert.equal(rs, r, kind);
  }
  const noDt = await keysOf('edit', '2025-11-01T10:00:00Z', null, 42, 7);
  assert.equal(noDt.ks, noDt.k);
});

test('a late edit ranks below a move made after its dt, though delivered later', async () => {
  const move = await keysOf('move', '2025-11-01T10:00:00Z', '2025-11-01T10:00:00Z', 41, 5);
  const lateEdit = await keysOf('edit', '2025-11-01T12:00:00Z', '2025-11-01T09:00:00Z', 42, 9);
  assert.ok(lateEdit.r > move.r, 'the edit is the later event');
  assert.ok(lateEdit.rs < move.rs, 'but what it says of its page is older');
});
