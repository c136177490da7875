// `mwlake drain` against the real broker: caps and the end-offset bound, a crash before the commit
// replays with nothing lost or doubled, retention gaps are refused unless allowed, and a failed
// error-stream produce commits nothing.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { CommitStateUnknownError, JobError, OffsetOutOfRangeError } from '../../src/core/errors.js';
import { LocalStorage, fileLocation } from '../../src/core/storage.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { silentLogger } from '../../src/core/log.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import { decodeRawEvent } from '../../src/events/error-event.js';
import { ERROR_SCHEMA_ID, validateAgainstSchema } from '../../src/events/validate.js';
import { KAFKA_GAPS_PROPERTY, KAFKA_OFFSETS_PROPERTY } from '../../src/events/events-table.js';
import { loadConfig, type ConfigOverrides } from '../../src/pipeline/config.js';
import { openEventsTable, runDrain } from '../../src/pipeline/drain.js';
import { runReplay } from '../../src/pipeline/replay.js';
import { STAGING_PREFIX } from '../../src/pipeline/event-files.js';
import { warehouseOf } from '../../src/pipeline/warehouse.js';
import { addPartitions, createTestTopic, eventually, KAFKA_BROKERS, messagesOf, produceRecords, produceTransaction, rangesToEnd, readBounded, requireBroker, uniqueName, withAdmin } from '../helpers/kafka.js';
import { clone, realEvents } from '../events/helpers.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { stateHashes } from '../merge/merge-fixture.js';

/**
 * Generated events carry their November timestamps: on a topic with the default retention the
 * test broker's retention pass (every 5 s) may delete them before a drain, which then rightly
 * starts a new partition at its log start and reads fewer than were produced.
 */
const KEEP_FOREVER = { 'retention.ms': '-1' };

let dir: string;
before(async () => {
  await requireBroker();
  dir = await mkdtemp(join(tmpdir(), 'mwlake-drain-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Job {
  readonly stream: string;
  readonly topics: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly wh: string;
}

function newJob(): Job {
  const stream = uniqueName('mwlake.test.drain').replaceAll('-', '_');
  const wh = join(dir, stream);
  const topics = [`eqiad.${stream}`, `codfw.${stream}`];
  return { stream, topics, wh, env: { MWLAKE_JOB_NAME: `job_${stream}`, MWLAKE_WAREHOUSE: wh, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: topics.join(',') } };
}

function cli(job: Job, ...args: string[]): Promise<CliResult> {
  return runCliCaptured(args, job.env);
}

/** `events` generated enwiki events of the job's stream (seeded, none bad), one JSON line each. */
async function eventLines(job: Job, seed: number, events: number): Promise<Buffer[]> {
  const file = join(dir, `${job.stream}-${seed}.jsonl`);
  assert.equal((await cli(job, 'gen', '--seed', String(seed), '--events', String(events), '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0', '--stream', job.stream, '--out', file)).code, 0);
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').map((l) => Buffer.from(l));
}

async function produce(job: Job, events: number, seed: number, extra: string[] = []): Promise<void> {
  const r = await cli(job, 'gen', '--seed', String(seed), '--events', String(events), '--start', '2026-11-01', '--wikis', 'enwiki,dewiki', '--bad-fraction', '0', '--stream', job.stream, '--partitions', '2', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','), ...extra);
  assert.equal(r.code, 0, r.err);
}

async function drain(job: Job, o: { overrides?: ConfigOverrides; allowGap?: boolean; resetTopics?: string[]; beforeOpen?: () => Promise<void>; beforeCommit?: () => Promise<void> } = {}) {
  const config = await loadConfig(undefined, job.env, o.overrides ?? {});
  return runDrain({
    config,
    warehouse: warehouseOf(config, silentLogger()),
    logger: silentLogger(),
    ...(o.allowGap === true ? { allowGap: true } : {}),
    ...(o.resetTopics === undefined ? {} : { resetTopics: o.resetTopics }),
    ...(o.beforeOpen === undefined ? {} : { beforeOpen: o.beforeOpen }),
    ...(o.beforeCommit === undefined ? {} : { beforeCommit: o.beforeCommit }),
  });
}

/** This process's staging folders in the temp folder (named after their owner's pid). */
async function ownStagingFolders(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith(STAGING_PREFIX) && name.includes(`-${process.pid}-`));
}

/** Rows of the events table, and how many distinct Kafka coordinates they have. */
async function tableCounts(job: Job): Promise<{ rows: number; distinct: number; snapshots: number }> {
  const config = await loadConfig(undefined, job.env);
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  const db = await openDuckDb();
  try {
    const [r] = await db.all<{ rows: bigint; distinct: bigint }>(
      `SELECT count(*) AS rows, count(DISTINCT (_kafka_topic, _kafka_partition, _kafka_offset)) AS distinct FROM (${await tableRelationSql(table)})`,
    );
    return { rows: Number(r!.rows), distinct: Number(r!.distinct), snapshots: table.metadata.snapshots.length };
  } finally {
    await db.close();
  }
}

/** `rows:md5` of the events table's rows in Kafka order: equal tables, equal hashes. */
async function contentHash(job: Job): Promise<string> {
  const config = await loadConfig(undefined, job.env);
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  const db = await openDuckDb();
  try {
    const [r] = await db.all<{ h: string; n: bigint }>(
      `SELECT md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY _kafka_topic, _kafka_partition, _kafka_offset)) AS h, count(*) AS n FROM (${await tableRelationSql(table)}) t`,
    );
    return `${r!.n}:${r!.h}`;
  } finally {
    await db.close();
  }
}

test('--max-events caps a run; repeated runs drain everything once; events produced mid-run wait for the next run', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 600, 1);
  const first = await drain(job, { overrides: { maxEvents: 200 } });
  let written = first.written;
  assert.ok(first.consumed >= 200 && first.consumed < 600, `first run consumed ${first.consumed}`);
  let total = first.consumed;
  // Events produced during a run (here: just before its commit) are past the end offsets it saw.
  const during = await drain(job, { beforeCommit: () => produce(job, 50, 2) });
  total += during.consumed;
  written += during.written;
  assert.equal(total, 600, 'the second run drained exactly up to the end offsets seen at its start');
  const next = await drain(job);
  assert.equal(next.consumed, 50, 'the events produced mid-run are drained by the next run');
  written += next.written;
  assert.equal((await drain(job)).consumed, 0);
  assert.deepEqual(await tableCounts(job), { rows: written, distinct: written, snapshots: 3 });
});

test('error events are produced in batches while the drain reads, not held until the commit', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 300, 3, ['--bad-fraction', '0.05']);
  const config = await loadConfig(undefined, job.env);
  // A run that dies at its last batch: the error events of the batches before it are out already.
  const run = runDrain({
    config,
    warehouse: warehouseOf(config, silentLogger()),
    logger: silentLogger(),
    errorBatchBytes: 1,
    onProgress: (p) => {
      if (p.events === p.total) throw new Error('simulated crash at the last batch');
    },
  });
  await assert.rejects(run, /simulated crash/);
  const errorTopic = `${String(job.env['MWLAKE_JOB_NAME'])}.error`;
  const early = messagesOf(await readBounded(await rangesToEnd(errorTopic))).length;
  assert.ok(early > 0, 'error events were produced before the run ended');
  const rerun = await drain(job);
  assert.equal(rerun.consumed, 300);
  const ids = messagesOf(await readBounded(await rangesToEnd(errorTopic))).map((m) => (JSON.parse(m.value!.toString('utf8')) as { meta: { id: string } }).meta.id);
  assert.equal(ids.length, early + rerun.errored);
  assert.equal(new Set(ids).size, rerun.errored, 'the rerun produced the same events again, with the same ids');
});

