// Progress lines: drawn only on a terminal, with percent, counts, bytes, rate, ETA and lag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgress, progressLine } from '../../src/core/progress.js';
import { stepProgress } from '../../src/pipeline/progress-hooks.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, columns: 200, write: (s: string) => writes.push(s) }, writes };
}

test('a line shows percent, counts, bytes, rate and ETA', () => {
  const line = progressLine('drain', { done: 250, total: 1000, bytes: 5_000_000 }, 10);
  assert.match(line, /^drain {2}\[#{6}\.{18}\] 25% {2}250\/1000 {2}5\.0 MB {2}500\.0 KB\/s {2}ETA 30s$/);
  assert.equal(progressLine('merge', { done: 3 }, 1), 'merge  3');
});

test('nothing is written when stderr is not a terminal', () => {
  const { stream, writes } = fakeStream(false);
  const p = createProgress(stream);
  p.update('drain', { done: 1, total: 2 });
  p.done('finished');
  assert.deepEqual(writes, []);
});

test('on a terminal the line is redrawn in place and cleared at the end', () => {
  const { stream, writes } = fakeStream(true);
  const hooks = stepProgress(createProgress(stream));
  hooks.drain({ events: 10, bytes: 1000, total: 100, lag: { 'eqiad.t:0': 50n, 'codfw.t:0': 0n } });
  hooks.drain({ events: 100, bytes: 9000, total: 100, lag: {} }); // the last update is always drawn
  hooks.end();
  assert.equal(writes.length, 3);
  assert.match(writes[0]!, /^\r\x1b\[2Kdrain .* 10%.*lag eqiad\.t:0=50$/);
  assert.match(writes[1]!, /100%/);
  assert.equal(writes[2], '\r\x1b[2K');
});
