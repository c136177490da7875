// Times on the command line: ISO 8601 only, UTC unless an offset is given, impossible days refused.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIsoTime } from '../../src/cli/iso-time.js';

test('ISO dates and times parse to the same instant whatever the machine zone', () => {
  const vectors: [string, number][] = [
    ['2026-11-02', Date.UTC(2026, 10, 2)],
    ['2026-11-02T00:00:00', Date.UTC(2026, 10, 2)],
    ['2026-11-02 06:30', Date.UTC(2026, 10, 2, 6, 30)],
    ['2026-11-02T06:30:15.250Z', Date.UTC(2026, 10, 2, 6, 30, 15, 250)],
    ['2026-11-02T06:30:15.123456789Z', Date.UTC(2026, 10, 2, 6, 30, 15, 123)],
    ['2026-11-02T06:30:00+01:30', Date.UTC(2026, 10, 2, 5, 0)],
    ['2026-11-02T06:30:00-0500', Date.UTC(2026, 10, 2, 11, 30)],
    ['2024-02-29T23:59:59z', Date.UTC(2024, 1, 29, 23, 59, 59)],
  ];
  for (const [text, ms] of vectors) assert.equal(parseIsoTime(text), ms, text);
});

test('what Date.parse would read as some other time is refused', () => {
  for (const text of ['1', 'Nov 2 2026', '2026-02-30', '2025-02-29T00:00:00Z', '2026-11-02T24:00:00Z', '2026-11-02T12:60', '2026-11-2', '', 'now']) {
    assert.equal(parseIsoTime(text), undefined, text);
  }
});