test('a crash before the commit leaves the table as it was, and the rerun replays exactly once', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 300, 3, ['--bad-fraction', '0.05']);
  await assert.rejects(drain(job, { beforeCommit: async () => Promise.reject(new Error('simulated crash')) }), /simulated crash/);
  assert.deepEqual(await tableCounts(job), { rows: 0, distinct: 0, snapshots: 0 });
  const replay = await drain(job);
  assert.equal(replay.consumed, 300);
  assert.ok(replay.errored > 0);
  assert.deepEqual(await tableCounts(job), { rows: replay.written, distinct: replay.written, snapshots: 1 });
  // The error stream is at least once: the crashed run had produced its error events already. The
  // rerun's are the same events, byte for byte, so consumers can drop them by meta.id.
  const errors = messagesOf(await readBounded(await rangesToEnd(`${String(job.env['MWLAKE_JOB_NAME'])}.error`))).map((m) => m.value!.toString('utf8'));
  assert.equal(errors.length, 2 * replay.errored);
  assert.equal(new Set(errors).size, replay.errored);
  assert.equal(new Set(errors.map((e) => (JSON.parse(e) as { meta: { id: string } }).meta.id)).size, replay.errored);
});

test("topics whose batches the broker stores as zstd, lz4 or gzip drain like snappy ones", { timeout: 300_000 }, async () => {
  for (const codec of ['zstd', 'lz4', 'gzip']) {
    const job = newJob();
    // The broker recompresses what the snappy producer sends to the topic's own codec.
    await withAdmin(async (a) => {
      for (const topic of job.topics) await a.createTopic({ topic, partitions: 2, configs: { 'compression.type': codec, ...KEEP_FOREVER } });
    });
    await produce(job, 60, 11);
    const r = await drain(job);
    const ends = await withAdmin((a) => a.fetchEndOffsets(job.topics));
    assert.equal(r.consumed, 60, `${codec}: ${JSON.stringify({ lag: r.lag, offsets: r.offsets, ends: ends.map((e) => `${e.topic}:${e.partition}@${e.offset}`) })}`);
    assert.equal(r.errored, 0, codec);
    assert.equal((await tableCounts(job)).rows, r.written, codec);
  }
});

/** Deletes `topic` and creates it again, empty, with one partition kept forever. */
async function recreateTopic(topic: string, partitions = 1): Promise<void> {
  await withAdmin(async (a) => {
    await a.deleteTopics([topic]);
    // Deletion settles asynchronously: create once the old topic is gone.
    for (;;) {
      const gone = await a.listPartitions([topic]).then(() => false, () => true);
      if (gone && (await a.createTopic({ topic, partitions, configs: KEEP_FOREVER }))) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
}

test('a visibility topic recreated while the page changes drain is noticed before the visibility stream is read', { timeout: 300_000 }, async () => {
  const job = newJob();
  const visibility = `${job.stream}_vis`;
  const visibilityTopics = [`eqiad.${visibility}`, `codfw.${visibility}`];
  const env = { ...job.env, MWLAKE_VISIBILITY_TOPICS: visibilityTopics.join(',') };
  const withVisibility = { ...job, env };
  await withAdmin(async (a) => {
    for (const t of [...job.topics, ...visibilityTopics]) await a.createTopic({ topic: t, partitions: 1, configs: KEEP_FOREVER });
  });
  const gen = async (seed: number) => {
    const r = await cli(withVisibility, 'gen', '--seed', String(seed), '--events', '200', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0', '--stream', job.stream, '--partitions', '1', '--visibility-fraction', '0.3', '--visibility-stream', visibility, '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
    assert.equal(r.code, 0, r.err);
  };
  await gen(51);
  const first = await drain(withVisibility);
  assert.ok((first.visibility?.consumed ?? 0) > 0, JSON.stringify(first.visibility));
  const [topic] = visibilityTopics as [string, string];
  const old = messagesOf(await readBounded(await rangesToEnd(topic)));
  await gen(52);
  // While the page changes drain, the visibility topic is deleted and recreated with other records,
  // more of them than the old one held, so that its offsets alone look fine.
  const recreate = async () => {
    await recreateTopic(topic);
    await produceRecords([...old].reverse().concat(old).map((m) => ({ topic, partition: 0, key: m.key, value: m.value })));
  };
  await assert.rejects(drain(withVisibility, { beforeCommit: recreate }), (e: unknown) => e instanceof JobError && e.code === 'DATA' && e.message.includes(`${topic}:0 (offset ${old.length - 1}:`) && e.message.includes('not the ones this job read there'));
});

test('a topic deleted and recreated is noticed, grown past the stored offsets or not; --reset-offsets reads it from its start', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic, other] = job.topics as [string, string];
  const lines = (seed: number, events: number) => eventLines(job, seed, events);
  // Two partitions, the second never written to: it has no last record to check.
  const recreate = async (values: Buffer[]): Promise<void> => {
    await recreateTopic(topic, 2);
    await produceRecords(values.map((value) => ({ topic, partition: 0, key: null, value })));
  };
  await withAdmin(async (a) => {
    for (const t of job.topics) await a.createTopic({ topic: t, partitions: t === topic ? 2 : 1, configs: KEEP_FOREVER });
  });
  await produceRecords((await lines(21, 5)).map((value) => ({ topic, partition: 0, key: null, value })));
  assert.equal((await drain(job)).consumed, 5);

  // The new topic already holds more records than the old one did: its offsets alone look fine.
  // Its second partition holds an aborted transaction only: read, it has no last record to check.
  await recreate(await lines(22, 8));
  await produceTransaction(topic, 1, ['aborted'], 'abort');
  await eventually('the abort marker is written', () => rangesToEnd(topic), (r) => r[1]!.endOffset === 2n);
  await assert.rejects(drain(job), (e: unknown) => e instanceof JobError && e.code === 'DATA' && new RegExp(`${topic}:0 \\(offset 4: .*not the ones this job read there.*--reset-offsets ${topic}`).test(e.message));
  await assert.rejects(drain(job, { resetTopics: [other, 'no.such.topic'] } as never), /--reset-offsets names no\.such\.topic/);
  // So does a replay, forced or not: the stored offsets mean nothing in the new topic, whose
  // records there it would add as lost rows (and the reset below add again).
  const replayAll = (...extra: string[]) => cli(job, 'drain', '--from', '2020-01-01T00:00:00Z', '--to', new Date(Date.now() + 60_000).toISOString(), ...extra);
  for (const extra of [[], ['--force'], ['--dry-run']]) {
    const refused = await replayAll(...extra);
    assert.equal(refused.code, ExitCode.Data, `${extra.join(' ')}: ${refused.err}`);
    assert.match(refused.err, new RegExp(`${topic}:0 \\(offset 4: .*not the ones this job read there.*--reset-offsets ${topic}`));
  }
  assert.equal((await tableCounts(job)).rows, 5, 'the replay wrote nothing');
  const reset = await drain(job, { resetTopics: [topic] });
  assert.equal(reset.consumed, 8, 'the new topic from its start');
  // Reset, the topic's stored records are the new topic's: a replay goes on, and adds nothing.
  const afterReset = await replayAll();
  assert.equal(afterReset.code, 0, afterReset.err);
  assert.equal((await tableCounts(job)).rows, 13);
  // The same command again (a retry after a later step failed): the topic is the one just read,
  // though one partition tells nothing, and after a partition is added too.
  const sameTopic = (e: unknown) => e instanceof JobError && e.code === 'USAGE' && e.message.includes(`--reset-offsets ${topic}: the topic still holds the last records this job read`);
  await assert.rejects(drain(job, { resetTopics: [topic] }), sameTopic);
  await addPartitions(topic, 3);
  await eventually('the partition is added', () => rangesToEnd(topic), (r) => r.length === 3);
  await assert.rejects(drain(job, { resetTopics: [topic] }), sameTopic);
  assert.equal((await drain(job)).consumed, 0);
  assert.equal((await tableCounts(job)).rows, 13);
  // A forced replay over both copies' times re-reads the new topic only: the old copy's rows, at
  // the same offsets, stay (nothing could replace them), and the new copy's are replaced.
  const replay = await cli(job, 'drain', '--from', '2020-01-01T00:00:00Z', '--to', new Date(Date.now() + 60_000).toISOString(), '--force', '--only-stream', 'page_change');
  assert.equal(replay.code, 0, replay.err);
  const replayed = JSON.parse(replay.out.trim().split('\n').at(-1)!) as { replaced: number; keptNotReread?: number };
  assert.deepEqual([replayed.replaced, replayed.keptNotReread], [8, 5], replay.out);
  assert.equal((await tableCounts(job)).rows, 13, 'no row of the old topic is lost');

  // A shorter new topic: its end is below the stored offset.
  await recreate(await lines(23, 2));
  await assert.rejects(drain(job), (e: unknown) => e instanceof JobError && e.code === 'DATA' && e.message.includes(`beyond its end offset 2`) && e.message.includes(`--reset-offsets ${topic}`));
  const shorter = await replayAll();
  assert.equal(shorter.code, ExitCode.Data, shorter.err);
  assert.match(shorter.err, new RegExp(`beyond its end offset 2.*--reset-offsets ${topic}`));
  assert.equal((await drain(job, { resetTopics: [topic] })).consumed, 2);

  // The groups made for one read (the drain's, the check's) are gone; the job's own group stays.
  const client = new kafkajs.Kafka({ brokers: [...KAFKA_BROKERS], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await client.connect();
  try {
    const groups = (await client.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`mwlake-${String(job.env['MWLAKE_JOB_NAME'])}`));
    assert.deepEqual(groups, [`mwlake-${String(job.env['MWLAKE_JOB_NAME'])}`]);
  } finally {
    await client.disconnect();
  }
});

test('a recreated topic whose record at the stored last offset is an aborted one is noticed, not read on from there past its first records', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic] = job.topics as [string, string];
  const values = await eventLines(job, 31, 12);
  await withAdmin(async (a) => {
    for (const t of job.topics) await a.createTopic({ topic: t, partitions: 1, configs: KEEP_FOREVER });
  });
  await produceRecords(values.slice(0, 5).map((value) => ({ topic, partition: 0, key: null, value })));
  assert.equal((await drain(job)).consumed, 5, 'read up to offset 4');
  // The new topic: 4 committed records, an aborted one at offset 4 (its marker at 5), then 3 more.
  await recreateTopic(topic);
  await produceRecords(values.slice(5, 9).map((value) => ({ topic, partition: 0, key: null, value })));
  await produceTransaction(topic, 0, [values[9]!.toString()], 'abort');
  await produceRecords(values.slice(10, 12).map((value) => ({ topic, partition: 0, key: null, value })));
  await eventually('the new topic is written', () => rangesToEnd(topic), (r) => r[0]!.endOffset === 8n);
  await assert.rejects(drain(job), (e: unknown) => e instanceof JobError && e.code === 'DATA' && e.message.includes(`${topic}:0 (offset 4:`) && e.message.includes('not the ones this job read there'));
  assert.equal((await drain(job, { resetTopics: [topic] })).consumed, 6, 'the new topic from its start, without its aborted record');
});

test('--reset-offsets of a recreated topic whose stored last record is a transaction marker now is not refused, though another partition tells nothing', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic] = job.topics as [string, string];
  const values = await eventLines(job, 32, 14);
  const produce = (partition: number, from: number, to: number) => produceRecords(values.slice(from, to).map((value) => ({ topic, partition, key: null, value })));
  await withAdmin(async (a) => {
    for (const t of job.topics) await a.createTopic({ topic: t, partitions: t === topic ? 2 : 1, configs: KEEP_FOREVER });
  });
  // Partition 0 read up to offset 4; partition 1 holds an aborted transaction only: no last record.
  await produce(0, 0, 5);
  await produceTransaction(topic, 1, ['aborted'], 'abort');
  await eventually('the abort marker is written', () => rangesToEnd(topic), (r) => r[1]!.endOffset === 2n);
  assert.equal((await drain(job)).consumed, 5);
  // The new topic's partition 0: 3 records, a transaction of one (3) and its commit marker at 4, 3
  // more; its partition 1, 2 records (as long as the old one: it tells nothing).
  await recreateTopic(topic, 2);
  await produce(0, 5, 8);
  await produceTransaction(topic, 0, [values[8]!.toString()], 'commit');
  await produce(0, 9, 12);
  await produce(1, 12, 14);
  await eventually('the new topic is written', () => rangesToEnd(topic), (r) => r[0]!.endOffset === 8n && r[1]!.endOffset === 2n);
  assert.equal((await drain(job, { resetTopics: [topic] })).consumed, 9, 'the new topic from its start');
});

