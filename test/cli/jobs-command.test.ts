// The job commands' common flags through the CLI: an empty value (a script's unset variable) is a usage error.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { config } from '../../src/cli/commands/jobs.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { inTempDir } from '../helpers/temp-dir.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { createTestTopic, KAFKA_BROKERS, produceRecords, requireBroker, withAdmin } from '../helpers/kafka.js';
import { EVENTS_SCHEMA, EVENTS_SPEC, KAFKA_OFFSETS_PROPERTY } from '../../src/events/events-table.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, warehouseAt } from '../merge/merge-fixture.js';

function cli(...args: string[]): Promise<CliResult> {
  return runCliCaptured(args);
}

test('an empty --warehouse, --dumps-root, --brokers, --job-name or --config is refused (64), naming the flag', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    const cases: [string, string[]][] = [
      ['--warehouse', ['drain', '--job-name', 'j', '--warehouse', '']],
      ['--warehouse', ['merge', '--job-name', 'j', '--warehouse', ' ']],
      ['--dumps-root', ['dump', '--job-name', 'j', '--warehouse', dir, '--dumps-root', '', '--date', '2026-11-02']],
      ['--brokers', ['status', '--job-name', 'j', '--warehouse', dir, '--brokers', '']],
      ['--job-name', ['drain', '--warehouse', dir, '--job-name', '']],
      ['--config', ['query', '--config', '', 'SELECT 1']],
    ];
    for (const [flag, args] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, ExitCode.Usage, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`^mwlake: ${flag} is empty`, 'm'));
    }
    assert.deepEqual(await readdir(dir), []);
  });
});

test('a flag the command would ignore is refused (64), naming it: --brokers where no Kafka is read, --job-name for query', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    const cases: string[][] = [
      ['merge', '--brokers', '127.0.0.1:9092'],
      ['dump', '--brokers', '127.0.0.1:9092', '--date', '2026-11-02'],
      ['maintain', '--brokers', '127.0.0.1:9092'],
      ['query', '--brokers', '127.0.0.1:9092', 'SELECT 1'],
      ['query', '--job-name', 'j', 'SELECT 1'],
    ];
    for (const args of cases) {
      const r = await cli(args[0]!, '--warehouse', dir, ...args.slice(1));
      assert.equal(r.code, ExitCode.Usage, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`unknown option '${args[1]}'`), args.join(' '));
    }
    assert.deepEqual(await readdir(dir), []);
  });
});

test('kafka.sasl needs the password only in the commands that connect to Kafka: merge, dump and maintain run without it', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    const job = join(dir, 'job.yaml');
    await writeFile(job, 'job_name: j\nwarehouse: wh\nkafka:\n  sasl:\n    username: u\n');
    await mkdir(join(dir, 'wh'));
    for (const args of [['merge'], ['maintain'], ['dump', '--date', '2026-11-02']]) {
      const r = await cli(...args, '--config', job, '--dry-run');
      // The dump gets past its configuration to find nothing merged (65), as its real run would.
      assert.equal(r.code, args[0] === 'dump' ? ExitCode.Data : ExitCode.Ok, `${args[0]}: ${r.err}`);
      assert.doesNotMatch(r.err, /kafka\.sasl/);
    }
    for (const args of [['drain', '--dry-run'], ['nightly', '--dry-run'], ['status']]) {
      const r = await cli(...args, '--config', job);
      assert.equal(r.code, ExitCode.Config, `${args[0]}: ${r.err}`);
      assert.match(r.err, /kafka\.sasl needs a username and MWLAKE_KAFKA_SASL_PASSWORD/);
    }
  });
});

test('--max-events and --max-bytes take a whole number of at least 1 (0 still read a first batch), refused (64) otherwise', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    for (const [flag, value] of [['--max-events', '0'], ['--max-bytes', '0'], ['--max-events', '2.5'], ['--max-bytes', '-1']]) {
      const r = await cli('drain', '--job-name', 'j', '--warehouse', dir, '--brokers', '127.0.0.1:1', `${flag}=${value}`);
      assert.equal(r.code, ExitCode.Usage, `${flag} ${value}: ${r.err}`);
      assert.match(r.err, new RegExp(`^mwlake: ${flag} must be a whole number of at least 1, found "${value}"`, 'm'));
    }
    assert.deepEqual(await readdir(dir), []);
  });
});

