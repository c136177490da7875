// MediaWiki's content hashes: base-36 SHA-1 (31 characters) of a slot's content, and the revision
// hash combined from the slot hashes. Imports only node:crypto.
//
// SlotRecord::base36Sha1($blob) = Wikimedia\base_convert(sha1($blob), 16, 36, 31), and
// RevisionSlots::computeSha1() (mediawiki includes/Revision/RevisionSlots.php) sorts the primary
// slots by role (ksort) and folds: the first slot's sha1, then base36Sha1(accumulator . next sha1);
// one slot gives that slot's sha1, no slots give base36Sha1(''). Checked against real commonswiki
// events (test/events/sha1.test.ts): main m90k2… + mediainfo spohp31… → rev_sha1 fs7sinj….

import { createHash } from 'node:crypto';

/** Base-36 SHA-1 of the UTF-8 bytes (or of a string's UTF-8 encoding), zero-padded to 31 chars. */
export function base36Sha1(content: Uint8Array | string): string {
  const hex = createHash('sha1').update(content).digest('hex');
  return BigInt(`0x${hex}`).toString(36).padStart(31, '0');
}

/** The sha1 of empty content: what MediaWiki stores for a blanked page and for a revision without slots. */
export const EMPTY_SHA1 = base36Sha1('');

/**
 * rev_sha1 from the slot sha1s, keyed by role, as RevisionSlots::computeSha1 does. Roles sort by
 * byte order like PHP's ksort on string keys.
 */
export function combineSlotSha1s(slotSha1ByRole: Readonly<Record<string, string>>): string {
  const roles = Object.keys(slotSha1ByRole).sort(compareBytes);
  if (roles.length === 0) return EMPTY_SHA1;
  let accumulator = slotSha1ByRole[roles[0]!]!;
  for (let i = 1; i < roles.length; i++) accumulator = base36Sha1(accumulator + slotSha1ByRole[roles[i]!]!);
  return accumulator;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
