// Joining bz2 streams without recompressing: streams from the Debian compressors (one and several
// blocks, empty, each ending at another bit offset) joined into one stream that Python's
// single-stream decompressor reads to the end, byte for byte the concatenated input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Bz2StreamJoiner, parseBz2Stream } from '../../src/dumps/bz2-join.js';
import { bzip2Command, findCompressionTools } from '../../src/dumps/compress.js';
import { bunzip2OneStream } from './helpers.js';

const tools = findCompressionTools();

function compress(input: Buffer): Buffer {
  const [command, args] = bzip2Command(tools, 1);
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  assert.equal(result.status, 0, result.stderr?.toString());
  return result.stdout;
}

/** Seeded text with markup and runs, so blocks compress to sizes that end at every bit offset. */
function text(bytes: number, seed: number): Buffer {
  let state = seed;
  const words = ['<page>', '&amp;', 'Wiki', 'ü', '    ', 'lorem', '[[link]]', '\n', '{{cite}}', '日本'];
  let out = '';
  while (out.length < bytes) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out += words[state % words.length]! + String(state % 97);
  }
  return Buffer.from(out.slice(0, bytes), 'utf8');
}

function join(streams: readonly Buffer[]): Buffer {
  const joiner = new Bz2StreamJoiner();
  return Buffer.concat([...streams.map((stream) => joiner.append(stream)), joiner.finish()]);
}

test('streams of one block each join into one stream of their concatenated input', () => {
  const inputs = Array.from({ length: 12 }, (_, i) => text(1000 + i * 3371, i + 1));
  const joined = join(inputs.map(compress));
  assert.equal(joined.toString('latin1', 0, 4), 'BZh9');
  assert.deepEqual(bunzip2OneStream(joined), Buffer.concat(inputs));
});

test('multi-block and empty streams join too, and the block count enters the combined CRC', () => {
  // Over 900k of input makes two or three blocks in one stream.
  const inputs = [text(2_100_000, 5), Buffer.alloc(0), text(50, 6), text(1_000_000, 7)];
  const streams = inputs.map(compress);
  assert.ok(parseBz2Stream(streams[0]!).blockCount >= 2, 'the first stream should hold several blocks');
  assert.equal(parseBz2Stream(streams[1]!).blockCount, 0);
  assert.deepEqual(bunzip2OneStream(join(streams)), Buffer.concat(inputs));
});

test('streams of plain bzip2 (the fallback compressor) join as those of lbzip2 do', () => {
  const inputs = [text(3000, 11), text(1_200_000, 12)];
  const streams = inputs.map((input) => {
    const result = spawnSync('bzip2', ['-9', '-c'], { input, maxBuffer: 1 << 30 });
    assert.equal(result.status, 0, result.stderr?.toString());
    return result.stdout;
  });
  assert.deepEqual(bunzip2OneStream(join(streams)), Buffer.concat(inputs));
});

test('no streams make a valid empty stream', () => {
  assert.deepEqual(bunzip2OneStream(new Bz2StreamJoiner().finish()), Buffer.alloc(0));
});

test('a truncated or foreign stream is refused with what was found', () => {
  const stream = compress(text(5000, 9));
  assert.throws(() => parseBz2Stream(stream.subarray(0, stream.length - 3)), /no end-of-stream marker whose CRC matches/);
  assert.throws(() => parseBz2Stream(Buffer.from('PK\u0003\u0004 not bz2 at all')), /expected a stream starting with "BZh1".."BZh9", found "PK/);
  const corrupt = Buffer.from(stream);
  corrupt[corrupt.length - 2]! ^= 0x10; // inside the combined CRC
  assert.throws(() => parseBz2Stream(corrupt), /CRC matches/);
});
