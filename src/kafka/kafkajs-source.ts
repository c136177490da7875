// The bounded source over kafkajs's consumer: reads given partitions from their positions up to
// end offsets captured at the start of a run, in per-partition batches, with memory bounded by
// bytes, and ends when every partition is caught up. kafkajs (2.2.4) has no manual assignment, so
// this joins a consumer group of its own and seeks every assigned partition.
// Imports core, kafkajs (through client.ts) and the kafka types; knows nothing of events or tables.

import type { Consumer, EachBatchPayload } from 'kafkajs';
import { ConfigError, JobError, OffsetOutOfRangeError } from '../core/errors.js';
import { checkAbortedFilter } from './aborted-filter-check.js';
import { KafkaAdmin } from './admin.js';
import { createKafkajsClient, toJobError, type KafkaClientOptions } from './client.js';
import {
  partitionKey,
  type BoundedSource,
  type BoundedSourceStats,
  type GapCheckFailure,
  type KafkaBatch,
  type KafkaMessage,
  type PartitionGap,
  type PartitionPosition,
  type PartitionRange,
} from './source.js';

export interface BoundedSourceOptions extends KafkaClientOptions {
  /** The consumer group the read joins; no other consumer may be a member while it runs. */
  readonly groupId: string;
  /** A group made for this read alone: deleted on close, so runs leave no groups on the broker. */
  readonly deleteGroupOnClose?: boolean;
  readonly ranges: readonly PartitionRange[];
  /**
   * Key + value bytes queued for the caller (including the batch it holds) before fetching stops
   * until it catches up; default 64 MiB. Peak memory is about this plus one fetch response
   * (maxFetchBytes, or one larger record batch: brokers return at least one whole batch, KIP-74),
   * decompressed: the broker's limits count compressed record batches, so a snappy fetch of
   * maxFetchBytes holds its compression ratio times as many key + value bytes.
   */
  readonly maxBufferedBytes?: number;
  /** Fetch partition_max_bytes (compressed, as stored); default 8 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Fetch max_bytes of one response (compressed, as stored); default 32 MiB. */
  readonly maxFetchBytes?: number;
  /** How long the broker may hold a fetch that has no data; default 250 ms. */
  readonly maxWaitMs?: number;
  /**
   * Records retention deletes before the read gets to them are skipped and reported by gaps()
   * instead of failing the read with OffsetOutOfRangeError (the drain's --allow-gap).
   */
  readonly allowGap?: boolean;
  /** Default read_committed: aborted transactional records are skipped, as the Java consumer does. */
  readonly isolation?: 'read_committed' | 'read_uncommitted';
  /**
   * Fail (TEMPORARY) when no partition has advanced for this long while the caller is keeping
   * up; default 5 min. Only an open transaction (read_committed waits for it) or a broker
   * problem can hold a bounded read still; this turns such a wait into an error, never a hang.
   */
  readonly stallTimeoutMs?: number;
  readonly sessionTimeoutMs?: number;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly endOffset: bigint;
  /** Position after everything queued for the caller. */
  nextOffset: bigint;
  /** Position after everything the caller has taken. */
  handedOutOffset: bigint;
  done: boolean;
}

type QueueItem =
  | { readonly kind: 'batch'; readonly state: PartitionState; readonly batch: KafkaBatch }
  | { readonly kind: 'advance'; readonly state: PartitionState; readonly nextOffset: bigint };

