// The generator's legacy visibility changes (--visibility-fraction): valid 1.0.0 events of older
// revisions on their own topics, consistent flag chains, and no effect on the page change records.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobError } from '../../src/core/errors.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { validateMessage, VISIBILITY_CHANGE_FAMILY } from '../../src/events/validate.js';
import type { RevisionVisibilityChangeEvent } from '../../src/events/visibility-change.js';
import { generateRecords, LEGACY_VISIBILITY_KIND, type GeneratedRecord, type GeneratorOptions } from '../../src/gen/generator.js';
import { addToSummary, emptySummary } from '../../src/gen/summary.js';
import { legacyVisibilityEvent } from '../../src/gen/visibility-change.js';
import { wikiProfile } from '../../src/gen/wikis.js';

const BASE: GeneratorOptions = { seed: 5, startMs: Date.parse('2025-06-01T00:00:00Z'), days: 0.25, eventsPerDay: 16_000, wikis: ['enwiki', 'dewiki'], badFraction: 0.02 };
const WITH: GeneratorOptions = { ...BASE, visibilityFraction: 0.03, visibilityStream: 'test.revision-visibility-change' };

const isLegacy = (r: GeneratedRecord): boolean => r.kind === LEGACY_VISIBILITY_KIND;
const withLegacy = [...generateRecords(WITH)];
const legacy = withLegacy.filter(isLegacy);
// At production's rate (100,000 a day) history steps are closer than delivery delays, which would
// reorder a revision's events if nothing kept them in order; at 0.5 revisions change many times.
const fast = [...generateRecords({ ...WITH, days: 0.04, eventsPerDay: 100_000, visibilityFraction: 0.05 })];
const dense = [...generateRecords({ ...WITH, days: 0.04, eventsPerDay: 100_000, visibilityFraction: 0.5 })];

test('the page change and bad records are the same, byte for byte and in order, with or without legacy visibility changes', () => {
  const pageChanges = (records: Iterable<GeneratedRecord>) => [...records].filter((r) => !isLegacy(r)).map((r) => `${r.topic} ${r.label} ${r.value.toString('base64')}`);
  const without = pageChanges(generateRecords(BASE));
  assert.ok(without.length > 3000, `${without.length} records`);
  assert.ok(withLegacy.some((r) => r.label === 'bad'));
  assert.deepEqual(pageChanges(withLegacy), without);
  assert.ok(legacy.length > 50, `${legacy.length} legacy records`);
});

test('legacy visibility changes are valid 1.0.0 events on the legacy topics, of revisions that have a newer one, stamped after it', () => {
  for (const records of [withLegacy, fast, dense]) checkLegacyRecords(records);
});

/** The page change records (not bad, canary or legacy), each with its event parsed. */
function pageChanges(records: readonly GeneratedRecord[]): { record: GeneratedRecord; event: PageChangeEvent }[] {
  return records
    .filter((r) => !isLegacy(r) && r.label !== 'bad' && r.label !== 'canary')
    .map((record) => ({ record, event: JSON.parse(record.value.toString('utf8')) as PageChangeEvent }));
}

function checkLegacyRecords(records: readonly GeneratedRecord[]): void {
  const parents = new Map<number, number>();
  /** Per revision: the latest meta.dt of its events delivered on time (late ones are meant to come later). */
  const delivered = new Map<number, number>();
  for (const { record: r, event } of pageChanges(records)) {
    const parent = event.revision.rev_parent_id;
    if (parent !== undefined) parents.set(parent, Math.min(parents.get(parent) ?? Infinity, Date.parse(event.dt)));
    if (r.label === 'good') delivered.set(r.revId!, Math.max(delivered.get(r.revId!) ?? -Infinity, r.timestampMs));
  }
  for (const r of records.filter(isLegacy)) {
    const check = validateMessage<RevisionVisibilityChangeEvent>(r.value, VISIBILITY_CHANGE_FAMILY);
    assert.ok(check.ok, `record ${r.seq}: ${check.ok ? '' : check.message}`);
    const event = check.event;
    assert.match(r.topic, /^(eqiad|codfw)\.test\.revision-visibility-change$/);
    assert.equal(event.meta.stream, 'test.revision-visibility-change');
    assert.equal(Date.parse(event.meta.dt), r.timestampMs);
    assert.deepEqual([event.database, event.page_id, event.rev_id, event.meta.id], [r.wikiId, r.pageId, r.revId, r.eventId]);
    assert.notDeepEqual(event.visibility, event.prior_state.visibility);
    // Only older revisions: one that already has a child revision when the change is made.
    const child = parents.get(event.rev_id);
    assert.ok(child !== undefined && child <= Date.parse(event.meta.dt), `revision ${event.rev_id} has a newer revision before ${event.meta.dt}`);
    // Page changes of the revision delivered on time come before; nothing in a pre-stream revision's case.
    if (r.label === 'good') assert.ok((delivered.get(event.rev_id) ?? -Infinity) < r.timestampMs, `revision ${event.rev_id}: a page change of it delivered after ${event.meta.dt}`);
  }
}