test('a commit of unknown outcome keeps the files its version references, and the rerun reads nothing twice', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 100, 6);
  const config = await loadConfig(undefined, job.env);
  // The metadata file is created, then the folder sync fails: the version may well be live.
  class SyncFails extends LocalStorage {
    override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
      await super.writeIfAbsent(location, bytes);
      if (/\/v[0-9]+\.metadata\.json$/.test(location) && !location.endsWith('/v1.metadata.json')) throw new CommitStateUnknownError(`created ${location}, but syncing its folder failed`);
    }
  }
  const warehouse = new Warehouse(new SyncFails(), fileLocation(config.warehouse));
  await assert.rejects(runDrain({ config, warehouse, logger: silentLogger() }), (e: unknown) => e instanceof CommitStateUnknownError);
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  const files = (await table.planFiles()).dataFiles;
  assert.ok(files.length > 0);
  for (const f of files) assert.ok(await table.storage.stat(f.file.filePath), `${f.file.filePath} exists`);
  const rerun = await drain(job);
  assert.equal(rerun.consumed, 0, 'the version that landed holds the offsets');
  const counts = await tableCounts(job);
  assert.equal(counts.rows, counts.distinct);
  assert.ok(counts.rows > 0);
});

test('a commit by another writer during the drain fails it as a conflict, and the rerun reads its events once', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 200, 4);
  const first = await drain(job);
  await produce(job, 100, 5);
  // Another writer (a rollback, a second drain without the lease) commits before this run does.
  const interloper = async (): Promise<void> => {
    const config = await loadConfig(undefined, job.env);
    const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
    const offsets = table.summaryProperty(KAFKA_OFFSETS_PROPERTY)!.value;
    await table.commit({ operation: 'append', summary: { [KAFKA_OFFSETS_PROPERTY]: offsets }, requireCurrentSnapshotId: table.currentSnapshot()!.snapshotId });
  };
  await assert.rejects(drain(job, { beforeCommit: interloper }), (e: unknown) => e instanceof JobError && e.code === 'COMMIT_CONFLICT' && /moved on/.test(e.message));
  assert.deepEqual(await tableCounts(job), { rows: first.written, distinct: first.written, snapshots: 2 });
  const rerun = await drain(job);
  assert.equal(rerun.consumed, 100);
  assert.deepEqual(await tableCounts(job), { rows: first.written + rerun.written, distinct: first.written + rerun.written, snapshots: 3 });
});

