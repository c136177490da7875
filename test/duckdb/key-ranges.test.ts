// keyRanges: consecutive, non-overlapping ranges in key order covering every row once, each within
// its budget plus one row; inKeyRangeSql selects exactly a range's rows.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { inKeyRangeSql, inKeyRangeUpToNextSql, keyRangeGroups, keyRanges } from '../../src/duckdb/key-ranges.js';

// 1,000 rows keyed (a, b) = (i / 10, i % 10), shuffled so that order comes from the keys alone.
const ROWS = '(SELECT i // 10 AS a, i % 10 AS b, CASE WHEN i = 555 THEN 5000 ELSE 100 END AS s FROM range(1000) t(i) ORDER BY hash(i))';

test('ranges of at most the budget plus one row, in key order, covering every row once', async () => {
  const db = await openDuckDb();
  try {
    assert.deepEqual(await keyRanges(db, { relation: ROWS, keys: ['a', 'b'], sizeSql: 's', budgetBytes: 200_000 }), [], 'all rows fit: no split');
    const ranges = await keyRanges(db, { relation: ROWS, keys: ['a', 'b'], sizeSql: 's', budgetBytes: 1_000 });
    // 104,900 bytes in all: the running total crosses a multiple of 1,000 at least 104 times.
    assert.ok(ranges.length >= 100 && ranges.length <= 105, `${ranges.length} ranges`);
    assert.deepEqual(ranges[0], { from: [0n, 0n], to: [0n, 9n] });
    let covered = 0;
    let previous: readonly bigint[] | undefined;
    for (const range of ranges) {
      const [r] = await db.all<{ n: bigint; bytes: bigint; lo: string; hi: string }>(
        `SELECT count(*) AS n, sum(s)::BIGINT AS bytes, min(a * 100 + b)::VARCHAR AS lo, max(a * 100 + b)::VARCHAR AS hi FROM ${ROWS} WHERE ${inKeyRangeSql(['a', 'b'], range)}`,
      );
      covered += Number(r!.n);
      assert.ok(Number(r!.bytes) <= 1_000 + 5_000, `range ${JSON.stringify(range, (_, v) => (typeof v === 'bigint' ? Number(v) : v))} holds ${r!.bytes} bytes`);
      assert.equal(r!.lo, String(Number(range.from[0]) * 100 + Number(range.from[1])));
      assert.equal(r!.hi, String(Number(range.to[0]) * 100 + Number(range.to[1])));
      if (previous !== undefined) assert.ok(Number(range.from[0]) * 100 + Number(range.from[1]) > Number(previous[0]) * 100 + Number(previous[1]));
      previous = range.to;
    }
    assert.equal(covered, 1000);
    // The row larger than the budget (a = 55, b = 5) shares no range with the rows before it.
    assert.ok(ranges.some((r) => r.from[0] === 55n && r.from[1] === 5n), 'a range starts at the large row');
  } finally {
    await db.close();
  }
});

test('one key column: plain bounds', async () => {
  const db = await openDuckDb();
  try {
    const ranges = await keyRanges(db, { relation: '(SELECT i AS k FROM range(10) t(i))', keys: ['k'], sizeSql: '10', budgetBytes: 30 });
    assert.deepEqual(ranges, [
      { from: [0n], to: [2n] },
      { from: [3n], to: [5n] },
      { from: [6n], to: [8n] },
      { from: [9n], to: [9n] },
    ]);
    assert.equal(inKeyRangeSql(['k'], ranges[1]!), 'k >= 3 AND k <= 5');
    assert.equal(inKeyRangeSql(['a', 'b'], { from: [1n, 2n], to: [3n, 4n] }), '(a > 1 OR (a = 1 AND b >= 2)) AND (a < 3 OR (a = 3 AND b <= 4))');
  } finally {
    await db.close();
  }
});

