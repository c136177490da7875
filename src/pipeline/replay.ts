// `mwlake drain --from T1 --to T2`: re-reads the messages Kafka stamped in [T1, T2) (offsets for
// times), for recovery, of each stream the job drains, into that stream's table. Only offsets the
// table should already hold (below its stored next offsets) are replayed, and those it does hold
// are skipped, so a replay never duplicates an event. With `force` the held rows of the window are
// replaced instead: position deletes for them and the re-read events, in one snapshot. The stored
// offsets do not move, and error events are not produced again (the first drain produced them).
// `only` replays one stream alone (the others' topics are not even read).

import { randomUUID } from 'node:crypto';
import { CommitStateUnknownError, JobError } from '../core/errors.js';
import { discardWritten } from '../core/storage.js';
import type { Logger } from '../core/log.js';
import { openDuckDb } from '../duckdb/connection.js';
import { fieldIdsOption, sqlString, sqlStringList } from '../duckdb/iceberg-types.js';
import { filesRelationSql } from '../duckdb/table-view.js';
import { DRAIN_OFFSETS_LEFT_PROPERTY, KAFKA_LAST_RECORDS_PROPERTY, KAFKA_OFFSETS_PROPERTY, kafkaTimestampIso } from '../events/events-table.js';
import { EVENT_KINDS, type EventKind } from '../events/staged-row.js';
import type { Warehouse } from '../iceberg/catalog.js';
import type { DataFile } from '../iceberg/spec/manifest.js';
import type { Table } from '../iceberg/table.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { openBoundedSource } from '../kafka/kafkajs-source.js';
import type { IdentityCheck } from '../kafka/record-identity.js';
import { partitionKey, type KafkaMessage, type PartitionRange } from '../kafka/source.js';
import { describePositionDeleteFile, POSITION_DELETE_SCHEMA } from '../parquet/footer-data-file.js';
import { eventStreams, type JobConfig } from './config.js';
import { beyondEndError, checkIdentities, drainStart, kafkaOptions, lastRecordCheck, openEventsTable, storedIdentities, storedOffsets } from './drain.js';
import { EventStager } from './event-files.js';
import { MessageSorter } from './message-sorter.js';

export interface ReplayOptions {
  readonly config: JobConfig;
  readonly warehouse: Warehouse;
  readonly logger: Logger;
  readonly fromMs: number;
  readonly toMs: number;
  readonly force?: boolean;
  readonly dryRun?: boolean;
  /** Replay this stream alone; the others are reported as skipped and their topics never read. */
  readonly only?: EventKind;
  /** Test hook: runs after a stream's stored rows are read, before its Kafka read opens. */
  readonly beforeOpen?: () => Promise<void> | void;
}

export interface ReplayResult extends StreamReplayResult {
  /** The legacy revision visibility change stream's replay, when the job drains it. */
  readonly visibility?: StreamReplayResult;
}

export interface StreamReplayResult {
  readonly ranges: Record<string, { from: string; to: string }>;
  readonly consumed: number;
  readonly skippedHeld: number;
  readonly written: number;
  readonly replaced: number;
  /** Under --force, stored rows kept because their events fail validation now. */
  readonly keptInvalid?: number;
  /** Under --force, stored rows kept because their Kafka records were not read again (another copy of the topic). */
  readonly keptNotReread?: number;
  readonly errored: number;
  readonly filtered: number;
  readonly deduplicated: number;
  /** Of those written, page changes without content_body (see DrainResult.withoutContent); absent when none. */
  readonly withoutContent?: number;
  readonly files: number;
  readonly snapshotId?: string;
  readonly dryRun?: boolean;
  /** Left out by `only`. */
  readonly skipped?: true;
}

/**
 * The window's ranges, and the checks of the stored last records: offsets the table should hold
 * mean nothing in a topic deleted and recreated since (its records there are others, which the
 * replay would add, and a drain with --reset-offsets add again), so such a topic is refused as
 * the drain refuses it.
 */
