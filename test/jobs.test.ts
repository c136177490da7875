// The shipped job file: the YAML loads with every default; the shipped cron line runs under sh.
// The Airflow DAG is loaded and run by real Airflow in test/interop/airflow-dag.test.ts.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { duckDbMemory, loadConfig, DEFAULT_TOPICS, wikiSelection } from '../src/pipeline/config.js';
import { PAGES_TABLE, STATE_NAMESPACE } from '../src/merge/state-schema.js';
import { repoRoot } from './helpers/python.js';
import { inTempDir } from './helpers/temp-dir.js';

test('jobs/page_content_change.yaml loads; env and flags override it; job_name is required', async () => {
  const file = join(repoRoot, 'jobs', 'page_content_change.yaml');
  const c = await loadConfig(file, {});
  assert.equal(c.jobName, 'mwlake_page_content_change');
  assert.deepEqual(c.kafka.topics, DEFAULT_TOPICS);
  assert.equal(c.warehouse, join(repoRoot, 'warehouse'));
  const o = await loadConfig(file, { KAFKA_BROKERS: 'k1:9092,k2:9092' }, { warehouse: '/tmp/w' });
  assert.deepEqual(o.kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.equal(o.warehouse, '/tmp/w');
  await assert.rejects(loadConfig(undefined, {}), /no job file given: pass --config FILE, or set --job-name or MWLAKE_JOB_NAME; job_name is required/);
  assert.equal(c.drain.workers, 0);
  assert.equal((await loadConfig(file, { MWLAKE_DRAIN_WORKERS: '2' })).drain.workers, 2);
  for (const bad of ['two', '-1', '1.5', '65']) {
    await assert.rejects(loadConfig(file, { MWLAKE_DRAIN_WORKERS: bad }), /MWLAKE_DRAIN_WORKERS must be a whole number from 0 to 64/, `MWLAKE_DRAIN_WORKERS=${JSON.stringify(bad)}`);
  }
});

test('an empty variable counts as unset; an empty topic list is refused', async () => {
  const file = join(repoRoot, 'jobs', 'page_content_change.yaml');
  const c = await loadConfig(file, { MWLAKE_TOPICS: '', KAFKA_BROKERS: '', MWLAKE_KAFKA_BROKERS: 'k9:9092', MWLAKE_DRAIN_WORKERS: '', MWLAKE_WAREHOUSE: '' });
  assert.deepEqual(c.kafka.topics, DEFAULT_TOPICS);
  assert.deepEqual(c.kafka.brokers, ['k9:9092']);
  assert.equal(c.drain.workers, 0);
  assert.equal(c.warehouse, join(repoRoot, 'warehouse'));
  await assert.rejects(loadConfig(file, { MWLAKE_TOPICS: ' , ' }), /MWLAKE_TOPICS is empty/);
  // `${A},${B}` with both unset must not turn the suppression stream off.
  await assert.rejects(loadConfig(file, { MWLAKE_VISIBILITY_TOPICS: ' , ' }), (e: Error & { code?: string }) => e.code === 'CONFIG' && /^MWLAKE_VISIBILITY_TOPICS is empty/.test(e.message));
  // A topic listed twice is read once.
  assert.deepEqual((await loadConfig(file, { MWLAKE_TOPICS: 'a.v1, b.v1,a.v1' })).kafka.topics, ['a.v1', 'b.v1']);
  await inTempDir('mwlake-topics-', async (dir) => {
    const empty = join(dir, 'job.yaml');
    await writeFile(empty, 'job_name: j\nkafka:\n  topics: []\n');
    await assert.rejects(loadConfig(empty, {}), (e: unknown) => e instanceof Error && e.message.includes(`${empty}: kafka.topics is empty`));
    await writeFile(empty, "job_name: j\nkafka:\n  topics: [' a.v1', a.v1]\n");
    assert.deepEqual((await loadConfig(empty, {})).kafka.topics, ['a.v1']);
  });
});

test('memory_limit_mb: unset leaves DuckDB its default; below 256 or above 16 TiB (a size in bytes) fails naming the key', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\n');
    const unset = await loadConfig(file, {});
    assert.equal(unset.memoryLimitMb, undefined);
    assert.deepEqual(duckDbMemory(unset), {});
    await writeFile(file, 'job_name: x\nmemory_limit_mb: 2048\n');
    assert.deepEqual(duckDbMemory(await loadConfig(file, {})), { memoryLimit: '2048MiB' });
    for (const bad of ['100', '-1', 'lots']) {
      await writeFile(file, `job_name: x\nmemory_limit_mb: ${bad}\n`);
      await assert.rejects(loadConfig(file, {}), /memory_limit_mb must be/, bad);
    }
    await writeFile(file, 'job_name: x\nmemory_limit_mb: 16777216\n');
    assert.equal((await loadConfig(file, {})).memoryLimitMb, 16 * 1024 * 1024);
    // 8 GiB written in bytes: DuckDB took 8 PiB and merge and dump failed as a bug (70).
    await writeFile(file, 'job_name: x\nmemory_limit_mb: 8589934592\n');
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /job\.yaml: memory_limit_mb is in MiB and must be at most 16777216 \(16 TiB\), found 8589934592 \(a size in bytes\?\)/);
      return true;
    });
  });
});

