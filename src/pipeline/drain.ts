// `mwlake drain`: Kafka → validated events → the events table, exactly once. The table's current
// snapshot stores the next offset of every partition (KAFKA_OFFSETS_PROPERTY), committed in the
// same metadata write as the data, so a crash before the commit replays and one after changes
// nothing. Invalid messages go to `<job_name>.error` (acks=all) before the commit.
// With `kafka.visibility_topics`, the legacy revision visibility change stream is then drained the
// same way into its own table, with its own offsets.

import { randomUUID } from 'node:crypto';
import { CommitStateUnknownError, ConfigError, JobError, OffsetOutOfRangeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DRAIN_OFFSETS_LEFT_PROPERTY, KAFKA_GAPS_PROPERTY, KAFKA_LAST_RECORDS_PROPERTY, KAFKA_OFFSETS_PROPERTY, KAFKA_RESETS_PROPERTY } from '../events/events-table.js';
import { EVENT_KINDS, type EventKind, type PreparedMessage } from '../events/staged-row.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { schemaDifference } from '../iceberg/spec/schema-difference.js';
import type { Schema } from '../iceberg/spec/types.js';
import type { Table } from '../iceberg/table.js';
import { KafkaAdmin, type PartitionWatermarks } from '../kafka/admin.js';
import type { KafkaClientOptions } from '../kafka/client.js';
import { openBoundedSource } from '../kafka/kafkajs-source.js';
import { KafkaProducer } from '../kafka/producer.js';
import { compareIdentities, identityOffset, recordIdentity, type IdentityCheck } from '../kafka/record-identity.js';
import { partitionKey, type GapCheckFailure, type KafkaBatch, type PartitionPosition, type PartitionRange } from '../kafka/source.js';
import { eventStreams, eventTableOf, type JobConfig } from './config.js';
import { MessageSorter, type ErrorRecord } from './message-sorter.js';
import { PreparePool } from './prepare-pool.js';
import { EventStager } from './event-files.js';

export interface DrainOptions {
  readonly config: JobConfig;
  readonly warehouse: Warehouse;
  readonly logger: Logger;
  readonly allowGap?: boolean;
  /** Topics to read from their log start, their stored offsets and record identities ignored (a topic deleted and recreated). */
  readonly resetTopics?: readonly string[];
  readonly dryRun?: boolean;
  /** Called after every batch: events and bytes so far, events to read in total, lag per partition. */
  readonly onProgress?: (p: { events: number; bytes: number; total: number; lag: Readonly<Record<string, bigint>> }) => void;
  /** Test hook: runs after the main stream is planned, before its read opens. */
  readonly beforeOpen?: () => Promise<void> | void;
  /** Test hook: runs after each staged chunk's data files are written. */
  readonly afterChunkWritten?: () => Promise<void> | void;
  /** Test hook: runs after the error events are produced and before the table commit. */
  readonly beforeCommit?: () => Promise<void> | void;
  /** Error-event bytes held before they are produced mid-run (default ERROR_BATCH_BYTES). */
  readonly errorBatchBytes?: number;
}

/** Error events are produced once this much is held, so a stream of bad events cannot exhaust memory. */
export const ERROR_BATCH_BYTES = 32 << 20;

export interface DrainResult {
  readonly consumed: number;
  readonly bytes: number;
  readonly written: number;
  readonly errored: number;
  /** Canary events (meta.domain "canary"), dropped. */
  readonly filtered: number;
  /** Repeats of a meta.id already seen in this run, dropped. consumed = written + errored + filtered + deduplicated. */
  readonly deduplicated: number;
  /** Of those written, page changes with visible content but no content_body (a page_change.v1 stream?): dumped like hidden content. */
  readonly withoutContent: number;
  readonly files: number;
  readonly snapshotId?: string;
  readonly offsets: Record<string, Record<string, string>>;
  readonly lag: Record<string, string>;
  readonly gaps?: Record<string, string>;
  readonly durationMs: number;
  readonly dryRun?: boolean;
  /** The legacy visibility change stream's drain into its own table, when the job reads it. */
  readonly visibility?: Omit<DrainResult, 'visibility'>;
}

type Offsets = Record<string, Record<string, string>>;

export function storedOffsets(table: Table): Offsets {
  const found = table.summaryProperty(KAFKA_OFFSETS_PROPERTY);
  if (found !== undefined) return JSON.parse(found.value) as Offsets;
  if (table.currentSnapshot() !== undefined) {
    // Starting from the earliest offsets again would duplicate everything: refuse instead.
    throw new JobError('DATA', `table ${table.location} has snapshots but none of its current ancestors records Kafka offsets (${KAFKA_OFFSETS_PROPERTY}); were the drain snapshots expired by another tool?`, {
      context: { table: table.location },
    });
  }
  return {};
}

