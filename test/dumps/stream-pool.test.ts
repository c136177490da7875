// The multistream's bz2 worker pool: a stream per chunk, and failures as their exit codes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findCompressionTools } from '../../src/dumps/compress.js';
import { Bzip2StreamPool } from '../../src/dumps/stream-pool.js';

const tools = findCompressionTools(process.env['PATH'], 2);
const directoryOf = (pool: Bzip2StreamPool) => (pool as unknown as { directory: string }).directory;

test('each chunk becomes one complete bz2 stream', async () => {
  const pool = await Bzip2StreamPool.start(tools);
  try {
    const chunks = ['<page>one</page>', '<page>two</page>'.repeat(1000), ''];
    const streams = await Promise.all(chunks.map((c) => pool.compress(Buffer.from(c))));
    for (const [i, stream] of streams.entries()) {
      const out = spawnSync('bzip2', ['-dc'], { input: stream });
      assert.equal(out.status, 0);
      assert.equal(out.stdout.toString('utf8'), chunks[i]);
    }
  } finally {
    await pool.close();
  }
});

test('workers that cannot start fail the chunk as UNAVAILABLE, not as an uncaught error event; close still ends', async () => {
  const path = process.env['PATH'];
  process.env['PATH'] = '/nonexistent';
  let pool: Bzip2StreamPool;
  try {
    pool = await Bzip2StreamPool.start(tools);
  } finally {
    process.env['PATH'] = path;
  }
  await assert.rejects(pool.compress(Buffer.from('abc')), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /cannot start sh for the bz2 stream workers: spawn sh ENOENT/.test(e.message));
  await pool.close();
});

test('a spawn that throws (some errnos throw rather than emit) fails the start as UNAVAILABLE, leaving no temp folder', async () => {
  // This process's folders only: other test files run beside this one.
  const ours = () => readdirSync(tmpdir()).filter((name) => name.startsWith('mwlake-streams-') && name.includes(`-${process.pid}-`));
  const before = new Set(ours());
  // A NUL in an argument makes spawn throw synchronously, as ENOMEM does.
  await assert.rejects(Bzip2StreamPool.start({ ...tools, bzip2: { command: 'lbzip2\0', parallel: true } }), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /cannot start sh for the bz2 stream workers/.test(e.message));
  assert.deepEqual(ours().filter((name) => !before.has(name)), []);
});

test('a full temp disk under the compressor is RESOURCES (exit 71), naming the folder', async () => {
  const pool = await Bzip2StreamPool.start({ ...tools, threads: 1 });
  try {
    // The compressor writes the chunk's stream to <chunk>.bz2 itself: here /dev/full.
    await symlink('/dev/full', join(directoryOf(pool), 'stream-0.bz2'));
    await assert.rejects(pool.compress(Buffer.from('x'.repeat(100_000))), (e: Error & { code?: string }) => e.code === 'RESOURCES' && e.message.includes(directoryOf(pool)) && /No space left on device/.test(e.message));
  } finally {
    await pool.close();
  }
});
