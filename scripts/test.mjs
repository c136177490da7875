#!/usr/bin/env node
// The test command (`npm test`, also what .ci/run calls): build, make sure the prerequisites are
// installed (Debian tools, Kafka jars, the Python venv of interop readers), start the local Kafka
// broker unless KAFKA_BROKERS points at one, run node:test over dist/test/, stop what we started.
// Arguments narrow the run: `npm test -- test/iceberg` runs dist/test/iceberg only.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

let startedBroker = false;
const env = { ...process.env };
if (!env.KAFKA_BROKERS) {
  // A broker that was already running (a developer's) is left as found; one this run starts is stopped.
  const running = spawnSync('bash', ['scripts/kafka.sh', 'status'], { cwd: root, stdio: 'ignore' }).status === 0;
  must('bash', ['scripts/kafka.sh', 'ensure'], 'starting the local Kafka broker');
  startedBroker = !running && process.env.MWLAKE_KEEP_BROKER !== '1';
  env.KAFKA_BROKERS = `127.0.0.1:${env.MWLAKE_KAFKA_PORT ?? '9092'}`;
}

// Ctrl-C reaches the test runner too; ignoring it here lets the finally stop our broker.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {});

let status;
try {
  status = run(process.execPath, ['--test', '--test-timeout=900000', ...(targets.length > 0 ? targets : ['dist/test/'])], { env });
} finally {
  if (startedBroker) run('bash', ['scripts/kafka.sh', 'stop']);
}
process.exit(status);