test('kafka.sasl against a broker listener without SASL exits 78 naming kafka.sasl; an unreachable broker stays 69', { timeout: 60_000 }, async () => {
  await requireBroker();
  await inTempDir('mwlake-flags-', async (dir) => {
    const job = join(dir, 'job.yaml');
    await writeFile(job, 'job_name: j\nwarehouse: wh\nkafka:\n  topics: [t]\n  sasl:\n    mechanism: scram-sha-512\n    username: u\n');
    const env = { MWLAKE_KAFKA_SASL_PASSWORD: 'p' };
    // The test broker's listener is PLAINTEXT.
    const mismatch = await runCliCaptured(['drain', '--config', job, '--brokers', KAFKA_BROKERS.join(',')], env);
    assert.equal(mismatch.code, ExitCode.Config, mismatch.err);
    assert.match(mismatch.err, /has no SASL on this listener, yet kafka\.sasl in the job file turns SASL on/);
    // status prints what it could read, and exits as the lag read failed: 78 here, not 69 (retried).
    // (The drain made the warehouse.)
    const status = await runCliCaptured(['status', '--config', job, '--brokers', KAFKA_BROKERS.join(','), '--json'], env);
    assert.equal(status.code, ExitCode.Config, status.err);
    assert.match(status.err, /the Kafka lag could not be read .*has no SASL on this listener/);
    assert.equal((JSON.parse(status.out) as { kafka: { errorCode: string } }).kafka.errorCode, 'CONFIG');
    // In a child process: the logs are stderr lines, as cron and Airflow see them.
    const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
    const closed = spawnSync(process.execPath, [main, '--log-format', 'json', 'drain', '--config', job, '--brokers', '127.0.0.1:9'], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(closed.status, ExitCode.Unavailable, closed.stderr);
    assert.match(closed.stderr, /cannot reach Kafka \(brokers 127\.0\.0\.1:9\)/);
    // Each retried connection is one warning, without kafkajs's stack trace (debug logs keep it).
    const retries = closed.stderr.split('\n').filter((line) => line.includes('"kafkajs"'));
    assert.ok(retries.length > 0, closed.stderr);
    for (const line of retries) assert.equal('stack' in JSON.parse(line), false, line);
  });
});

test('status exits with the code of a stream whose lag needs a person (65: an events table without offsets), even beside the lag of the other stream', { timeout: 60_000 }, async () => {
  await requireBroker();
  const [topic, visibilityTopic] = [await createTestTopic('mwlake.test.status', 1), await createTestTopic('mwlake.test.status.rvc', 1)];
  await inTempDir('mwlake-status-', async (dir) => {
    // Rows appended by hand, as another tool might: a snapshot that records no Kafka offsets.
    await appendBatch(warehouseAt(join(dir, 'wh')), generatedEvents(3, 5));
    const job = join(dir, 'job.yaml');
    await writeFile(job, `job_name: j\nwarehouse: wh\nkafka:\n  topics: [${topic}]\n  visibility_topics: [${visibilityTopic}]\n`);
    const r = await runCliCaptured(['status', '--config', job, '--brokers', KAFKA_BROKERS.join(','), '--json']);
    assert.equal(r.code, ExitCode.Data, r.err);
    const kafka = (JSON.parse(r.out) as { kafka: { lag: Record<string, string>; errorCode: string } }).kafka;
    assert.equal(kafka.lag[`${visibilityTopic}:0`], '0', 'the other stream\'s lag is there');
    assert.equal(kafka.errorCode, 'DATA');
    assert.match(r.err, /the Kafka lag of some topics could not be read .*records Kafka offsets/);
  });
});

test('status reports what the next drain would refuse (65), with the lag from where it would read: a stored offset beyond the end, retention past a partition added since', { timeout: 60_000 }, async () => {
  await requireBroker();
  const topic = await createTestTopic('mwlake.test.status.next', 2);
  await produceRecords(Array.from({ length: 10 }, (_, i) => ({ topic, key: null, value: Buffer.from(`r${i}`), partition: 1 })));
  await withAdmin((a) => a.deleteRecords(topic, [{ partition: 1, beforeOffset: 4n }]));
  await inTempDir('mwlake-status-next-', async (dir) => {
    // A drain that stored offset 100 of partition 0 (the topic was recreated since) and none of partition 1 (added since).
    const table = await warehouseAt(join(dir, 'wh')).loadOrCreateTable(EVENTS_NS, EVENTS_NAME, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
    await table.commit({ operation: 'append', summary: { [KAFKA_OFFSETS_PROPERTY]: JSON.stringify({ [topic]: { '0': '100' } }) } });
    const job = join(dir, 'job.yaml');
    await writeFile(job, `job_name: j\nwarehouse: wh\nkafka:\n  topics: [${topic}]\n`);
    const r = await runCliCaptured(['status', '--config', job, '--brokers', KAFKA_BROKERS.join(','), '--json']);
    assert.equal(r.code, ExitCode.Data, r.err);
    const kafka = (JSON.parse(r.out) as { kafka: { lag: Record<string, string>; errorCode: string; error: string } }).kafka;
    assert.deepEqual(kafka.lag, { [`${topic}:0`]: '0', [`${topic}:1`]: '6' });
    assert.equal(kafka.errorCode, 'DATA');
    assert.match(kafka.error, new RegExp(`stored offset 100 of ${topic}:0 is beyond its end offset 0 .*; retention deleted offsets 0\\.\\.3 of ${topic}:1 before this job read them`));
  });
});

test('a replay refuses (64) the drain flags it would ignore: --max-events, --max-bytes, --allow-gap, --reset-offsets; a missing --to is named', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    const replay = ['drain', '--warehouse', join(dir, 'wh'), '--job-name', 'j', '--brokers', '127.0.0.1:9', '--from', '2026-11-01T00:00:00Z'];
    for (const extra of [['--max-events', '10'], ['--max-bytes', '1000'], ['--allow-gap'], ['--reset-offsets', 't']]) {
      const r = await cli(...replay, '--to', '2026-11-02T00:00:00Z', ...extra);
      assert.equal(r.code, ExitCode.Usage, `${extra[0]}: ${r.err}`);
      assert.match(r.err, new RegExp(`${extra[0]} applies to a drain, not a replay`));
    }
    const noTo = await cli(...replay);
    assert.equal(noTo.code, ExitCode.Usage, noTo.err);
    assert.match(noTo.err, /found --from "2026-11-01T00:00:00Z" and no --to$/m);
    // A mistyped --warehouse: a replay recovers rows of existing tables, so it fails and creates nothing.
    const typo = await cli(...replay, '--to', '2026-11-02T00:00:00Z');
    assert.equal(typo.code, ExitCode.Data, typo.err);
    assert.match(typo.err, /no warehouse at .*wh/);
    await assert.rejects(access(join(dir, 'wh')), 'no warehouse folder made');
  });
});