test('kafka.tls is a boolean like every other: "yes" is refused, not read as plaintext', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\nkafka:\n  tls: true\n');
    assert.equal((await loadConfig(file, {})).kafka.tls, true);
    await writeFile(file, 'job_name: x\nkafka:\n  tls: "yes"\n');
    await assert.rejects(loadConfig(file, {}), /kafka\.tls must be true or false, found "yes"/);
  });
});

test('kafka.sasl.mechanism is checked: a misspelt one fails as configuration (78), not as Kafka unavailable', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    const env = { MWLAKE_KAFKA_SASL_PASSWORD: 'pw' };
    await writeFile(file, 'job_name: x\nkafka:\n  sasl:\n    username: u\n');
    assert.equal((await loadConfig(file, env)).kafka.sasl?.mechanism, 'scram-sha-512');
    await writeFile(file, 'job_name: x\nkafka:\n  sasl:\n    mechanism: SCRAM-SHA-256\n    username: u\n');
    assert.equal((await loadConfig(file, env)).kafka.sasl?.mechanism, 'scram-sha-256');
    await writeFile(file, 'job_name: x\nkafka:\n  sasl:\n    mechanism: scram-sha512\n    username: u\n');
    await assert.rejects(loadConfig(file, env), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /kafka\.sasl\.mechanism must be one of plain, scram-sha-256, scram-sha-512, found "scram-sha512"/);
      assert.ok(error.message.startsWith(file), error.message);
      return true;
    });
  });
});

test('an empty dumps.wikis is refused (78), not read as "dump no wiki"', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\ndumps:\n  wikis: [enwiki, " dewiki"]\n');
    assert.deepEqual((await loadConfig(file, {})).dumps.wikis, ['enwiki', 'dewiki']);
    for (const empty of ['[]', '" "', '","']) {
      await writeFile(file, `job_name: x\ndumps:\n  wikis: ${empty}\n`);
      await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.equal(error.message.startsWith(`${file}: dumps.wikis is empty`), true, error.message);
        return true;
      }, empty);
    }
    // all alone, however listed, as --wiki takes it.
    assert.deepEqual(wikiSelection(['all', 'all']), 'all', '--wiki all,all');
    assert.deepEqual(wikiSelection(['enwiki', 'enwiki']), ['enwiki']);
    for (const all of ['all', '[all]', '"all,"', '[" all ", all]']) {
      await writeFile(file, `job_name: x\ndumps:\n  wikis: ${all}\n`);
      assert.equal((await loadConfig(file, {})).dumps.wikis, 'all', all);
    }
    for (const all of ['[all, enwiki]', '[ALL]', 'All', '"enwiki,all"']) {
      await writeFile(file, `job_name: x\ndumps:\n  wikis: ${all}\n`);
      await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => error.code === 'CONFIG' && error.message.startsWith(`${file}: dumps.wikis is `) && error.message.includes('write all alone and in lower case'), all);
    }
  });
});

