import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { MAX_EVENT_BYTES, PAGE_CHANGE_KINDS, type PageChangeEvent, type PageChangeKind } from '../../src/events/page-change.js';
import { base36Sha1, combineSlotSha1s } from '../../src/events/sha1.js';
import { validatePageChangeMessage } from '../../src/events/validate.js';
import { BAD_KINDS } from '../../src/gen/bad-messages.js';
import { generateRecords, type GeneratedRecord, type GeneratorOptions } from '../../src/gen/generator.js';
import { addToSummary, emptySummary } from '../../src/gen/summary.js';

const START_MS = Date.parse('2025-06-01T00:00:00Z');
const DAY_MS = 86_400_000;

/** A record with its parsed event, bodies checked and dropped to keep memory small. */
interface Seen {
  readonly record: Omit<GeneratedRecord, 'value'>;
  readonly event?: PageChangeEvent;
  readonly valid: boolean;
  readonly errorType?: string;
  readonly resolvedMode?: string;
  readonly valueHash: string;
  readonly bodyProblems: string[];
}

function consume(options: GeneratorOptions): Seen[] {
  const seen: Seen[] = [];
  for (const record of generateRecords(options)) {
    const { value, ...rest } = record;
    const validation = validatePageChangeMessage(value);
    const bodyProblems: string[] = [];
    let event: PageChangeEvent | undefined;
    if (validation.ok) {
      event = validation.event;
      for (const [role, slot] of Object.entries(event.revision.content_slots ?? {})) {
        if (slot.content_body === undefined) continue;
        const bytes = Buffer.from(slot.content_body, 'utf8');
        if (bytes.length !== slot.content_size) bodyProblems.push(`${role}: content_size ${slot.content_size} but body has ${bytes.length} bytes`);
        if (base36Sha1(bytes) !== slot.content_sha1) bodyProblems.push(`${role}: content_sha1 does not match the body`);
        delete slot.content_body;
      }
    }
    seen.push({
      record: rest,
      ...(event === undefined ? {} : { event }),
      valid: validation.ok,
      ...(validation.ok ? { resolvedMode: validation.mode } : { errorType: validation.errorType }),
      valueHash: createHash('sha1').update(value).digest('hex'),
      bodyProblems,
    });
  }
  return seen;
}

// One run shared by most tests: 12,000 messages, 5% malformed.
const MAIN: GeneratorOptions = { seed: 7, startMs: START_MS, events: 12_000, badFraction: 0.05 };
const main = consume(MAIN);
const historyOf = (seen: Seen[]) =>
  seen.filter((s) => s.record.label === 'good' || s.record.label === 'late').sort((a, b) => a.record.historySeq! - b.record.historySeq!);

test('generation is deterministic: the same seed gives identical bytes, another seed other bytes', () => {
  const digest = (options: GeneratorOptions) => {
    const hash = createHash('sha256');
    for (const record of generateRecords(options)) hash.update(record.value).update(record.key).update(record.topic).update(record.label);
    return hash.digest('hex');
  };
  const options: GeneratorOptions = { seed: 7, startMs: START_MS, events: 1500, badFraction: 0.1 };
  assert.equal(digest(options), digest({ ...options }));
  assert.notEqual(digest(options), digest({ ...options, seed: 8 }));
  assert.equal(main.length, 12_000);
});

