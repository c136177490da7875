// Bigint-safe JSON: fixed vectors at the edges (2^53, fractions, exponents, digits in strings,
// the private-use mark), and seeded random documents checked against lossless-json itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type * as losslessJson from 'lossless-json';
import { parseJsonBigInt, stringifyJsonBigInt } from '../../src/core/json-bigint.js';

const lossless = createRequire(import.meta.url)('lossless-json') as typeof losslessJson;
const losslessParse = (text: string): unknown =>
  lossless.parse(text, null, (s) => (/^-?\d+$/.test(s) && !Number.isSafeInteger(Number(s)) ? BigInt(s) : Number(s)));

test('integers past 2^53 parse as bigint, safe ones as numbers, wherever they sit', () => {
  const text = '{"current-snapshot-id":3055729675574597004,"n":[9007199254740991,9007199254740992,-9007199254740992,-12345678901234567890,0,-1],"s":{"a":123456789012345678}}';
  assert.deepEqual(parseJsonBigInt(text), {
    'current-snapshot-id': 3055729675574597004n,
    n: [9007199254740991, 9007199254740992n, -9007199254740992n, -12345678901234567890n, 0, -1],
    s: { a: 123456789012345678n },
  });
});

test('fractions, exponents and digits inside strings stay what JSON.parse makes of them', () => {
  const text = '[0.12345678901234567890, 12345678901234567890.5, 12345678901234567890e2, 1E-12345678901234567890, 1.5e+1234567890123456, "12345678901234567890", "a\\"12345678901234567890\\\\", "\\\\\\"x 12345678901234567890"]';
  assert.deepEqual(parseJsonBigInt(text), JSON.parse(text));
  assert.deepEqual(parseJsonBigInt(text), losslessParse(text));
});

test('a string that holds the private-use mark is never taken for a number', () => {
  for (const text of ['["\uE0001234567890123456789"]', '["\\uE0001234567890123456789"]', '["\\ue000123", 12345678901234567890]']) {
    assert.deepEqual(parseJsonBigInt(text), losslessParse(text), text);
  }
  for (const value of [{ s: '\uE0001234567890123456789', id: 12345678901234567890n }, { k: { '\uE00012345678901234567890': 1 }, id: 12345678901234567890n }]) {
    const text = stringifyJsonBigInt(value);
    assert.equal(text, lossless.stringify(value));
    assert.deepEqual(parseJsonBigInt(text), value);
  }
});

test('stringify writes bigints as plain integers, with indent, at the top level and in arrays', () => {
  assert.equal(stringifyJsonBigInt(12345678901234567890n), '12345678901234567890');
  assert.equal(stringifyJsonBigInt({ a: [1n, -98765432109876543210n], b: 'x' }), '{"a":[1,-98765432109876543210],"b":"x"}');
  assert.equal(stringifyJsonBigInt({ a: 1n }, 2), '{\n  "a": 1\n}');
  assert.throws(() => stringifyJsonBigInt(undefined), /cannot be serialized/);
});

test('invalid JSON is a DATA error that names the document and the position in the text as given', () => {
  assert.throws(
    () => parseJsonBigInt('{"id": 12345678901234567890, "x": }', 'v3.metadata.json'),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATA');
      assert.match(error.message, /^v3\.metadata\.json is not valid JSON: /);
      assert.match(error.message, /at position 34$/);
      return true;
    },
  );
});

test('number forms JSON forbids stay refused, and a marked key never leaks out', () => {
  for (const text of ['[0012345678901234567]', '[00000000000000001]', '{1234567890123456789:1}', '{"a": 12345678901234567890 :1}']) {
    assert.throws(() => parseJsonBigInt(text), /is not valid JSON/, text);
  }
});

test('a string that never closes is refused at once, not after a scan from every later quote', () => {
  // 400 KB of escaped quotes: a rescan from each one took 72 s (quadratic); the first lone quote
  // ends it in milliseconds. Sync code cannot be timed out in-process, so a child runs it.
  const script = `import { parseJsonBigInt } from ${JSON.stringify(new URL('../../src/core/json-bigint.js', import.meta.url).href)};
try { parseJsonBigInt('["' + '\\\\"'.repeat(200000)); } catch (e) { if (/is not valid JSON/.test(e.message)) process.exit(0); }
process.exit(1);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  assert.equal(r.signal, null, 'finished within 20 s');
  assert.equal(r.status, 0, String(r.stderr));
});

test('a String object holding the mark takes the fallback too', () => {
  const value = [1n, new String('\uE0002')];
  assert.equal(stringifyJsonBigInt(value), lossless.stringify(value));
});

test('a key holding the mark and digits keeps its quotes when its value is a big integer', () => {
  const value = { '\uE0001': 12345678901234567890n, 'q"\uE0002': 12345678901234567891n };
  const text = stringifyJsonBigInt(value);
  assert.doesNotThrow(() => JSON.parse(text), text);
  assert.deepEqual(parseJsonBigInt(text), value);
});

/** Seeded xorshift, so a failure reproduces. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const PIECES = ['a', '"', '\\', '\\"', '\\\\', '1234567890123456789', '-', '.', 'e', ' ', '\n', '\u2028', 'é', '😀', '\uE000', '{', '}', '[', ']', ':', ','];

function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 6 : 8));
  const int = (): bigint => BigInt(Math.floor(r() * 2 ** 31)) * BigInt(Math.floor(r() * 2 ** 31)) * (r() < 0.5 ? -1n : 1n);
  switch (pick) {
    case 0:
      return int();
    case 1: {
      const n = int();
      // Keep what parses back as bigint a bigint, and what fits a number a number.
      return Number.isSafeInteger(Number(n)) ? Number(n) : n;
    }
    case 2:
      return r() < 0.5 ? r() * 1e6 : Number(`${Math.floor(r() * 1e9)}e${Math.floor(r() * 40) - 20}`);
    case 3:
      return Array.from({ length: Math.floor(r() * 6) }, () => PIECES[Math.floor(r() * PIECES.length)]).join('');
    case 4:
      return r() < 0.5 ? null : r() < 0.5;
    case 5:
      return Math.floor(r() * 100);
    case 6:
      return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(r() * 5) }, () => [String(randomValue(r, 9)), randomValue(r, depth + 1)]));
  }
}

test('2,000 seeded random documents: the same text and the same values as lossless-json', () => {
  const r = random(20261203);
  for (let i = 0; i < 2000; i++) {
    const value = randomValue(r, 0);
    const indent = i % 3 === 0 ? 2 : undefined;
    const text = lossless.stringify(value, undefined, indent)!;
    assert.equal(stringifyJsonBigInt(value, indent), text, `document ${i}`);
    assert.deepEqual(parseJsonBigInt(text), losslessParse(text), `document ${i}: ${text}`);
  }
});

test('text that holds the mark still keeps the last of a repeated key, and its big integers exact', () => {
  // Wikitext may hold U+E000; a newer minor's field may pass 2^53; a key may repeat.
  for (const text of ['{"wiki_id":"a","s":"\uE000x","n":12345678901234567890,"wiki_id":"b"}', '{"wiki_id":"a","s":"\\uE000\\uE001","n":-12345678901234567890,"wiki_id":"b"}']) {
    const value = parseJsonBigInt(text) as { wiki_id: string; n: bigint; s: string };
    assert.equal(value.wiki_id, 'b', text);
    assert.equal(typeof value.n, 'bigint');
    assert.equal(value.n < 0n ? -value.n : value.n, 12345678901234567890n);
    assert.equal(value.s, JSON.parse(text).s);
  }
});