interface Signal {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function createSignal(): Signal {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const bigMax = (a: bigint, b: bigint) => (a > b ? a : b);
const bigMin = (a: bigint, b: bigint) => (a < b ? a : b);
const HEARTBEAT_INTERVAL_MS = 3000;

/**
 * Checks the ranges against the broker and returns a source ready to iterate. Fails with
 * OffsetOutOfRangeError when a position is below its partition's log start offset (retention
 * has deleted records this run should read), DATA when a range lies beyond the log, NOT_FOUND
 * for a missing topic, LOCKED when the group has running members, UNAVAILABLE when no broker answers.
 */
export async function openBoundedSource(options: BoundedSourceOptions): Promise<BoundedSource> {
  checkAbortedFilter();
  if (options.groupId.length === 0) throw new ConfigError('a bounded Kafka read needs a consumer group id, found an empty string');
  const seen = new Set<string>();
  for (const range of options.ranges) {
    const key = partitionKey(range);
    if (seen.has(key)) throw new JobError('INTERNAL', `partition ${key} appears twice in the ranges of a bounded read`);
    seen.add(key);
    if (range.nextOffset < 0n || range.endOffset < range.nextOffset) {
      throw new JobError('DATA', `position ${range.nextOffset} of ${key} is past its end offset ${range.endOffset}; expected 0 <= position <= end (was the topic deleted and recreated?)`, {
        context: { partition: key, nextOffset: range.nextOffset, endOffset: range.endOffset },
      });
    }
  }

  const admin = await KafkaAdmin.connect(options);
  let gaps: PartitionGap[];
  try {
    gaps = await checkAgainstBroker(admin, options);
  } catch (error) {
    await admin.close().catch(() => {});
    throw error;
  }
  return new KafkajsBoundedSource(options, admin, gaps);
}

/** Checks the ranges; with allowGap, returns the records deleted below each log start instead of failing. */
async function checkAgainstBroker(admin: KafkaAdmin, options: BoundedSourceOptions): Promise<PartitionGap[]> {
  const topics = [...new Set(options.ranges.map((r) => r.topic))].sort();
  if (topics.length === 0) return [];
  const gaps: PartitionGap[] = [];
  const watermarks = new Map((await admin.fetchWatermarks(topics)).map((w) => [partitionKey(w), w]));
  for (const range of options.ranges) {
    const key = partitionKey(range);
    const marks = watermarks.get(key);
    if (marks === undefined) throw new JobError('NOT_FOUND', `partition ${key} does not exist; expected it from the ranges of the read`);
    if (range.nextOffset < marks.logStartOffset && range.nextOffset < range.endOffset) {
      // Accepted: the read starts at the log start (or is over, when that is past the end).
      if (options.allowGap === true) {
        gaps.push({ topic: range.topic, partition: range.partition, from: range.nextOffset, to: bigMin(marks.logStartOffset, range.endOffset) - 1n });
        continue;
      }
      throw new OffsetOutOfRangeError(
        `position ${range.nextOffset} of ${key} is below the log start offset ${marks.logStartOffset}: records ${range.nextOffset}..${marks.logStartOffset - 1n} were deleted before they were read`,
        { context: { partition: key, nextOffset: range.nextOffset, logStartOffset: marks.logStartOffset } },
      );
    }
    if (range.endOffset > marks.endOffset) {
      throw new JobError('DATA', `end offset ${range.endOffset} of ${key} is beyond its last stable offset ${marks.endOffset}; expected an end captured from this topic`, {
        context: { partition: key, endOffset: range.endOffset, lastStableOffset: marks.endOffset },
      });
    }
  }
  const state = await admin.fetchGroupState(options.groupId);
  if (state !== 'Empty' && state !== 'Dead') {
    throw new JobError('LOCKED', `consumer group ${options.groupId} has running members (state ${state}); a bounded read needs the group to itself`, {
      context: { groupId: options.groupId, state },
    });
  }
  return gaps;
}

class KafkajsBoundedSource implements BoundedSource {
  private readonly partitions = new Map<string, PartitionState>();
  /** Per partition, the offsets retention deleted before this read got to them (allowGap). */
  private readonly skipped = new Map<string, { from: bigint; to: bigint }[]>();
  /** Gap checks of batches that held only markers or aborted records, still running. */
  private readonly gapChecks = new Set<Promise<void>>();
  /** What the gap checks run in the background refused (gapCheckFailures). */
  private readonly gapFailures: GapCheckFailure[] = [];
  private readonly queue: QueueItem[] = [];
  private queuedBytes = 0;
  private heldBytes = 0;
  private peakBufferedBytes = 0;
  private handedOutMessages = 0;
  private handedOutBytes = 0;
  private signal = createSignal();
  private failure: JobError | undefined;
  private finished = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private iterated = false;
  private consumer: Consumer | undefined;
  private waitingForSpace = false;
  private stallCheck = false;
  private lastProgressMs = Date.now();
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly maxBufferedBytes: number;
  private readonly stallTimeoutMs: number;

  constructor(
    private readonly options: BoundedSourceOptions,
    private readonly admin: KafkaAdmin,
    startGaps: readonly PartitionGap[] = [],
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024 * 1024;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 5 * 60 * 1000;
    for (const range of options.ranges) {
      this.partitions.set(partitionKey(range), {
        topic: range.topic,
        partition: range.partition,
        endOffset: range.endOffset,
        nextOffset: range.nextOffset,
        handedOutOffset: range.nextOffset,
        done: range.nextOffset >= range.endOffset,
      });
    }
    for (const gap of startGaps) {
      const state = this.partitions.get(partitionKey(gap))!;
      state.nextOffset = state.handedOutOffset = gap.to + 1n;
      state.done = state.nextOffset >= state.endOffset;
      this.skipped.set(partitionKey(gap), [{ from: gap.from, to: gap.to }]);
    }
    this.finished = [...this.partitions.values()].every((s) => s.done);
  }

