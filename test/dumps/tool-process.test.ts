// The dumps' tool processes when the host refuses to start them: UNAVAILABLE (69), never an
// uncaught 'error' event (exit 1, nothing cleaned up) or a TypeError (70).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JobError } from '../../src/core/errors.js';
import { spawnTool } from '../../src/dumps/tool-process.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'fd-shortage-child.js');
const failed = () => new JobError('STORAGE', 'exit');

test('a command that is not there rejects exited as UNAVAILABLE, naming it and its purpose', async () => {
  const tool = spawnTool('/nonexistent/lbzip2', ['-c'], { stdin: true, purpose: 'for a test', failed });
  await assert.rejects(tool.exited, (e: JobError) => e.code === 'UNAVAILABLE' && /^cannot start \/nonexistent\/lbzip2 for a test: spawn \/nonexistent\/lbzip2 ENOENT/.test(e.message));
});

test('a spawn that throws is thrown as UNAVAILABLE', () => {
  assert.throws(() => spawnTool('lbzip2\0', [], { stdin: false, purpose: 'for a test', failed }), (e: JobError) => e.code === 'UNAVAILABLE' && /^cannot start lbzip2\0 for a test: /.test(e.message));
});

test('an exit other than 0 rejects with the caller’s error, given the stderr tail', async () => {
  const tool = spawnTool('sh', ['-c', 'echo one >&2; echo two >&2; exit 3'], { stdin: false, purpose: 'for a test', failed: (code, _signal, stderr) => new JobError('STORAGE', `${code}: ${stderr}`) });
  await assert.rejects(tool.exited, (e: JobError) => e.code === 'STORAGE' && e.message === '3: one\ntwo');
});

for (const start of ['writer', 'reader', 'pool']) {
  test(`no file descriptors left for a child's pipes: the ${start} fails as UNAVAILABLE`, () => {
    const run = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, CHILD, start], { encoding: 'utf8' });
    assert.equal(run.status, 0, `the child ended with ${run.status}: ${run.stderr}`);
    const outcome = JSON.parse(run.stdout) as { code?: string; message: string };
    assert.equal(outcome.code, 'UNAVAILABLE', outcome.message);
    assert.match(outcome.message, /^cannot start .*(EMFILE|too many open files)/);
  });
}