test('a retention gap stops the drain naming the partitions; --allow-gap accepts it and records it', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 100, 4);
  assert.equal((await drain(job)).consumed, 100);
  await produce(job, 100, 5);
  // Retention removes all but the last 5 records of every partition before we read them.
  const marks = await withAdmin((a) => a.fetchWatermarks(job.topics));
  await withAdmin(async (a) => {
    for (const topic of job.topics) {
      await a.deleteRecords(topic, marks.filter((m) => m.topic === topic && m.endOffset > 5n).map((m) => ({ partition: m.partition, beforeOffset: m.endOffset - 5n })));
    }
  });
  await assert.rejects(drain(job), (e: unknown) => e instanceof OffsetOutOfRangeError && e.message.includes(`${job.topics[0]}`) && /--allow-gap/.test(e.message));
  const viaCli = await cli(job, 'drain');
  assert.equal(viaCli.code, ExitCode.Data, viaCli.err);
  assert.match(viaCli.err, /retention deleted events this job never read: .*offsets \d+\.\.\d+/);
  assert.equal((await tableCounts(job)).snapshots, 1, 'nothing committed');

  const accepted = await drain(job, { allowGap: true });
  const withData = marks.filter((m) => m.endOffset > 5n).length;
  assert.equal(accepted.consumed, 5 * withData);
  assert.ok(accepted.gaps !== undefined && Object.keys(accepted.gaps).length === withData);
  const config = await loadConfig(undefined, job.env);
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  assert.deepEqual(JSON.parse(table.currentSnapshot()!.summary.properties[KAFKA_GAPS_PROPERTY]!), accepted.gaps);

  // A gap up to the end offset, with nothing after it to read: --allow-gap still records it, and
  // the next run goes on from there.
  await produce(job, 50, 6);
  const ends = await withAdmin((a) => a.fetchWatermarks(job.topics));
  await withAdmin(async (a) => {
    for (const topic of job.topics) await a.deleteRecords(topic, ends.filter((m) => m.topic === topic && m.endOffset > 0n).map((m) => ({ partition: m.partition, beforeOffset: m.endOffset })));
  });
  await assert.rejects(drain(job), OffsetOutOfRangeError);
  const emptyGap = await drain(job, { allowGap: true });
  assert.equal(emptyGap.consumed, 0);
  assert.ok(emptyGap.snapshotId !== undefined && emptyGap.gaps !== undefined, JSON.stringify(emptyGap));
  const after = await drain(job);
  assert.equal(after.consumed, 0, 'the next run starts past the recorded gap');
  assert.equal(after.gaps, undefined);
});

test('retention overtaking the plan before the read opens fails the drain with no staging folder left behind', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 60, 8);
  await drain(job);
  await produce(job, 60, 9);
  assert.deepEqual(await ownStagingFolders(), []);
  const ends = await withAdmin((a) => a.fetchWatermarks(job.topics));
  const beforeOpen = () =>
    withAdmin(async (a) => {
      for (const topic of job.topics) await a.deleteRecords(topic, ends.filter((m) => m.topic === topic && m.endOffset > 0n).map((m) => ({ partition: m.partition, beforeOffset: m.endOffset })));
    });
  await assert.rejects(drain(job, { beforeOpen }), (e: unknown) => e instanceof OffsetOutOfRangeError && /deleted before they were read.*Rerun with --allow-gap/.test(e.message));
  assert.deepEqual(await ownStagingFolders(), []);
  assert.equal((await tableCounts(job)).snapshots, 1, 'nothing committed');
});

test('a partition added to a topic the job reads is read from offset 0: records retention deleted first are a gap', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic] = job.topics as [string, string];
  const lines = (seed: number, events: number) => eventLines(job, seed, events);
  await withAdmin(async (a) => {
    for (const t of job.topics) await a.createTopic({ topic: t, partitions: 1, configs: KEEP_FOREVER });
  });
  await produceRecords((await lines(31, 3)).map((value) => ({ topic, partition: 0, key: null, value })));
  assert.equal((await drain(job)).consumed, 3);

  await addPartitions(topic, 2);
  await produceRecords((await lines(32, 5)).map((value) => ({ topic, partition: 1, key: null, value })));
  // Retention takes the new partition's first two records before the next run.
  await withAdmin((a) => a.deleteRecords(topic, [{ partition: 1, beforeOffset: 2n }]));
  await assert.rejects(drain(job), (e: unknown) => e instanceof OffsetOutOfRangeError && e.message.includes(`${topic}:1 (offsets 0..1, 2 events)`));
  const accepted = await drain(job, { allowGap: true });
  assert.equal(accepted.consumed, 3);
  assert.deepEqual(accepted.gaps, { [`${topic}:1`]: '0..1' });
});

test('a first run on empty topics records where they start: records retention deletes before the next run are a gap, not a new start', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic] = job.topics as [string, string];
  await withAdmin(async (a) => {
    for (const t of job.topics) await a.createTopic({ topic: t, partitions: 1, configs: KEEP_FOREVER });
  });
  const first = await drain(job);
  assert.equal(first.consumed, 0);
  assert.deepEqual(first.offsets, Object.fromEntries(job.topics.map((t) => [t, { '0': '0' }])));
  assert.equal((await tableCounts(job)).snapshots, 1, 'an offsets-only commit');
  const values = await eventLines(job, 33, 5);
  await produceRecords(values.map((value) => ({ topic, partition: 0, key: null, value })));
  await withAdmin((a) => a.deleteRecords(topic, [{ partition: 0, beforeOffset: 2n }]));
  await assert.rejects(drain(job), (e: unknown) => e instanceof OffsetOutOfRangeError && e.message.includes(`${topic}:0 (offsets 0..1, 2 events)`));
  const accepted = await drain(job, { allowGap: true });
  assert.equal(accepted.consumed, 3);
  assert.deepEqual(accepted.gaps, { [`${topic}:0`]: '0..1' });
});

