// Node system errors that reach the CLI unwrapped: classified by errno, naming their path; bugs
// stay bugs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeOf, fromSystemError, JobError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';

function systemError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
}

test('out of space is RESOURCES (71); a path or permission a person must fix is STORAGE_REFUSED (77, not retryable); a transient one is retryable (69)', () => {
  const full = fromSystemError(systemError('ENOSPC', 'write', '/dumps/x.bz2')) as JobError;
  assert.equal(full.code, 'RESOURCES');
  assert.equal(exitCodeOf(full), ExitCode.Resources);
  assert.match(full.message, /^write failed for \/dumps\/x\.bz2: ENOSPC/);

  for (const errno of ['ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENAMETOOLONG', 'ELOOP']) {
    const refused = fromSystemError(systemError(errno, 'mkdir', '/etc/passwd/x')) as JobError;
    assert.equal(refused.code, 'STORAGE_REFUSED', errno);
    assert.equal(exitCodeOf(refused), ExitCode.Refused, errno);
    assert.equal(refused.retryable, false, errno);
    assert.match(refused.message, new RegExp(`^mkdir failed for /etc/passwd/x: ${errno}`));
  }

  const busy = fromSystemError(systemError('EIO', 'read', '/w/f')) as JobError;
  assert.equal(busy.retryable, true);
  assert.equal(exitCodeOf(busy), ExitCode.Unavailable);

  const missing = fromSystemError(systemError('ENOENT', 'open', '/w/m.json')) as JobError;
  assert.equal(missing.code, 'NOT_FOUND');
  assert.match(missing.message, /\/w\/m\.json does not exist/);
});

test('bugs and JobErrors pass through unchanged', () => {
  const bug = new TypeError('x is undefined');
  assert.equal(fromSystemError(bug), bug);
  assert.equal(exitCodeOf(fromSystemError(bug)), ExitCode.Internal);
  const job = new JobError('CONFIG', 'bad');
  assert.equal(fromSystemError(job), job);
  assert.equal(fromSystemError('a string'), 'a string');
});
