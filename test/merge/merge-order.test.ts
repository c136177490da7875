// The merge's order-independence property: for a seeded generated stream (every change kind,
// duplicates, late events, canaries), any permutation of the events split over several drains,
// with duplicates delivered again in later runs, gives byte-identical state tables; also with legacy
// revision visibility changes mixed in (their own table, their own runs).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { appendBatch, appendVisibilityBatch, generatedEvents, merge, stateHashes, warehouseAt } from './merge-fixture.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-merge-order-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** mulberry32: a tiny seeded PRNG, so every shuffle is reproducible from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The events split into 3 runs at random points, about 10 % of them delivered again in a later run. */
function runsOf<E>(events: readonly E[], random: () => number): E[][] {
  const order = shuffled(events, random);
  const cuts = [Math.floor(random() * order.length), Math.floor(random() * order.length)].sort((a, b) => a - b);
  const runs = [order.slice(0, cuts[0]), order.slice(cuts[0], cuts[1]), order.slice(cuts[1])];
  for (let r = 0; r < 2; r++) {
    for (const e of runs[r]!) if (random() < 0.1) runs[r + 1 + Math.floor(random() * (2 - r))]!.push(e);
  }
  return runs.map((run) => shuffled(run, random));
}

const SHUFFLES = 20;

test(`${SHUFFLES} seeded shuffles with duplicates across runs give byte-identical state tables`, { timeout: 900_000 }, async () => {
  const events = generatedEvents(17, 400);
  const kinds = new Set(events.map((e) => e.page_change_kind));
  assert.deepEqual([...kinds].sort(), ['create', 'delete', 'edit', 'move', 'undelete', 'visibility_change'], 'the stream has every kind');

  // Reference: the events in generation order, one run.
  const reference = warehouseAt(join(dir, 'reference'));
  await appendBatch(reference, events);
  await merge(reference);
  const expected = await stateHashes(reference);
  assert.ok(!expected['revisions']!.startsWith('0:'), 'the state is not empty');

  for (let seed = 1; seed <= SHUFFLES; seed++) {
    const warehouse = warehouseAt(join(dir, `shuffle-${seed}`));
    for (const run of runsOf(events, prng(seed))) {
      await appendBatch(warehouse, run);
      await merge(warehouse);
    }
    assert.deepEqual(await stateHashes(warehouse), expected, `shuffle seed ${seed}`);
    await rm(join(dir, `shuffle-${seed}`), { recursive: true, force: true });
  }
});

/**
 * Legacy visibility changes of every 5th revision (old ones by the end): a day before or after its
 * page change, at unique milliseconds (no ties with each other or with page changes, which have
 * whole seconds), text hidden or shown; plus ones of revisions the stream never has.
 */
function legacyChanges(events: readonly PageChangeEvent[]): object[] {
  const revisions = events.filter((e) => e.revision !== undefined && (e.page_change_kind === 'create' || e.page_change_kind === 'edit'));
  return revisions
    .filter((_, i) => i % 5 === 0)
    .flatMap((e, i) => {
      const at = (days: number) => new Date(Date.parse(e.meta.dt!) + days * 86_400_000 + i + 1).toISOString();
      const event = (revisionId: number, dt: string, text: boolean, n: number) => ({
        $schema: '/mediawiki/revision/visibility-change/1.0.0',
        database: e.wiki_id,
        meta: { dt, id: `f0000000-0000-4000-8000-${String(i * 10 + n).padStart(12, '0')}`, stream: 'mediawiki.revision-visibility-change' },
        page_id: e.page.page_id,
        page_is_redirect: false,
        page_namespace: e.page.namespace_id,
        page_title: e.page.page_title,
        prior_state: { visibility: { text: !text, user: true, comment: true } },
        rev_id: revisionId,
        rev_timestamp: e.revision!.rev_dt,
        visibility: { text, user: i % 2 === 0, comment: true },
      });
      return [event(e.revision!.rev_id, at(i % 3 === 0 ? -1 : 1), false, 1), event(e.revision!.rev_id, at(2), i % 4 === 0, 2), event(1_000_000_000 + i, at(1), false, 3)];
    });
}

const VISIBILITY_SHUFFLES = 6;

test(`${VISIBILITY_SHUFFLES} seeded shuffles of page changes and legacy visibility changes give byte-identical state tables`, { timeout: 900_000 }, async () => {
  const events = generatedEvents(17, 400);
  const legacy = legacyChanges(events);
  assert.ok(legacy.length >= 60, `${legacy.length} legacy changes`);
  const reference = warehouseAt(join(dir, 'visibility-reference'));
  await appendBatch(reference, events);
  await appendVisibilityBatch(reference, legacy);
  await merge(reference);
  const expected = await stateHashes(reference);

  for (let seed = 1; seed <= VISIBILITY_SHUFFLES; seed++) {
    const random = prng(1000 + seed);
    const warehouse = warehouseAt(join(dir, `visibility-shuffle-${seed}`));
    const pageRuns = runsOf(events, random);
    const legacyRuns = runsOf(legacy, random);
    for (let run = 0; run < 3; run++) {
      await appendBatch(warehouse, pageRuns[run]!);
      await appendVisibilityBatch(warehouse, legacyRuns[run]!);
      await merge(warehouse);
    }
    assert.deepEqual(await stateHashes(warehouse), expected, `visibility shuffle seed ${seed}`);
    await rm(join(dir, `visibility-shuffle-${seed}`), { recursive: true, force: true });
  }
});