test("a revision's legacy changes chain: each one's prior state is the flags the page change or the change before set", () => {
  for (const records of [withLegacy, fast, dense]) checkChains(records);
});

function checkChains(records: readonly GeneratedRecord[]): void {
  const last = new Map<string, unknown>();
  // The flags of each revision's newest page change (by history time), in the legacy names.
  const newest = new Map<string, number>();
  for (const { record, event } of pageChanges(records)) {
    if (record.label !== 'good') continue;
    const key = `${event.wiki_id}:${event.revision.rev_id}`;
    const at = Date.parse(event.dt);
    if (at < (newest.get(key) ?? -Infinity) || event.revision.is_content_visible === undefined) continue;
    newest.set(key, at);
    last.set(key, { comment: event.revision.is_comment_visible, text: event.revision.is_content_visible, user: event.revision.is_editor_visible });
  }
  let chained = 0;
  for (const r of records.filter((x) => isLegacy(x) && x.label === 'good').sort((a, b) => a.timestampMs - b.timestampMs)) {
    const event = JSON.parse(r.value.toString('utf8')) as RevisionVisibilityChangeEvent;
    const key = `${event.database}:${event.rev_id}`;
    const before = last.get(key);
    if (before !== undefined) {
      assert.deepEqual(event.prior_state.visibility, before, key);
      chained++;
    }
    last.set(key, event.visibility);
  }
  assert.ok(chained > 0, 'some revision changes twice');
}

test('the summary counts legacy changes apart from page change kinds; the options are checked', () => {
  const summary = emptySummary();
  for (const r of withLegacy) addToSummary(summary, r);
  assert.equal(summary.visibilityChanges, legacy.filter((r) => r.label === 'good').length);
  assert.equal(summary.records, withLegacy.length);
  assert.equal((summary.byTopic['eqiad.test.revision-visibility-change'] ?? 0) + (summary.byTopic['codfw.test.revision-visibility-change'] ?? 0), legacy.length);
  // With --events the legacy records count towards the exact total.
  assert.equal([...generateRecords({ ...WITH, days: undefined, events: 2000 } as GeneratorOptions)].length, 2000);
  for (const [options, message] of [
    [{ visibilityFraction: 0.7 }, /visibilityFraction must be between 0 and 0.5, found 0.7/],
    [{ visibilityStream: 'Bad Stream' }, /visibilityStream "Bad Stream" is not a stream name/],
  ] as const) {
    assert.throws(() => [...generateRecords({ ...WITH, ...options })], (e: unknown) => e instanceof JobError && e.code === 'USAGE' && message.test(e.message));
  }
});

test('a change renders as the legacy event: content is text, editor is user, as in the schema example', () => {
  const change = {
    wiki: wikiProfile('enwiki', 0),
    page: { pageId: 123, title: 'Test_page', namespaceId: 0, isRedirect: false },
    revision: { revId: 1001, dt: '2020-06-10T18:57:16Z', parentId: 1000, minor: false, size: 3, sha1: 'mr0szy90m5qbn6tek7ch3nebaild3tm', model: 'wikitext', format: 'text/x-wiki' },
    before: { content: true, editor: false, comment: true },
    after: { content: false, editor: false, comment: true },
  };
  const event = legacyVisibilityEvent(change, { stream: 'mediawiki.revision-visibility-change', id: '00000000-0000-4000-8000-000000000001' });
  assert.deepEqual(event, {
    $schema: '/mediawiki/revision/visibility-change/1.0.0',
    meta: { uri: 'https://en.wikipedia.org/wiki/Test_page', id: '00000000-0000-4000-8000-000000000001', domain: 'en.wikipedia.org', stream: 'mediawiki.revision-visibility-change', dt: '' },
    database: 'enwiki',
    page_id: 123,
    page_is_redirect: false,
    page_namespace: 0,
    page_title: 'Test_page',
    performer: { user_groups: ['*', 'user', 'suppress'], user_id: 1, user_is_bot: false, user_text: 'Oversight' },
    rev_id: 1001,
    rev_parent_id: 1000,
    rev_timestamp: '2020-06-10T18:57:16Z',
    rev_sha1: 'mr0szy90m5qbn6tek7ch3nebaild3tm',
    rev_len: 3,
    rev_minor_edit: false,
    rev_content_model: 'wikitext',
    rev_content_format: 'text/x-wiki',
    visibility: { comment: true, text: false, user: false },
    prior_state: { visibility: { comment: true, text: true, user: false } },
  });
  const check = validateMessage(Buffer.from(JSON.stringify({ ...event, meta: { ...event.meta, dt: '2020-06-10T18:57:16Z' } })), VISIBILITY_CHANGE_FAMILY);
  assert.ok(check.ok, check.ok ? '' : check.message);
});
