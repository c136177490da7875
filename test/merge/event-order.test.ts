import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { keyWinsSql, pageChangeOrderSql } from '../../src/merge/event-order.js';

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

async function keysOf(kind: string, metaDt: string, dt: string | null, revId: number, offset: number, kafka: { topic?: string; partition?: number; at?: string } = {}): Promise<Keys> {
  const at = kafka.at === undefined ? 'NULL::TIMESTAMPTZ' : `TIMESTAMPTZ '${kafka.at}'`;
  const event = `(SELECT {'dt': TIMESTAMPTZ '${metaDt}', 'id': 'e-1'} AS meta, {'rev_id': ${revId}::BIGINT} AS revision,
    ${dt === null ? 'NULL::TIMESTAMPTZ' : `TIMESTAMPTZ '${dt}'`} AS dt, '${kind}' AS page_change_kind, '${kafka.topic ?? 'eqiad.t'}' AS _kafka_topic,
    ${kafka.partition ?? 0} AS _kafka_partition, ${offset}::BIGINT AS _kafka_offset, ${at} AS _kafka_timestamp)`;
  const [row] = await db.all<Keys>(`SELECT k, r FROM (${pageChangeOrderSql(event)})`);
  return row!;
}

const EPOCH = '1970-01-01T00:00:00.000000Z';

test('an event key is dt in µs, the kind priority, the Kafka timestamp, the revision id in 20 digits, then meta.id', async () => {
  const { k, r } = await keysOf('delete', '2025-11-01T10:00:04.5Z', '2025-11-01T10:00:00.5Z', 42, 7, { topic: 'codfw.t', partition: 3, at: '2025-11-01T10:00:05.25Z' });
  assert.equal(k, '2025-11-01T10:00:00.500000Z|1|2025-11-01T10:00:05.250000Z|00000000000000000042|e-1');
  assert.equal(r, `2025-11-01T10:00:00.500000Z|1|2025-11-01T10:00:05.250000Z|codfw.t|0000000003|00000000000000000007|${k}`);
});

test('every kind ranks at its dt (meta.dt without one); creates and edits have the lower priority', async () => {
  for (const kind of ['create', 'edit']) {
    const { k } = await keysOf(kind, '2025-11-01T10:00:00Z', '2025-10-01T08:30:00.25Z', 42, 7);
    assert.equal(k, `2025-10-01T08:30:00.250000Z|0|${EPOCH}|00000000000000000042|e-1`, kind);
  }
  for (const kind of ['move', 'delete', 'undelete', 'visibility_change']) {
    const { k } = await keysOf(kind, '2025-11-01T10:00:00Z', '2025-10-01T08:30:00Z', 42, 7);
    assert.equal(k, `2025-10-01T08:30:00.000000Z|1|${EPOCH}|00000000000000000042|e-1`, kind);
  }
  const noDt = await keysOf('edit', '2025-11-01T10:00:00Z', null, 42, 7);
  assert.equal(noDt.k, `2025-11-01T10:00:00.000000Z|0|${EPOCH}|00000000000000000042|e-1`);
});

test('a late edit ranks below a move made after its dt, though delivered later', async () => {
  const move = await keysOf('move', '2025-11-01T10:00:04Z', '2025-11-01T10:00:00Z', 41, 5);
  const lateEdit = await keysOf('edit', '2025-11-01T12:00:00Z', '2025-11-01T09:00:00Z', 42, 9);
  assert.ok(lateEdit.r < move.r);
});

test('in the rank a create or edit sorts below another kind of the same second, whatever the revision id or offset', async () => {
  const hide = await keysOf('visibility_change', '2025-11-01T10:00:00Z', '2025-11-01T10:00:00Z', 41, 5);
  const lateCreate = await keysOf('create', '2025-11-10T10:00:00Z', '2025-11-01T10:00:00Z', 42, 9);
  assert.ok(lateCreate.r < hide.r);
});