test('repeated keys: inclusive ranges can share a key, the half-open ones hold every row exactly once', async () => {
  const db = await openDuckDb();
  // 600 rows: keys 0-99 once, key 100 400 times, keys 101-200 once; shuffled.
  const rows = '(SELECT CASE WHEN i < 100 THEN i WHEN i < 500 THEN 100 ELSE i - 399 END AS k FROM range(600) t(i) ORDER BY hash(i))';
  try {
    const ranges = await keyRanges(db, { relation: rows, keys: ['k'], sizeSql: '10', budgetBytes: 500 });
    assert.ok(ranges.length >= 10, `${ranges.length} ranges`);
    const count = async (where: string) => Number((await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${rows} WHERE ${where}`))[0]!.n);
    let inclusive = 0;
    let halfOpen = 0;
    for (let i = 0; i < ranges.length; i++) {
      inclusive += await count(inKeyRangeSql(['k'], ranges[i]!));
      halfOpen += await count(inKeyRangeUpToNextSql(['k'], ranges, i));
    }
    assert.ok(inclusive > 600, `inclusive ranges count ${inclusive} rows: key 100 is in several`);
    assert.equal(halfOpen, 600);
    assert.equal(inKeyRangeUpToNextSql(['a', 'b'], [{ from: [1n, 2n], to: [1n, 9n] }, { from: [3n, 4n], to: [5n, 6n] }], 0), 'true AND (a < 3 OR (a = 3 AND b < 4))');
    assert.equal(inKeyRangeUpToNextSql(['a', 'b'], [{ from: [1n, 2n], to: [1n, 9n] }, { from: [3n, 4n], to: [5n, 6n] }], 1), '(a > 3 OR (a = 3 AND b >= 4))');
  } finally {
    await db.close();
  }
});

test('fences: no range spans one, even when all rows fit the budget; the budget counts from each fence', async () => {
  const db = await openDuckDb();
  // Keys 0-9 and 20-29: the gap 10-19 is another file's range, fenced at 10 and 20.
  const rows = '(SELECT CASE WHEN i < 10 THEN i ELSE i + 10 END AS k FROM range(20) t(i) ORDER BY hash(i))';
  try {
    assert.deepEqual(await keyRanges(db, { relation: rows, keys: ['k'], sizeSql: '10', budgetBytes: 1_000, fences: [20n, 10n] }), [
      { from: [0n], to: [9n] },
      { from: [20n], to: [29n] },
    ]);
    assert.deepEqual(await keyRanges(db, { relation: rows, keys: ['k'], sizeSql: '10', budgetBytes: 60, fences: [10n, 20n] }), [
      { from: [0n], to: [5n] },
      { from: [6n], to: [9n] },
      { from: [20n], to: [25n] },
      { from: [26n], to: [29n] },
    ]);
    assert.deepEqual(await keyRanges(db, { relation: rows, keys: ['k'], sizeSql: '10', budgetBytes: 1_000, fences: [100n, -5n] }), [], 'all rows between two fences: unsplit');
    await assert.rejects(keyRanges(db, { relation: rows, keys: ['k', 'k'], sizeSql: '10', budgetBytes: 1_000, fences: [1n] }), /one key column/);
  } finally {
    await db.close();
  }
});

test('groups: the ranges of a larger budget, each cut into ranges of at most the smaller one, never across a fence', async () => {
  const db = await openDuckDb();
  const rows = '(SELECT i AS k FROM range(40) t(i) ORDER BY hash(i))';
  try {
    const spans = (groups: { from: readonly bigint[]; to: readonly bigint[] }[][]) => groups.map((g) => g.map((r) => `${r.from[0]}-${r.to[0]}`));
    // Groups of 100 bytes (ten rows), ranges of at most 40 bytes within each.
    const groups = await keyRangeGroups(db, { relation: rows, keys: ['k'], sizeSql: '10', groupBytes: 100, budgetBytes: 40 });
    assert.deepEqual(spans(groups), [0, 10, 20, 30].map((k) => [`${k}-${k + 3}`, `${k + 4}-${k + 7}`, `${k + 8}-${k + 9}`]));
    // As keyRanges' ranges at the group budget when the smaller one holds a group.
    const whole = await keyRangeGroups(db, { relation: rows, keys: ['k'], sizeSql: '10', groupBytes: 100, budgetBytes: 1_000 });
    assert.deepEqual(whole.map((g) => g.length), [1, 1, 1, 1]);
    assert.deepEqual(whole.flat(), await keyRanges(db, { relation: rows, keys: ['k'], sizeSql: '10', budgetBytes: 100 }));
    assert.deepEqual(spans(await keyRangeGroups(db, { relation: rows, keys: ['k'], sizeSql: '10', groupBytes: 100, budgetBytes: 50, fences: [5n] })), [
      ['0-4'],
      ['5-9', '10-14'],
      ['15-19', '20-24'],
      ['25-29', '30-34'],
      ['35-39'],
    ]);
    assert.deepEqual(await keyRangeGroups(db, { relation: rows, keys: ['k'], sizeSql: '10', groupBytes: 1_000, budgetBytes: 1_000 }), [], 'all rows fit: no split');
  } finally {
    await db.close();
  }
});
