// The interrupt registry: every registered cleanup runs once with the reason, a forgotten one
// does not, failures are reported not thrown, and a cleanup that hangs is cut off at the deadline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobError } from '../../src/core/errors.js';
import { onInterrupt, runInterruptCleanups } from '../../src/core/interrupt.js';

test('registered cleanups run once with an INTERRUPTED reason; forgotten ones do not; failures are reported', async () => {
  const reasons: JobError[] = [];
  let forgottenRan = false;
  onInterrupt((reason) => void reasons.push(reason));
  onInterrupt(async (reason) => {
    await new Promise((resolve) => setImmediate(resolve));
    reasons.push(reason);
  });
  onInterrupt(() => {
    forgottenRan = true;
  })();
  onInterrupt(() => {
    throw new Error('cleanup broke');
  });
  const errors: unknown[] = [];
  assert.equal(await runInterruptCleanups('SIGTERM', 5_000, (error) => errors.push(error)), true);
  assert.equal(reasons.length, 2);
  for (const reason of reasons) {
    assert.equal(reason.code, 'INTERRUPTED');
    assert.equal(reason.exitCode, 143);
    assert.equal(reason.message, 'stopped by SIGTERM');
  }
  assert.equal(forgottenRan, false);
  assert.deepEqual(errors.map((error) => (error as Error).message), ['cleanup broke']);
  // They ran once: a second interrupt finds nothing registered.
  assert.equal(await runInterruptCleanups('SIGTERM', 5_000), true);
  assert.equal(reasons.length, 2);
});

test('a cleanup registered while the others run (a step the run started meanwhile) runs too, before the last ones and before they all settle', async () => {
  const order: string[] = [];
  let registerLate: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    registerLate = resolve;
  });
  onInterrupt(() => void order.push('lease'), { last: true });
  onInterrupt(async () => {
    registerLate();
    await new Promise((resolve) => setImmediate(resolve));
    order.push('first');
  });
  const cleanups = runInterruptCleanups('SIGTERM', 5_000);
  await started;
  onInterrupt(() => void order.push('late'));
  assert.equal(await cleanups, true);
  assert.deepEqual(order, ['first', 'late', 'lease']);
  // One registered while the last ones run is run as well.
  onInterrupt(() => {
    onInterrupt(() => void order.push('after the lease'));
  }, { last: true });
  assert.equal(await runInterruptCleanups('SIGTERM', 5_000), true);
  assert.equal(order.at(-1), 'after the lease');
});

test('a cleanup that never settles is cut off at the deadline', async () => {
  onInterrupt(() => new Promise<void>(() => {}));
  const started = Date.now();
  assert.equal(await runInterruptCleanups('SIGINT', 50), false);
  assert.ok(Date.now() - started < 5_000);
});

test('cleanups registered as last run after all the others have settled', async () => {
  const order: string[] = [];
  onInterrupt(() => void order.push('lease'), { last: true });
  onInterrupt(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push('outputs');
  });
  assert.equal(await runInterruptCleanups('SIGTERM', 5_000), true);
  assert.deepEqual(order, ['outputs', 'lease']);
});
