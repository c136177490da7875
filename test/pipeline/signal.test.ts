// SIGTERM in the middle of `mwlake dump` (a real child process): exit 143, the in-progress parts
// removed, dumpstatus.json saying failed, the lease freed, and no temp folder of the run left.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { appendBatch, generatedEvents, merge, warehouseAt } from '../merge/merge-fixture.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
let dir: string;
let wh: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-signal-'));
  wh = join(dir, 'warehouse');
  const warehouse = warehouseAt(wh);
  await appendBatch(warehouse, generatedEvents(21, 3000));
  await merge(warehouse);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once `check` holds, polling every 5 ms; rejects after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('SIGTERM mid-dump: exit 143, no in-progress part, status failed, lease freed, temp folders gone', { timeout: 300_000 }, async () => {
  const dumps = join(dir, 'dumps');
  const day = join(dumps, 'enwiki', '20261130');
  const child = spawn(process.execPath, [cli, '--log-level', 'warn', 'dump', '--warehouse', wh, '--job-name', 'sig', '--dumps-root', dumps, '--wiki', 'enwiki', '--date', '2026-11-30'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const inProgress = (): string[] => (existsSync(day) ? readdirSync(day).filter((name) => name.endsWith('.inprog')) : []);
  // Signal once the history part has taken some content, so every output is mid-write.
  await until(() => inProgress().some((name) => name.includes('pages-meta-history')) || child.exitCode !== null, 'the dump to start writing');
  assert.equal(child.exitCode, null, `the dump ended before the signal: ${stderr}`);
  const leaseFile = join(wh, '_leases', 'sig.json');
  assert.ok(existsSync(leaseFile), 'the running dump holds the lease');
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.equal(signal, null, 'the process exits by itself, after its cleanups');
  assert.equal(code, 143, stderr);
  assert.match(stderr, /stopped by SIGTERM; cleaning up/);
  assert.deepEqual(inProgress(), []);
  const status = JSON.parse(readFileSync(join(day, 'dumpstatus.json'), 'utf8')) as { jobs: Record<string, { status: string }> };
  const states = Object.values(status.jobs).map((job) => job.status);
  assert.ok(states.length === 7 && states.every((state) => state === 'failed' || state === 'done'), JSON.stringify(status.jobs));
  assert.ok(states.includes('failed'));
  assert.ok(!existsSync(leaseFile), 'the lease is freed');
  const leftovers = readdirSync(tmpdir()).filter((name) => /^mwlake-(streams|duckdb|stage)-/.test(name) && name.includes(`-${child.pid}-`));
  assert.deepEqual(leftovers, []);
});
