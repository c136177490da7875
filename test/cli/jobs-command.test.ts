// The job commands' common flags through the CLI: an empty value (a script's unset variable) is a usage error.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { inTempDir } from '../helpers/temp-dir.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await runCli(['--log-level', 'silent', ...args], { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: {} });
  return { code, out, err };
}

test('an empty --warehouse, --dumps-root, --brokers, --job-name or --config is refused (64), naming the flag', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    const cases: [string, string[]][] = [
      ['--warehouse', ['drain', '--job-name', 'j', '--warehouse', '']],
      ['--warehouse', ['merge', '--job-name', 'j', '--warehouse', ' ']],
      ['--dumps-root', ['dump', '--job-name', 'j', '--warehouse', dir, '--dumps-root', '', '--date', '2026-11-02']],
      ['--brokers', ['status', '--job-name', 'j', '--warehouse', dir, '--brokers', '']],
      ['--job-name', ['drain', '--warehouse', dir, '--job-name', '']],
      ['--config', ['query', '--config', '', 'SELECT 1']],
    ];
    for (const [flag, args] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, ExitCode.Usage, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`^mwlake: ${flag} is empty`, 'm'));
    }
    assert.deepEqual(await readdir(dir), []);
  });
});
