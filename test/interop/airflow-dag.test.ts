// The shipped Airflow DAG (jobs/airflow/mwlake_dumps.py) under real Airflow 2.10 and 3, each from
// its pinned venv (scripts/setup-airflow.sh): Airflow's own DagBag loads it as a scheduler would,
// and `airflow dags test` runs its tasks against the real broker, calling the built CLI.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { isCompleteRun } from '../../src/pipeline/dump.js';
import { decompressFile } from '../dumps/helpers.js';
import { KAFKA_BROKERS, requireBroker } from '../helpers/kafka.js';
import { AIRFLOW_MAJORS, airflowPythonBin, interopScript, repoRoot, runPython, runPythonArgs, tail } from '../helpers/python.js';

const dagsFolder = join(repoRoot, 'jobs', 'airflow');
const cliMain = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-airflow-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface DagInfo {
  airflow: string;
  import_errors: Record<string, string>;
  warnings: string[];
  dags: string[];
  timetable: string;
  ds_of_run_at_20261106_0210: string;
  catchup: boolean;
  max_active_runs: number;
  tasks: Record<string, { args: string[]; scheduled_args: string[]; manual_args: string[]; manual_date_args: string[]; callable: string; downstream: string[]; retries: number; trigger_rule: string }>;
}

/** Airflow's environment: its own home (SQLite metadata DB), our DAG folder, no examples. */
function airflowEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AIRFLOW_HOME: home, AIRFLOW__CORE__DAGS_FOLDER: dagsFolder, AIRFLOW__CORE__LOAD_EXAMPLES: 'False', ...extra };
}