test('exactly the requested number of records, each saying what it is', () => {
  const summary = emptySummary();
  for (const s of main) addToSummary(summary, { ...s.record, value: Buffer.alloc(0) });
  assert.equal(summary.records, 12_000);
  assert.equal(Object.values(summary.byLabel).reduce((a, b) => a + b, 0), 12_000);
  for (const label of ['good', 'duplicate', 'canary', 'late', 'bad'] as const) assert.ok(summary.byLabel[label] > 0, `no ${label} records`);
  assert.deepEqual(main.map((s) => s.record.seq), main.map((_, i) => i));
  for (const s of main) {
    assert.match(s.record.topic, /^(eqiad|codfw)\.mediawiki\.page_content_change\.v1$/);
    assert.equal(s.record.topic.split('.')[0], s.record.datacenter);
    const key = JSON.parse(s.record.key);
    assert.deepEqual(Object.keys(key), ['wiki_id', 'page_id']);
    if (s.event !== undefined && s.record.label !== 'bad') {
      assert.deepEqual(key, { wiki_id: s.event.wiki_id, page_id: s.event.page.page_id });
      assert.equal(s.record.kind, s.event.page_change_kind);
      assert.equal(s.record.eventId, s.event.meta.id);
      assert.equal(s.record.timestampMs, Date.parse(s.event.meta.dt!));
    }
  }
});

test('every event record validates strictly against page change 1.2.0; every bad record fails as its kind says', () => {
  const badKinds = new Set<string>();
  for (const s of main) {
    if (s.record.label === 'bad') {
      assert.equal(s.valid, false, `bad ${s.record.badKind} record ${s.record.seq} validated`);
      assert.equal(s.errorType, s.record.expectedErrorType, `bad ${s.record.badKind} record ${s.record.seq}`);
      badKinds.add(s.record.badKind!);
    } else {
      assert.equal(s.valid, true, `${s.record.label} record ${s.record.seq} failed: ${s.errorType}`);
      assert.equal(s.resolvedMode, 'strict');
    }
  }
  assert.deepEqual([...badKinds].sort(), [...BAD_KINDS].sort(), 'every bad kind occurs');
  const badShare = main.filter((s) => s.record.label === 'bad').length / main.length;
  assert.ok(badShare > 0.04 && badShare < 0.06, `bad share ${badShare}`);
});

test('without a bad fraction no record is bad, and the good history is the same as with one', () => {
  const clean = consume({ ...MAIN, events: 3000, badFraction: 0 });
  assert.ok(clean.every((s) => s.record.label !== 'bad' && s.valid));
  const dirty = consume({ ...MAIN, events: 3000, badFraction: 0.2 });
  const goodHashes = (seen: Seen[]) => historyOf(seen).slice(0, 1000).map((s) => s.valueHash);
  assert.deepEqual(goodHashes(dirty), goodHashes(clean));
});

test('all six kinds occur in realistic proportions: edits far outnumber creates, creates each other kind', () => {
  const counts = Object.fromEntries(PAGE_CHANGE_KINDS.map((kind) => [kind, 0])) as Record<PageChangeKind, number>;
  const history = historyOf(main);
  for (const s of history) counts[s.event!.page_change_kind]++;
  for (const kind of PAGE_CHANGE_KINDS) assert.ok(counts[kind] > 0, `no ${kind}`);
  assert.ok(counts.edit > 0.8 * history.length, JSON.stringify(counts));
  assert.ok(counts.edit > 10 * counts.create, JSON.stringify(counts));
  for (const kind of ['move', 'delete', 'undelete', 'visibility_change'] as const) assert.ok(counts.create > counts[kind], JSON.stringify(counts));
  for (const s of history) {
    const expected = { create: 'insert', edit: 'update', move: 'update', delete: 'delete', undelete: 'insert', visibility_change: 'update' }[s.event!.page_change_kind];
    assert.equal(s.event!.changelog_kind, expected);
  }
});