async function planReplay(admin: KafkaAdmin, topics: readonly string[], table: Table, fromMs: number, toMs: number): Promise<{ ranges: PartitionRange[]; checks: IdentityCheck[] }> {
  const stored = storedOffsets(table);
  const identities = storedIdentities(table);
  const watermarks = await admin.fetchWatermarks(topics);
  const checks: IdentityCheck[] = [];
  for (const m of watermarks) {
    const { beyondEnd } = drainStart(stored, m);
    if (beyondEnd !== undefined) throw beyondEndError(m, beyondEnd);
    const check = lastRecordCheck(m, stored, identities);
    if (check !== undefined) checks.push(check);
  }
  const marks = new Map(watermarks.map((m) => [partitionKey(m), m]));
  const starts = await admin.fetchOffsetsForTimestamp(topics, fromMs);
  const ends = new Map((await admin.fetchOffsetsForTimestamp(topics, toMs)).map((e) => [partitionKey(e), e.offset]));
  const ranges: PartitionRange[] = [];
  for (const s of starts) {
    const key = partitionKey(s);
    const held = stored[s.topic]?.[String(s.partition)];
    if (held === undefined) continue; // never drained: the next drain reads it
    const logStart = marks.get(key)?.logStartOffset ?? 0n;
    const next = s.offset > logStart ? s.offset : logStart;
    let end = ends.get(key) ?? s.offset;
    if (end > BigInt(held)) end = BigInt(held);
    if (end > next) ranges.push({ topic: s.topic, partition: s.partition, nextOffset: next, endOffset: end });
  }
  return { ranges, checks };
}

/** A row of a data file, by position: what a position delete names. */
interface RowPosition {
  readonly file: DataFile;
  /** The spec of the manifest the file is listed in (its deletes must be listed under it too). */
  readonly specId: number;
  readonly pos: bigint;
}

/** A stored row of the window, with its recordKey. */
interface HeldRow extends RowPosition {
  readonly key: string;
}

/**
 * `topic:partition:offset@timestamp ms`: which Kafka record a row was read from. The timestamp
 * tells a topic recreated since (after `--reset-offsets` its offsets start again at 0) from the
 * one the row came from, whose records at those offsets the replay cannot read again.
 */
function recordKey(topic: string, partition: number, offset: bigint, timestampMs: number | null): string {
  return `${topic}:${partition}:${offset}@${timestampMs ?? 'none'}`;
}

/** recordKey of a message, its timestamp as the events table stores it (none when it stores null). */
function messageKey(m: KafkaMessage): string {
  return recordKey(m.topic, m.partition, m.offset, kafkaTimestampIso(m.timestampMs) === null ? null : m.timestampMs);
}

/** SQL: the row's Kafka position lies in one of the ranges. */
function inRangesSql(ranges: readonly PartitionRange[]): string {
  return ranges.map((r) => `(_kafka_topic = ${sqlString(r.topic)} AND _kafka_partition = ${r.partition} AND _kafka_offset >= ${r.nextOffset} AND _kafka_offset < ${r.endOffset})`).join(' OR ');
}

/**
 * The re-read rows (in `files`, not committed yet) that repeat the meta.id of a row the table holds
 * outside the window: an event delivered twice whose kept copy was read before the window. The
 * drain dropped such a repeat, so the replay must not add it back.
 */
async function repeatsOfRowsOutside(table: Table, files: readonly DataFile[], ranges: readonly PartitionRange[]): Promise<RowPosition[]> {
  const plan = await table.planFiles();
  if (files.length === 0 || plan.dataFiles.length === 0) return [];
  const byLocal = new Map(files.map((f) => [table.storage.localPath(f.filePath)!, f]));
  const db = await openDuckDb();
  try {
    const found = await db.all<{ filename: string; pos: bigint }>(
      `SELECT n.filename, n.file_row_number AS pos
       FROM read_parquet(${sqlStringList([...byLocal.keys()])}, filename = true, file_row_number = true) n
       SEMI JOIN (SELECT meta.id AS id FROM (${filesRelationSql(table, plan.dataFiles, plan.deleteFiles)}) WHERE meta.id IS NOT NULL AND meta.id <> '' AND NOT (${inRangesSql(ranges)})) t
         ON t.id = n.meta.id`,
    );
    // This commit lists them under the default spec.
    return found.map((r) => ({ file: byLocal.get(r.filename)!, specId: table.metadata.defaultSpecId, pos: BigInt(r.pos) }));
  } finally {
    await db.close();
  }
}

