// Which record sits at an offset: a topic deleted and recreated restarts its offsets at 0, and
// once it has grown past a job's stored offsets nothing else tells the new records from the old.
// The drain keeps the identity of the last record it read per partition and, next run, reads the
// record at that offset again to compare.

import { createHash, randomUUID } from 'node:crypto';
import { openBoundedSource, type BoundedSourceOptions } from './kafkajs-source.js';
import { partitionKey, type KafkaMessage } from './source.js';

/** `<offset>:<timestamp ms>:<sha-1 of key and value, 16 hex digits>`. */
export function recordIdentity(m: KafkaMessage): string {
  const hash = createHash('sha1');
  hash.update(String(m.key?.length ?? -1)).update(':');
  if (m.key !== null) hash.update(m.key);
  if (m.value !== null) hash.update(m.value);
  return `${m.offset}:${m.timestampMs}:${hash.digest('hex').slice(0, 16)}`;
}

/** The offset a stored identity names, or undefined when it is not one. */
export function identityOffset(identity: string): bigint | undefined {
  const offset = /^(\d+):/.exec(identity)?.[1];
  return offset === undefined ? undefined : BigInt(offset);
}

export interface IdentityCheck {
  readonly topic: string;
  readonly partition: number;
  readonly identity: string;
}

/** What the checks found: records that are not the ones read then (with what sits there now), and checks that found none. */
export interface IdentityComparison {
  readonly mismatched: { check: IdentityCheck; found: string }[];
  /** Gone since (compacted, deleted by retention after the check was planned) or a transaction marker now: cannot be compared. */
  readonly missing: IdentityCheck[];
}

/** Reads the record at each check's offset again and compares it with the one read then. */
export async function compareIdentities(options: Omit<BoundedSourceOptions, 'ranges'>, checks: readonly IdentityCheck[]): Promise<IdentityComparison> {
  if (checks.length === 0) return { mismatched: [], missing: [] };
  const ranges = checks.map((c) => {
    const offset = identityOffset(c.identity)!;
    return { topic: c.topic, partition: c.partition, nextOffset: offset, endOffset: offset + 1n };
  });
  const wanted = new Map(checks.map((c) => [partitionKey(c), c]));
  const found = new Map<string, string>();
  // Uncommitted too: the record read there was committed, so an aborted one there now is another
  // topic's, which read_committed would hide (a marker there still can be, kafkajs drops them).
  const source = await openBoundedSource({ ...options, groupId: `${options.groupId}.check-${randomUUID().slice(0, 8)}`, deleteGroupOnClose: true, allowGap: true, isolation: 'read_uncommitted', ranges });
  try {
    for await (const batch of source) {
      for (const m of batch.messages) if (m.offset === identityOffset(wanted.get(partitionKey(m))!.identity)) found.set(partitionKey(m), recordIdentity(m));
    }
  } finally {
    await source.close();
  }
  return {
    mismatched: [...found].flatMap(([key, identity]) => (identity === wanted.get(key)!.identity ? [] : [{ check: wanted.get(key)!, found: identity }])),
    missing: checks.filter((c) => !found.has(partitionKey(c))),
  };
}