for (const major of AIRFLOW_MAJORS) {
  describe(`Airflow ${major}`, () => {
    test('the DagBag loads the DAG: drain → merge → dump → maintain, retried, and a run dumps the day before it starts', { timeout: 120_000 }, async () => {
      const python = airflowPythonBin(major);
      const r = await runPython(interopScript('airflow_dag.py'), [dagsFolder, '2026-11-05'], undefined, { python, env: airflowEnv(join(dir, `load${major}`)), timeoutMs: 110_000 });
      assert.equal(r.code, 0, tail(r.stderr, 30));
      const info = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as DagInfo;
      assert.ok(info.airflow.startsWith(`${major}.`), `Airflow ${info.airflow}`);
      assert.deepEqual(info.import_errors, {});
      assert.deepEqual(info.warnings, [], 'the DAG file raises no warnings (no deprecated imports)');
      assert.deepEqual(info.dags, ['mwlake_dumps']);
      // The run that starts 2026-11-06 02:10 UTC dumps 2026-11-05 under both majors (Airflow 3
      // would read a bare cron string as a trigger: ds 2026-11-06).
      assert.equal(info.timetable, 'CronDataIntervalTimetable');
      assert.equal(info.ds_of_run_at_20261106_0210, '2026-11-05');
      assert.equal(info.catchup, false);
      assert.equal(info.max_active_runs, 1);
      assert.deepEqual(Object.keys(info.tasks).sort(), ['drain', 'dump', 'maintain', 'merge']);
      assert.deepEqual(info.tasks['drain']!.downstream, ['merge']);
      assert.deepEqual(info.tasks['merge']!.downstream, ['dump']);
      assert.deepEqual(info.tasks['dump']!.downstream, ['maintain']);
      assert.deepEqual(info.tasks['maintain']!.downstream, []);
      const config = '/srv/mwlake/jobs/page_content_change.yaml'; // the DAG's default MWLAKE_CONFIG
      assert.deepEqual(info.tasks['drain']!.args, ['drain', '--config', config]);
      assert.deepEqual(info.tasks['merge']!.args, ['merge', '--config', config]);
      // A backfill run dumps its date; a scheduled one every due date, so nights the scheduler
      // missed (catchup is off) are dumped by the next; so does a manual one (its ds is the trigger
      // date, a day early), unless its conf names a date.
      assert.deepEqual(info.tasks['dump']!.args, ['dump', '--config', config, '--wiki', 'all', '--date=2026-11-05']);
      assert.deepEqual(info.tasks['dump']!.scheduled_args, ['dump', '--config', config, '--wiki', 'all', '--due']);
      assert.deepEqual(info.tasks['dump']!.manual_args, ['dump', '--config', config, '--wiki', 'all', '--due']);
      assert.deepEqual(info.tasks['dump']!.manual_date_args, ['dump', '--config', config, '--wiki', 'all', '--date=2026-11-02']);
      assert.deepEqual(info.tasks['drain']!.scheduled_args, info.tasks['drain']!.args);
      assert.deepEqual(info.tasks['maintain']!.args, ['maintain', '--config', config]);
      for (const [id, t] of Object.entries(info.tasks)) {
        // Maintain runs after a failed dump too (trigger_rule all_done), if merge succeeded.
        assert.equal(t.callable, id === 'maintain' ? 'maintain_after_dump' : 'run_mwlake');
        assert.equal(t.trigger_rule, id === 'maintain' ? 'all_done' : 'all_success', id);
        assert.ok(t.retries >= 1);
      }
    });

    test('a task killed while mwlake runs (a timeout): mwlake gets one SIGTERM in its own session, its cleanup output is logged, it is reaped', { timeout: 60_000 }, async () => {
      const work = join(dir, `kill${major}`);
      await mkdir(work, { recursive: true });
      const r = await runPython(interopScript('airflow_kill.py'), [dagsFolder, work], undefined, { python: airflowPythonBin(major), timeoutMs: 50_000 });
      assert.equal(r.code, 0, tail(r.stderr, 30));
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { raised: string | null; log: string; child_pgid: number; own_pgid: number; child_gone: boolean };
      assert.equal(out.raised, 'task timed out', 'the timeout still fails the task');
      assert.notEqual(out.child_pgid, out.own_pgid, "mwlake is out of the task's process group");
      assert.match(out.log, /^cleaning up$/m, 'what mwlake said while cleaning up is in the task log');
      assert.equal(out.child_gone, true, 'mwlake was waited for: no zombie');
    });

    test('airflow dags test runs drain, merge, dump and maintain with the built CLI against the real broker', { timeout: 300_000 }, async () => {
      await requireBroker();
      const python = airflowPythonBin(major);
      const work = join(dir, `run${major}`);
      const stream = `mwlake.test.airflow${major}p${process.pid}${Date.now().toString(36)}.v1`;
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      const gen = ['--log-level', 'warn', 'gen', '--seed', '5', '--events', '300', '--start', '2026-11-01', '--rate', '100', '--wikis', 'enwiki', '--stream', stream, '--to', 'kafka', '--brokers', KAFKA_BROKERS.join(',')];
      assert.equal(await runCli(gen, { stdout: sink, stderr: sink, env: process.env }), 0);
      const config = join(work, 'job.yaml');
      await mkdir(work, { recursive: true });
      await writeFile(
        config,
        [`job_name: airflow_test_${major}`, 'kafka:', `  brokers: [${KAFKA_BROKERS.join(', ')}]`, `  topics: [eqiad.${stream}, codfw.${stream}]`, 'warehouse: ./warehouse', 'dumps:', '  root: ./dumps', ''].join('\n'),
      );
      // MWLAKE_BIN in shell quoting (the DAG splits it with shlex): the built CLI under this Node.
      const env = airflowEnv(join(work, 'airflow-home'), { MWLAKE_BIN: `'${process.execPath}' '${cliMain}'`, MWLAKE_CONFIG: config });
      const migrate = await runPythonArgs(['-m', 'airflow', 'db', 'migrate'], undefined, { python, env, timeoutMs: 120_000 });
      assert.equal(migrate.code, 0, tail(migrate.stderr + migrate.stdout, 30));
      // A failing task would wait out its retry delay: the timeout ends the run, and the test fails.
      // A test run is a manual one: its conf names the date to dump.
      const run = await runPythonArgs(['-m', 'airflow', 'dags', 'test', 'mwlake_dumps', '2026-11-03', '-c', '{"date": "2026-11-03"}'], undefined, { python, env, timeoutMs: 150_000 });
      const log = run.stdout + run.stderr;
      assert.equal(run.code, 0, tail(log, 40));
      // The dump dated 2026-11-03 is complete and holds the generated history: drain and merge ran first.
      const day = join(work, 'dumps', 'enwiki', '20261103');
      assert.ok(await isCompleteRun(day), `${day} is complete; log:\n${tail(log, 40)}`);
      const history = decompressFile(join(day, 'enwiki-20261103-pages-meta-history.xml.bz2'));
      const revisions = history.toString('utf8').split('<revision>').length - 1;
      assert.ok(revisions > 50, `pages-meta-history holds ${revisions} revisions`);
      assert.ok(readdirSync(join(work, 'warehouse', 'events', 'page_content_change', 'metadata')).some((f) => f.endsWith('.metadata.json')));
      // maintain ran last and printed its result line (the task logs the command's output).
      assert.match(log, /\{"step":"maintain",/, tail(log, 40));
    });

    test('exit codes and signals: 65, 1 (node could not load mwlake), SIGKILL (the OOM killer) and SIGABRT (node out of heap) fail at once, 69 and SIGTERM are retried', { timeout: 120_000 }, async () => {
      const code = [
        'import importlib.util, json, sys',
        'spec = importlib.util.spec_from_file_location("mwlake_dumps", sys.argv[1])',
        'dag = importlib.util.module_from_spec(spec)',
        'spec.loader.exec_module(dag)',
        'out = {}',
        'for name, command in [("65", "sh -c \'exit 65\'"), ("1", "sh -c \'exit 1\'"), ("69", "sh -c \'exit 69\'"), ("SIGKILL", "sh -c \'kill -KILL $$\'"), ("SIGABRT", "sh -c \'kill -ABRT $$\'"), ("SIGTERM", "sh -c \'kill -TERM $$\'")]:',
        '    dag.MWLAKE = command',
        '    try:',
        '        dag.run_mwlake("merge")',
        '        out[name] = "ok"',
        '    except dag.AirflowFailException as error:',
        '        out[name] = "not retried: " + str(error)',
        '    except RuntimeError as error:',
        '        out[name] = "retried: " + str(error)',
        'print(json.dumps(out))',
      ].join('\n');
      const r = await runPythonArgs(['-c', code, join(dagsFolder, 'mwlake_dumps.py')], undefined, { python: airflowPythonBin(major), env: airflowEnv(join(dir, `codes${major}`)), timeoutMs: 110_000 });
      assert.equal(r.code, 0, tail(r.stderr, 30));
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
      assert.match(out['65']!, /^not retried: mwlake merge exited with 65 \(bad data\)/);
      assert.match(out['1']!, /^not retried: mwlake merge exited with 1 \(node could not start mwlake, or it crashed\)/);
      assert.match(out['69']!, /^retried: mwlake merge exited with 69/);
      assert.match(out['SIGKILL']!, /^not retried: mwlake merge was killed by SIGKILL \(most often the kernel's OOM killer/);
      assert.match(out['SIGABRT']!, /^not retried: mwlake merge aborted \(SIGABRT: most often node out of JavaScript heap/);
      assert.match(out['SIGTERM']!, /^retried: mwlake merge exited with -15/);
    });

    test('a failure no retry can fix (exit 78, a misspelt key; a MWLAKE_BIN that cannot run) fails the task at once: no retry, no later mwlake step; a failed dump still gets maintain, which then fails the run naming it', { timeout: 240_000 }, async () => {
      const python = airflowPythonBin(major);
      const work = join(dir, `fail${major}`);
      await mkdir(work, { recursive: true });
      const config = join(work, 'job.yaml');
      await writeFile(config, [`job_name: airflow_fail_${major}`, 'warehouse: ./warehouse', 'maintenence:', '  orphan_age_hours: 1', ''].join('\n'));
      const env = airflowEnv(join(work, 'airflow-home'), { MWLAKE_BIN: `'${process.execPath}' '${cliMain}'`, MWLAKE_CONFIG: config });
      const migrate = await runPythonArgs(['-m', 'airflow', 'db', 'migrate'], undefined, { python, env, timeoutMs: 120_000 });
      assert.equal(migrate.code, 0, tail(migrate.stderr + migrate.stdout, 30));
      // Retried, the drain would wait out its 10-minute retry delay and this run would time out.
      const run = await runPythonArgs(['-m', 'airflow', 'dags', 'test', 'mwlake_dumps', '2026-11-03'], undefined, { python, env, timeoutMs: 100_000 });
      const log = run.stdout + run.stderr;
      assert.equal(run.code === null, false, `dags test timed out:\n${tail(log, 40)}`);
      assert.match(log, /maintenence/, 'mwlake named the misspelt key');
      assert.match(log, /mwlake drain exited with 78 \(configuration error\): not retried/, tail(log, 40));
      assert.doesNotMatch(log, /running: .* merge --config/, 'merge never started');
      assert.doesNotMatch(log, /running: .* maintain --config/, 'maintain never started');
      assert.match(log, /mwlake maintain not run: merge did not succeed in this run/, tail(log, 40));
      assert.ok(!existsSync(join(work, 'warehouse')), 'nothing was written');
      // A MWLAKE_BIN that cannot run needs a person too.
      const missingBin = join(work, 'no-such-mwlake');
      const bad = await runPythonArgs(['-m', 'airflow', 'dags', 'test', 'mwlake_dumps', '2026-11-04'], undefined, { python, env: { ...env, MWLAKE_BIN: missingBin }, timeoutMs: 100_000 });
      const badLog = bad.stdout + bad.stderr;
      assert.equal(bad.code === null, false, `dags test timed out:\n${tail(badLog, 40)}`);
      assert.match(badLog, new RegExp(`cannot run MWLAKE_BIN='${missingBin}': .*No such file or directory`), tail(badLog, 40));
      // A failed dump (one wiki missing from the namespace map, say) still gets maintain, as in
      // mwlake nightly, and the run still fails, through maintain, naming the dump.
      const calls = join(work, 'calls.txt');
      const fake = join(work, 'fake-mwlake.sh');
      await writeFile(fake, ['echo "$1" >> "$MWLAKE_TEST_CALLS"', 'if [ "$1" = dump ]; then echo "mwlake: enwiki failed" >&2; exit 65; fi', 'echo "{\\"step\\":\\"$1\\"}"', ''].join('\n'));
      const dumpFails = await runPythonArgs(['-m', 'airflow', 'dags', 'test', 'mwlake_dumps', '2026-11-05'], undefined, { python, env: { ...env, MWLAKE_BIN: `sh '${fake}'`, MWLAKE_TEST_CALLS: calls }, timeoutMs: 100_000 });
      const dumpLog = dumpFails.stdout + dumpFails.stderr;
      assert.equal(dumpFails.code === null, false, `dags test timed out:\n${tail(dumpLog, 40)}`);
      assert.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), ['drain', 'merge', 'dump', 'maintain'], tail(dumpLog, 40));
      assert.match(dumpLog, /mwlake dump exited with 65 \(bad data\): not retried/, tail(dumpLog, 40));
      assert.match(dumpLog, /mwlake maintain ran, but dump did not succeed in this run/, tail(dumpLog, 40));
      // The run is failed, not green: `dags test` exits 1 for a failed run, 0 for a successful one (above).
      assert.equal(dumpFails.code, 1, tail(dumpLog, 40));
      assert.match(dumpLog, /DagRun failed/);
    });
  });
}