export function kafkaOptions(config: JobConfig, logger: Logger): KafkaClientOptions {
  return {
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    ...(config.kafka.tls ? { tls: true } : {}),
    ...(config.kafka.sasl === undefined ? {} : { sasl: config.kafka.sasl }),
    logger,
  };
}

/**
 * Opens (creating on first use) the events table of a stream (`kind`, default page changes); with
 * `dryRun` a missing one is a draft and nothing is written.
 */
export async function openEventsTable(warehouse: Warehouse, config: JobConfig, o: { readonly dryRun?: boolean; readonly kind?: EventKind } = {}): Promise<Table> {
  const kind = o.kind ?? 'page_change';
  const name = eventTableOf(config, kind);
  const options = {
    schema: EVENT_KINDS[kind].schema,
    spec: EVENT_KINDS[kind].spec,
    properties: { 'mwlake.job-name': config.jobName, 'write.parquet.compression-codec': 'zstd' },
  };
  const table = o.dryRun === true ? await warehouse.tryLoadTable(config.events.namespace, name) : await warehouse.loadOrCreateTable(config.events.namespace, name, options);
  if (table === undefined) return warehouse.draftTable(config.events.namespace, name, options);
  refuseChangedSchema(table, options.schema, `${config.events.namespace}.${name}`);
  return table;
}

/**
 * The drain writes its files from its own schema: to a table another engine evolved, it would
 * fail on every run (DuckDB's field ids) or write a renamed column's values as NULL (parquet-wasm).
 */
function refuseChangedSchema(table: Table, schema: Schema, id: string): void {
  const difference = schemaDifference(table.schema(), schema);
  if (difference === undefined) return;
  throw new ConfigError(
    `${id} does not have the schema mwlake writes: ${difference}. Another engine evolved it (added, renamed, dropped or retyped a column), and a drain would fail or lose values; ` +
      `put the schema back as mwlake created it (or drain into a new table: events.table in the job file), then drain again`,
    { context: { table: table.location, difference } },
  );
}

/** Where a drain starts reading a partition, and what it refuses there. */
export interface DrainStart {
  /** The first offset it reads: the stored one, or the log start past a gap. */
  readonly next: bigint;
  /** Offsets retention deleted before this job read them, refused without --allow-gap. */
  readonly gap?: { readonly from: bigint; readonly to: bigint };
  /** The stored offset, when it is beyond the end offset (a topic deleted and recreated): refused. */
  readonly beyondEnd?: bigint;
}

/**
 * Where a drain starts reading a partition: its stored next offset. A topic never read starts at
 * its earliest offset. A partition added to a topic already read starts at 0: every record it ever
 * held came after the reads began, so retention having deleted some is a gap, not a start.
 * `mwlake status` reports from here what the next drain would refuse.
 */
export function drainStart(stored: Offsets, m: PartitionWatermarks): DrainStart {
  const storedText = stored[m.topic]?.[String(m.partition)];
  const offset = storedText !== undefined ? BigInt(storedText) : stored[m.topic] !== undefined ? 0n : m.logStartOffset;
  if (offset > m.endOffset) return { next: offset, beyondEnd: offset };
  if (offset < m.logStartOffset) return { next: m.logStartOffset, gap: { from: offset, to: m.logStartOffset - 1n } };
  return { next: offset };
}

/** The last record identities the table stores, per topic and partition. */
export function storedIdentities(table: Table): Offsets {
  const found = table.summaryProperty(KAFKA_LAST_RECORDS_PROPERTY);
  return found === undefined ? {} : (JSON.parse(found.value) as Offsets);
}

const ALLOW_GAP_HINT = `Rerun with --allow-gap to accept the loss (it is recorded in the snapshot summary as ${KAFKA_GAPS_PROPERTY})`;

/** The source's retention error (at open, or overtaken while reading), saying how to accept the loss. */
function withAllowGapHint(error: unknown): unknown {
  if (!(error instanceof OffsetOutOfRangeError) || error.message.includes(ALLOW_GAP_HINT)) return error;
  return new OffsetOutOfRangeError(`${error.message}. ${ALLOW_GAP_HINT}`, { context: error.context, cause: error });
}

/**
 * Ranges from the stored offsets to the end offsets seen now; gaps below the log start are refused
 * unless allowed. `checks`: stored last records still in the log, to read again (recreated topics).
 */