test('a bad value from the environment or a flag is blamed on it, not on the job file', async () => {
  const file = join(repoRoot, 'jobs', 'page_content_change.yaml');
  const cases: [NodeJS.ProcessEnv, { jobName?: string }, RegExp][] = [
    [{ MWLAKE_PARQUET_ENCODER: 'parquet_wasm' }, {}, /^MWLAKE_PARQUET_ENCODER must be duckdb or parquet-wasm, found "parquet_wasm"$/],
    [{ MWLAKE_TOPICS: ' , ' }, {}, /^MWLAKE_TOPICS is empty/],
    [{ MWLAKE_JOB_NAME: 'my job' }, {}, /^MWLAKE_JOB_NAME "my job" must be letters/],
  ];
  for (const [env, flags, expected] of cases) {
    await assert.rejects(loadConfig(file, env, flags), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, expected);
      return true;
    }, JSON.stringify([env, flags]));
  }
  // A flag's bad value is a usage error (64), as for --brokers.
  for (const jobName of ['a/b', 'x'.repeat(300)]) {
    await assert.rejects(loadConfig(file, {}, { jobName }), (error: Error & { code?: string }) => error.code === 'USAGE' && error.message.startsWith('--job-name '), jobName);
  }
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const own = join(dir, 'job.yaml');
    await writeFile(own, 'job_name: my job\n');
    await assert.rejects(loadConfig(own, {}), (error: Error) => error.message.startsWith(`${own}: job_name "my job" must be letters`));
  });
});

/** Each `dumps.<key>: value` in the job file `file` fails as configuration (78) with `<key> <message>`. */
async function refusesDumpsValues(file: string, key: string, cases: readonly (readonly [string, string])[]): Promise<void> {
  for (const [value, message] of cases) {
    await writeFile(file, `job_name: x\ndumps:\n  ${key}: ${value}\n`);
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.message, `${file}: dumps.${key} ${message}`);
      return true;
    });
  }
}

test('dumps.incr_delay_hours: 0 by default; whole hours up to a week, else refused (78) naming the key', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\n');
    assert.equal((await loadConfig(file, {})).dumps.incrDelayHours, 0);
    await writeFile(file, 'job_name: x\ndumps:\n  incr_delay_hours: 12\n');
    assert.equal((await loadConfig(file, {})).dumps.incrDelayHours, 12);
    await refusesDumpsValues(file, 'incr_delay_hours', [
      ['43200', 'must be at most 168 (a week), found 43200'],
      ['1.5', 'must be a whole number of at least 0, found 1.5'],
      ['-1', 'must be a whole number of at least 0, found -1'],
    ]);
  });
});

test('dumps.part_size_mb: unset by default (the dumps\' 2 GiB); whole MiB from 1 to 1 TiB, else refused (78) naming the key', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\n');
    assert.equal((await loadConfig(file, {})).dumps.partSizeMb, undefined);
    await writeFile(file, 'job_name: x\ndumps:\n  part_size_mb: 512\n');
    assert.equal((await loadConfig(file, {})).dumps.partSizeMb, 512);
    await refusesDumpsValues(file, 'part_size_mb', [
      ['2147483648', 'is in MiB and must be at most 1048576 (1 TiB), found 2147483648'],
      ['0', 'must be a whole number of at least 1, found 0'],
      ['0.5', 'must be a whole number of at least 1, found 0.5'],
    ]);
  });
});

test('drain.max_message_bytes: 0 is refused (78) instead of sending every event to the error stream', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\n');
    assert.equal((await loadConfig(file, {})).drain.maxMessageBytes, 10 * 1024 * 1024);
    await writeFile(file, 'job_name: x\ndrain:\n  max_message_bytes: 0\n');
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.message.startsWith(`${file}: drain.max_message_bytes must be a whole number of at least 1`), true, error.message);
      return true;
    });
  });
});