test('retention overtaking an --allow-gap drain while it reads is skipped and recorded as a gap, not a failure', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic] = job.topics as [string, string];
  // Far more than the source reads ahead of the drain (64 MiB plus a fetch): most of it is unread at the first batch.
  assert.equal((await cli(job, 'gen', '--seed', '41', '--events', '16000', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0', '--stream', job.stream, '--partitions', '1', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','))).code, 0);
  const marks = await withAdmin((a) => a.fetchWatermarks(job.topics));
  const end = marks.find((m) => m.topic === topic)!.endOffset;
  const total = marks.reduce((n, m) => n + m.endOffset, 0n);
  const config = await loadConfig(undefined, job.env);
  let deletion: Promise<void> | undefined;
  const result = await runDrain({
    config,
    warehouse: warehouseOf(config, silentLogger()),
    logger: silentLogger(),
    allowGap: true,
    // Retention, once the drain has started reading: all but the last 20 records of the partition.
    onProgress: () => void (deletion ??= withAdmin((a) => a.deleteRecords(topic, [{ partition: 0, beforeOffset: end - 20n }]))),
  });
  await deletion;
  const gap = result.gaps?.[`${topic}:0`];
  assert.ok(gap !== undefined, `a gap in ${topic}:0, found ${JSON.stringify(result.gaps)}`);
  const [from, to] = gap.split('..').map(BigInt) as [bigint, bigint];
  assert.ok(from > 0n && to === end - 21n, gap);
  assert.equal(BigInt(result.consumed), total - (to - from + 1n), 'every offset read or in the gap');
  assert.equal(result.offsets[topic]!['0'], String(end));
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  assert.deepEqual(JSON.parse(table.currentSnapshot()!.summary.properties[KAFKA_GAPS_PROPERTY]!), result.gaps);
  const counts = await tableCounts(job);
  assert.equal(counts.rows, result.written);
  assert.equal(counts.distinct, counts.rows);
  const next = await drain(job);
  assert.equal(next.consumed, 0);
  assert.equal(next.gaps, undefined);
});

test('retention overtaking an uncapped drain while it reads fails it, saying to rerun with --allow-gap, with nothing committed', { timeout: 300_000 }, async () => {
  const job = newJob();
  const [topic] = job.topics as [string, string];
  assert.equal((await cli(job, 'gen', '--seed', '42', '--events', '16000', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0', '--stream', job.stream, '--partitions', '1', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','))).code, 0);
  const end = (await withAdmin((a) => a.fetchWatermarks(job.topics))).find((m) => m.topic === topic)!.endOffset;
  const config = await loadConfig(undefined, job.env);
  let deletion: Promise<void> | undefined;
  await assert.rejects(
    runDrain({
      config,
      warehouse: warehouseOf(config, silentLogger()),
      logger: silentLogger(),
      onProgress: () => void (deletion ??= withAdmin((a) => a.deleteRecords(topic, [{ partition: 0, beforeOffset: end - 20n }]))),
    }),
    (e: unknown) => e instanceof OffsetOutOfRangeError && /before this read got to them.*Rerun with --allow-gap/.test(e.message) && e.message.split('Rerun with --allow-gap').length === 2,
  );
  await deletion;
  assert.equal((await tableCounts(job)).snapshots, 0, 'nothing committed');
});

test('an event that passes its schema but that the table cannot store goes to <job>.error; the drain goes on', { timeout: 300_000 }, async () => {
  const job = newJob();
  const events = realEvents().filter((e) => (e as { page_change_kind?: string }).page_change_kind === 'edit').slice(0, 3) as Record<string, any>[];
  assert.equal(events.length, 3);
  const leap = clone(events[0]!);
  leap['meta']['dt'] = '2016-12-31T23:59:60Z';
  const wide = clone(events[1]!);
  wide['page']['namespace_id'] = 2 ** 31;
  const surrogate = clone(events[2]!);
  surrogate['revision']['comment'] = 'half a pair \ud800';
  const values = [...events, leap, wide, surrogate].map((e) => Buffer.from(JSON.stringify(e), 'utf8'));
  // Nor a message nested deeper than the checks after parsing can recurse.
  values.push(Buffer.from('['.repeat(20_000) + ']'.repeat(20_000)));
  await withAdmin(async (a) => {
    for (const topic of job.topics) await a.createTopic({ topic, partitions: 1 });
  });
  await produceRecords(values.map((value) => ({ topic: job.topics[0]!, key: null, value })));
  const r = await drain(job);
  assert.deepEqual([r.consumed, r.written, r.errored], [7, 3, 4], JSON.stringify(r));
  const errorTopic = `${String(job.env['MWLAKE_JOB_NAME'])}.error`;
  const errors = messagesOf(await readBounded(await rangesToEnd(errorTopic))).map((m) => JSON.parse(m.value!.toString('utf8')) as { error_type: string; message: string });
  assert.deepEqual(errors.map((e) => e.error_type), ['unstorable_value', 'unstorable_value', 'unstorable_value', 'too_deep']);
  assert.match(errors[0]!.message, /at \/meta\/dt: a leap second/);
  assert.equal((await tableCounts(job)).rows, 3);
  // The real edits (page_change.v1) carry no content_body: counted, in the result and the commit.
  assert.equal(r.withoutContent, 3);
  const config = await loadConfig(undefined, job.env);
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  assert.equal(table.currentSnapshot()!.summary.properties['mwlake.drain.without-content'], '3');
  assert.equal((await drain(job)).consumed, 0, 'the next run goes on');
  // A forced replay of the window counts and warns alike.
  const captured = capturingLogger();
  const replayed = await runReplay({ config, warehouse: warehouseOf(config, silentLogger()), logger: captured.logger, fromMs: Date.parse('2026-10-01T00:00:00Z'), toMs: Date.parse('2027-01-01T00:00:00Z'), force: true });
  assert.deepEqual([replayed.replaced, replayed.withoutContent], [3, 3], JSON.stringify(replayed));
  assert.ok(captured.messages().some((m) => m.startsWith('replay: 3 of the 3 events written carry no content_body')), captured.messages().join('\n'));
  assert.equal((await table.refresh()).currentSnapshot()!.summary.properties['mwlake.replay.without-content'], '3');
});

test('kafka.error_topic_prefix puts the error events on <prefix><job_name>.error, as the Event Platform names a stream\'s topics; meta.stream stays <job_name>.error', { timeout: 300_000 }, async () => {
  const job = newJob();
  await withAdmin(async (a) => {
    for (const topic of job.topics) await a.createTopic({ topic, partitions: 1 });
  });
  await produceRecords([{ topic: job.topics[0]!, key: null, value: Buffer.from('{"not": "an event"}') }]);
  const file = join(dir, `${job.stream}-prefix.yaml`);
  await writeFile(file, 'job_name: ignored\nkafka:\n  error_topic_prefix: eqiad.\n');
  const r = await cli(job, 'drain', '--config', file, '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { errored: number }).errored, 1);
  const stream = `${String(job.env['MWLAKE_JOB_NAME'])}.error`;
  const errors = messagesOf(await readBounded(await rangesToEnd(`eqiad.${stream}`))).map((m) => JSON.parse(m.value!.toString('utf8')) as { meta: { stream: string } });
  assert.deepEqual(errors.map((e) => e.meta.stream), [stream]);
});

test('when the error stream rejects the error events, the run fails and commits nothing', { timeout: 300_000 }, async () => {
  const job = newJob();
  // An error topic whose messages may be at most 200 bytes: every error event is larger.
  await withAdmin((a) => a.createTopic({ topic: `${job.env['MWLAKE_JOB_NAME']}.error`, partitions: 1, configs: { 'max.message.bytes': '200', 'compression.type': 'snappy' } }));
  const r = await cli(job, 'gen', '--seed', '6', '--events', '200', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0.2', '--stream', job.stream, '--partitions', '1', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
  assert.equal(r.code, 0, r.err);
  await assert.rejects(drain(job), (e: unknown) => e instanceof Error && e.message.includes(`to ${job.env['MWLAKE_JOB_NAME']}.error failed`));
  assert.equal((await tableCounts(job)).snapshots, 0, 'nothing committed');
});

test('the parquet-wasm encoder writes the same rows as the DuckDB encoder', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 300, 7);
  const wasmJob: Job = { ...job, wh: `${job.wh}-wasm`, env: { ...job.env, MWLAKE_WAREHOUSE: `${job.wh}-wasm`, MWLAKE_JOB_NAME: `${String(job.env['MWLAKE_JOB_NAME'])}_wasm`, MWLAKE_PARQUET_ENCODER: 'parquet-wasm' } };
  const viaDuckDb = await drain(job);
  assert.equal(viaDuckDb.consumed, 300);
  assert.equal((await drain(wasmJob)).written, viaDuckDb.written);
  const [a, b] = [await contentHash(job), await contentHash(wasmJob)];
  assert.ok(a.startsWith(`${viaDuckDb.written}:`));
  assert.equal(b, a);
});

test('worker threads and the main thread prepare the same rows, counts and error events', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 400, 8, ['--bad-fraction', '0.05']);
  const variant = (workers: number): Job => {
    const name = `${String(job.env['MWLAKE_JOB_NAME'])}_w${workers}`;
    return { ...job, wh: `${job.wh}-w${workers}`, env: { ...job.env, MWLAKE_WAREHOUSE: `${job.wh}-w${workers}`, MWLAKE_JOB_NAME: name, MWLAKE_DRAIN_WORKERS: String(workers) } };
  };
  const [inline, pooled] = [variant(0), variant(3)];
  const a = await drain(inline);
  const b = await drain(pooled);
  assert.equal(a.consumed, 400);
  assert.ok(a.errored > 0 && a.written > 0, `written ${a.written}, errored ${a.errored}`);
  assert.deepEqual([b.consumed, b.written, b.errored, b.filtered, b.deduplicated], [a.consumed, a.written, a.errored, a.filtered, a.deduplicated]);
  assert.equal(await contentHash(pooled), await contentHash(inline));
  const errorsOf = async (j: Job) =>
    messagesOf(await readBounded(await rangesToEnd(`${String(j.env['MWLAKE_JOB_NAME'])}.error`)))
      .map((m) => JSON.parse(m.value!.toString('utf8')) as { raw_event: string; message: string; errored_stream_name: string })
      .map((e) => `${e.errored_stream_name} ${e.message} ${e.raw_event}`)
      .sort();
  const [ea, eb] = [await errorsOf(inline), await errorsOf(pooled)];
  assert.equal(ea.length, a.errored);
  assert.deepEqual(eb, ea);
  // A cap with batches in flight: the positions recorded are those of the batches sorted.
  const capped = variant(2);
  const first = await drain(capped, { overrides: { maxEvents: 100 } });
  assert.ok(first.consumed >= 100 && first.consumed < 400, `first run consumed ${first.consumed}`);
  const rest = await drain(capped);
  assert.equal(first.consumed + rest.consumed, 400);
  const counts = await tableCounts(capped);
  assert.deepEqual(counts, { rows: first.written + rest.written, distinct: first.written + rest.written, snapshots: 2 });
});

test('accounting: canaries are filtered, repeats of a meta.id deduplicated, bad messages sent to <job>.error byte for byte', { timeout: 300_000 }, async () => {
  const job = newJob();
  const file = join(dir, `${job.stream}.jsonl`);
  const g = await cli(job, 'gen', '--seed', '9', '--events', '400', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0.05', '--stream', job.stream, '--out', file);
  assert.equal(g.code, 0, g.err);
  const lines = (await readFile(file)).toString('latin1').split('\n').filter((l) => l !== '').map((l) => Buffer.from(l, 'latin1'));
  const parsed = lines.map((b) => {
    try {
      const v = JSON.parse(b.toString('utf8')) as { meta?: { domain?: string; id?: string }; $schema?: string };
      return typeof v === 'object' && v !== null ? v : undefined;
    } catch {
      return undefined;
    }
  });
  // Every line once to eqiad, and five good events again to codfw, as a datacenter switchover would.
  const good = lines.filter((_, i) => parsed[i]?.meta?.id !== undefined && parsed[i]?.meta?.domain !== 'canary' && parsed[i]?.$schema !== undefined);
  const repeats = good.slice(0, 5);
  await withAdmin(async (a) => {
    for (const topic of job.topics) await a.createTopic({ topic, partitions: 1, configs: { 'max.message.bytes': String(12 * 1024 * 1024) } });
  });
  await produceRecords([...lines.map((value) => ({ topic: job.topics[0]!, key: null, value })), ...repeats.map((value) => ({ topic: job.topics[1]!, key: null, value }))]);
  const r = await drain(job);
  assert.equal(r.consumed, lines.length + 5);
  assert.equal(r.written + r.errored + r.filtered + r.deduplicated, r.consumed, 'consumed = written + errored + filtered + deduplicated');
  assert.equal(r.deduplicated, 5);
  assert.equal(r.filtered, parsed.filter((p) => p?.meta?.domain === 'canary').length);
  assert.ok(r.errored > 0);
  const config = await loadConfig(undefined, job.env);
  const table = await openEventsTable(warehouseOf(config, silentLogger()), config);
  const summary = table.currentSnapshot()!.summary.properties;
  assert.deepEqual(
    ['consumed', 'written', 'errored', 'filtered', 'deduplicated'].map((k) => summary[`mwlake.drain.${k}`]),
    [r.consumed, r.written, r.errored, r.filtered, r.deduplicated].map(String),
  );
  // Generated page_content_change events carry their bodies.
  assert.equal(r.withoutContent, 0);
  assert.equal(summary['mwlake.drain.without-content'], undefined);
  // Every bad message is in the error stream, raw_event holding its original bytes.
  const errorTopic = `${String(job.env['MWLAKE_JOB_NAME'])}.error`;
  const errors = messagesOf(await readBounded(await rangesToEnd(errorTopic))).map((m) => JSON.parse(m.value!.toString('utf8')) as { raw_event: string; errored_stream_name: string });
  assert.equal(errors.length, r.errored);
  const originals = new Set(lines.map((b) => b.toString('hex')));
  for (const e of errors) assert.ok(originals.has(Buffer.from(decodeRawEvent(e.raw_event)).toString('hex')), `raw_event ${JSON.stringify(e.raw_event.slice(0, 60))} decodes to one of the produced messages`);
  // Each error event as produced is error 2.1.0 (ajv, strictly), on the job's error stream.
  for (const e of errors as unknown as Record<string, any>[]) {
    const check = validateAgainstSchema(ERROR_SCHEMA_ID, e);
    assert.ok(check.ok, check.ok ? '' : `${check.message}: ${JSON.stringify(e).slice(0, 300)}`);
    assert.equal(e['meta'].stream, errorTopic);
    assert.equal(e['errored_stream_name'], job.stream);
    assert.match(e['emitter_id'], /^mwlake-drain@/);
    assert.match(e['message'], new RegExp(`\\(at ${job.topics[0]!.replaceAll('.', '\\.')}:0@\\d+\\)$`));
  }
  // The error topic stores snappy (decision log): its compression.type, whatever a producer sends.
  const client = new kafkajs.Kafka({ brokers: [...KAFKA_BROKERS], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await client.connect();
  try {
    const described = await client.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: errorTopic, configNames: ['compression.type'] }], includeSynonyms: false });
    assert.equal(described.resources[0]!.configEntries.find((c) => c.configName === 'compression.type')?.configValue, 'snappy');
  } finally {
    await client.disconnect();
  }
});

test('a 10 MiB event is accepted; a message over max_message_bytes, even one larger than the broker default, goes to the error stream', { timeout: 300_000 }, async () => {
  const job = newJob();
  const file = join(dir, `${job.stream}.jsonl`);
  assert.equal((await cli(job, 'gen', '--seed', '10', '--events', '5', '--start', '2026-11-01', '--wikis', 'enwiki', '--stream', job.stream, '--out', file)).code, 0);
  const event = JSON.parse((await readFile(file, 'utf8')).split('\n').find((l) => l.includes('"edit"') || l.includes('"create"'))!) as { meta: { id: string }; revision: { content_slots: { main: { content_body: string } } } };
  event.revision.content_slots.main.content_body = 'x'.repeat(10 * 1024 * 1024 - 8 * 1024);
  const big = Buffer.from(JSON.stringify(event));
  assert.ok(big.byteLength > 10 * 1024 * 1024 - 8 * 1024 && big.byteLength <= 10 * 1024 * 1024, `${big.byteLength} bytes`);
  // Over the broker's own message.max.bytes (32 MiB here, 1 MiB in a stock broker), and random so
  // that snappy cannot shrink it: the error topic must be made to take its error event, or every
  // run would fail on it.
  const over = Buffer.from(JSON.stringify({ ...event, meta: { ...event.meta, id: '00000000-0000-4000-8000-000000000001' }, revision: { ...event.revision, content_slots: { main: { ...event.revision.content_slots.main, content_body: randomBytes(26 * 1024 * 1024).toString('base64') } } } }));
  await withAdmin((a) => a.createTopic({ topic: job.topics[0]!, partitions: 1, configs: { 'max.message.bytes': String(40 * 1024 * 1024) } }));
  await withAdmin((a) => a.createTopic({ topic: job.topics[1]!, partitions: 1 }));
  await produceRecords([{ topic: job.topics[0]!, key: null, value: big }, { topic: job.topics[0]!, key: null, value: over }]);
  const r = await drain(job);
  assert.deepEqual([r.consumed, r.written, r.errored], [2, 1, 1]);
  const counts = await tableCounts(job);
  assert.equal(counts.rows, 1);
});

test('an error topic made by an earlier run takes the error event of a later message of binary garbage', { timeout: 300_000 }, async () => {
  const job = newJob();
  for (const topic of job.topics) await withAdmin((a) => a.createTopic({ topic, partitions: 1, configs: { 'max.message.bytes': String(12 * 1024 * 1024) } }));
  const base = await loadConfig(undefined, job.env);
  const config = { ...base, drain: { ...base.drain, maxMessageBytes: 2 * 1024 * 1024 } };
  const run = () => runDrain({ config, warehouse: warehouseOf(config, silentLogger()), logger: silentLogger() });
  // The first bad message is small: the run creates the error topic, whose limit then stays.
  await produceRecords([{ topic: job.topics[0]!, key: null, value: Buffer.from('not json') }]);
  assert.equal((await run()).errored, 1);
  // Random bytes: invalid UTF-8 and control characters escape to 6 bytes each, and snappy cannot
  // undo that, so the error event is several times the message.
  await produceRecords([{ topic: job.topics[0]!, key: null, value: randomBytes(3 * 1024 * 1024) }]);
  const second = await run();
  assert.deepEqual([second.consumed, second.errored], [1, 1]);
  const errors = messagesOf(await readBounded(await rangesToEnd(`${String(job.env['MWLAKE_JOB_NAME'])}.error`)));
  assert.equal(errors.length, 2);
  assert.ok(errors[1]!.value!.byteLength > 2 * 2 * 1024 * 1024 + (1 << 20), `the error event (${errors[1]!.value!.byteLength} bytes) is over the old limit`);
});

test('an error topic that exists is produced to without a CreateTopics request, which a write-only client would be refused', { timeout: 300_000 }, async () => {
  const job = newJob();
  for (const topic of job.topics) await withAdmin((a) => a.createTopic({ topic, partitions: 1 }));
  const errorTopic = `${String(job.env['MWLAKE_JOB_NAME'])}.error`;
  await withAdmin((a) => a.createTopic({ topic: errorTopic, partitions: 1, configs: { 'compression.type': 'snappy' } }));
  const { logger, messages } = capturingLogger('trace');
  const config = await loadConfig(undefined, job.env);
  await produceRecords([{ topic: job.topics[0]!, key: null, value: Buffer.from('not json') }]);
  const r = await runDrain({ config, warehouse: warehouseOf(config, silentLogger()), logger });
  assert.equal(r.errored, 1);
  assert.equal(messagesOf(await readBounded(await rangesToEnd(errorTopic))).length, 1);
  const requests = messages().filter((m) => m.startsWith('Request '));
  assert.ok(requests.some((m) => m.startsWith('Request Produce')), `the requests were logged: ${requests.join(', ')}`);
  assert.deepEqual(requests.filter((m) => m.includes('CreateTopics')), []);
});

test('SIGKILL mid-consume, mid-write and between the file writes and the commit: the rerun ends with the table an uninterrupted run makes', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 400, 12);
  const reference: Job = { ...job, wh: `${job.wh}-ref`, env: { ...job.env, MWLAKE_WAREHOUSE: `${job.wh}-ref`, MWLAKE_JOB_NAME: `${String(job.env['MWLAKE_JOB_NAME'])}_ref` } };
  await drain(reference);
  const child = join(dirname(fileURLToPath(import.meta.url)), 'drain-child.js');
  const killed: number[] = [];
  for (const point of ['consume', 'write', 'commit']) {
    const r = spawnSync(process.execPath, [child, point], { env: { ...process.env, ...job.env }, encoding: 'utf8' });
    assert.equal(r.signal, "SIGKILL", `killed at ${point}: status ${r.status}, stderr ${r.stderr.slice(-1500)}`);
    assert.equal((await tableCounts(job)).snapshots, 0, `nothing committed after a kill at ${point}`);
    killed.push(r.pid!);
  }
  // A killed run leaves its staging folder (named after its pid); the next run removes it: after
  // three kills only the last one's is left, and after the rerun none.
  const stagingOf = async (pids: number[]): Promise<string[]> =>
    (await readdir(tmpdir())).filter((name) => name.startsWith(STAGING_PREFIX) && pids.some((pid) => name.includes(`-${pid}-`)));
  assert.deepEqual((await stagingOf(killed)).map((name) => name.split('-').at(-2)), [String(killed.at(-1))]);
  const rerun = await drain(job);
  assert.deepEqual(await stagingOf(killed), []);
  assert.equal(rerun.consumed, 400);
  assert.equal(await contentHash(job), await contentHash(reference));
  assert.deepEqual(await tableCounts(job), await tableCounts(reference));
});

