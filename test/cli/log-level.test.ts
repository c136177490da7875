// How much mwlake logs: `--log-level`, else MWLAKE_LOG_LEVEL, else info. The logger writes to
// fd 2 itself, so these run the built CLI as a child process and read its stderr.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExitCode } from '../../src/core/exit-codes.js';
import { repoRoot } from '../helpers/python.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const missing = join(repoRoot, '.cache', 'no-such-warehouse-for-log-level-tests');

/** A query of a warehouse that does not exist: exit 65, and one error log line at info and below. */
function run(args: string[], env: Record<string, string> = {}): { code: number | null; stderr: string; logLines: { level: number; msg: string }[] } {
  const r = spawnSync(process.execPath, [cli, ...args, 'query', '--warehouse', missing, 'SELECT 1'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  const logLines = r.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  return { code: r.status, stderr: r.stderr, logLines };
}

test('by default the error is logged as a JSON line (level 50) beside the one-line message', () => {
  const r = run([]);
  assert.equal(r.code, ExitCode.Data, r.stderr);
  assert.deepEqual(
    r.logLines.map((l) => l.level),
    [50],
  );
  assert.match(r.stderr, /^mwlake: no warehouse at /m);
});

test('MWLAKE_LOG_LEVEL sets the level when --log-level is not given', () => {
  const r = run([], { MWLAKE_LOG_LEVEL: 'silent' });
  assert.equal(r.code, ExitCode.Data, r.stderr);
  assert.deepEqual(r.logLines, []);
  assert.match(r.stderr, /^mwlake: no warehouse at /m, 'the one-line message is not a log line: it stays');
});

test('--log-level wins over MWLAKE_LOG_LEVEL', () => {
  const r = run(['--log-level', 'error'], { MWLAKE_LOG_LEVEL: 'silent' });
  assert.equal(r.code, ExitCode.Data, r.stderr);
  assert.deepEqual(
    r.logLines.map((l) => l.level),
    [50],
  );
});

test('MWLAKE_LOG_LEVEL is read in any case', () => {
  const r = run([], { MWLAKE_LOG_LEVEL: 'SILENT' });
  assert.equal(r.code, ExitCode.Data, r.stderr);
  assert.deepEqual(r.logLines, []);
});

test('a MWLAKE_LOG_LEVEL that is no level is a configuration error (78) naming it and the levels', () => {
  const r = run([], { MWLAKE_LOG_LEVEL: 'verbose' });
  assert.equal(r.code, ExitCode.Config, r.stderr);
  assert.match(r.stderr, /MWLAKE_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, found "verbose"/);
  // ... unless nothing reads it: a --log-level given, or only --help asked for.
  assert.equal(run(['--log-level', 'error'], { MWLAKE_LOG_LEVEL: 'verbose' }).code, ExitCode.Data);
  const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', MWLAKE_LOG_LEVEL: 'verbose' } });
  assert.equal(help.status, 0, help.stderr);
});

test('a --log-level that is no level is a usage error (64) listing the levels', () => {
  const r = run(['--log-level', 'verbose']);
  assert.equal(r.code, ExitCode.Usage, r.stderr);
  assert.match(r.stderr, /'verbose' is invalid\. Allowed choices are trace, debug, info, warn, error, fatal, silent/);
});

test('--log-format pretty gives readable lines also when stderr is not a terminal; json, JSON lines', () => {
  const pretty = run(['--log-format', 'pretty']);
  assert.equal(pretty.code, ExitCode.Data, pretty.stderr);
  assert.deepEqual(pretty.logLines, [], pretty.stderr);
  assert.match(pretty.stderr, /ERROR.*no warehouse at /);
  const json = run(['--log-format', 'json']);
  assert.deepEqual(
    json.logLines.map((l) => l.level),
    [50],
  );
  const bad = run(['--log-format', 'xml']);
  assert.equal(bad.code, ExitCode.Usage, bad.stderr);
  assert.match(bad.stderr, /'xml' is invalid\. Allowed choices are json, pretty/);
});

test("an expected failure's cause is logged by its message, its stack only at debug", () => {
  const missingJob = join(repoRoot, '.cache', 'no-such-job-file-for-log-level-tests.yaml');
  const mwlake = (args: string[]) => spawnSync(process.execPath, [cli, ...args, 'merge', '--config', missingJob], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  for (const format of ['pretty', 'json']) {
    const r = mwlake(['--log-format', format]);
    assert.equal(r.status, ExitCode.Config, r.stderr);
    assert.match(r.stderr, /ENOENT/, 'the cause is named');
    assert.doesNotMatch(r.stderr, /^\s+at |\\n\s+at /m, `${format}: no stack trace`);
  }
  const debug = mwlake(['--log-format', 'json', '--log-level', 'debug']);
  assert.match(debug.stderr, /"level":20,.*"stack":"Error: ENOENT.*"msg":"the cause of: cannot read job file /);
});