test('drain.max_message_bytes above 16 MiB is refused (78), naming the key and the limit: its error topic would take requests past a stock broker\'s 100 MiB', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, `job_name: x\ndrain:\n  max_message_bytes: ${16 * 1024 * 1024}\n`);
    assert.equal((await loadConfig(file, {})).drain.maxMessageBytes, 16 * 1024 * 1024);
    await writeFile(file, `job_name: x\ndrain:\n  max_message_bytes: ${16 * 1024 * 1024 + 1}\n`);
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /job\.yaml: drain\.max_message_bytes must be at most 16777216 \(16 MiB\), found 16777217: .*socket\.request\.max\.bytes \(100 MiB\)/);
      return true;
    });
  });
});

test('counts and sizes in the job file are whole numbers: fractions and values below their minimum are refused (78), naming the key', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    for (const [section, key, value, min] of [
      ['drain', 'max_events', '2.5', 1], ['drain', 'max_events', '0', 1], ['drain', 'max_bytes', '1.5', 1],
      ['maintenance', 'retain_last_snapshots', '2.5', 1], ['maintenance', 'retain_last_snapshots', '0', 1],
      ['maintenance', 'compact_min_input_files', '1', 2], ['drain', 'max_message_bytes', '1e6.5', 1],
    ] as const) {
      await writeFile(file, `job_name: x\n${section}:\n  ${key}: ${value}\n`);
      await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.ok(error.message.startsWith(`${file}: ${section}.${key} must be a whole number of at least ${min}`), error.message);
        return true;
      });
    }
    await writeFile(file, 'job_name: x\ndrain:\n  max_events: 3\nmaintenance:\n  retain_last_snapshots: 1\n  compact_min_input_files: 2\n');
    const c = await loadConfig(file, {});
    assert.deepEqual([c.drain.maxEvents, c.maintenance.retainLastSnapshots, c.maintenance.compactMinInputFiles], [3, 1, 2]);
  });
});

test('maintenance.target_file_size_mb below 1 and a job_name too long for its error topic are refused (78; 64 from --job-name)', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\nmaintenance:\n  target_file_size_mb: 0\n');
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => error.code === 'CONFIG' && error.message.startsWith(`${file}: maintenance.target_file_size_mb must be at least 1`));
    await writeFile(file, 'job_name: x\nmaintenance:\n  target_file_size_mb: 268435456\n');
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => error.code === 'CONFIG' && error.message.startsWith(`${file}: maintenance.target_file_size_mb is in MiB and must be at most 1048576`));
    await writeFile(file, 'job_name: x\n');
    assert.equal((await loadConfig(file, {}, { jobName: 'j'.repeat(243) })).jobName.length, 243);
    await assert.rejects(loadConfig(file, {}, { jobName: 'j'.repeat(244) }), (error: Error & { code?: string }) => error.code === 'USAGE' && error.message.startsWith('--job-name is 244 characters; at most 243'));
    await writeFile(file, `job_name: ${'j'.repeat(244)}\n`);
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => error.code === 'CONFIG' && error.message.startsWith(`${file}: job_name is 244 characters; at most 243`));
  });
});

test('kafka.sasl needs MWLAKE_KAFKA_SASL_PASSWORD only where Kafka is used, not to read the tables', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\nkafka:\n  sasl:\n    username: u\n');
    await assert.rejects(loadConfig(file, {}), /kafka\.sasl needs a username and MWLAKE_KAFKA_SASL_PASSWORD/);
    assert.equal((await loadConfig(file, {}, {}, { jobNameRequired: false })).kafka.sasl, undefined);
    assert.deepEqual((await loadConfig(file, { MWLAKE_KAFKA_SASL_PASSWORD: 'pw' }, {}, { jobNameRequired: false })).kafka.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'pw' });
  });
});

