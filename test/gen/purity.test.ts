// The generator must be pure and deterministic: no clock, no Math.random, no file I/O.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../events/helpers.js';

const FORBIDDEN: ReadonlyArray<[RegExp, string]> = [
  [/\bDate\.now\s*\(/, 'Date.now()'],
  [/\bnew Date\(\s*\)/, 'new Date() without a time'],
  [/\bMath\.random\s*\(/, 'Math.random()'],
  [/\bperformance\.now\s*\(/, 'performance.now()'],
  [/\bprocess\.(hrtime|env|argv)\b/, 'process state'],
  [/from\s+['"]node:(fs|net|http|https|child_process|worker_threads)/, 'I/O modules'],
  [/\brandomUUID\b|\brandomBytes\b/, 'crypto randomness'],
];

test('src/gen uses no clock, no Math.random and no I/O', () => {
  const dir = join(repoRoot, 'src', 'gen');
  const violations: string[] = [];
  const files = readdirSync(dir).filter((name) => name.endsWith('.ts'));
  assert.ok(files.length >= 5, `found ${files.join(', ')}`);
  for (const name of files) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(text)) violations.push(`${name}: ${what}`);
  }
  assert.deepEqual(violations, []);
});
