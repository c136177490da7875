import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../src/gen/prng.js';

function draw(prng: Prng, n: number): number[] {
  return Array.from({ length: n }, () => prng.uint32());
}

test('the same seed and label give the same sequence; another seed or label another', () => {
  assert.deepEqual(draw(new Prng(7), 100), draw(new Prng(7), 100));
  assert.deepEqual(draw(new Prng('7'), 10), draw(new Prng(7), 10), 'numbers and their string form seed alike');
  assert.notDeepEqual(draw(new Prng(7), 100), draw(new Prng(8), 100));
  assert.notDeepEqual(draw(new Prng(7, 'a'), 100), draw(new Prng(7, 'b'), 100));
});

test('forks are deterministic and independent of the parent stream', () => {
  const a = new Prng(7).fork('corpus');
  const b = new Prng(7).fork('corpus');
  assert.deepEqual(draw(a, 50), draw(b, 50));
  const parent = new Prng(7);
  const child = parent.fork('x');
  assert.notDeepEqual(draw(parent, 50), draw(child, 50));
});

test('distributions have the requested shape', () => {
  const prng = new Prng(1);
  const n = 20_000;
  const floats = Array.from({ length: n }, () => prng.float());
  assert.ok(floats.every((x) => x >= 0 && x < 1));
  const mean = floats.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  const ints = Array.from({ length: n }, () => prng.int(10));
  assert.deepEqual([...new Set(ints)].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const logNormal = Array.from({ length: n }, () => prng.logNormal(4096, 1.5)).sort((a, b) => a - b);
  const median = logNormal[n / 2]!;
  assert.ok(median > 3700 && median < 4500, `median ${median}`);
  const weighted = Array.from({ length: n }, () => prng.weighted([9, 1]));
  const ones = weighted.filter((x) => x === 1).length / n;
  assert.ok(Math.abs(ones - 0.1) < 0.01, `share ${ones}`);
  const exp = Array.from({ length: n }, () => prng.exponential(100));
  const expMean = exp.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(expMean - 100) < 4, `mean ${expMean}`);
});

test('uuids are version 4 and distinct', () => {
  const prng = new Prng(3);
  const ids = Array.from({ length: 1000 }, () => prng.uuid());
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
});
