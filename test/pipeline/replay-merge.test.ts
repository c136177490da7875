// The repairs README describes, end to end against the real broker and through the CLI: rolling
// the events table back and draining again, and `drain --from/--to --force` over stored rows that
// were wrong, each followed by `mwlake merge`, leave the state a clean drain and merge makes.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { fieldIdsOption, sqlString } from '../../src/duckdb/iceberg-types.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { openEventsTable } from '../../src/pipeline/drain.js';
import { DRAIN_OFFSETS_LEFT_PROPERTY, KAFKA_LAST_RECORDS_PROPERTY } from '../../src/events/events-table.js';
import { warehouseOf } from '../../src/pipeline/warehouse.js';
import { describeParquetFile } from '../../src/parquet/footer-data-file.js';
import { KAFKA_BROKERS, requireBroker, uniqueName } from '../helpers/kafka.js';
import { stateHashes } from '../merge/merge-fixture.js';
import { runCliCaptured } from '../helpers/cli.js';

let dir: string;
before(async () => {
  await requireBroker();
  dir = await mkdtemp(join(tmpdir(), 'mwlake-replay-merge-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Job {
  readonly env: NodeJS.ProcessEnv;
  readonly stream: string;
}

function newJob(stream = uniqueName('mwlake.test.repair').replaceAll('-', '_')): Job {
  const topics = [`eqiad.${stream}`, `codfw.${stream}`];
  const wh = join(dir, `${stream}-${randomUUID().slice(0, 8)}`);
  return { stream, env: { MWLAKE_JOB_NAME: `job_${stream}`, MWLAKE_WAREHOUSE: wh, KAFKA_BROKERS: KAFKA_BROKERS.join(','), MWLAKE_TOPICS: topics.join(',') } };
}

async function cli(job: Job, ...args: string[]): Promise<string> {
  const { code, out, err } = await runCliCaptured(args, job.env);
  assert.equal(code, 0, `mwlake ${args.join(' ')}: ${err}`);
  return out;
}

async function produce(job: Job, events: number, seed: number): Promise<void> {
  await cli(job, 'gen', '--seed', String(seed), '--events', String(events), '--start', '2026-11-01', '--wikis', 'enwiki,dewiki', '--bad-fraction', '0', '--stream', job.stream, '--partitions', '2', '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(','));
}

async function context(job: Job) {
  const config = await loadConfig(undefined, job.env);
  const warehouse = warehouseOf(config, silentLogger());
  return { config, warehouse, events: await openEventsTable(warehouse, config), name: `${config.events.namespace}.${config.events.table}` };
}

test('rolling the events table back and draining again: the merge goes on, and the state is a clean run\'s', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 200, 21);
  await cli(job, 'drain');
  await cli(job, 'merge');
  const { name, events } = await context(job);
  const first = events.currentSnapshot()!.snapshotId;
  await produce(job, 200, 22);
  await cli(job, 'drain');
  await cli(job, 'merge');
  await cli(job, 'table', 'rollback', name, '--to', String(first));
  const again = JSON.parse(await cli(job, 'drain')) as { written: number };
  assert.ok(again.written > 0, 'the drain re-reads what the rollback dropped');
  await cli(job, 'merge');

  const clean = newJob(job.stream);
  await cli(clean, 'drain');
  await cli(clean, 'merge');
  assert.deepEqual(await stateHashes((await context(job)).warehouse), await stateHashes((await context(clean)).warehouse));
});

test('drain --force over stored rows that were wrong, then merge: the state is a clean run\'s', { timeout: 300_000 }, async () => {
  const job = newJob();
  await produce(job, 300, 23);
  await cli(job, 'drain');
  // A faulty drain stored one file's comments wrong (the keys are right): swap in such a copy.
  let { events } = await context(job);
  const victim = (await events.planFiles()).dataFiles.sort((a, b) => b.file.recordCount - a.file.recordCount)[0]!.file;
  const location = victim.filePath.replace(/\.parquet$/, '-wrong.parquet');
  const db = await openDuckDb();
  try {
    await db.run(`COPY (SELECT * REPLACE (struct_update(revision, comment := 'WRONG') AS revision) FROM read_parquet(${sqlString(events.storage.localPath(victim.filePath)!)}))
      TO ${sqlString(events.storage.localPath(location)!)} (FORMAT parquet, FIELD_IDS ${fieldIdsOption(events.schema())})`);
  } finally {
    await db.close();
  }
  const wrong = await describeParquetFile({ storage: events.storage, location, schema: events.schema(), partition: victim.partition });
  events = (await events.commit({ removeDataFiles: [victim.filePath], addDataFiles: [wrong] })).table;
  await cli(job, 'merge');
  const clean = newJob(job.stream);
  await cli(clean, 'drain');
  await cli(clean, 'merge');
  const expected = await stateHashes((await context(clean)).warehouse);
  assert.notDeepEqual(await stateHashes((await context(job)).warehouse), expected, 'the wrong comments reached state');

  const identities = events.summaryProperty(KAFKA_LAST_RECORDS_PROPERTY)?.value;
  assert.ok(identities !== undefined);
  const offsetsLeft = events.summaryProperty(DRAIN_OFFSETS_LEFT_PROPERTY)?.value;
  assert.equal(offsetsLeft, '0');
  const forced = JSON.parse(await cli(job, 'drain', '--from', '2026-10-01T00:00:00Z', '--to', '2027-01-01T00:00:00Z', '--force')) as { replaced: number };
  assert.ok(forced.replaced >= victim.recordCount);
  // The replay's snapshot repeats the drain's bookkeeping: expiry may drop the drain's own.
  const replayed = (await context(job)).events.currentSnapshot()!.summary.properties;
  assert.equal(replayed[KAFKA_LAST_RECORDS_PROPERTY], identities);
  // Whether the last drain left events behind (dumps wait for it), too.
  assert.equal(replayed[DRAIN_OFFSETS_LEFT_PROPERTY], offsetsLeft);
  const merged = JSON.parse(await cli(job, 'merge')) as { tables: { refoldedKeys?: number }[] };
  assert.ok(merged.tables.every((t) => (t.refoldedKeys ?? 0) > 0), JSON.stringify(merged));
  assert.deepEqual(await stateHashes((await context(job)).warehouse), expected);
  // Rebuilt from the events (the README's procedure): the replaced keys fold in the ordinary
  // passes, since no stored row is there to replace, and the state is the same.
  await rm(join(String(job.env['MWLAKE_WAREHOUSE']), 'state'), { recursive: true });
  const rebuilt = JSON.parse(await cli(job, 'merge')) as { tables: { refoldedKeys?: number }[] };
  assert.ok(rebuilt.tables.every((t) => t.refoldedKeys === undefined), JSON.stringify(rebuilt));
  assert.deepEqual(await stateHashes((await context(job)).warehouse), expected);
});