test('replay --from/--to restores lost rows without duplicating held ones or the repeats the drain dropped; --force replaces them', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 300, 13);
  // Five events again in the other datacenter's topic: the drain keeps one copy of each.
  const someEvents = messagesOf(await readBounded(await rangesToEnd(job.topics[0]!))).slice(0, 5);
  await produceRecords(someEvents.map((m) => ({ topic: job.topics[1]!, key: null, value: m.value! })));
  const first = await drain(job);
  assert.equal(first.deduplicated, 5);
  const config = await loadConfig(undefined, job.env);
  const warehouse = warehouseOf(config, silentLogger());
  const original = await contentHash(job);
  assert.ok(original.startsWith(`${first.written}:`));
  const window = ['--from', '2026-10-01T00:00:00Z', '--to', '2027-01-01T00:00:00Z'];

  const nothing = await cli(job, 'drain', ...window);
  assert.equal(nothing.code, 0, nothing.err);
  const r0 = JSON.parse(nothing.out) as { skippedHeld: number; written: number };
  assert.equal(r0.written, 0, 'every event of the window is held or a repeat of a held one: nothing to add');
  assert.equal(r0.skippedHeld, first.written, nothing.out + JSON.stringify(first));
  assert.equal((JSON.parse(nothing.out) as { deduplicated: number }).deduplicated, 5);

  // Lose one data file's rows (an operator mistake), then replay the window.
  let table = await openEventsTable(warehouse, config);
  const victim = (await table.planFiles()).dataFiles[0]!.file;
  table = (await table.commit({ removeDataFiles: [victim.filePath] })).table;
  assert.notEqual(await contentHash(job), original);
  const restored = JSON.parse((await cli(job, 'drain', ...window)).out) as { written: number };
  assert.equal(restored.written, victim.recordCount);
  assert.equal(await contentHash(job), original, 'the lost rows are back, nothing doubled');

  const forced = JSON.parse((await cli(job, 'drain', ...window, '--force')).out) as { written: number; replaced: number };
  assert.deepEqual([forced.written, forced.replaced], [first.written, first.written]);
  assert.equal(await contentHash(job), original, 'a forced replay rewrites the same rows');
  table = await table.refresh();
  assert.equal(table.currentSnapshot()?.summary.operation, 'overwrite');
  // Events that fail validation now (here a lower size limit; a stricter validator alike) keep their stored rows.
  const strict = join(dir, `${job.stream}-strict.yaml`);
  await writeFile(strict, 'job_name: ignored\ndrain:\n  max_message_bytes: 12000\n  max_error_ratio: 1\n');
  const kept = JSON.parse((await cli(job, 'drain', '--config', strict, ...window, '--force')).out) as { replaced: number; keptInvalid?: number };
  assert.ok((kept.keptInvalid ?? 0) > 0 && kept.replaced > 0, JSON.stringify(kept));
  assert.equal(kept.replaced + kept.keptInvalid!, first.written);
  assert.equal(await contentHash(job), original, 'no stored row was lost to events that fail now');
  // The drain's cursor did not move: a normal drain finds nothing new.
  assert.equal((await drain(job)).consumed, 0);

  const bad = await cli(job, 'drain', '--force');
  assert.equal(bad.code, ExitCode.Usage);
});

