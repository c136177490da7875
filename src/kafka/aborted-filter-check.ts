// kafkajs's filter of aborted transactional records runs as patched by patches/kafkajs+2.2.4.patch
// (npm's postinstall applies it with patch-package). An install that skipped scripts (`npm ci
// --ignore-scripts`) keeps the original, and a read_committed drain would deliver aborted records
// without a sign: so every bounded read first checks the filter on a log the original gets wrong.

import { createRequire } from 'node:module';
import { ConfigError } from '../core/errors.js';

interface FilterMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly isControlRecord: boolean;
  readonly batchContext: { readonly producerId: string; readonly inTransaction: boolean };
}

/** kafkajs/src/consumer/filterAbortedMessages.js. */
export type AbortedFilter = (o: { messages: FilterMessage[]; abortedTransactions: { firstOffset: string; producerId: string }[] }) => FilterMessage[];

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);
const record = (offset: number, producerId: string, key: Buffer | null = null): FilterMessage => ({ offset: String(offset), key, isControlRecord: false, batchContext: { producerId, inTransaction: true } });
const marker = (offset: number, producerId: string, key: Buffer): FilterMessage => ({ offset: String(offset), key, isControlRecord: true, batchContext: { producerId, inTransaction: true } });

let checked = false;

/**
 * Throws CONFIG (78) unless `filter` drops the aborted records of a read starting inside two
 * aborted transactions, one of which holds a data record keyed as an abort marker.
 */
export function checkAbortedFilter(filter?: AbortedFilter): void {
  if (filter === undefined && checked) return;
  const use = filter ?? (createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as AbortedFilter);
  // b: 1, 6 (keyed as an abort marker), 8, abort 9 (a's 0 and 2, aborted at 3, begin before the read); c: 4, committed at 5.
  const messages = [record(1, 'b'), record(2, 'a'), marker(3, 'a', ABORT), record(4, 'c'), marker(5, 'c', COMMIT), record(6, 'b', ABORT), record(8, 'b'), marker(9, 'b', ABORT)];
  const aborted = [
    { firstOffset: '0', producerId: 'a' },
    { firstOffset: '1', producerId: 'b' },
  ];
  const kept = use({ messages, abortedTransactions: aborted }).filter((m) => !m.isControlRecord).map((m) => m.offset);
  if (kept.join() !== '4') {
    throw new ConfigError(
      "kafkajs is installed without mwlake's fix of its aborted-transaction filter (patches/kafkajs+2.2.4.patch): a read would deliver aborted transactional records. " +
        'Reinstall with `npm ci` (its postinstall runs patch-package), not with --ignore-scripts',
    );
  }
  if (filter === undefined) checked = true;
}