test('an empty kafka.sasl: turns SASL on (username and password from the environment), not off', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    for (const section of ['  sasl:\n', '  sasl: {}\n']) {
      await writeFile(file, `job_name: x\nkafka:\n${section}`);
      const env = { MWLAKE_KAFKA_SASL_USERNAME: 'u', MWLAKE_KAFKA_SASL_PASSWORD: 'pw' };
      assert.deepEqual((await loadConfig(file, env)).kafka.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'pw' });
      await assert.rejects(loadConfig(file, {}), /kafka\.sasl needs a username and MWLAKE_KAFKA_SASL_PASSWORD/);
    }
  });
});

test('a bad value names the file, then the key: "job.yaml: drain.workers", never "job.yaml.drain.workers" as if a path', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    for (const [yaml, key] of [
      ['memory_limit_mb: 4G\n', 'memory_limit_mb must be a non-negative number'],
      ['warehouse: 5\n', 'warehouse must be a non-empty string'],
      ['drain:\n  workers: two\n', 'drain.workers must be a non-negative number'],
      ['maintenance:\n  compact: "false"\n', 'maintenance.compact must be true or false'],
      ['kafka:\n  sasl: plain\n', 'kafka.sasl must be a mapping'],
      ['dumps: zstd\n', 'dumps must be a mapping'],
    ]) {
      await writeFile(file, `job_name: x\n${yaml}`);
      await assert.rejects(loadConfig(file, {}), (error: Error) => error.message.startsWith(`${file}: ${key}`), yaml);
    }
  });
});

test('kafka.error_topic_prefix: none by default; the error topic must be a Kafka topic name the job does not read (78)', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\n');
    assert.equal((await loadConfig(file, {})).kafka.errorTopic, 'x.error');
    await writeFile(file, 'job_name: x\nkafka:\n  error_topic_prefix: codfw.\n');
    assert.equal((await loadConfig(file, {})).kafka.errorTopic, 'codfw.x.error');
    for (const [yaml, message] of [
      ['kafka:\n  error_topic_prefix: "eqiad/"\n', /kafka\.error_topic_prefix "eqiad\/" makes the error topic "eqiad\/x\.error", not a Kafka topic name/],
      [`kafka:\n  error_topic_prefix: ${'p'.repeat(243)}\n`, /not a Kafka topic name/],
      ['kafka:\n  topics: [e.x.error]\n  error_topic_prefix: e.\n', /the error topic e\.x\.error is also a topic the job reads/],
    ] as const) {
      await writeFile(file, `job_name: x\n${yaml}`);
      await assert.rejects(loadConfig(file, {}), (e: Error & { code?: string }) => e.code === 'CONFIG' && message.test(e.message), yaml);
    }
  });
});

test('events.visibility_table the same as events.table is refused (78), not drained into one table', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    for (const text of ['events:\n  visibility_table: page_content_change\n', 'events:\n  table: revision_visibility_change\n', 'events:\n  table: t\n  visibility_table: t\n']) {
      await writeFile(file, `job_name: x\n${text}`);
      await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, /events\.table and events\.visibility_table are both/);
        assert.ok(error.message.startsWith(file), error.message);
        return true;
      }, text);
    }
  });
});

test("events.namespace may not be the state tables' namespace (78)", async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, `job_name: x\nevents:\n  namespace: ${STATE_NAMESPACE}\n  table: ${PAGES_TABLE}\n`);
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.ok(error.message.startsWith(`${file}: events.namespace must not be "${STATE_NAMESPACE}"`), error.message);
      return true;
    });
  });
});

test('a topic name Kafka refuses fails as configuration (78), naming where it came from', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\nkafka:\n  topics: [eqiad.a.v1, "codfw a.v1"]\n');
    await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.message, `${file}: kafka.topics holds "codfw a.v1", not a Kafka topic name (letters, digits, '.', '_', '-', at most 249)`);
      return true;
    });
    await writeFile(file, 'job_name: x\n');
    await assert.rejects(loadConfig(file, { MWLAKE_TOPICS: 'a.v1;b.v1' }), /^ConfigError: MWLAKE_TOPICS holds "a\.v1;b\.v1", not a Kafka topic name/);
    await assert.rejects(loadConfig(file, { MWLAKE_VISIBILITY_TOPICS: 'x/y' }), /^ConfigError: MWLAKE_VISIBILITY_TOPICS holds "x\/y"/);
    await assert.rejects(loadConfig(file, { MWLAKE_TOPICS: 'a'.repeat(250) }), /not a Kafka topic name/);
    assert.deepEqual((await loadConfig(file, { MWLAKE_TOPICS: 'eqiad.mediawiki.page_content_change.v1,A-b_c.9' })).kafka.topics, ['eqiad.mediawiki.page_content_change.v1', 'A-b_c.9']);
  });
});

