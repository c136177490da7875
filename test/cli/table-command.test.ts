// `mwlake table ...` through the CLI on a table written by src/iceberg: list, show, snapshots,
// files and rollback, human and --json output, and the errors operators get.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ExitCode } from '../../src/core/exit-codes.js';
import type { Table } from '../../src/iceberg/table.js';
import { openSampleWriter, SAMPLE_SCHEMA, SAMPLE_SPEC, type SampleWriter } from '../iceberg/sample-table.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';

let dir: string;
let w: SampleWriter;
let t: Table;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-table-cli-'));
  w = await openSampleWriter(dir);
  t = await w.warehouse.createTable('ns', 'sample', { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC });
  t = (await t.commit({ addDataFiles: await w.write(t, [1, 2, 3]) })).table;
  t = (await t.commit({ addDataFiles: await w.write(t, [4]) })).table;
});
after(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(...args: string[]): Promise<CliResult> {
  return runCliCaptured(args);
}

test('list and show', async () => {
  const list = await cli('table', 'list', '--warehouse', dir, '--json');
  assert.equal(list.code, 0, list.err);
  const tables = JSON.parse(list.out) as { table: string; snapshots: number; records: string }[];
  assert.deepEqual(tables.map((x) => [x.table, x.snapshots, x.records]), [['ns.sample', 2, '4']]);
  const human = await cli('table', 'list', '--warehouse', dir);
  assert.match(human.out, /^TABLE +SNAPSHOTS +RECORDS/);
  assert.match(human.out, /ns\.sample +2 +4 /);

  const show = await cli('table', 'show', 'ns.sample', '--warehouse', dir, '--json');
  const shown = JSON.parse(show.out) as { formatVersion: number; currentSnapshot: { snapshotId: string }; partitionSpec: { fields: { name: string }[] } };
  assert.equal(shown.formatVersion, 2);
  assert.equal(shown.currentSnapshot.snapshotId, t.currentSnapshot()!.snapshotId.toString());
  assert.deepEqual(shown.partitionSpec.fields.map((f) => f.name), SAMPLE_SPEC.fields.map((f) => f.name));
  assert.match((await cli('table', 'show', 'ns.sample', '--warehouse', dir)).out, /schema:\n +id +long +required/);
});

test('snapshots and files', async () => {
  const snaps = JSON.parse((await cli('table', 'snapshots', 'ns.sample', '--warehouse', dir, '--json')).out) as { snapshotId: string; operation: string; current: boolean }[];
  assert.deepEqual(snaps.map((s) => [s.operation, s.current]), [['append', false], ['append', true]]);
  const files = JSON.parse((await cli('table', 'files', 'ns.sample', '--warehouse', dir, '--json', '--snapshot', snaps[0]!.snapshotId)).out) as { records: number; content: string }[];
  assert.equal(files.reduce((n, f) => n + f.records, 0), 3);
  assert.ok(files.every((f) => f.content === 'data'));
  assert.match((await cli('table', 'snapshots', 'ns.sample', '--warehouse', dir)).out, /\(current\)\n$/);
  // A snapshot id that is not the table's is a usage error (64) like rollback --to, not missing data (65).
  const unknown = await cli('table', 'files', 'ns.sample', '--warehouse', dir, '--snapshot', '1');
  assert.equal(unknown.code, ExitCode.Usage, unknown.err);
  assert.match(unknown.err, /--snapshot 1 is not a snapshot of ns\.sample \(see mwlake table snapshots ns\.sample\)/);
});

test('rollback makes the parent current, rolls forward again to undo it, and refuses a snapshot of another line', async () => {
  const first = t.metadata.snapshots[0]!.snapshotId.toString();
  const second = t.currentSnapshot()!.snapshotId.toString();
  const r = await cli('table', 'rollback', 'ns.sample', '--warehouse', dir, '--json');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { table: 'ns.sample', from: second, to: first });
  const after = await t.refresh();
  assert.equal(after.currentSnapshot()?.snapshotId.toString(), first);
  assert.equal(after.metadata.refs['main']?.snapshotId.toString(), first);
  assert.equal((await after.planFiles()).dataFiles.reduce((n, f) => n + f.file.recordCount, 0), 3);
  // Undone: the snapshot the rollback left descends from the current one.
  const undo = await cli('table', 'rollback', 'ns.sample', '--warehouse', dir, '--to', second, '--json');
  assert.equal(undo.code, 0, undo.err);
  assert.deepEqual(JSON.parse(undo.out), { table: 'ns.sample', from: first, to: second });
  assert.equal((await t.refresh()).currentSnapshot()?.snapshotId.toString(), second);
  // Back again, then a commit branches off: the left snapshot is on another line now.
  assert.equal((await cli('table', 'rollback', 'ns.sample', '--warehouse', dir)).code, 0);
  t = (await (await t.refresh()).commit({ addDataFiles: await w.write(t, [7]) })).table;
  const bad = await cli('table', 'rollback', 'ns.sample', '--warehouse', dir, '--to', second);
  assert.equal(bad.code, ExitCode.Usage);
  assert.match(bad.err, new RegExp(`snapshot ${second} is neither an ancestor of the current snapshot \\d+ of .* nor a descendant of it`));
});

test('errors name the table', async () => {
  const r = await cli('table', 'show', 'sample', '--warehouse', dir);
  assert.equal(r.code, ExitCode.Usage);
  assert.match(r.err, /namespace\.name/);
  const missing = await cli('table', 'show', 'ns.nope', '--warehouse', dir);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /no Iceberg table at .*ns\/nope/);
});

test('a mistyped --warehouse fails naming it (65) instead of listing no tables', async () => {
  const typo = join(dir, 'warehose');
  for (const args of [['list'], ['show', 'ns.sample'], ['rollback', 'ns.sample']]) {
    const r = await cli('table', ...args, '--warehouse', typo);
    assert.equal(r.code, ExitCode.Data, `table ${args.join(' ')}: ${r.err}`);
    assert.match(r.err, new RegExp(`no warehouse at ${typo}: give --warehouse DIR`));
    assert.equal(r.out, '');
  }
});

test("a job file with kafka.sasl reads the tables without the Kafka password in the environment", async () => {
  const file = join(dir, 'sasl-job.yaml');
  await writeFile(file, `job_name: j\nwarehouse: ${JSON.stringify(dir)}\nkafka:\n  sasl:\n    username: mwlake\n`);
  const r = await cli('table', 'list', '--config', file);
  assert.equal(r.code, ExitCode.Ok, r.err);
  assert.match(r.out, /ns\.sample/);
});

test('an empty --warehouse or --config is refused naming the flag (64), for every table command', async () => {
  for (const args of [['list'], ['show', 'ns.sample'], ['snapshots', 'ns.sample'], ['files', 'ns.sample'], ['relocate'], ['rollback', 'ns.sample']]) {
    for (const flag of ['--warehouse', '--config']) {
      const r = await cli('table', ...args, flag, '');
      assert.equal(r.code, ExitCode.Usage, `${args.join(' ')} ${flag}: ${r.err}`);
      assert.match(r.err, new RegExp(`^mwlake: ${flag} is empty`, 'm'));
    }
  }
});
