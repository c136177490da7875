import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_SHA1, base36Sha1, combineSlotSha1s } from '../../src/events/sha1.js';
import { realEvents } from './helpers.js';

test('base36Sha1 is the 31-character base-36 SHA-1 MediaWiki stores', () => {
  // sha1('') = da39a3ee5e6b4b0d3255bfef95601890afd80709 → base 36, padded to 31.
  assert.equal(EMPTY_SHA1, 'phoiac9h4m842xq45sp7s6u21eteeq1');
  assert.equal(base36Sha1('A test'), base36Sha1(Buffer.from('A test', 'utf8')));
  // A value whose base-36 form is shorter than 31 digits is zero-padded.
  for (const text of ['a', 'b', 'c', 'Zürich', '🎉']) assert.match(base36Sha1(text), /^[0-9a-z]{31}$/);
  // Strings hash their UTF-8 bytes, not UTF-16 code units.
  assert.equal(base36Sha1('é'), base36Sha1(Buffer.from([0xc3, 0xa9])));
});

test('rev_sha1 of a single-slot revision is the main slot sha1 (all real single-slot events)', () => {
  let checked = 0;
  for (const event of realEvents() as any[]) {
    const slots = event.revision.content_slots;
    if (slots === undefined || Object.keys(slots).length !== 1) continue;
    assert.equal(combineSlotSha1s({ main: slots.main.content_sha1 }), event.revision.rev_sha1);
    checked++;
  }
  assert.ok(checked >= 8, `checked ${checked}`);
});

test('rev_sha1 of a multi-slot revision folds the sorted slot sha1s as RevisionSlots::computeSha1 does', () => {
  const events = realEvents() as any[];
  let checked = 0;
  for (const event of [events[10], events[11], events[10].prior_state, events[11].prior_state]) {
    const slots = event.revision.content_slots;
    assert.equal(Object.keys(slots).length, 2);
    const byRole = Object.fromEntries(Object.entries(slots).map(([role, slot]: [string, any]) => [role, slot.content_sha1]));
    assert.equal(combineSlotSha1s(byRole), event.revision.rev_sha1);
    // Role order in the input does not matter: roles are sorted.
    const reversed = Object.fromEntries(Object.entries(byRole).reverse());
    assert.equal(combineSlotSha1s(reversed), event.revision.rev_sha1);
    checked++;
  }
  assert.equal(checked, 4);
  assert.equal(events[10].revision.rev_sha1, 'fs7sinjznlj2jqub4klbmlvhz2njozq');
  assert.equal(combineSlotSha1s({}), EMPTY_SHA1);
});
