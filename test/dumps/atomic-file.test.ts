// The small files of a dump run appear whole or not at all, and a failed write leaves no
// in-progress file behind and names the file.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { writeTextAtomically } from '../../src/dumps/atomic-file.js';
import { inTempDir } from '../helpers/temp-dir.js';

test('a write that fails removes its in-progress file and names the file; one that succeeds leaves only the file', async () => {
  await inTempDir('mwlake-atomic-', async (dir) => {
    await writeTextAtomically(join(dir, 'status.txt'), 'done');
    assert.equal(await readFile(join(dir, 'status.txt'), 'utf8'), 'done');
    // The rename fails: a folder (not empty) holds the name.
    const blocked = join(dir, 'md5sums.txt');
    await mkdir(blocked);
    await writeFile(join(blocked, 'x'), 'x');
    await assert.rejects(writeTextAtomically(blocked, 'abc *f\n'), (error: unknown) => {
      assert.ok(error instanceof JobError, String(error));
      assert.equal(error.exitCode, ExitCode.Refused);
      assert.ok(error.message.includes(blocked), error.message);
      return true;
    });
    assert.deepEqual((await readdir(dir)).sort(), ['md5sums.txt', 'status.txt']);
  });
});
