// The snappy codec reads both forms producers write: a plain snappy block (kafkajs, librdkafka)
// and the xerial framing of Java's client, 32 KiB blocks each with its length, which a large
// page_content_change batch has hundreds of.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { snappyCodec } from '../../src/kafka/codecs.js';

const XERIAL_HEADER = Buffer.from([130, 83, 78, 65, 80, 80, 89, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
const BLOCK = 32 * 1024;

test('a xerial-framed batch of many blocks and a plain snappy block decode to their bytes', async () => {
  const codec = snappyCodec();
  const raw = Buffer.from(randomBytes(1_500_000).toString('hex')); // 3 MB of text: 92 blocks, the last partial
  const parts: Buffer[] = [XERIAL_HEADER];
  for (let at = 0; at < raw.length; at += BLOCK) {
    const block = await codec.compress({ buffer: raw.subarray(at, at + BLOCK) });
    const length = Buffer.alloc(4);
    length.writeUInt32BE(block.length);
    parts.push(length, block);
  }
  assert.ok(parts.length > 180);
  assert.ok((await codec.decompress(Buffer.concat(parts))).equals(raw));
  const small = Buffer.from('{"meta":{"stream":"mediawiki.page_content_change.v1"}}');
  assert.ok((await codec.decompress(await codec.compress({ buffer: small }))).equals(small));
});
