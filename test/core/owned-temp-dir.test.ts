// Temp folders named after their owner: the orphans of exited processes go, live owners' folders,
// other pid namespaces' and unrelated names stay.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { createOwnedTempDir, removeOrphanedTempDirs } from '../../src/core/owned-temp-dir.js';

const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1]!;
let parent: string;
before(async () => {
  parent = await mkdtemp(join(tmpdir(), 'mwlake-owned-'));
});
after(async () => {
  await rm(parent, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid!;
}

test('a new folder carries the pid namespace and pid of its owner', async () => {
  const dir = await createOwnedTempDir('x-stage-', parent);
  assert.match(basename(dir), new RegExp(`^x-stage-${namespace}-${process.pid}-[A-Za-z0-9]{6}$`));
  assert.ok(existsSync(dir));
});

test('only the folders of exited owners in this pid namespace are removed, with what they hold', async () => {
  const dead = deadPid();
  const names = {
    orphan: `y-stage-${namespace}-${dead}-abcDEF`,
    live: `y-stage-${namespace}-${process.ppid}-ghiJKL`,
    mine: `y-stage-${namespace}-${process.pid}-mnoPQR`,
    otherNamespace: `y-stage-1-${dead}-stuVWX`,
    oldStyle: 'y-stage-Ab12Cd',
    otherPrefix: `z-stage-${namespace}-${dead}-abcDEF`,
  };
  for (const name of Object.values(names)) {
    await mkdir(join(parent, name));
    await writeFile(join(parent, name, '0.jsonl'), '{}\n');
  }
  assert.deepEqual(await removeOrphanedTempDirs('y-stage-', parent), [join(parent, names.orphan)]);
  const left = new Set(await readdir(parent));
  assert.ok(!left.has(names.orphan));
  for (const kept of [names.live, names.mine, names.otherNamespace, names.oldStyle, names.otherPrefix]) assert.ok(left.has(kept), kept);
  // Creating a folder clears the orphans first.
  await mkdir(join(parent, `y-stage-${namespace}-${dead}-zzzZZZ`));
  await createOwnedTempDir('y-stage-', parent);
  assert.ok(!existsSync(join(parent, `y-stage-${namespace}-${dead}-zzzZZZ`)));
});

test('a parent folder that cannot be read removes nothing and does not throw', async () => {
  assert.deepEqual(await removeOrphanedTempDirs('y-stage-', join(parent, 'absent')), []);
});
