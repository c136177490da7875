// LocalStorage's failures: each names the location asked for and maps its errno to the exit code
// a person needs (STORAGE_REFUSED: a path to fix), with no temp file's error in its place.

import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

test("a create whose link reports EEXIST for its own link (NFS's lost reply, retransmitted) succeeds; another writer's file is still ALREADY_EXISTS", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-storage-'));
  // The ESM namespace of node:fs/promises follows its CommonJS object once synced.
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
  const link = fsp.link;
  t.after(() => {
    fsp.link = link;
    syncBuiltinESMExports();
  });
  fsp.link = async (from, to) => {
    await link(from, to);
    throw Object.assign(new Error(`EEXIST: file already exists, link '${String(from)}' -> '${String(to)}'`), { code: 'EEXIST', errno: -17 });
  };
  syncBuiltinESMExports();
  try {
    const storage = new LocalStorage();
    const location = fileLocation(join(dir, 'v1.metadata.json'));
    await storage.writeIfAbsent(location, 'mine');
    assert.equal(await readFile(join(dir, 'v1.metadata.json'), 'utf8'), 'mine');
    await assert.rejects(storage.writeIfAbsent(location, 'theirs'), (e: unknown) => e instanceof JobError && e.code === 'ALREADY_EXISTS');
    assert.equal(await readFile(join(dir, 'v1.metadata.json'), 'utf8'), 'mine');
    assert.deepEqual((await readdir(dir)).filter((name) => name.endsWith('.tmp')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
