// makeDirectory: creates missing parents, accepts an existing directory, and settles with fs's
// error where Node 20's recursive mkdir spins forever (a path under /proc).

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeDirectory } from '../../src/core/make-directory.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-mkdir-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('creates every missing level, and an existing directory is fine', async () => {
  const deep = join(dir, 'a', 'b', 'c');
  await makeDirectory(deep);
  assert.ok((await stat(deep)).isDirectory());
  await makeDirectory(deep);
  await makeDirectory(join(dir, 'a'));
});

test('concurrent calls for the same tree all succeed', async () => {
  const paths = Array.from({ length: 8 }, (_, i) => join(dir, 'race', 'x', String(i % 2)));
  await Promise.all(paths.map((p) => makeDirectory(p)));
  for (const p of paths) assert.ok((await stat(p)).isDirectory());
});

test('a file in the way fails with its fs error', async () => {
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  await assert.rejects(makeDirectory(join(file, 'sub')), { code: 'ENOTDIR' });
  await assert.rejects(makeDirectory(file), { code: 'EEXIST' });
});

// Node 20's fs.mkdir(..., { recursive: true }) never settles here; the timeout fails the test if ours did not either.
test('a parent that cannot be created fails at once instead of looping (/proc)', { timeout: 10_000 }, async () => {
  await assert.rejects(makeDirectory('/proc/mwlake-nope/wh'), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'ENOENT');
    assert.equal(error.path, '/proc/mwlake-nope');
    return true;
  });
});