test('retention overtaking a replay before its read opens fails it with nothing committed and no staging folder left behind', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 60, 19);
  await drain(job);
  const config = await loadConfig(undefined, job.env);
  const warehouse = warehouseOf(config, silentLogger());
  const snapshots = (await tableCounts(job)).snapshots;
  const ends = await withAdmin((a) => a.fetchWatermarks(job.topics));
  const beforeOpen = () =>
    withAdmin(async (a) => {
      for (const topic of job.topics) await a.deleteRecords(topic, ends.filter((m) => m.topic === topic && m.endOffset > 0n).map((m) => ({ partition: m.partition, beforeOffset: m.endOffset })));
    });
  const replay = runReplay({ config, warehouse, logger: silentLogger(), fromMs: Date.parse('2026-10-01T00:00:00Z'), toMs: Date.parse('2027-01-01T00:00:00Z'), force: true, beforeOpen });
  await assert.rejects(replay, (e: unknown) => e instanceof OffsetOutOfRangeError && /deleted before they were read/.test(e.message));
  assert.deepEqual(await ownStagingFolders(), []);
  assert.equal((await tableCounts(job)).snapshots, snapshots, 'nothing committed');
});

test('a replay window holding only the repeats of events kept before it adds nothing, forced or not', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 40, 17);
  const originals = messagesOf(await readBounded(await rangesToEnd(job.topics[0]!))).slice(0, 3);
  // Their repeats in the other datacenter's topic, stamped weeks after them.
  await produceRecords(originals.map((m) => ({ topic: job.topics[1]!, key: null, value: m.value!, timestampMs: Date.parse('2026-11-28T00:00:00Z') })));
  const first = await drain(job);
  assert.equal(first.deduplicated, 3);
  const original = await contentHash(job);
  assert.equal((await cli(job, 'merge')).code, 0);
  const config = await loadConfig(undefined, job.env);
  const merged = await stateHashes(warehouseOf(config, silentLogger()));
  const window = ['--from', '2026-11-27T00:00:00Z', '--to', '2026-11-29T00:00:00Z'];
  for (const force of [[], ['--force']]) {
    const r = await cli(job, 'drain', ...window, ...force);
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as { consumed: number; written: number; deduplicated: number };
    assert.deepEqual([out.consumed, out.written, out.deduplicated], [3, 0, 3], `${force.join('')}: ${r.out}`);
    assert.equal(await contentHash(job), original, `${force.join('')}: no event doubled`);
    const merge = await cli(job, 'merge');
    assert.equal(merge.code, 0, merge.err);
    assert.deepEqual(await stateHashes(warehouseOf(config, silentLogger())), merged, `${force.join('')}: the state is unchanged`);
    // The repeats the replay wrote and removed in one commit were never merged: nothing to fold again.
    const tables = (JSON.parse(merge.out) as { tables: { refoldedKeys?: number }[] }).tables;
    assert.deepEqual(tables.map((t) => t.refoldedKeys), tables.map(() => undefined), `${force.join('')}: ${merge.out}`);
  }
});