test('bad brokers fail naming where they came from: flag, variable or job file key', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\nkafka:\n  brokers: [kafka1]\n');
    await assert.rejects(loadConfig(file, {}), (e: Error) => e.message === `${file}: kafka.brokers must be a non-empty list of host:port, found ["kafka1"]`);
    await assert.rejects(loadConfig(file, { KAFKA_BROKERS: 'k1:9092;k2:9092' }), /^ConfigError: KAFKA_BROKERS must be a non-empty list of host:port, found "k1:9092;k2:9092"/);
    await assert.rejects(loadConfig(file, { MWLAKE_KAFKA_BROKERS: ',' }), /^ConfigError: MWLAKE_KAFKA_BROKERS must be/);
    // A flag's bad value is a usage error (64), as for every other flag.
    await assert.rejects(loadConfig(file, {}, { brokers: 'k1' }), (e: Error & { code?: string; exitCode?: number }) => e.code === 'USAGE' && e.exitCode === 64 && /^--brokers must be a non-empty list of host:port, found "k1"/.test(e.message));
    assert.deepEqual((await loadConfig(file, { KAFKA_BROKERS: 'k1:9092, k2:9093' })).kafka.brokers, ['k1:9092', 'k2:9093']);
    // query and table never connect to Kafka, nor do merge, dump and maintain.
    assert.deepEqual((await loadConfig(file, {}, {}, { jobNameRequired: false })).kafka.brokers, ['kafka1']);
    assert.deepEqual((await loadConfig(file, { KAFKA_BROKERS: 'k1;k2' }, {}, { usesKafka: false })).kafka.brokers, ['k1;k2']);
  });
});

test('a misspelt key in a job file fails naming it and the key it resembles', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const cases: [string, RegExp][] = [
      ['job_name: x\nmaintenence:\n  target_file_size_mb: 1\n', /unknown key maintenence; did you mean maintenance\?/],
      ['job_name: x\ndumps:\n  compresion: zstd\n', /unknown key dumps\.compresion; did you mean compression\? \(known in dumps: root, wikis, compression, namespace_map, incr_delay_hours, part_size_mb, keep_runs\)/],
      ['job_name: x\nkafka:\n  sasl:\n    user: me\n', /unknown key kafka\.sasl\.user; did you mean username\?/],
      ['job_name: x\nsomething_else: 1\n', /unknown key something_else \(known: job_name/],
    ];
    for (const [text, expected] of cases) {
      const file = join(dir, 'job.yaml');
      await writeFile(file, text);
      await assert.rejects(loadConfig(file, {}), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG');
        assert.match(error.message, expected);
        assert.ok(error.message.startsWith(`${file}: `), error.message);
        return true;
      });
    }
  });
});

test('kafka.visibility_topics: none by default, from the job file or MWLAKE_VISIBILITY_TOPICS, never a page change topic too', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\n');
    const unset = await loadConfig(file, {});
    assert.deepEqual(unset.kafka.visibilityTopics, []);
    assert.equal(unset.events.visibilityTable, 'revision_visibility_change');
    await writeFile(file, 'job_name: x\nkafka:\n  visibility_topics: [eqiad.mediawiki.revision-visibility-change]\nevents:\n  visibility_table: rvc\n');
    const set = await loadConfig(file, {});
    assert.deepEqual(set.kafka.visibilityTopics, ['eqiad.mediawiki.revision-visibility-change']);
    assert.equal(set.events.visibilityTable, 'rvc');
    assert.deepEqual((await loadConfig(file, { MWLAKE_VISIBILITY_TOPICS: 'a.v,b.v' })).kafka.visibilityTopics, ['a.v', 'b.v']);
    assert.deepEqual((await loadConfig(file, { MWLAKE_VISIBILITY_TOPICS: '' })).kafka.visibilityTopics, ['eqiad.mediawiki.revision-visibility-change'], 'empty is unset');
    await assert.rejects(loadConfig(file, { MWLAKE_VISIBILITY_TOPICS: DEFAULT_TOPICS[0]! }), /is in both kafka\.topics and kafka\.visibility_topics/);
  });
});

