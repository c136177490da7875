// LocalStorage's failures: each names the location asked for and maps its errno to the exit code
// a person needs (STORAGE_REFUSED: a path to fix), with no temp file's error in its place.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobError } from '../../src/core/errors.js';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';

test('an atomic write or a create under a path through a file is STORAGE_REFUSED naming the location, not the temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-storage-'));
  try {
    await writeFile(join(dir, 'file'), 'x');
    const storage = new LocalStorage();
    for (const write of [() => storage.writeAtomic(fileLocation(join(dir, 'file', 'sub', 'a.json')), '{}'), () => storage.writeIfAbsent(fileLocation(join(dir, 'file', 'sub', 'b.json')), '{}')]) {
      await assert.rejects(write(), (e: unknown) => e instanceof JobError && e.code === 'STORAGE_REFUSED' && /file:\/\/.*\/file\/sub\/[ab]\.json: ENOTDIR/.test(e.message));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