async function planRanges(
  admin: KafkaAdmin,
  topics: readonly string[],
  stored: Offsets,
  allowGap: boolean,
  identities: Offsets = {},
  reset: ReadonlySet<string> = new Set(),
): Promise<{ ranges: PartitionRange[]; gaps: Record<string, string>; checks: IdentityCheck[]; sameTopicChecks: Map<string, IdentityCheck[]> }> {
  const marks = await admin.fetchWatermarks(topics);
  const ranges: PartitionRange[] = [];
  const gaps: Record<string, string> = {};
  const checks: IdentityCheck[] = [];
  const lost: string[] = [];
  const sameTopicChecks = resetTopicChecks(marks, stored, identities, reset);
  for (const m of marks) {
    const check = reset.has(m.topic) ? undefined : lastRecordCheck(m, stored, identities);
    if (check !== undefined) checks.push(check);
    const { next, gap, beyondEnd } = drainStart(reset.has(m.topic) ? {} : stored, m);
    if (gap !== undefined) {
      if (!allowGap) lost.push(`${partitionKey(m)} (offsets ${gap.from}..${gap.to}, ${gap.to - gap.from + 1n} events)`);
      gaps[partitionKey(m)] = `${gap.from}..${gap.to}`;
    }
    if (beyondEnd !== undefined) throw beyondEndError(m, beyondEnd);
    ranges.push({ topic: m.topic, partition: m.partition, nextOffset: next, endOffset: m.endOffset });
  }
  if (lost.length > 0) {
    throw new OffsetOutOfRangeError(
      `retention deleted events this job never read: ${lost.join('; ')}. ${ALLOW_GAP_HINT}`,
      { context: { partitions: lost } },
    );
  }
  return { ranges, gaps, checks, sameTopicChecks };
}

/** A stored offset beyond the partition's end: the topic the job read is gone. */
export function beyondEndError(m: PartitionWatermarks, offset: bigint): JobError {
  return new JobError('DATA', `stored offset ${offset} of ${partitionKey(m)} is beyond its end offset ${m.endOffset}: was the topic deleted and recreated? If so, drain with --reset-offsets ${m.topic} to read it from its start`, {
    context: { partition: partitionKey(m) },
  });
}

/**
 * The check of the partition's stored last record, when it is still in the log below the stored
 * offset: a topic deleted and recreated since holds another record there.
 */
export function lastRecordCheck(m: PartitionWatermarks, stored: Offsets, identities: Offsets): IdentityCheck | undefined {
  const storedText = stored[m.topic]?.[String(m.partition)];
  const identity = identities[m.topic]?.[String(m.partition)];
  const at = identity === undefined ? undefined : identityOffset(identity);
  if (identity === undefined || at === undefined || storedText === undefined || at >= BigInt(storedText) || at < m.logStartOffset || at >= m.endOffset) return undefined;
  return { topic: m.topic, partition: m.partition, identity };
}

/**
 * For each topic to reset that may still be the one this job read: the checks of the last records
 * it read there, which prove it is if they are all still where it read them. A partition that
 * tells nothing either way is passed by: one added since, one where no record was read (it held
 * nothing, or only transaction markers and aborted records), one whose last record retention has
 * deleted. A topic with a partition that shows it is another (fewer partitions than stored, or an
 * end below a stored offset), or with nothing to check, is not listed.
 */
function resetTopicChecks(marks: readonly { topic: string; partition: number; logStartOffset: bigint; endOffset: bigint }[], stored: Offsets, identities: Offsets, reset: ReadonlySet<string>): Map<string, IdentityCheck[]> {
  const out = new Map<string, IdentityCheck[]>();
  for (const topic of reset) {
    const partitions = marks.filter((m) => m.topic === topic);
    // Kafka never removes a partition: fewer than were stored is another topic.
    if (partitions.length === 0 || Object.keys(stored[topic] ?? {}).some((p) => !partitions.some((m) => String(m.partition) === p))) continue;
    const checks: IdentityCheck[] = [];
    let another = false;
    for (const m of partitions) {
      const storedText = stored[topic]?.[String(m.partition)];
      if (storedText === undefined) continue;
      // Offsets only grow: an end below where the job stopped is another topic.
      if (BigInt(storedText) > m.endOffset) {
        another = true;
        break;
      }
      const identity = identities[topic]?.[String(m.partition)];
      const at = identity === undefined ? undefined : identityOffset(identity);
      if (identity === undefined || at === undefined || at >= BigInt(storedText) || at < m.logStartOffset) continue;
      checks.push({ topic, partition: m.partition, identity });
    }
    if (!another && checks.length > 0) out.set(topic, checks);
  }
  return out;
}