test('paths in the job file are relative to it; paths from the environment, to the working directory', async () => {
  await inTempDir('mwlake-jobfile-', async (dir) => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, 'job_name: x\nwarehouse: ./wh\nmetrics_file: ./m/mwlake.prom\n');
    const fromFile = await loadConfig(file, {});
    assert.equal(fromFile.warehouse, join(dir, 'wh'));
    assert.equal(fromFile.metricsFile, join(dir, 'm', 'mwlake.prom'));
    const fromEnv = await loadConfig(file, { MWLAKE_METRICS_FILE: 'textfile/mwlake.prom' });
    assert.equal(fromEnv.metricsFile, join(process.cwd(), 'textfile', 'mwlake.prom'));
    // A file:/// location is its path; other URIs and ~ were folders named s3: or ~ below the job file.
    for (const [location, path] of [['file:///srv/wh', '/srv/wh'], ['file:/srv/wh', '/srv/wh'], ['file:///srv/my%20wh', '/srv/my wh']]) {
      await writeFile(file, `job_name: x\nwarehouse: ${location}\n`);
      assert.equal((await loadConfig(file, {})).warehouse, path, location);
    }
    for (const [key, value] of [['warehouse', 's3://bucket/wh'], ['warehouse', 's3:/bucket/wh'], ['warehouse', '~/wh'], ['warehouse', '~bob/wh'], ['warehouse', 'file:wh'], ['warehouse', 'file:///srv/wh#2'], ['warehouse', 'file:///srv/wh?x'], ['metrics_file', 'hdfs://nn/m.prom'], ['dumps:\n  root', 'gs://b/dumps'], ['dumps:\n  namespace_map', '~/ns.tsv']]) {
      await writeFile(file, `job_name: x\n${key}: ${value}\n`);
      const name = key.replace(':\n  ', '.');
      await assert.rejects(loadConfig(file, {}), (e: Error & { code?: string }) => e.code === 'CONFIG' && e.message.startsWith(`${file}: ${name} is "${value}": `), `${name}: ${value}`);
    }
    await writeFile(file, 'job_name: x\n');
    await assert.rejects(loadConfig(file, { MWLAKE_WAREHOUSE: 's3://b/wh' }), (e: Error & { code?: string }) => e.code === 'CONFIG' && /^MWLAKE_WAREHOUSE is "s3:\/\/b\/wh": mwlake reads and writes local folders only/.test(e.message));
    await assert.rejects(loadConfig(file, { MWLAKE_DUMPS_ROOT: 'file://host/d' }), (e: Error & { code?: string }) => e.code === 'CONFIG' && e.message.startsWith('MWLAKE_DUMPS_ROOT is '));
    await assert.rejects(loadConfig(file, {}, { warehouse: '~/wh' }), (e: Error & { code?: string }) => e.code === 'USAGE' && e.message.startsWith('--warehouse is "~/wh": ~ is not expanded'));
  });
});