test('same-second ties: the Kafka timestamp across topics, then the offset within one partition, never the revision id', async () => {
  const at = '2025-11-01T10:00:00Z';
  const del = await keysOf('delete', at, at, 21, 5000, { topic: 'eqiad.t', at: '2025-11-01T10:00:01Z' });
  const und = await keysOf('undelete', at, at, 20, 3, { topic: 'codfw.t', at: '2025-11-01T10:00:02Z' });
  assert.ok(und.r > del.r, 'the undelete was produced later');
  const first = await keysOf('delete', at, at, 21, 8, { at: '2025-11-01T10:00:01Z' });
  const second = await keysOf('undelete', at, at, 20, 9, { at: '2025-11-01T10:00:01Z' });
  assert.ok(second.r > first.r, 'same producer millisecond: the later offset');
});

test('keyWinsSql: across kinds in one second the newer revision wins; otherwise the key order', async () => {
  const at = '2025-11-01T10:00:00Z';
  const wins = async (delta: Keys, stored: Keys) => {
    const [row] = await db.all<{ w: boolean }>(`SELECT ${keyWinsSql(`'${delta.k}'`, `'${stored.k}'`)} AS w`);
    return row!.w;
  };
  const move = await keysOf('move', at, at, 11, 5, { at: '2025-11-01T10:00:01Z' });
  const newerEdit = await keysOf('edit', at, at, 12, 6, { at: '2025-11-01T10:00:02Z' });
  const olderEdit = await keysOf('edit', at, at, 10, 7, { at: '2025-11-01T10:00:03Z' });
  const sameRevisionEdit = await keysOf('create', at, at, 11, 8, { at: '2025-11-01T10:00:04Z' });
  assert.equal(await wins(newerEdit, move), true);
  assert.equal(await wins(move, newerEdit), false);
  assert.equal(await wins(olderEdit, move), false, 'made before the move, though delivered after it');
  assert.equal(await wins(move, olderEdit), true);
  assert.equal(await wins(sameRevisionEdit, move), false);
  assert.equal(await wins(move, sameRevisionEdit), true);
  const laterSecond = await keysOf('edit', '2025-11-01T10:00:01Z', '2025-11-01T10:00:01Z', 3, 9);
  assert.equal(await wins(laterSecond, move), true, 'a later time wins whatever the revision id');
  const undelete = await keysOf('undelete', at, at, 9, 10, { at: '2025-11-01T10:00:05Z' });
  assert.equal(await wins(undelete, move), true, 'two kinds that act on revisions: Kafka order');
  const legacy = '2025-11-01T10:00:00.000000Z|1|00000000000000000011|e-0';
  const [row] = await db.all<{ w: boolean }>(`SELECT ${keyWinsSql(`'${newerEdit.k}'`, `'${legacy}'`)} AS w`);
  assert.equal(row!.w, false, 'a key of an older layout compares by its order prefix');
});

test('two creates or edits of one second: the newer revision wins in the rank and keyWinsSql, whatever Kafka order', async () => {
  const at = '2025-11-01T10:00:00Z';
  const older = await keysOf('edit', at, at, 10, 9, { at: '2025-11-01T10:00:09Z' });
  const newer = await keysOf('create', at, at, 12, 5, { at: '2025-11-01T10:00:01Z' });
  assert.ok(newer.r > older.r);
  const wins = async (delta: Keys, stored: Keys) => (await db.all<{ w: boolean }>(`SELECT ${keyWinsSql(`'${delta.k}'`, `'${stored.k}'`)} AS w`))[0]!.w;
  assert.equal(await wins(older, newer), false);
  assert.equal(await wins(newer, older), true);
  const again = await keysOf('edit', at, at, 12, 7, { at: '2025-11-01T10:00:02Z' });
  assert.equal(await wins(again, newer), true, 'one revision: Kafka order');
});