/**
 * Refuses to reset a topic whose stored last records are all still where this job read them. One
 * not found there (compacted, or a transaction marker now) proves nothing, and the reset goes on:
 * refused, a recreated topic would be left to a plain drain that skips its first records.
 */
async function refuseResetOfSameTopic(o: DrainOptions, sameTopicChecks: ReadonlyMap<string, IdentityCheck[]>): Promise<void> {
  for (const [topic, checks] of sameTopicChecks) {
    const { mismatched, missing } = await compareIdentities({ ...kafkaOptions(o.config, o.logger), groupId: o.config.kafka.groupId }, checks);
    if (mismatched.length > 0 || missing.length > 0) continue;
    throw new JobError(
      'USAGE',
      `--reset-offsets ${topic}: the topic still holds the last records this job read at its stored positions, so it was not recreated; reading it from its start would add its events again. ` +
        'Drain without --reset-offsets, or replay a window with --from/--to',
      { context: { topic } },
    );
  }
}

/** Refuses to go on when a stored last record is not the record at its offset any more. */
export async function checkIdentities(o: Pick<DrainOptions, 'config' | 'logger'>, checks: readonly IdentityCheck[]): Promise<void> {
  // A record not found cannot be compared and passes: the read that follows checks its own start.
  const bad = (await compareIdentities({ ...kafkaOptions(o.config, o.logger), groupId: o.config.kafka.groupId }, checks)).mismatched;
  if (bad.length === 0) return;
  const topics = [...new Set(bad.map((b) => b.check.topic))];
  throw new JobError(
    'DATA',
    `the records at the stored positions of ${bad.map((b) => `${partitionKey(b.check)} (offset ${identityOffset(b.check.identity)}: read as ${b.check.identity}, now ${b.found})`).join('; ')} ` +
      `are not the ones this job read there: was the topic deleted and recreated, or the brokers changed? If the topic is new, drain with --reset-offsets ${topics.join(',')} to read it from its start`,
    { context: { partitions: bad.map((b) => partitionKey(b.check)) } },
  );
}

/** Refuses (USAGE) topics to reset that the job does not drain; the CLI calls it before it creates anything. */
export function checkResetTopics(config: JobConfig, topics: Iterable<string>): void {
  const drained = eventStreams(config).flatMap((s) => s.topics);
  const unknown = [...topics].filter((t) => !drained.includes(t));
  if (unknown.length > 0) throw new JobError('USAGE', `--reset-offsets names ${unknown.join(', ')}, which the job does not drain (its topics: ${drained.join(', ')})`);
}

export async function runDrain(o: DrainOptions): Promise<DrainResult> {
  const { config } = o;
  const [main, visibility] = eventStreams(config);
  // Every stream's ranges are read before any is drained: the run is bounded by the end offsets
  // seen at its start, and a missing topic or a gap in either stream stops it before it writes,
  // tables included (planning reads a table that does not exist yet as an unwritten draft).
  const planned: DrainStream[] = [{ ...main!, table: await openEventsTable(o.warehouse, config, { dryRun: true }), workers: config.drain.workers }];
  // A small stream: no worker threads.
  if (visibility !== undefined) planned.push({ ...visibility, table: await openEventsTable(o.warehouse, config, { dryRun: true, kind: visibility.kind }), workers: 0 });
  const reset = new Set(o.resetTopics ?? []);
  checkResetTopics(config, reset);
  const admin = await KafkaAdmin.connect(kafkaOptions(config, o.logger));
  const plans: StreamPlan[] = [];
  try {
    for (const s of planned) {
      const stored = storedOffsets(s.table);
      const identities = storedIdentities(s.table);
      plans.push({ stored, identities, base: s.table.currentSnapshot()?.snapshotId ?? null, ...(await planRanges(admin, s.topics, stored, o.allowGap === true, identities, reset)) });
    }
  } finally {
    await admin.close().catch(() => {});
  }
  for (const plan of plans) await checkIdentities(o, plan.checks);
  for (const plan of plans) await refuseResetOfSameTopic(o, plan.sameTopicChecks);
  // A table without a snapshot may be a draft: create it now (loadOrCreate). One with a snapshot
  // is the one planned, and its commit requires that snapshot to be still current.
  const streams = o.dryRun === true ? planned : await Promise.all(planned.map(async (s, i) => (plans[i]!.base !== null ? s : { ...s, table: await openEventsTable(o.warehouse, config, { kind: s.kind }) })));
  const mainResult = await drainStream(o, streams[0]!, plans[0]!);
  if (streams.length === 1) return mainResult;
  // Progress and test hooks stay the main stream's.
  const { onProgress: _p, beforeOpen: _o, afterChunkWritten: _a, beforeCommit: _b, errorBatchBytes: _e, ...plain } = o;
  const later = await replan(o, streams[1]!, plans[1]!);
  return { ...mainResult, visibility: await drainStream(plain, streams[1]!, later) };
}