/**
 * The rows the table holds in the ranges (data file and position), their `topic:partition:offset`
 * keys, and their meta.ids: the drain dropped repeats of those, so a replay must too.
 */
async function heldRows(table: Table, ranges: readonly PartitionRange[]): Promise<{ keys: Set<string>; ids: string[]; rows: HeldRow[] }> {
  const plan = await table.planFiles();
  const keys = new Set<string>();
  const ids: string[] = [];
  const rows: HeldRow[] = [];
  if (plan.dataFiles.length === 0 || ranges.length === 0) return { keys, ids, rows };
  const db = await openDuckDb();
  try {
    const inRange = inRangesSql(ranges);
    const found = await db.all<{ t: string; p: number; o: bigint; ts: bigint | null; id: string | null; filename: string; pos: bigint }>(
      `SELECT _kafka_topic AS t, _kafka_partition AS p, _kafka_offset AS o, epoch_ms(_kafka_timestamp) AS ts, meta.id AS id, filename, file_row_number AS pos
       FROM (${filesRelationSql(table, plan.dataFiles, plan.deleteFiles, { positions: true })}) WHERE ${inRange}`,
    );
    const byLocal = new Map(plan.dataFiles.map((f) => [table.storage.localPath(f.file.filePath)!, f]));
    for (const r of found) {
      // Rows drained before December 2026 stored a missing timestamp (-1) as 1969-12-31T23:59:59.999Z.
      const key = recordKey(r.t, Number(r.p), BigInt(r.o), r.ts === null || Number(r.ts) < 0 ? null : Number(r.ts));
      keys.add(key);
      // An empty meta.id names no event (the sorter never takes it for a repeat).
      if (r.id !== null && r.id !== '') ids.push(r.id);
      const planned = byLocal.get(r.filename)!;
      rows.push({ file: planned.file, specId: planned.specId, pos: BigInt(r.pos), key });
    }
  } finally {
    await db.close();
  }
  return { keys, ids, rows };
}

/** Position delete files (one per data file) for the held rows a forced replay replaces. */
async function writePositionDeletes(table: Table, rows: readonly RowPosition[], written: string[]): Promise<DataFile[]> {
  const byFile = new Map<DataFile, { specId: number; positions: bigint[] }>();
  for (const r of rows) byFile.set(r.file, { specId: r.specId, positions: [...(byFile.get(r.file)?.positions ?? []), r.pos] });
  const out: DataFile[] = [];
  const db = await openDuckDb();
  try {
    for (const [data, { specId, positions }] of byFile) {
      const path = data.filePath;
      const location = `${path.slice(0, path.lastIndexOf('/'))}/${randomUUID()}-deletes.parquet`;
      written.push(location);
      const values = positions.sort((a, b) => (a < b ? -1 : 1)).map((p) => `(${sqlString(path)}, ${p}::BIGINT)`).join(', ');
      await db.run(`COPY (SELECT * FROM (VALUES ${values}) v(file_path, pos) ORDER BY pos) TO ${sqlString(table.storage.localPath(location)!)} (FORMAT parquet, FIELD_IDS ${fieldIdsOption(POSITION_DELETE_SCHEMA)})`);
      out.push({ ...(await describePositionDeleteFile({ storage: table.storage, location, partition: data.partition, referencedDataFile: path })), specId });
    }
  } finally {
    await db.close();
  }
  return out;
}

/** One stream of the job, its table, and the ranges of the window in it. */
interface StreamReplay {
  readonly kind: EventKind;
  readonly table: Table;
  readonly ranges: PartitionRange[];
}

/** Refuses (USAGE) a window that is empty or a stream the job does not drain; the CLI calls it before it creates anything. */
export function checkReplayRequest(config: JobConfig, o: { readonly fromMs: number; readonly toMs: number; readonly only?: EventKind }): void {
  if (!(o.fromMs < o.toMs)) throw new JobError('USAGE', `--from must be before --to (found ${new Date(o.fromMs).toISOString()} and ${new Date(o.toMs).toISOString()})`);
  if (o.only !== undefined && !eventStreams(config).some((s) => s.kind === o.only)) {
    throw new JobError('USAGE', `the job drains no ${o.only} stream, so a replay cannot take it alone (its topics are not configured: kafka.visibility_topics)`);
  }
}