  positions(): PartitionPosition[] {
    return [...this.partitions.values()].map(({ topic, partition, handedOutOffset }) => ({ topic, partition, nextOffset: handedOutOffset }));
  }

  async gapCheckFailures(): Promise<readonly GapCheckFailure[]> {
    await Promise.all(this.gapChecks);
    return this.gapFailures;
  }

  gaps(): PartitionGap[] {
    return [...this.skipped].flatMap(([key, gaps]) => {
      const state = this.partitions.get(key)!;
      return gaps.map((g) => ({ topic: state.topic, partition: state.partition, ...g }));
    });
  }

  stats(): BoundedSourceStats {
    return {
      messages: this.handedOutMessages,
      sizeBytes: this.handedOutBytes,
      bufferedBytes: this.queuedBytes + this.heldBytes,
      peakBufferedBytes: this.peakBufferedBytes,
      waitingForSpace: this.waitingForSpace,
    };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KafkaBatch> {
    if (this.iterated) throw new JobError('INTERNAL', 'a bounded Kafka source can be iterated only once');
    this.iterated = true;
    try {
      if (!this.finished) await this.startConsumer();
      for (;;) {
        const item = await this.take();
        if (item === undefined) return;
        if (item.kind === 'advance') {
          item.state.handedOutOffset = bigMax(item.state.handedOutOffset, item.nextOffset);
          continue;
        }
        item.state.handedOutOffset = item.batch.nextOffset;
        // The caller holds this batch until it asks for the next one; it counts until then.
        this.heldBytes = item.batch.sizeBytes;
        this.handedOutMessages += item.batch.messages.length;
        this.handedOutBytes += item.batch.sizeBytes;
        yield item.batch;
        this.heldBytes = 0;
        this.notify();
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      clearInterval(this.stallTimer);
      this.notify();
      const consumer = this.consumer;
      this.closing = (async () => {
        await consumer?.disconnect().catch(() => {});
        // Best effort: a group left behind costs the broker a little, never correctness.
        if (this.options.deleteGroupOnClose === true) await this.admin.deleteGroups([this.options.groupId]).catch(() => {});
        await this.admin.close().catch(() => {});
      })();
    }
    await this.closing;
  }

  private describe(): string {
    return `a bounded read of ${[...new Set(this.options.ranges.map((r) => r.topic))].join(', ')} as group ${this.options.groupId}`;
  }

  private notify(): void {
    const signal = this.signal;
    this.signal = createSignal();
    signal.resolve();
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined || this.closed) return;
    this.failure = toJobError(error, this.describe(), this.options.brokers);
    this.notify();
  }

  private async take(): Promise<QueueItem | undefined> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const item = this.queue.shift();
      if (item !== undefined) {
        if (item.kind === 'batch') this.queuedBytes -= item.batch.sizeBytes;
        this.notify();
        return item;
      }
      if (this.finished) {
        if (this.gapChecks.size === 0) return undefined;
        await Promise.all(this.gapChecks);
        continue;
      }
      await this.signal.promise;
    }
  }

  private async startConsumer(): Promise<void> {
    const options = this.options;
    const consumer = createKafkajsClient(options).consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 8 * 1024 * 1024,
      maxBytes: options.maxFetchBytes ?? 32 * 1024 * 1024,
      minBytes: 1,
      maxWaitTimeInMs: options.maxWaitMs ?? 250,
      readUncommitted: options.isolation === 'read_uncommitted',
      allowAutoTopicCreation: false,
      // A crash ends the read with an error; restarting would rejoin behind our back.
      retry: { retries: options.retries ?? 5, restartOnFailure: async () => false },
    });
    this.consumer = consumer;
    const events = consumer.events;

    consumer.on(events.CRASH, (event) => this.fail(event.payload.error));

