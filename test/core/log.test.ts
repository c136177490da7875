// The process logger: a log line that cannot be written must not fail the run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { test } from 'node:test';

const logModule = new URL('../../src/core/log.js', import.meta.url).href;

test('JSON logs to a stderr that refuses writes (a full disk) are lost, and the process goes on', () => {
  const full = openSync('/dev/full', 'w');
  try {
    const script = `const { createLogger } = await import(${JSON.stringify(logModule)});
      const logger = createLogger({ json: true, level: 'debug' });
      for (const level of ['debug', 'info', 'warn', 'error']) logger[level]({ n: 1 }, 'a line');
      process.stdout.write('went on');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', full], encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'went on');
  } finally {
    closeSync(full);
  }
});