test('content bodies match content_size and content_sha1, rev_size and rev_sha1 combine the slots', () => {
  let slots = 0;
  let multiSlot = 0;
  for (const s of main) {
    assert.deepEqual(s.bodyProblems, [], `record ${s.record.seq}`);
    const rev = s.event?.revision;
    if (rev?.content_slots === undefined || s.record.label === 'canary') continue;
    const entries = Object.values(rev.content_slots);
    slots += entries.length;
    if (entries.length > 1) multiSlot++;
    assert.equal(rev.rev_size, entries.reduce((sum, slot) => sum + slot.content_size!, 0));
    assert.equal(rev.rev_sha1, combineSlotSha1s(Object.fromEntries(Object.entries(rev.content_slots).map(([r, slot]) => [r, slot.content_sha1!]))));
    for (const slot of entries) assert.match(slot.content_sha1!, /^[0-9a-z]{31}$/);
  }
  assert.ok(slots > 5000);
  assert.ok(multiSlot > 50, `multi-slot revisions: ${multiSlot}`);
  const mediainfo = main.filter((s) => s.event?.revision.content_slots?.['mediainfo'] !== undefined);
  assert.ok(mediainfo.length > 0 && mediainfo.every((s) => s.event!.wiki_id === 'commonswiki'));
  assert.ok(mediainfo.every((s) => s.event!.revision.content_slots!['mediainfo']!.content_model === 'wikibase-mediainfo'));
});

test('page histories are consistent: parents, ids, moves with redirects, deletes, undeletes, visibility', () => {
  interface PageSeen { lastRevId: number; title: string; namespaceId: number; deleted: boolean; slotOrigins: Record<string, number> }
  const pages = new Map<string, PageSeen>();
  const lastRevIdOfWiki = new Map<string, number>();
  const checked: Record<string, number> = {};
  const history = historyOf(main);
  const pageKey = (wiki: string, id: number) => `${wiki}:${id}`;
  for (let i = 0; i < history.length; i++) {
    const e = history[i]!.event!;
    const kind = e.page_change_kind;
    const key = pageKey(e.wiki_id, e.page.page_id);
    const known = pages.get(key);
    const rev = e.revision;
    const where = `${kind} ${key} rev ${rev.rev_id} (history ${history[i]!.record.historySeq})`;
    if (kind === 'create' || kind === 'edit' || kind === 'move') {
      const last = lastRevIdOfWiki.get(e.wiki_id) ?? 0;
      assert.ok(rev.rev_id > last, `${where}: revision ids must increase per wiki (previous ${last})`);
      lastRevIdOfWiki.set(e.wiki_id, rev.rev_id);
      assert.equal(e.dt, rev.rev_dt, where);
    }
    switch (kind) {
      case 'create':
        assert.equal(known, undefined, `${where}: page created twice`);
        assert.equal(rev.rev_parent_id, undefined, where);
        for (const slot of Object.values(rev.content_slots!)) assert.equal(slot.origin_rev_id, rev.rev_id, where);
        break;
      case 'edit':
      case 'move':
        assert.equal(rev.rev_parent_id, e.prior_state!.revision!.rev_id, where);
        if (known !== undefined) {
          assert.equal(known.deleted, false, `${where}: edited while deleted`);
          assert.equal(rev.rev_parent_id, known.lastRevId, `${where}: parent is the page's previous revision`);
          assert.equal(kind === 'move' ? e.prior_state!.page!.page_title : e.page.page_title, known.title, where);
          // Unchanged slots keep their origin; changed ones originate here.
          if (rev.content_slots !== undefined) {
            for (const [role, slot] of Object.entries(rev.content_slots)) {
              const before: number | undefined = known.slotOrigins[role];
              if (before === undefined) continue;
              assert.ok(slot.origin_rev_id === rev.rev_id || slot.origin_rev_id === before, `${where}: slot ${role} origin ${slot.origin_rev_id}`);
              if (kind === 'move') assert.equal(slot.origin_rev_id, before, `${where}: a move's null revision changes no slot`);
            }
          }
          checked[kind] = (checked[kind] ?? 0) + 1;
        }
        break;
      case 'delete':
        assert.ok(e.page.revision_count! >= 1, where);
        if (known !== undefined) {
          assert.equal(rev.rev_id, known.lastRevId, `${where}: deletes the page's current revision`);
          assert.equal(known.deleted, false, where);
          checked[kind] = (checked[kind] ?? 0) + 1;
        }
        break;
      case 'undelete': {
        const oldId = e.prior_state?.page?.page_id ?? e.page.page_id;
        const before: PageSeen | undefined = pages.get(pageKey(e.wiki_id, oldId));
        if (before !== undefined) {
          assert.equal(before.deleted, true, `${where}: undeleted a page that was not deleted`);
          assert.equal(rev.rev_id, before.lastRevId, where);
          pages.delete(pageKey(e.wiki_id, oldId));
          checked[kind] = (checked[kind] ?? 0) + 1;
        }
        break;
      }
      case 'visibility_change':
        if (known !== undefined) {
          assert.equal(rev.rev_id, known.lastRevId, `${where}: changes the current revision only`);
          checked[kind] = (checked[kind] ?? 0) + 1;
        }
        break;
    }
    const origins = rev.content_slots === undefined ? (known?.slotOrigins ?? {}) : Object.fromEntries(Object.entries(rev.content_slots).map(([r, s]) => [r, s.origin_rev_id!]));
    pages.set(key, {
      lastRevId: rev.rev_id,
      title: e.page.page_title,
      namespaceId: e.page.namespace_id!,
      deleted: kind === 'delete',
      slotOrigins: kind === 'delete' ? (known?.slotOrigins ?? origins) : origins,
    });
  }
  for (const kind of ['edit', 'delete', 'undelete', 'visibility_change'] as const) assert.ok((checked[kind] ?? 0) > 0, `no ${kind} checked against a known page: ${JSON.stringify(checked)}`);
});