/**
 * A stream's plan again, just before it is drained: the drain before it may take hours, in which
 * retention can move a log start past the planned start, or the topic be recreated (its stored
 * last records are checked again). The ends stay those seen at the start.
 */
async function replan(o: DrainOptions, stream: DrainStream, plan: StreamPlan): Promise<StreamPlan> {
  const ends = new Map(plan.ranges.map((r) => [partitionKey(r), r.endOffset]));
  const admin = await KafkaAdmin.connect(kafkaOptions(o.config, o.logger));
  let now: Awaited<ReturnType<typeof planRanges>>;
  try {
    now = await planRanges(admin, stream.topics, plan.stored, o.allowGap === true, plan.identities, new Set(o.resetTopics ?? []));
  } finally {
    await admin.close().catch(() => {});
  }
  await checkIdentities(o, now.checks);
  const ranges = now.ranges.flatMap((r) => {
    const end = ends.get(partitionKey(r));
    if (end === undefined) return []; // a partition added since the start: the next run reads it
    return [{ ...r, endOffset: r.nextOffset > end ? r.nextOffset : r.endOffset < end ? r.endOffset : end }];
  });
  return { ...plan, ranges, gaps: now.gaps };
}

/** One stream the drain reads, into its own table. */
interface DrainStream {
  readonly kind: EventKind;
  readonly table: Table;
  readonly topics: readonly string[];
  readonly workers: number;
}

/** What a stream's drain reads: its table's offsets at the start, and the ranges from them to the end offsets then. */
interface StreamPlan {
  readonly stored: Offsets;
  /** The last record read per partition, as stored (kafka/record-identity.ts). */
  readonly identities: Offsets;
  /** Stored last records to read again before draining. */
  readonly checks: readonly IdentityCheck[];
  /** Per topic to reset, the stored last records that would show it is the topic already read. */
  readonly sameTopicChecks: ReadonlyMap<string, IdentityCheck[]>;
  /** The table's snapshot the offsets are from (null: no table yet): the commit requires it is still current. */
  readonly base: bigint | null;
  readonly ranges: PartitionRange[];
  readonly gaps: Record<string, string>;
}