test('events with an empty meta.id (the schema allows it) are all kept, by the drain and by a forced replay of their window', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 40, 19);
  const [a, b] = messagesOf(await readBounded(await rangesToEnd(job.topics[0]!))).slice(0, 2);
  const withEmptyId = (value: Buffer): Buffer => {
    const event = JSON.parse(value.toString('utf8')) as { meta: { id: string } };
    event.meta.id = '';
    return Buffer.from(JSON.stringify(event));
  };
  // One before the replay window, one in it.
  await produceRecords([
    { topic: job.topics[0]!, key: null, value: withEmptyId(a!.value!) },
    { topic: job.topics[1]!, key: null, value: withEmptyId(b!.value!), timestampMs: Date.parse('2026-11-28T00:00:00Z') },
  ]);
  const first = await drain(job);
  assert.deepEqual([first.written, first.deduplicated], [42, 0]);
  const drained = await contentHash(job);
  const r = await cli(job, 'drain', '--from', '2026-11-27T00:00:00Z', '--to', '2026-11-29T00:00:00Z', '--force');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { consumed: number; written: number; deduplicated: number };
  assert.deepEqual([out.consumed, out.written, out.deduplicated], [1, 1, 0], r.out);
  assert.equal(await contentHash(job), drained, 'the event in the window is replaced, not taken for a repeat of the one before it');
});

test('the visibility stream is planned again after the page change drain: retention moving its log start meanwhile is a gap, refused or accepted', { timeout: 300_000 }, async () => {
  const base = newJob();
  const visibilityTopic = await createTestTopic('mwlake.test.drain.rvc', 1);
  const job = { ...base, env: { ...base.env, MWLAKE_VISIBILITY_TOPICS: visibilityTopic } };
  await produce(job, 50, 6);
  const legacy = (i: number) => ({
    $schema: '/mediawiki/revision/visibility-change/1.0.0',
    database: 'enwiki',
    meta: { domain: 'en.wikipedia.org', dt: '2026-11-20T10:00:00Z', id: `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}`, stream: 'mediawiki.revision-visibility-change' },
    page_id: 1,
    page_namespace: 0,
    page_title: 'X',
    performer: { user_groups: ['*'], user_id: 7, user_text: 'Oversighter' },
    rev_id: 100 + i,
    rev_timestamp: '2026-11-01T00:00:00Z',
    visibility: { text: false, user: true, comment: true },
  });
  const produceLegacy = (from: number, n: number) => produceRecords(Array.from({ length: n }, (_, i) => ({ topic: visibilityTopic, key: null, value: Buffer.from(JSON.stringify(legacy(from + i))) })));
  await produceLegacy(0, 2);
  assert.equal((await drain(job)).visibility?.consumed, 2);
  await produce(job, 20, 7);
  await produceLegacy(2, 10);
  // While the page change drain runs, retention removes offsets 2..7 of the visibility topic, unread.
  const expire = (before: bigint) => async () => {
    await withAdmin((a) => a.deleteRecords(visibilityTopic, [{ partition: 0, beforeOffset: before }]));
  };
  await assert.rejects(drain(job, { beforeCommit: expire(8n) }), (e: unknown) => e instanceof OffsetOutOfRangeError && e.message.includes(`${visibilityTopic}:0`));
  // With --allow-gap the gap is accepted even when it grows during the run (to 2..15): the stream
  // reads on from the log start it has when its turn comes, not from the one at the run's start.
  await produce(job, 20, 8);
  await produceLegacy(12, 10);
  const accepted = await drain(job, { allowGap: true, beforeCommit: expire(16n) });
  assert.equal(accepted.consumed, 20, 'the first run committed its page changes');
  assert.deepEqual([accepted.visibility?.consumed, Object.keys(accepted.visibility?.gaps ?? {})], [6, [`${visibilityTopic}:0`]]);
});

test('a run whose events are mostly invalid fails 65 before its commit, naming the error types; with the check off it commits', { timeout: 300_000 }, async () => {
  const job = newJob();
  const r = await cli(job, 'gen', '--seed', '12', '--events', '200', '--start', '2026-11-01', '--wikis', 'enwiki', '--bad-fraction', '0.9', '--stream', job.stream, '--partitions', '1', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
  assert.equal(r.code, 0, r.err);
  const errorTopic = `${String(job.env['MWLAKE_JOB_NAME'])}.error`;
  await assert.rejects(drain(job), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'DATA');
    assert.match(e.message, new RegExp(`^\\d+ of the \\d+ events read from eqiad\\.${job.stream}, codfw\\.${job.stream} are invalid \\([a-z_]+ \\d+.*\\), more than drain\\.max_error_ratio \\(0\\.5\\) allows: this stream.s events are not committed`));
    assert.ok(e.message.includes(errorTopic), e.message);
    return true;
  });
  assert.equal((await tableCounts(job)).snapshots, 0, 'nothing committed');
  const sent = await withAdmin((a) => a.fetchEndOffsets([errorTopic]));
  assert.ok(sent.reduce((n, p) => n + p.offset, 0n) > 0n, 'the error events were produced for the diagnosis');
  const config = await loadConfig(undefined, job.env);
  const off = await runDrain({ config: { ...config, drain: { ...config.drain, maxErrorRatio: 1 } }, warehouse: warehouseOf(config, silentLogger()), logger: silentLogger() });
  assert.equal(off.consumed, 200, 'the next run reads the same events again');
  assert.ok(off.errored > 0.5 * (off.written + off.errored), `errored ${off.errored} of ${off.written + off.errored}`);
  assert.equal((await tableCounts(job)).snapshots, 1);
  // A forced replay of such a window replaces the stored rows only: the invalid events had none.
  const forced = await cli(job, 'drain', '--from', '2026-10-01T00:00:00Z', '--to', '2027-01-01T00:00:00Z', '--force');
  assert.equal(forced.code, 0, forced.err);
  assert.equal((JSON.parse(forced.out) as { replaced: number }).replaced, off.written);
});