    // GROUP_JOIN is emitted inside kafkajs's joinAndSync, before the runner fetches for the new
    // generation, so these seeks and pauses apply to the very first fetch (consumerGroup.js
    // seekOffsets runs before the fetch request is built). It also runs after every rebalance,
    // putting each partition back where this read has got to.
    consumer.on(events.GROUP_JOIN, (event) => {
      const assigned = new Set<string>();
      const pause: { topic: string; partitions: number[] }[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) {
          const state = this.partitions.get(partitionKey({ topic, partition }));
          assigned.add(partitionKey({ topic, partition }));
          if (state === undefined || state.done) pause.push({ topic, partitions: [partition] });
          else consumer.seek({ topic, partition, offset: state.nextOffset.toString() });
        }
      }
      if (pause.length > 0) consumer.pause(pause);
      const missing = [...this.partitions.values()].filter((s) => !s.done && !assigned.has(partitionKey(s)));
      if (missing.length > 0) {
        this.fail(
          new JobError('LOCKED', `another consumer in group ${this.options.groupId} holds ${missing.map(partitionKey).join(', ')}; a bounded read needs every partition`, {
            context: { groupId: this.options.groupId },
          }),
        );
      }
      this.lastProgressMs = Date.now();
    });

    // A fetch that returns only control records (transaction markers) or aborted records never
    // reaches eachBatch, yet kafkajs resolves past it (runner.js handleBatch, kafkajs #1256,
    // mirroring Kafka's Fetcher which skips control batches). This is where a partition whose
    // last offsets before the end are markers reaches its end, so the read cannot hang there.
    consumer.on(events.END_BATCH_PROCESS, (event) => {
      const { topic, partition, batchSize, firstOffset, lastOffset } = event.payload;
      if (batchSize !== 0) return;
      const state = this.partitions.get(partitionKey({ topic, partition }));
      if (state === undefined || state.done || this.closed || this.failure !== undefined) return;
      if (firstOffset !== null && BigInt(firstOffset) > state.nextOffset) {
        // Not awaited (an event handler): the read does not end before the check has (take).
        const from = state.nextOffset;
        const check = this.checkGap(state, from, BigInt(firstOffset)).catch((error: unknown) => {
          // A check cut short by close() is no gap.
          if (error instanceof OffsetOutOfRangeError) this.gapFailures.push({ topic, partition, from, error });
          this.fail(error);
        });
        this.gapChecks.add(check);
        void check.finally(() => this.gapChecks.delete(check));
      }
      this.advance(state, BigInt(lastOffset) + 1n, [], 0);
    });

    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...new Set(this.options.ranges.map((r) => r.topic))], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (error) {
      throw toJobError(error, this.describe(), this.options.brokers);
    }
    this.lastProgressMs = Date.now();
    this.stallTimer = setInterval(() => this.checkStall(), Math.min(1000, Math.max(10, this.stallTimeoutMs / 4)));
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // isStale: a seek is pending for this partition, so the batch predates it (runner.js).
    if (this.closed || this.failure !== undefined || payload.isStale()) return;
    const state = this.partitions.get(partitionKey(batch));
    if (state === undefined || state.done) return;
    try {
      // firstOffset() counts control and aborted records too: a jump past nextOffset is a gap.
      const firstOffset = batch.firstOffset();
      if (firstOffset !== null && BigInt(firstOffset) > state.nextOffset) await this.checkGap(state, state.nextOffset, BigInt(firstOffset));
      const messages: KafkaMessage[] = [];
      let sizeBytes = 0;
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        // Below: already queued before a rebalance re-delivered it. At or past the end: produced
        // after the end offsets were captured, left for the next run.
        if (offset < state.nextOffset) continue;
        if (offset >= state.endOffset) break;
        const key = m.key ?? null;
        const value = m.value ?? null;
        const size = (key?.length ?? 0) + (value?.length ?? 0);
        messages.push({ topic: state.topic, partition: state.partition, offset, timestampMs: Number(m.timestamp), key, value, sizeBytes: size });
        sizeBytes += size;
      }
      // lastOffset() is the last record kafkajs fetched, markers and aborted records included;
      // kafkajs resolves the same offset after eachBatch (eachBatchAutoResolve).
      this.advance(state, BigInt(batch.lastOffset()) + 1n, messages, sizeBytes);
    } catch (error) {
      this.fail(error);
      return;
    }
    await this.waitForSpace(payload.heartbeat);
  }

  /** Moves a partition's queued position forward (never past its end) and queues what it read. */
  private advance(state: PartitionState, candidateNextOffset: bigint, messages: KafkaMessage[], sizeBytes: number): void {
    const nextOffset = bigMin(bigMax(state.nextOffset, candidateNextOffset), state.endOffset);
    if (messages.length > 0) {
      const batch: KafkaBatch = { topic: state.topic, partition: state.partition, messages, nextOffset, sizeBytes };
      this.queue.push({ kind: 'batch', state, batch });
      this.queuedBytes += sizeBytes;
      this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.queuedBytes + this.heldBytes);
    } else if (nextOffset > state.nextOffset) {
      this.queue.push({ kind: 'advance', state, nextOffset });
    } else {
      return;
    }
    state.nextOffset = nextOffset;
    this.lastProgressMs = Date.now();
    if (nextOffset >= state.endOffset) {
      state.done = true;
      this.consumer?.pause([{ topic: state.topic, partitions: [state.partition] }]);
      this.finished = [...this.partitions.values()].every((s) => s.done);
    }
    this.notify();
  }

  /**
   * Offsets skipped inside a partition are normal after compaction and transactions, but a gap
   * that starts below the log start offset means retention deleted records before this read got
   * to them; kafkajs would also silently restart such a partition from the earliest offset
   * (consumerGroup.js recoverFromOffsetOutOfRange). Both become OffsetOutOfRangeError, or with
   * allowGap a gap. `from`: the partition's position before the batch (read before any await).
   */
  private async checkGap(state: PartitionState, from: bigint, firstOffset: bigint, found = true): Promise<void> {
    const marks = (await this.admin.fetchWatermarks([state.topic])).find((w) => w.partition === state.partition);
    if (marks !== undefined && marks.logStartOffset > from) {
      if (this.options.allowGap === true) {
        // Accepted: what this read skips is exactly the offsets up to the record found.
        const key = partitionKey(state);
        this.skipped.set(key, [...(this.skipped.get(key) ?? []), { from, to: bigMin(firstOffset, state.endOffset) - 1n }]);
        return;
      }
      throw new OffsetOutOfRangeError(
        `records ${from}..${marks.logStartOffset - 1n} of ${partitionKey(state)} were deleted (log start offset is now ${marks.logStartOffset}) before this read got to them; ${found ? `the next record found was ${firstOffset}` : 'no record is left after them'}`,
        { context: { partition: partitionKey(state), nextOffset: from, logStartOffset: marks.logStartOffset } },
      );
    }
  }

  private isFull(): boolean {
    const buffered = this.queuedBytes + this.heldBytes;
    return buffered > 0 && buffered >= this.maxBufferedBytes;
  }

  // Backpressure: kafkajs fetches again only after eachBatch returns (fetcher.js awaits the
  // worker queue), so holding eachBatch here stops fetching until the caller catches up. kafkajs
  // heartbeats only between batches, so a slow caller would be thrown out of the group; heartbeat
  // while waiting. A heartbeat that reports a rebalance is rethrown for kafkajs to rejoin; the
  // queued batch stays queued and GROUP_JOIN seeks past it.
  private async waitForSpace(heartbeat: () => Promise<void>): Promise<void> {
    if (!this.isFull()) return;
    this.waitingForSpace = true;
    let heartbeatError: unknown;
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        heartbeatError = error;
        this.notify();
      });
    }, HEARTBEAT_INTERVAL_MS);
    try {
      while (this.isFull() && !this.closed && this.failure === undefined && heartbeatError === undefined) {
        await this.signal.promise;
      }
    } finally {
      clearInterval(timer);
      this.waitingForSpace = false;
      this.lastProgressMs = Date.now();
    }
    if (heartbeatError !== undefined) throw heartbeatError;
  }

  private checkStall(): void {
    if (this.finished || this.closed || this.failure !== undefined || this.waitingForSpace || this.stallCheck) return;
    const idleMs = Date.now() - this.lastProgressMs;
    if (idleMs <= this.stallTimeoutMs) return;
    this.stallCheck = true;
    this.resolveStall(idleMs)
      .catch((error: unknown) => this.fail(error))
      .finally(() => (this.stallCheck = false));
  }

  /**
   * A stall is a gap when retention deleted every record after a partition's position: kafkajs
   * goes on from the log start, where no record comes. Else it is an error.
   */
  private async resolveStall(idleMs: number): Promise<void> {
    const waiting = [...this.partitions.values()].filter((s) => !s.done);
    const marks = new Map((await this.admin.fetchWatermarks([...new Set(waiting.map((s) => s.topic))])).map((w) => [partitionKey(w), w]));
    let moved = false;
    for (const state of waiting) {
      const logStart = marks.get(partitionKey(state))?.logStartOffset;
      if (logStart === undefined || logStart <= state.nextOffset || state.done || this.closed) continue;
      await this.checkGap(state, state.nextOffset, logStart, false);
      this.advance(state, logStart, [], 0);
      moved = true;
    }
    if (moved || this.closed) return;
    const stuck = waiting.filter((s) => !s.done).map((s) => `${partitionKey(s)} at ${s.nextOffset} of ${s.endOffset}`);
    this.fail(
      new JobError(
        'TEMPORARY',
        `${this.describe()} made no progress for ${idleMs} ms; expected to reach the end offsets, still short: ${stuck.join(', ')} (the ends are last stable offsets, so no open transaction holds the read: look at the brokers)`,
        { context: { groupId: this.options.groupId, stuck } },
      ),
    );
  }
}