async function drainStream(o: DrainOptions, stream: DrainStream, plan: StreamPlan): Promise<DrainResult> {
  const started = performance.now();
  const { config, logger } = o;
  const { table } = stream;
  const { stored, ranges } = plan;
  const gaps = { ...plan.gaps };
  const reset = new Set((o.resetTopics ?? []).filter((t) => stream.topics.includes(t)));
  /** The offsets and last records to store: the stored ones, a reset topic's dropped, then this run's. */
  const bookkeeping = (positions: Iterable<PartitionPosition>, lastRecords: ReadonlyMap<string, { topic: string; partition: number; identity: string }>) => {
    const offsets: Offsets = structuredClone(stored);
    const identities: Offsets = structuredClone(plan.identities);
    for (const t of reset) {
      delete offsets[t];
      delete identities[t];
    }
    for (const p of positions) (offsets[p.topic] ??= {})[String(p.partition)] = p.nextOffset.toString();
    for (const r of lastRecords.values()) (identities[r.topic] ??= {})[String(r.partition)] = r.identity;
    return {
      offsets,
      summary: {
        [KAFKA_OFFSETS_PROPERTY]: JSON.stringify(offsets),
        [KAFKA_LAST_RECORDS_PROPERTY]: JSON.stringify(identities),
        ...(reset.size > 0 ? { [KAFKA_RESETS_PROPERTY]: JSON.stringify([...reset]) } : {}),
      },
    };
  };
  const lag = Object.fromEntries(ranges.map((r) => [partitionKey(r), (r.endOffset - r.nextOffset).toString()]));
  const pending = ranges.filter((r) => r.endOffset > r.nextOffset);
  const base = { bytes: 0, files: 0, lag, ...(Object.keys(gaps).length > 0 ? { gaps } : {}) };
  if (o.dryRun === true || pending.length === 0) {
    const nothing = { ...base, consumed: 0, written: 0, errored: 0, filtered: 0, deduplicated: 0, withoutContent: 0 };
    // A capped run's events left that are gone now (a topic taken off the job) must not hold the dumps back for ever.
    const leftBefore = Number(table.summaryProperty(DRAIN_OFFSETS_LEFT_PROPERTY)?.value ?? 0) > 0;
    // A partition never read, with nothing in it yet: its start is recorded, so that events retention
    // deletes before the next run are a gap that run reports, not a start it silently moves to.
    const unrecorded = ranges.some((r) => stored[r.topic]?.[String(r.partition)] === undefined);
    if (o.dryRun !== true && (Object.keys(gaps).length > 0 || reset.size > 0 || leftBefore || unrecorded)) {
      // An accepted gap (or a reset) with nothing after it: still record the offsets past it, or
      // the next run would find the same gap (or the other topic's offsets) and stop again.
      const { offsets, summary } = bookkeeping(ranges, new Map());
      const result = await table.commit({
        operation: 'append',
        summary: { ...summary, ...(Object.keys(gaps).length > 0 ? { [KAFKA_GAPS_PROPERTY]: JSON.stringify(gaps) } : {}), [DRAIN_OFFSETS_LEFT_PROPERTY]: '0', 'mwlake.job-name': config.jobName },
        requireCurrentSnapshotId: plan.base,
      });
      logger.info({ snapshotId: result.snapshot.snapshotId.toString(), gaps }, Object.keys(gaps).length > 0 ? 'drain: recorded an accepted gap; nothing to read after it' : 'drain: recorded the offsets; nothing to read');
      return { ...nothing, snapshotId: result.snapshot.snapshotId.toString(), offsets, durationMs: Math.round(performance.now() - started) };
    }
    return { ...nothing, offsets: stored, durationMs: Math.round(performance.now() - started), ...(o.dryRun === true ? { dryRun: true } : {}) };
  }

  const positions = new Map<string, PartitionPosition>(ranges.map((r) => [partitionKey(r), { topic: r.topic, partition: r.partition, nextOffset: r.nextOffset }]));
  const lastRecords = new Map<string, { topic: string; partition: number; identity: string }>();
  // Read under a group of this run only: the member of a killed run lingers in its group until the
  // session times out, and must not block the rerun. The job's group gets the offsets after the
  // commit, for monitoring; the lease already keeps runs of one job apart.
  const readerGroup = `${config.kafka.groupId}.run-${randomUUID().slice(0, 8)}`;
  await o.beforeOpen?.();
  const source = await openBoundedSource({ ...kafkaOptions(config, logger), groupId: readerGroup, deleteGroupOnClose: true, ranges: pending, ...(o.allowGap === true ? { allowGap: true } : {}) }).catch((error: unknown) => {
    throw withAllowGapHint(error);
  });
  // After the source opened: a read refused at open (retention, a vanished topic) leaves no staging folder.
  const stager = await EventStager.open({ table, schema: EVENT_KINDS[stream.kind].schema, targetFileSizeBytes: config.maintenance.targetFileSizeBytes, maxEventBytes: config.drain.maxMessageBytes, encoder: config.drain.parquetEncoder, ...(o.afterChunkWritten === undefined ? {} : { afterChunkWritten: o.afterChunkWritten }) }).catch(async (error: unknown) => {
    await source.close().catch(() => {});
    throw error;
  });
  const sorter = new MessageSorter(stager, { jobName: config.jobName, maxMessageBytes: config.drain.maxMessageBytes });
  const c = sorter.counts;
  const errorSink = new ErrorSink(config, logger);
  const errorBatchBytes = o.errorBatchBytes ?? ERROR_BATCH_BYTES;
  let pool: PreparePool;
  try {
    pool = new PreparePool(stream.workers, config.drain.maxMessageBytes, stream.kind);
  } catch (error) {
    // A thread that could not start (a pids limit): the open Kafka connection would keep the process alive.
    await source.close().catch(() => {});
    await stager.close({ discard: true });
    throw error;
  }
  let committed = false;
  try {
    // Batches being prepared by the workers while the next ones are read; each is sorted, and its
    // position recorded, only when its turn comes, so a stop (a cap) drops the rest unrecorded.
    const inFlight: { batch: KafkaBatch; prepared: Promise<PreparedMessage[]> }[] = [];
    const window = pool.size + 1;
    let capped = false;
    let gapFailures: readonly GapCheckFailure[] = [];
    const settle = async (): Promise<void> => {
      const { batch, prepared } = inFlight.shift()!;
      const outcomes = await prepared;
      for (const [i, m] of batch.messages.entries()) await sorter.accept(m, outcomes[i]!);
      // At least once, as at the end: a run that fails later produces these again, with the same ids.
      if (sorter.pendingErrorBytes >= errorBatchBytes) await errorSink.send(sorter.takeErrors());
      positions.set(partitionKey(batch), { topic: batch.topic, partition: batch.partition, nextOffset: batch.nextOffset });
      const last = batch.messages.at(-1);
      if (last !== undefined) lastRecords.set(partitionKey(batch), { topic: batch.topic, partition: batch.partition, identity: recordIdentity(last) });
      if (o.onProgress !== undefined) {
        const left = Object.fromEntries(ranges.map((r) => [partitionKey(r), r.endOffset - (positions.get(partitionKey(r))?.nextOffset ?? r.nextOffset)]));
        o.onProgress({ events: c.consumed, bytes: c.bytes, total: Number(pending.reduce((n, r) => n + (r.endOffset - r.nextOffset), 0n)), lag: left });
      }
      capped = (config.drain.maxEvents !== undefined && c.consumed >= config.drain.maxEvents) || (config.drain.maxBytes !== undefined && c.bytes >= config.drain.maxBytes);
    };
    for await (const batch of source) {
      const prepared = pool.prepare(batch);
      prepared.catch(() => {}); // awaited in settle; a failure must not surface before its turn
      inFlight.push({ batch, prepared });
      while (inFlight.length > window && !capped) await settle();
      if (capped) {
        // Before leaving, which closes the source: a check a fetch of markers started may still run.
        gapFailures = await source.gapCheckFailures();
        break;
      }
    }
    while (inFlight.length > 0 && !capped) await settle();
    // The source has handed out batches that a cap left unsorted: its positions are not ours then.
    for (const p of capped ? [] : source.positions()) {
      const known = positions.get(partitionKey(p))!;
      if (p.nextOffset > known.nextOffset && p.nextOffset <= (ranges.find((r) => partitionKey(r) === partitionKey(p))?.endOffset ?? 0n)) {
        // Advances without messages (transaction markers) are safe to record.
        positions.set(partitionKey(p), p);
      }
    }
    // A gap the cap stopped short of is the next run's to report; one the positions pass, this run's.
    const passed = gapFailures.find((g) => positions.get(partitionKey(g))!.nextOffset > g.from);
    if (passed !== undefined) throw withAllowGapHint(passed.error);
    // Retention that overtook the read (accepted with --allow-gap): recorded where this commit
    // stores a position past it (a cap may stop short of a gap the source skipped already).
    for (const g of source.gaps()) {
      if (positions.get(partitionKey(g))!.nextOffset <= g.from) continue;
      const gap = `${g.from}..${g.to}`;
      gaps[partitionKey(g)] = gaps[partitionKey(g)] === undefined ? gap : `${gaps[partitionKey(g)]},${gap}`;
    }
    await refuseErrorRatio(config, stream.topics, sorter, () => errorSink.send(sorter.takeErrors()));
    const files = await stager.finish();
    await errorSink.send(sorter.takeErrors());
    await o.beforeCommit?.();

    const { offsets, summary } = bookkeeping(positions.values(), lastRecords);
    const left = ranges.map((r) => [partitionKey(r), r.endOffset - positions.get(partitionKey(r))!.nextOffset] as const);
    const offsetsLeft = left.reduce((n, [, l]) => n + l, 0n);
    const result = await table.commit({
      operation: 'append',
      addDataFiles: files,
      summary: {
        ...summary,
        ...(Object.keys(gaps).length > 0 ? { [KAFKA_GAPS_PROPERTY]: JSON.stringify(gaps) } : {}),
        ...sorter.summary('mwlake.drain'),
        [DRAIN_OFFSETS_LEFT_PROPERTY]: offsetsLeft.toString(),
        'mwlake.job-name': config.jobName,
      },
      requireCurrentSnapshotId: plan.base,
    }).catch((error: unknown) => {
      // The new version may reference the files: keep them (orphan removal takes them if not).
      if (error instanceof CommitStateUnknownError) committed = true;
      throw error;
    });
    committed = true;
    logger.info({ stream: stream.kind, snapshotId: result.snapshot.snapshotId.toString(), ...c, errored: sorter.errored, files: files.length }, 'drain: committed');
    if (offsetsLeft > 0n) {
      logger.warn({ stream: stream.kind, offsetsLeft: offsetsLeft.toString() }, `drain: stopped at its cap (drain.max_events or drain.max_bytes) with ${offsetsLeft} offsets left before the end offsets seen at the start; the next drain reads on, and no date is due for dumping until a drain reads to its ends`);
    }
    sorter.warnWithoutContent(logger, 'drain', stream);
    // For lag monitoring only: the table is the source of truth, so a failure here is a warning.
    await commitGroupOffsets(config, logger, [...positions.values()]).catch((error: unknown) => logger.warn({ err: error }, 'drain: committing consumer group offsets failed (monitoring only)'));
    return {
      ...base,
      ...(Object.keys(gaps).length > 0 ? { gaps } : {}),
      lag: Object.fromEntries(left.map(([key, l]) => [key, l.toString()])),
      consumed: c.consumed,
      bytes: c.bytes,
      written: c.written,
      errored: sorter.errored,
      filtered: c.filtered,
      deduplicated: c.deduplicated,
      withoutContent: c.withoutContent,
      files: files.length,
      snapshotId: result.snapshot.snapshotId.toString(),
      offsets,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    // Retention that overtook an uncapped read fails it here, from the read itself.
    throw withAllowGapHint(error);
  } finally {
    await source.close().catch(() => {});
    await errorSink.close().catch(() => {});
    await pool.close();
    // Data files of a run that did not commit are removed; a killed run leaves orphans for maintenance.
    await stager.close({ discard: !committed });
  }
}

/**
 * Fails the run (65) before its commit when more of its events are invalid than
 * drain.max_error_ratio allows: committing would move the offsets past them, and the nights after
 * would merge and dump nothing of them. Their error events are produced first, for the diagnosis;
 * a rerun reads the same events and produces the same error events (same ids).
 */
async function refuseErrorRatio(config: JobConfig, topics: readonly string[], sorter: MessageSorter, sendErrors: () => Promise<void>): Promise<void> {
  const excess = sorter.errorRatioExcess(config.drain.maxErrorRatio, topics);
  if (excess === undefined) return;
  await sendErrors();
  throw new JobError(
    'DATA',
    `${excess}: this stream's events are not committed, so the next run reads them again, and their error events are in ${config.kafka.errorTopic}. ` +
      `Fix the producer or the job (a new major schema version?), or raise drain.max_error_ratio (1 turns the check off) to let such a run commit`,
    { context: { topics, errored: sorter.errored, errorTypes: Object.fromEntries(sorter.errorTypes) } },
  );
}

async function commitGroupOffsets(config: JobConfig, logger: Logger, positions: readonly PartitionPosition[]): Promise<void> {
  const admin = await KafkaAdmin.connect(kafkaOptions(config, logger));
  try {
    await admin.commitGroupOffsets(config.kafka.groupId, positions);
  } finally {
    await admin.close();
  }
}

/**
 * max.message.bytes of a new error topic: an error event carries the whole bad message as
 * raw_event, and a stock broker takes 1 MiB, which would refuse the error events of larger bad
 * messages on every run and so stop the drain. JSON escapes a control character or an invalid
 * UTF-8 byte (`\udcXX`) in 6 bytes, and the limit is set once, by the run that creates the topic.
 * config.ts bounds maxMessageBytes (MAX_MESSAGE_BYTES_LIMIT) so that this stays under a broker's request limit.
 */
function errorTopicMaxMessageBytes(maxMessageBytes: number, largestRecordBytes: number): number {
  return Math.max(6 * maxMessageBytes + (1 << 20), largestRecordBytes + (64 << 10));
}

/** Produces error events to `<job_name>.error`, creating the topic on first use if it is missing. */
class ErrorSink {
  private producer: KafkaProducer | undefined;

  constructor(
    private readonly config: JobConfig,
    private readonly logger: Logger,
  ) {}

  async send(errors: readonly ErrorRecord[]): Promise<void> {
    if (errors.length === 0) return;
    const topic = this.config.kafka.errorTopic;
    const largest = errors.reduce((n, e) => Math.max(n, e.value.byteLength), 0);
    if (this.producer === undefined) {
      const admin = await KafkaAdmin.connect(kafkaOptions(this.config, this.logger));
      try {
        const maxBytes = errorTopicMaxMessageBytes(this.config.drain.maxMessageBytes, largest);
        await admin.createTopicIfMissing({ topic, partitions: 1, configs: { 'compression.type': 'snappy', 'max.message.bytes': String(maxBytes) } });
      } finally {
        await admin.close();
      }
      this.producer = await KafkaProducer.connect({ ...kafkaOptions(this.config, this.logger), compression: 'snappy' });
    }
    try {
      await this.producer.sendAll(errors.map((e) => ({ topic, key: null, value: e.value })));
      await this.producer.flush();
    } catch (error) {
      const kafkaError = error instanceof JobError ? error.context?.['kafkaError'] : undefined;
      if (error instanceof JobError && (kafkaError === 'MESSAGE_TOO_LARGE' || kafkaError === 'RECORD_LIST_TOO_LARGE')) {
        // The topic existed with a smaller limit (we only set it when we create the topic).
        throw new JobError(error.code, `${error.message}; the largest error event is ${largest} bytes: raise max.message.bytes of ${topic} to at least ${largest + (64 << 10)}`, { cause: error });
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.producer?.close();
  }
}