test('the cron line runs under sh as cron would: env file exported, flock, the log of the day, a time limit, and a failed night kept and said on stderr for cron to mail', async () => {
  await inTempDir('mwlake-cron-', async (dir) => {
    const entries = readFileSync(join(repoRoot, 'jobs', 'cron', 'mwlake.cron'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#') && !/^[A-Z_]+=/.test(line));
    assert.equal(entries.length, 1, entries.join('\n'));
    // /etc/cron.d format: five time fields, the user, then the command.
    const m = /^(\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$/.exec(entries[0]!)!;
    assert.deepEqual(m.slice(1, 7), ['10', '2', '*', '*', '*', 'mwlake']);
    // cron ends the command at an unescaped %; \% is a literal one.
    assert.doesNotMatch(m[7]!, /(^|[^\\])%/);
    const paths: Record<string, string> = { '/srv/mwlake': join(dir, 'srv'), '/etc/mwlake/env': join(dir, 'env'), '/run/lock/': join(dir, 'lock') + '/', '/var/log/mwlake/': join(dir, 'log') + '/' };
    let command = m[7]!.replaceAll('\\%', '%');
    for (const [from, to] of Object.entries(paths)) {
      assert.ok(command.includes(from), from);
      command = command.replaceAll(from, to);
    }
    // Stand-in for node on cron's PATH: it shows what it was given; the line's shell is under test.
    await mkdir(join(dir, 'srv'), { recursive: true });
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'lock'));
    await mkdir(join(dir, 'log'));
    await writeFile(join(dir, 'bin', 'node'), '#!/bin/sh\necho "args: $*"\necho "password: $MWLAKE_KAFKA_SASL_PASSWORD"\n', { mode: 0o755 });
    await writeFile(join(dir, 'env'), 'MWLAKE_KAFKA_SASL_PASSWORD=s3cret\n'); // no `export`
    const env = { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const r = spawnSync('/bin/sh', ['-c', command], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'a night that succeeds prints nothing for cron to mail');
    const logs = await readdir(join(dir, 'log'));
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /^nightly-\d{8}\.log$/);
    const log = readFileSync(join(dir, 'log', logs[0]!), 'utf8');
    // A checkout after `npm ci` has the script the line runs (npm links no bin for the package itself).
    assert.match(log, /^args: dist\/src\/cli\/main\.js nightly --config jobs\/page_content_change\.yaml$/m);
    assert.ok(existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js')));
    assert.ok(existsSync(join(repoRoot, 'jobs', 'page_content_change.yaml')));
    assert.match(log, /^password: s3cret$/m);
    // While a run holds the lock, the next exits at once with 75 without starting mwlake, and says so in the log.
    const holder = spawn('flock', [join(dir, 'lock', 'mwlake-nightly.lock'), '-c', 'echo held; cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await once(holder.stdout, 'data');
    const second = spawnSync('/bin/sh', ['-c', command], { env, encoding: 'utf8' });
    holder.stdin.end();
    await once(holder, 'exit');
    assert.equal(second.status, 75);
    assert.match(second.stderr, /^mwlake nightly failed with exit 75 \(README: Exit codes\); log: .*\/log\/nightly-\d{8}\.log\n$/, 'cron mails the skipped night');
    const after = readFileSync(join(dir, 'log', logs[0]!), 'utf8');
    assert.ok(after.startsWith(log), 'the log was appended to');
    assert.match(after.slice(log.length), /^flock: failed to get lock\n$/);
    // A failed night keeps its exit code and says so on stderr, which cron mails.
    await writeFile(join(dir, 'bin', 'node'), '#!/bin/sh\necho "refused"\nexit 65\n', { mode: 0o755 });
    const failed = spawnSync('/bin/sh', ['-c', command], { env, encoding: 'utf8' });
    assert.equal(failed.status, 65);
    assert.match(failed.stderr, /^mwlake nightly failed with exit 65 /);
    // A night past the time limit is stopped with SIGTERM, which mwlake answers with 143.
    const limited = command.replace(' 6h ', ' 1s ');
    assert.notEqual(limited, command);
    await writeFile(join(dir, 'bin', 'node'), '#!/bin/sh\ntrap \'exit 143\' TERM\nwhile :; do sleep 0.1; done\n', { mode: 0o755 });
    const stopped = spawnSync('/bin/sh', ['-c', limited], { env, encoding: 'utf8' });
    assert.equal(stopped.status, 143, stopped.stderr);
    assert.match(stopped.stderr, /failed with exit 143/);
  });
});