test('an empty --reset-offsets (a script\'s unset variable) is refused (64), not run as a plain drain', async () => {
  await inTempDir('mwlake-flags-', async (dir) => {
    for (const empty of ['', ' , ']) {
      const r = await cli('drain', '--warehouse', join(dir, 'wh'), '--job-name', 'j', '--brokers', '127.0.0.1:9', '--reset-offsets', empty);
      assert.equal(r.code, ExitCode.Usage, r.err);
      assert.match(r.err, /--reset-offsets takes topic names separated by commas/);
    }
  });
});

test('MWLAKE_KAFKA_SASL_* set for a job file without kafka.sasl is warned, naming them: the connection goes without SASL', async () => {
  await inTempDir('mwlake-sasl-env-', async (dir) => {
    await mkdir(join(dir, 'wh'));
    const job = join(dir, 'job.yaml');
    await writeFile(job, 'job_name: j\nwarehouse: wh\n');
    const warnings = async (env: NodeJS.ProcessEnv, usesKafka: boolean): Promise<string[]> => {
      const { logger, messages } = capturingLogger();
      const sink = new Writable({ write: (_c, _e, done) => done() });
      await config({ config: job }, { logger: () => logger, stdout: sink, stderr: sink, env, progressStream: () => sink }, { usesKafka });
      return messages();
    };
    assert.deepEqual(await warnings({ MWLAKE_KAFKA_SASL_USERNAME: 'u', MWLAKE_KAFKA_SASL_PASSWORD: 'p' }, true), [
      `MWLAKE_KAFKA_SASL_USERNAME and MWLAKE_KAFKA_SASL_PASSWORD are set, but ${job} has no kafka.sasl section, which turns SASL on: connecting without SASL`,
    ]);
    assert.deepEqual(await warnings({ MWLAKE_KAFKA_SASL_PASSWORD: 'p' }, false), [], 'not by the commands that never connect');
    assert.deepEqual(await warnings({ MWLAKE_KAFKA_SASL_PASSWORD: '' }, true), [], 'an empty variable is unset');
  });
});