export async function runReplay(o: ReplayOptions): Promise<ReplayResult> {
  const { config, logger } = o;
  checkReplayRequest(config, o);
  // Every stream's window is planned before any is read: a missing topic stops the replay before it writes.
  const all = eventStreams(config);
  const streams: (StreamReplay | undefined)[] = [];
  const checks: IdentityCheck[] = [];
  const admin = await KafkaAdmin.connect(kafkaOptions(config, logger));
  try {
    for (const s of all) {
      if (o.only !== undefined && s.kind !== o.only) {
        streams.push(undefined);
        continue;
      }
      // A table that does not exist yet holds nothing to replay: it is read as a draft, never created.
      const table = await openEventsTable(o.warehouse, config, { dryRun: true, kind: s.kind });
      const plan = await planReplay(admin, s.topics, table, o.fromMs, o.toMs);
      streams.push({ kind: s.kind, table, ranges: plan.ranges });
      checks.push(...plan.checks);
    }
  } finally {
    await admin.close().catch(() => {});
  }
  await checkIdentities(o, checks);
  const main = await replayStream(o, streams[0]);
  return streams.length === 1 ? main : { ...main, visibility: await replayStream(o, streams[1]) };
}

const SKIPPED: StreamReplayResult = { ranges: {}, consumed: 0, skippedHeld: 0, written: 0, replaced: 0, errored: 0, filtered: 0, deduplicated: 0, files: 0, skipped: true };

