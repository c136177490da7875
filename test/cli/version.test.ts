// `mwlake --version` prints the release that package.json names, which dumps also state in <generator>;
// a standard output that cannot take it fails the run by its errno.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VERSION } from '../../src/core/version.js';
import { repoRoot } from '../helpers/python.js';

test('--version prints package.json version and exits 0', () => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, version, 'src/core/version.ts follows package.json');
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${version}\n`);
});

test('standard output on a full disk (cron appending to its log) exits 71 with one line, not a stack trace', () => {
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), '--version'], { encoding: 'utf8', stdio: ['ignore', full, 'pipe'] });
    assert.equal(r.status, 71, r.stderr);
    assert.match(r.stderr, /^mwlake: cannot write to standard output: ENOSPC/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    // Cron's `>> log 2>&1`: stderr is the same full file, so nothing can be said, but the code says it.
    const both = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), '--version'], { stdio: ['ignore', full, full] });
    assert.equal(both.status, 71);
    const failing = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'merge', '--config', join(repoRoot, '.cache', 'no-such-job-file.yaml')], { stdio: ['ignore', full, full] });
    assert.equal(failing.status, 78, 'a failing run keeps its own code');
  } finally {
    closeSync(full);
  }
});
