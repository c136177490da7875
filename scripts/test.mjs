#!/usr/bin/env node
// The test command (`npm test`, also what .ci/run calls): build, make sure the prerequisites are
// installed (Debian tools, Kafka jars, the Python venv of interop readers), start the local Kafka
// broker unless KAFKA_BROKERS points at one, run node:test over dist/test/, stop what we started.
// Arguments narrow the run: `npm test -- test/iceberg` runs dist/test/iceberg only.

import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(command, args, what) {
  const status = run(command, args);
  if (status !== 0) {
    console.error(`test: ${what} failed (exit ${status})`);
    process.exit(status);
  }
}

// tsc never removes what it no longer emits: a test file deleted or renamed would run on, stale.
rmSync(join(root, 'dist', 'test'), { recursive: true, force: true });
must('npx', ['tsc', '-p', 'tsconfig.json'], 'build (tsc)');
if (process.env.MWLAKE_SKIP_SETUP !== '1') must('bash', ['scripts/setup.sh'], 'setup (scripts/setup.sh)');

// Checked before the broker starts, so this exit leaves none running.
const targets = process.argv.slice(2).map((arg) => {
  const rel = relative(root, arg.replace(/\.ts$/, '.js'));
  const target = rel.startsWith('dist/') ? rel : join('dist', rel);
  if (!existsSync(target)) {
    console.error(`test: ${arg} has no compiled counterpart ${target}`);
    process.exit(64);
  }
  return target;
});

// The *.test.js files, listed here: given a folder, Node 20 also runs every other .js file under a
// `test` folder (fixtures, child processes) as a test file, and Node 21+ reads it as a glob.
const testFiles = (targets.length > 0 ? targets : ['dist/test']).flatMap((target) =>
  statSync(target).isDirectory()
    ? readdirSync(target, { recursive: true })
        .filter((name) => name.endsWith('.test.js'))
        .map((name) => join(target, name))
        .sort()
    : [target],
);
if (testFiles.length === 0) {
  console.error(`test: no *.test.js file under ${targets.join(', ')}`);
  process.exit(64);
}

let startedBroker = false;
const env = { ...process.env };
if (!env.KAFKA_BROKERS) {
  // A broker that was already running (a developer's) is left as found; one this run starts is
  // stopped. Status 1 is one still starting (another run's): running too, not ours to stop.
  const running = spawnSync('bash', ['scripts/kafka.sh', 'status'], { cwd: root, stdio: 'ignore' }).status !== 3;
  must('bash', ['scripts/kafka.sh', 'ensure'], 'starting the local Kafka broker');
  startedBroker = !running && process.env.MWLAKE_KEEP_BROKER !== '1';
  env.KAFKA_BROKERS = `127.0.0.1:${env.MWLAKE_KAFKA_PORT ?? '9092'}`;
}

// A signal is passed on to the test runner (Ctrl-C reaches it anyway, a CI timeout's SIGTERM may
// reach only us); once it has exited, our broker is stopped and we exit as the signal would.
const runner = spawn(process.execPath, ['--test', '--test-timeout=900000', ...testFiles], { env, stdio: 'inherit' });
let stoppedBy;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stoppedBy ??= signal;
    runner.kill(signal);
  });
}
const status = await new Promise((resolve) => {
  runner.on('error', (error) => {
    console.error(`test: could not start the test runner: ${error.message}`);
    resolve(1);
  });
  runner.on('exit', (code, signal) => resolve(code ?? 128 + (constants.signals[signal] ?? 0)));
});
if (startedBroker) run('bash', ['scripts/kafka.sh', 'stop']);
process.exit(stoppedBy === undefined ? status : 128 + constants.signals[stoppedBy]);