async function replayStream(o: ReplayOptions, stream: StreamReplay | undefined): Promise<StreamReplayResult> {
  if (stream === undefined) return SKIPPED;
  const { config, logger } = o;
  const { table, ranges } = stream;
  const rangeReport = Object.fromEntries(ranges.map((r) => [partitionKey(r), { from: r.nextOffset.toString(), to: r.endOffset.toString() }]));
  const empty = { ranges: rangeReport, consumed: 0, skippedHeld: 0, written: 0, replaced: 0, errored: 0, filtered: 0, deduplicated: 0, files: 0 };
  if (ranges.length === 0 || o.dryRun === true) return { ...empty, ...(o.dryRun === true ? { dryRun: true } : {}) };

  const held = await heldRows(table, ranges);
  await o.beforeOpen?.();
  const source = await openBoundedSource({ ...kafkaOptions(config, logger), groupId: `${config.kafka.groupId}.replay-${randomUUID().slice(0, 8)}`, deleteGroupOnClose: true, ranges });
  // After the source opened: a read refused at open leaves no staging folder.
  const stager = await EventStager.open({ table, schema: EVENT_KINDS[stream.kind].schema, targetFileSizeBytes: config.maintenance.targetFileSizeBytes, maxEventBytes: config.drain.maxMessageBytes, encoder: config.drain.parquetEncoder }).catch(async (error: unknown) => {
    await source.close().catch(() => {});
    throw error;
  });
  const sorter = new MessageSorter(stager, { jobName: config.jobName, maxMessageBytes: config.drain.maxMessageBytes, kind: stream.kind });
  // Rows kept (no --force) count as seen: a repeat of one of them is dropped, as the drain dropped it.
  if (o.force !== true) sorter.markSeen(held.ids);
  let skippedHeld = 0;
  let committed = false;
  const deleteFilesWritten: string[] = [];
  // Messages that fail validation now: under --force a stored row of one stays (nothing replaces it).
  const invalidNow = new Set<string>();
  // Every message read again: under --force only the stored rows of these are replaced.
  const reread = new Set<string>();
  try {
    for await (const batch of source) {
      for (const m of batch.messages) {
        const key = messageKey(m);
        if (o.force !== true && held.keys.has(key)) {
          skippedHeld++;
          continue;
        }
        reread.add(key);
        const erroredBefore = sorter.errored;
        await sorter.add(m);
        if (sorter.errored > erroredBefore) invalidNow.add(key);
      }
      // Counted, not kept: the drain sent these to the error stream when it first read them, or,
      // under --force, they keep their stored rows (below).
      sorter.takeErrors();
    }
    const files = await stager.finish();
    const repeats = await repeatsOfRowsOutside(table, files, ranges);
    const replaced = o.force === true ? held.rows.filter((r) => reread.has(r.key) && !invalidNow.has(r.key)) : [];
    const keptInvalid = o.force === true ? held.rows.filter((r) => invalidNow.has(r.key)).length : 0;
    if (keptInvalid > 0) logger.warn({ stream: stream.kind, keptInvalid }, `replay: ${keptInvalid} stored row${keptInvalid === 1 ? '' : 's'} of the window stay: their events fail validation now, so nothing replaces them`);
    const notReread = o.force === true ? held.rows.filter((r) => !reread.has(r.key)).length : 0;
    if (notReread > 0) {
      logger.warn({ stream: stream.kind, notReread }, `replay: ${notReread} stored row${notReread === 1 ? '' : 's'} of the window stay: their Kafka records were not read again (a topic recreated since they were drained has other records at those offsets)`);
    }
    const deletes = await writePositionDeletes(table, [...replaced, ...repeats], deleteFilesWritten);
    const c = sorter.counts;
    const base = {
      ...empty,
      consumed: c.consumed + skippedHeld,
      skippedHeld,
      written: c.written - repeats.length,
      replaced: replaced.length,
      ...(keptInvalid > 0 ? { keptInvalid } : {}),
      ...(notReread > 0 ? { keptNotReread: notReread } : {}),
      errored: sorter.errored,
      filtered: c.filtered,
      deduplicated: c.deduplicated + repeats.length,
      ...(c.withoutContent > 0 ? { withoutContent: c.withoutContent } : {}),
      files: files.length,
    };
    sorter.warnWithoutContent(logger, 'replay', { kind: stream.kind, topics: [...new Set(ranges.map((r) => r.topic))] });
    if (files.length === 0 && deletes.length === 0) return base;
    const lastRecords = table.summaryProperty(KAFKA_LAST_RECORDS_PROPERTY)?.value;
    const offsetsLeft = table.summaryProperty(DRAIN_OFFSETS_LEFT_PROPERTY)?.value;
    const result = await table.commit({
      addDataFiles: files,
      addDeleteFiles: deletes,
      summary: {
        // The drain's cursor and record identities do not move: repeat them, so the newest snapshot
        // still carries them once expiry drops the drain's.
        [KAFKA_OFFSETS_PROPERTY]: JSON.stringify(storedOffsets(table)),
        ...(lastRecords === undefined ? {} : { [KAFKA_LAST_RECORDS_PROPERTY]: lastRecords }),
        ...(offsetsLeft === undefined ? {} : { [DRAIN_OFFSETS_LEFT_PROPERTY]: offsetsLeft }),
        'mwlake.replay.from': new Date(o.fromMs).toISOString(),
        'mwlake.replay.to': new Date(o.toMs).toISOString(),
        'mwlake.replay.skipped-held': String(skippedHeld),
        ...(repeats.length > 0 ? { 'mwlake.replay.repeats-of-earlier-rows': String(repeats.length) } : {}),
        ...(o.force === true ? { 'mwlake.replay.replaced': String(replaced.length) } : {}),
        ...(keptInvalid > 0 ? { 'mwlake.replay.kept-invalid': String(keptInvalid) } : {}),
        ...(notReread > 0 ? { 'mwlake.replay.kept-not-reread': String(notReread) } : {}),
        ...sorter.summary('mwlake.replay'),
        'mwlake.job-name': config.jobName,
      },
      requireCurrentSnapshotId: table.currentSnapshot()?.snapshotId ?? null,
    }).catch((error: unknown) => {
      // The new version may reference the files: keep them (orphan removal takes them if not).
      if (error instanceof CommitStateUnknownError) committed = true;
      throw error;
    });
    committed = true;
    logger.info({ stream: stream.kind, snapshotId: result.snapshot.snapshotId.toString(), ...base }, 'replay: committed');
    return { ...base, snapshotId: result.snapshot.snapshotId.toString() };
  } finally {
    await source.close().catch(() => {});
    // Data files of a run that did not commit are removed; a killed run leaves orphans for maintenance.
    await stager.close({ discard: !committed });
    if (!committed) await discardWritten(table.storage, deleteFilesWritten);
  }
}
