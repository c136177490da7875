// The column decoder behind DuckDb.streamDecoded against the package's converter (DuckDb.stream)
// on the types it reads, NULLs at every level, short (inline) and long BLOBs, and several chunks.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';

let db: DuckDb;
before(async () => {
  db = await openDuckDb();
});
after(async () => {
  await db.close();
});

async function collect(rows: AsyncIterable<Record<string, unknown>[]>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const batch of rows) out.push(...batch);
  return out;
}

/** BLOBs compare as plain byte arrays: the converter gives Buffers, the decoder Uint8Arrays. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const SQL = `SELECT i::BIGINT AS id, (i % 7)::INTEGER AS small, i % 3 = 0 AS flag, i / 4 AS ratio,
  CASE WHEN i % 5 = 0 THEN NULL ELSE 'tïtle ' || i END AS title,
  CASE WHEN i % 6 = 0 THEN NULL ELSE encode(repeat('é<&>', (i % 9) * 3)) END AS body,
  CASE WHEN i % 11 = 0 THEN NULL
       ELSE list_transform(range(i % 4), k -> CASE WHEN k = 2 THEN NULL ELSE {role: 'r' || k, size: (k * i)::BIGINT,
         body: CASE WHEN k = 1 THEN NULL ELSE encode(repeat('x', k * 5)) END} END) END AS slots
  FROM range(5000) t(i) ORDER BY i`;

test('streamDecoded gives the rows the package converter gives, over several chunks', async () => {
  const expected = await db.all(SQL);
  const decoded = await collect(db.streamDecoded(SQL));
  assert.equal(decoded.length, 5000);
  assert.deepEqual(decoded.map(plain), expected.map(plain));
  // Spot checks that the comparison covers what it should.
  assert.equal(decoded[0]!['title'], null);
  assert.equal(decoded[1]!['title'], 'tïtle 1');
  assert.equal(typeof decoded[1]!['id'], 'bigint');
  assert.equal(decoded[11]!['slots'], null);
  assert.deepEqual(plain(decoded[3]!['slots']), [
    { role: 'r0', size: 0n, body: [] },
    { role: 'r1', size: 3n, body: null },
    null,
  ]);
  assert.equal(Buffer.from(decoded[7]!['body'] as Uint8Array).toString('utf8'), 'é<&>'.repeat(21));
});

test('a type the decoder does not read is refused naming the column', async () => {
  await assert.rejects(collect(db.streamDecoded(`SELECT 1 AS fine, DATE '2024-01-01' AS day`)), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'INTERNAL');
    assert.match(error.message, /column day is DATE/);
    return true;
  });
  await assert.rejects(collect(db.streamDecoded(`SELECT [{'a': TIMESTAMP '2024-01-01'}] AS nested`)), /column nested\[\]\.a is TIMESTAMP/);
});