test('moves change the title, keep the old one in prior_state and leave redirects that get their own create', () => {
  const history = historyOf(main);
  let redirects = 0;
  const moves = history.filter((s) => s.event!.page_change_kind === 'move');
  assert.ok(moves.length > 10);
  for (const s of moves) {
    const e = s.event!;
    assert.notEqual(e.page.page_title, e.prior_state!.page!.page_title);
    assert.equal(typeof e.prior_state!.page!.namespace_id, 'number');
    assert.equal(e.revision.is_minor_edit, true);
    if (e.prior_state!.revision!.rev_sha1 !== undefined) {
      assert.equal(e.revision.rev_sha1, e.prior_state!.revision!.rev_sha1, 'a null revision keeps the content');
    }
    assert.equal(typeof e.comment, 'string');
    if (e.created_redirect_page === undefined) continue;
    redirects++;
    const create = history.find((h) => h.record.historySeq === s.record.historySeq! + 1)!.event!;
    assert.equal(create.page_change_kind, 'create');
    assert.equal(create.page.page_id, e.created_redirect_page.page_id);
    assert.equal(create.page.page_title, e.prior_state!.page!.page_title);
    assert.equal(create.page.is_redirect, true);
    assert.equal(create.page.redirect_page_link!.page_id, e.page.page_id);
    assert.equal(create.page.redirect_page_link!.page_title, e.page.page_title);
    assert.equal(create.revision.rev_id > e.revision.rev_id, true);
    assert.match(create.revision.content_slots!['main']!.content_body ?? '#REDIRECT', /^#REDIRECT/);
  }
  assert.ok(redirects > 0);
});

test('deletes carry revision_count and no bodies; suppressed deletes hide everything as the real one does', () => {
  const deletes = historyOf(main).filter((s) => s.event!.page_change_kind === 'delete').map((s) => s.event!);
  let suppressed = 0;
  for (const e of deletes) {
    assert.ok(e.page.revision_count! >= 1);
    for (const slot of Object.values(e.revision.content_slots ?? {})) assert.equal(slot.content_body, undefined);
    if (e.performer !== undefined) continue;
    suppressed++;
    assert.equal(e.revision.is_content_visible, false);
    assert.equal(e.revision.is_editor_visible, false);
    assert.equal(e.revision.is_comment_visible, false);
    for (const field of ['rev_size', 'rev_sha1', 'comment', 'editor', 'content_slots'] as const) assert.equal(e.revision[field], undefined, field);
    assert.ok(Object.keys(e.prior_state?.revision ?? {}).every((k) => k.startsWith('is_') && k.endsWith('_visible')));
  }
  assert.ok(deletes.length > 20 && suppressed > 0, `${deletes.length} deletes, ${suppressed} suppressed`);
});

test('undeletes restore the revision, sometimes under a new page id; visibility changes list only changed flags', () => {
  const history = historyOf(main).map((s) => s.event!);
  const newIds = history.filter((e) => e.page_change_kind === 'undelete' && e.prior_state?.page?.page_id !== undefined);
  assert.ok(newIds.length > 0);
  for (const e of newIds) assert.notEqual(e.prior_state!.page!.page_id, e.page.page_id);
  const changes = history.filter((e) => e.page_change_kind === 'visibility_change');
  assert.ok(changes.length > 10);
  for (const e of changes) {
    const prior = e.prior_state!.revision!;
    const changed = Object.keys(prior);
    assert.ok(changed.length >= 1);
    for (const flag of changed as Array<'is_content_visible' | 'is_editor_visible' | 'is_comment_visible'>) {
      assert.equal(typeof prior[flag], 'boolean');
      assert.notEqual(prior[flag], e.revision[flag], flag);
    }
    if (e.revision.is_comment_visible === false) assert.equal(e.revision.comment, undefined);
    if (e.revision.is_editor_visible === false) assert.equal(e.revision.editor, undefined);
    if (e.revision.is_content_visible === false) assert.equal(e.revision.content_slots, undefined);
  }
  assert.ok(changes.some((e) => e.performer === undefined), 'some visibility changes are suppressions');
});

test('users: IP editors without user_id, temporary accounts, bots and system users, types as booleans', () => {
  const editors = historyOf(main).flatMap((s) => (s.event!.revision.editor === undefined ? [] : [s.event!.revision.editor]));
  assert.ok(editors.every((u) => typeof u.is_bot === 'boolean' && typeof u.is_system === 'boolean' && typeof u.is_temp === 'boolean'));
  const ips = editors.filter((u) => u.user_id === undefined);
  assert.ok(ips.length > 0 && ips.every((u) => /^[\d.]+$|^[0-9A-F:]+$/.test(u.user_text!)));
  const temps = editors.filter((u) => u.is_temp);
  assert.ok(temps.length > 0);
  for (const u of temps) {
    // Named ~YEAR-NNNNN-NN after the year they were created; none before the 2024 rollout.
    assert.match(u.user_text!, /^~20\d\d-\d{5}-\d{2}$/);
    assert.ok(Number(u.user_text!.slice(1, 5)) >= 2024, u.user_text);
    assert.equal(u.user_text!.slice(1, 5), u.registration_dt!.slice(0, 4));
    assert.notEqual(u.user_id, undefined);
  }
  assert.ok(temps.some((u) => u.user_text!.startsWith('~2025-')));
  assert.ok(editors.some((u) => u.is_bot && u.groups!.includes('bot')));
  assert.ok(editors.some((u) => u.is_system));
});

test('duplicates repeat an earlier record byte for byte on the same topic', () => {
  const bySeq = new Map(main.map((s) => [s.record.seq, s]));
  const duplicates = main.filter((s) => s.record.label === 'duplicate');
  assert.ok(duplicates.length > 20);
  for (const d of duplicates) {
    const original = bySeq.get(d.record.duplicateOf!)!;
    assert.ok(original.record.seq < d.record.seq);
    assert.ok(original.record.label === 'good' || original.record.label === 'late');
    assert.equal(d.valueHash, original.valueHash);
    assert.equal(d.record.topic, original.record.topic);
    assert.equal(d.record.eventId, original.record.eventId);
  }
});

test('canaries are on both topics with meta.domain canary; late events have dt days before meta.dt', () => {
  const canaries = main.filter((s) => s.record.label === 'canary');
  assert.deepEqual([...new Set(canaries.map((s) => s.record.datacenter))].sort(), ['codfw', 'eqiad']);
  for (const s of canaries) assert.equal(s.event!.meta.domain, 'canary');
  assert.ok(main.every((s) => s.record.label === 'canary' || s.event === undefined || s.event.meta.domain !== 'canary'));
  const late = main.filter((s) => s.record.label === 'late');
  assert.ok(late.length > 10);
  for (const s of late) {
    const lagMs = Date.parse(s.event!.meta.dt!) - Date.parse(s.event!.dt);
    assert.ok(lagMs >= DAY_MS && lagMs <= 8 * DAY_MS, `lag ${lagMs}`);
    assert.ok(s.event!.page_change_kind === 'create' || s.event!.page_change_kind === 'edit');
  }
  for (const s of main.filter((x) => x.record.label === 'good')) {
    const lagMs = Date.parse(s.event!.meta.dt!) - Date.parse(s.event!.dt);
    assert.ok(lagMs >= 0 && lagMs < 5 * 60_000, `good record ${s.record.seq} lag ${lagMs}`);
  }
});

test('switchovers spread one page over both topics; within a topic a page keeps its order', () => {
  const topics = new Set(main.map((s) => s.record.topic));
  assert.equal(topics.size, 2);
  assert.ok(main.some((s) => s.record.outOfOrder && s.record.label === 'good'), 'some good records arrive after a later event of their page');
  const lastSeq = new Map<string, number>();
  for (const s of main) {
    if (s.record.label !== 'good') continue;
    const key = `${s.record.topic} ${s.record.key}`;
    const previous = lastSeq.get(key) ?? -1;
    assert.ok(s.record.historySeq! > previous, `${key}: history ${s.record.historySeq} after ${previous}`);
    lastSeq.set(key, s.record.historySeq!);
  }
});

test('content sizes: median about 4 KB, a long tail, every message under 10 MiB', () => {
  const sizes = main.filter((s) => s.record.label === 'good' && s.record.contentBytes > 0).map((s) => s.record.contentBytes).sort((a, b) => a - b);
  const median = sizes[sizes.length >> 1]!;
  const p99 = sizes[Math.floor(sizes.length * 0.99)]!;
  assert.ok(median >= 3_000 && median <= 5_500, `median ${median}`);
  assert.ok(p99 >= 50_000, `p99 ${p99}`);
  assert.ok(sizes[sizes.length - 1]! >= 500_000, `max ${sizes[sizes.length - 1]}`);
});

test('huge pages reach several MiB yet every message stays under the 10 MiB production limit', () => {
  let huge = 0;
  let largest = 0;
  for (const record of generateRecords({ seed: 11, startMs: START_MS, events: 120, hugePageProbability: 0.05, wikis: ['enwiki'] })) {
    assert.ok(record.value.length <= MAX_EVENT_BYTES, `${record.value.length} bytes`);
    largest = Math.max(largest, record.value.length);
    if (record.contentBytes >= 5 * 1024 * 1024) huge++;
  }
  assert.ok(huge > 0, 'no event with 5 MiB of content');
  assert.ok(largest > 8 * 1024 * 1024, `largest message ${largest}`);
});

test('days mode covers the period, and options are checked', () => {
  const records = [...generateRecords({ seed: 3, startMs: START_MS, days: 0.02, eventsPerDay: 50_000, duplicateFraction: 0, lateFraction: 0 })];
  const good = records.filter((r) => r.label === 'good');
  assert.ok(good.length > 700 && good.length < 1300, `${good.length} events in 0.02 days at 50k/day`);
  assert.ok(records.every((r) => r.label === 'good' || r.label === 'canary'));
  assert.throws(() => [...generateRecords({ seed: 1, startMs: START_MS })], /exactly one of events or days/);
  assert.throws(() => [...generateRecords({ seed: 1, startMs: START_MS, events: 5, badFraction: 2 })], /badFraction must be between 0 and 1/);
  assert.throws(() => [...generateRecords({ seed: 1, startMs: START_MS, events: 5, wikis: ['en.wikipedia'] })], /is not a database name/);
});
