// CompressedFileWriter when the file cannot take the bytes: a full disk (/dev/full answers every
// write with ENOSPC) must be reported as such, not as the compressor's death by SIGPIPE it causes.

import assert from 'node:assert/strict';
import { lstat, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CompressedFileWriter, findCompressionTools, type Codec } from '../../src/dumps/compress.js';
import { JobError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';

const tools = findCompressionTools();
// Incompressible enough that the compressors write output while input still arrives.
const block = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 2654435761) >>> 24));

for (const codec of ['bz2', 'zst', 'gz'] as const satisfies readonly Codec[]) {
  test(`${codec}: a full disk is an out-of-resources error naming the file`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mwlake-compress-'));
    try {
      // A link, so abort() removes the link and never the device.
      const path = join(dir, `full.${codec}`);
      await symlink('/dev/full', path);
      const writer = CompressedFileWriter.open(path, codec, tools);
      await assert.rejects(
        (async () => {
          for (let i = 0; i < 64; i++) await writer.write(block);
          await writer.finish();
        })(),
        (error: unknown) => {
          assert.ok(error instanceof JobError, String(error));
          assert.equal(error.code, 'RESOURCES', error.message);
          assert.equal(error.exitCode, ExitCode.Resources);
          assert.match(error.message, /ENOSPC/);
          assert.ok(error.message.includes(path), error.message);
          return true;
        },
      );
      await writer.abort();
      await assert.rejects(lstat(path), { code: 'ENOENT' });
      assert.ok((await lstat('/dev/full')).isCharacterDevice());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('abort() returns at once even when a process the compressor left holds its output open', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-compress-'));
  try {
    // A wrapper whose child (not exec'd) outlives a kill of the wrapper and keeps the pipes open.
    const script = join(dir, 'lbzip2');
    await writeFile(script, '#!/bin/sh\nsleep 30\nexit 0\n', { mode: 0o755 });
    const path = join(dir, 'stalled.bz2');
    const writer = CompressedFileWriter.open(path, 'bz2', { ...tools, bzip2: { command: script, parallel: true } });
    await writer.write(Buffer.from('<mediawiki>'));
    const started = Date.now();
    await writer.abort();
    assert.ok(Date.now() - started < 10_000, `abort took ${Date.now() - started} ms`);
    await assert.rejects(lstat(path), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
