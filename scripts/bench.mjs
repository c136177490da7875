#!/usr/bin/env node
// `npm run bench [-- --quick]`: each stage against a reference measured in the same run, as a
// ratio (absolute times drift between machines). Generates its own seeded data, starts or reuses
// the local broker, prints one table and writes it to bench/results/<date>.json. See bench/README.md.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const quick = process.argv.includes('--quick');
// --only ROW[,ROW]: measure some rows; the data they need is still generated and drained.
const ROWS = ['ingest', 'dump', 'query', 'dump-zstd', 'dump-set', 'ingest-memory', 'merge'];
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt < 0 ? undefined : (process.argv[onlyAt + 1] ?? '').split(',').filter((r) => r !== '');
if (only !== undefined && (only.length === 0 || only.some((r) => !ROWS.includes(r)))) {
  console.error(`bench: --only takes rows from ${ROWS.join(', ')}, separated by commas; found ${JSON.stringify(process.argv[onlyAt + 1] ?? '')}`);
  process.exit(64);
}
const want = (name) => only === undefined || only.includes(name);
const runs = quick ? 1 : 3;
// The query row takes about a second a run: 5 runs, so one noisy sample cannot move its median.
const queryRuns = quick ? 1 : 5;
// A merge takes about 2 s and swings by half of that from run to run on this machine: 5 runs.
const mergeRuns = quick ? 1 : 5;
// The full run's events are about 1.5 GB of JSON (the issue's size); the memory row's 1x stays at
// 60,000 events (800 MB), so its 4x run is 3.2 GB.
const events = quick ? 3000 : 110000;
const memoryEvents = quick ? 3000 : 60000;
execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
// The Debian tools (lbzip2, zstd, time) and the Kafka jars; not the Python venvs, which no row uses.
if (process.env.MWLAKE_SKIP_SETUP !== '1') execFileSync('bash', ['scripts/setup.sh'], { cwd: root, stdio: 'inherit', env: { ...process.env, MWLAKE_SKIP_PYTHON: '1' } });
// A broker this run starts is stopped at the end; one that was already running (status 0), or is
// still starting (1, another run's), is left as found.
const startedBroker = !process.env.KAFKA_BROKERS && spawnSync('bash', ['scripts/kafka.sh', 'status'], { cwd: root, stdio: 'ignore' }).status === 3;
if (!process.env.KAFKA_BROKERS) execFileSync('bash', ['scripts/kafka.sh', 'ensure'], { cwd: root, stdio: 'inherit' });
const brokers = process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.MWLAKE_KAFKA_PORT ?? '9092'}`;
// Ctrl-C, SIGTERM or SIGHUP stops the step running (each runs in a process group of its own, which
// we signal), which fails it, so the finally below removes the data, deletes the topics and
// consumer groups and stops our broker; then we exit 128 + the signal's number.
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
let interrupted;
/** The step's process running now. */
let current;
for (const signal of Object.keys(SIGNALS)) {
  process.on(signal, () => {
    interrupted ??= signal;
    try {
      if (current?.pid !== undefined) process.kill(-current.pid, 'SIGTERM');
    } catch {
      // Exited already (ESRCH): nothing to stop, and the clean-up must still run.
    }
  });
}
/** Runs a command to its end; its output as text. Throws when it fails or the bench is stopped. */
function run(command, args, o = {}) {
  return new Promise((resolve, reject) => {
    if (interrupted !== undefined) return reject(new Error(`stopped by ${interrupted}`));
    const child = spawn(command, args, { ...o, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', (error) => {
      current = undefined;
      reject(error);
    });
    child.on('exit', () => {
      current = undefined;
    });
    child.on('close', (status, signal) => {
      current = undefined;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (interrupted !== undefined) reject(new Error(`stopped by ${interrupted}`));
      else if (status !== 0) reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${status}`}): ${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}
const work = mkdtempSync(join(tmpdir(), 'mwlake-bench-'));
const cli = join(root, 'dist/src/cli/main.js');

/** Writes out dirty pages first, so a measurement never pays for the previous step's writeback. */
function settle() {
  execFileSync('sync');
}
async function time(fn) {
  settle();
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}
async function mwlake(args, env = {}) {
  return (await run(process.execPath, [cli, '--log-level', 'warn', ...args], { env: { ...process.env, ...env } })).stdout;
}
/**
 * A fresh Node process running one statement through @duckdb/node-api, loaded as mwlake loads it
 * (require: an ESM import of its CommonJS build scans its exports, about 90 ms more per process).
 */
async function duck(sql) {
  const script = `const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(${JSON.stringify(sql)});
  connection.closeSync();
  instance.closeSync();
})().catch((e) => { console.error(e); process.exit(1); });`;
  await run(process.execPath, ['-e', script], { cwd: root });
}
/** The dump directory's XML files (not the multistream's index), each decompressed to `<out>/<name>.xml`, with the codec it was written in. */
async function dumpXml(dir, out) {
  mkdirSync(out, { recursive: true });
  const files = readdirSync(dir).filter((f) => /\.xml(-p\d+p\d+)?\.(bz2|gz|zst)$/.test(f) && !f.includes('index')).sort();
  const found = [];
  for (const f of files) {
    const codec = f.endsWith('.bz2') ? 'bz2' : f.endsWith('.gz') ? 'gz' : 'zst';
    const xml = join(out, `${f}.xml`);
    await run('bash', ['-c', `${codec === 'bz2' ? 'bzcat' : codec === 'gz' ? 'zcat' : 'zstd -dc'} '${join(dir, f)}' > '${xml}'`]);
    found.push({ name: f, xml, codec, bytes: statSync(xml).size });
  }
  return found;
}
/** The reference compressor of each codec a dump writes (`gzip -6`: the stubs' zlib level). */
const REFERENCE = { bz2: 'lbzip2 -n2 -c', gz: 'gzip -6 -n -c', zst: 'zstd -T2 -3 -c' };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
/** Topics and consumer groups (the drains' job names) this run creates, deleted at the end so repeated runs do not fill the broker. */
const topics = [];
const jobs = [];
async function deleteTopics() {
  if (topics.length === 0 && jobs.length === 0) return;
  const { KafkaAdmin } = await import(join(root, 'dist/src/kafka/admin.js'));
  const admin = await KafkaAdmin.connect({ brokers: brokers.split(','), clientId: 'mwlake-bench' });
  try {
    if (topics.length > 0) await admin.deleteTopics(topics);
    // A drain leaves its group's committed offsets (mwlake-<job name>) on the broker.
    if (jobs.length > 0) await admin.deleteGroups(jobs.map((j) => `mwlake-${j}`)).catch((error) => console.error(`could not delete the consumer groups of ${jobs.join(', ')}: ${error.message}`));
  } finally {
    await admin.close();
  }
}
function row(name, what, ours, ref, target, ok) {
  rows.push({
    row: name,
    what,
    median: median(ours),
    min: Math.min(...ours),
    max: Math.max(...ours),
    reference: median(ref),
    referenceMin: Math.min(...ref),
    referenceMax: Math.max(...ref),
    ratio: median(ours) / median(ref),
    target,
    met: ok(median(ours) / median(ref)),
  });
}

try {
  // Data: seeded events as JSONL (the DuckDB reference input) and in Kafka (the drain input).
  const jsonl = join(work, 'events.jsonl');
  const gen = ['--seed', '11', '--events', String(events), '--start', '2026-11-01', '--wikis', 'enwiki,dewiki,frwiki', '--bad-fraction', '0'];
  const needsTables = want('dump') || want('query') || want('dump-zstd') || want('dump-set');
  if (want('ingest')) await mwlake(['gen', ...gen, '--out', jsonl]);
  const mb = want('ingest') ? statSync(jsonl).size / 1e6 : 0;

  // ingest: MB/s of event JSON; higher is better, so the ratio is ours/reference in MB/s. Without
  // the ingest row, one untimed drain makes the table the dump and query rows read.
  const ingest = [];
  const ingestWorker = [];
  const ingestRef = [];
  for (let i = 0; i < (want('ingest') ? runs : needsTables ? 1 : 0); i++) {
    const stream = `mwlake.bench.${Date.now()}.${i}`;
    topics.push(`eqiad.${stream}`, `codfw.${stream}`);
    await mwlake(['gen', ...gen, '--stream', stream, '--to', 'kafka', '--brokers', brokers]);
    const wh = join(work, `wh${i}`);
    const env = { KAFKA_BROKERS: brokers, MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}`, MWLAKE_JOB_NAME: `bench${i}` };
    jobs.push(`bench${i}`);
    const seconds = await time(() => mwlake(['drain', '--warehouse', wh], env));
    if (!want('ingest')) break;
    ingest.push(mb / seconds);
    // The same topics again into a fresh table, with the opt-in worker thread (drain.workers: 1).
    const workerEnv = { ...env, MWLAKE_JOB_NAME: `bench${i}w`, MWLAKE_DRAIN_WORKERS: '1' };
    jobs.push(`bench${i}w`);
    ingestWorker.push(mb / (await time(() => mwlake(['drain', '--warehouse', join(work, `wh${i}w`)], workerEnv))));
    ingestRef.push(mb / (await time(() => duck(`COPY (SELECT * FROM read_json('${jsonl}', format='newline_delimited')) TO '${join(work, `ref${i}.parquet`)}' (FORMAT parquet)`))));
  }
  if (want('ingest')) {
    row('ingest', `Kafka → drain → Iceberg, MB/s of JSON (${mb.toFixed(0)} MB)`, ingest, ingestRef, 'ratio ≥ 1.5', (r) => r >= 1.5);
    row('ingest, 1 worker', `the same with drain.workers: 1 (opt-in; more memory), MB/s of JSON`, ingestWorker, ingestRef, 'ratio ≥ 1.5', (r) => r >= 1.5);
  }

  // dump: pages-meta-history alone (`--jobs`) from the state tables, MB/s of its XML, vs lbzip2 -n2
  // compressing that same XML; dump set: the whole set (history, current, articles, multistream,
  // stubs) from one read, MB/s of all the XML it holds, vs compressing what the dump compresses.
  const wh = join(work, 'wh0');
  const env = { MWLAKE_JOB_NAME: 'bench0' };
  if (needsTables) await mwlake(['merge', '--warehouse', wh], env);
  const dumpRow = async (name, what, extraArgs, target, ok) => {
    const ours = [];
    const ref = [];
    let xmlMb = 0;
    for (let i = 0; i < runs; i++) {
      const out = join(work, `${name.replace(' ', '-')}${i}`);
      const t = await time(() => mwlake(['dump', ...extraArgs, '--warehouse', wh, '--dumps-root', out, '--wiki', 'enwiki', '--date', '2026-11-30'], env));
      const xmlDir = join(work, 'xml');
      const files = await dumpXml(join(out, 'enwiki', '20261130'), xmlDir);
      xmlMb = files.reduce((n, f) => n + f.bytes, 0) / 1e6;
      ours.push(xmlMb / t);
      // The reference compresses what the dump compressed: each distinct XML once, in its file's
      // codec (pages-articles holds the multistream file's XML, which the dump joins from that
      // file's bz2 streams, not compresses again).
      const distinct = files.filter((f, k) => !files.slice(0, k).some((g) => g.bytes === f.bytes && spawnSync('cmp', ['-s', g.xml, f.xml]).status === 0));
      if (files.some((f) => f.name.includes('multistream')) && distinct.length !== files.length - 1) {
        throw new Error(`the multistream file's XML is expected to be pages-articles', found ${files.length - distinct.length} repeats among ${files.map((f) => f.name).join(', ')}`);
      }
      ref.push(xmlMb / (await time(async () => {
        for (const f of distinct) await run('bash', ['-c', `${REFERENCE[f.codec]} '${f.xml}' > /dev/null`]);
      })));
      rmSync(xmlDir, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
    row(name, `${what}, MB/s of the XML in its files (${xmlMb.toFixed(0)} MB)`, ours, ref, target, ok);
  };
  // query, before the dump rows (their gigabytes of output would crowd the page cache): seconds
  // (lower is better, ratio ours/reference), two queries per run: the count per wiki, and the
  // latest revision of every page (summed per wiki, so both sides print a few rows).
  const q = [];
  const qRef = [];
  const files = join(wh, 'state', 'revisions', 'data', '**', '*.parquet');
  const queries = [
    (from) => `SELECT wiki_id, count(*) AS revisions FROM ${from} GROUP BY 1 ORDER BY 1`,
    (from) => `SELECT wiki_id, count(*) AS pages, sum(latest) AS latest_sum FROM (SELECT wiki_id, page_id, max(revision_id) AS latest FROM ${from} GROUP BY 1, 2) GROUP BY 1 ORDER BY 1`,
  ];
  for (let i = 0; i < (want('query') ? queryRuns : 0); i++) {
    let [ours, ref] = [0, 0];
    for (const sql of queries) {
      ours += await time(() => mwlake(['query', '--warehouse', wh, sql('revisions_raw')], env));
      ref += await time(() => duck(sql(`read_parquet('${files}')`)));
    }
    q.push(ours);
    qRef.push(ref);
  }
  if (want('query')) row('query', 'count per wiki + latest revision per page: mwlake query (process start, snapshot binding) vs DuckDB read_parquet in a fresh Node process, seconds for both', q, qRef, 'ratio ≤ 1.1', (r) => r <= 1.1);

  if (want('dump')) await dumpRow('dump', 'enwiki pages-meta-history (--jobs metahistorybz2dump), vs lbzip2 -n2', ['--jobs', 'metahistorybz2dump'], 'ratio ≥ 0.9', (r) => r >= 0.9);
  // dump zstd: the same with dumps.compression zstd, vs `zstd -T2 -3` on the same XML.
  const zstdJob = join(work, 'zstd.yaml');
  writeFileSync(zstdJob, 'job_name: bench0\ndumps:\n  compression: zstd\n');
  if (want('dump-zstd')) await dumpRow('dump zstd', 'enwiki pages-meta-history in zstd (--jobs metahistoryzstdump), vs zstd -T2 -3', ['--config', zstdJob, '--jobs', 'metahistoryzstdump'], 'ratio ≥ 0.8', (r) => r >= 0.8);
  if (want('dump-set')) await dumpRow('dump set', 'the whole enwiki dump set (not an issue row; the bz2 target applied), vs lbzip2 -n2 and gzip -6 on each distinct XML', [], 'ratio ≥ 0.9', (r) => r >= 0.9);

  // ingest memory: peak RSS of the drain at 1x and 4x the input (GNU time's %M, KiB), `runs`
  // drains of the same topics into fresh tables at each size.
  const rss = async (count, tag) => {
    const stream = `mwlake.bench.mem.${Date.now()}.${tag}`;
    topics.push(`eqiad.${stream}`, `codfw.${stream}`);
    await mwlake(['gen', '--seed', '12', '--events', String(count), '--start', '2026-11-01', '--wikis', 'enwiki,dewiki,frwiki', '--bad-fraction', '0', '--stream', stream, '--to', 'kafka', '--brokers', brokers]);
    const peaks = [];
    for (let i = 0; i < runs; i++) {
      jobs.push(`mem${tag}${i}`);
      const r = await run('/usr/bin/time', ['-f', '%M', process.execPath, cli, '--log-level', 'warn', 'drain', '--warehouse', join(work, `mem-${tag}-${i}`)], {
        env: { ...process.env, KAFKA_BROKERS: brokers, MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}`, MWLAKE_JOB_NAME: `mem${tag}${i}` },
      });
      peaks.push(Number(r.stderr.trim().split('\n').at(-1)) / 1024);
      rmSync(join(work, `mem-${tag}-${i}`), { recursive: true, force: true });
    }
    return peaks;
  };
  if (want('ingest-memory')) {
    const mem1 = await rss(memoryEvents, '1x');
    const mem4 = await rss(memoryEvents * 4, '4x');
    const [m1, m4] = [median(mem1), median(mem4)];
    rows.push({
      row: 'ingest memory',
      what: `peak RSS of the drain, MiB: ${m1.toFixed(0)} at 1x, ${m4.toFixed(0)} at 4x (${memoryEvents * 4} events); median of ${runs}`,
      median: m4,
      min: Math.min(...mem4),
      max: Math.max(...mem4),
      reference: m1,
      referenceMin: Math.min(...mem1),
      referenceMax: Math.max(...mem1),
      ratio: m4 / m1,
      target: '≤ 1024 MiB and 4x/1x ≤ 1.2',
      met: Math.max(...mem1, ...mem4) <= 1024 && m4 / m1 <= 1.2,
    });
  }

  // merge: a fixed delta into history of 1x and 8x size (bench/merge-scale.mjs).
  const [history, delta] = quick ? [5000, 5000] : [50000, 50000];
  if (want('merge')) {
    // Its folder inside ours, removed with it when the bench is stopped.
    const m = JSON.parse((await run(process.execPath, [join(root, 'bench', 'merge-scale.mjs'), String(history), String(delta), String(mergeRuns)], { env: { ...process.env, TMPDIR: work } })).stdout.trim().split('\n').at(-1));
    rows.push({
      row: 'merge',
      what: `${delta} events (one day) merged into ${history} (1x, the reference) and ${history * 8} (8x) events of history, seconds; median of ${mergeRuns}, alternating sizes`,
      median: m.eightX,
      min: m.eightXRange[0],
      max: m.eightXRange[1],
      reference: m.oneX,
      referenceMin: m.oneXRange[0],
      referenceMax: m.oneXRange[1],
      ratio: m.ratio,
      target: 'ratio 8x/1x ≤ 1.25',
      met: m.ratio <= 1.25,
    });
  }

  const table = rows;
  console.table(table.map((r) => ({ row: r.row, ratio: r.ratio?.toFixed(2) ?? '—', target: r.target ?? '—', met: r.met, ours: r.median?.toFixed(2), reference: r.reference?.toFixed(2), what: r.what })));
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const out = join(root, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}${quick ? '-quick' : ''}${only === undefined ? '' : `-${only.join('+')}`}.json`);
  writeFileSync(out, JSON.stringify({ quick, runs, queryRuns, events, ...(only === undefined ? {} : { only }), rows: table }, null, 2) + '\n');
  console.log(`written ${out}`);
} finally {
  rmSync(work, { recursive: true, force: true });
  await deleteTopics().catch((error) => console.error(`could not delete the bench topics ${topics.join(', ')}: ${error.message}`));
  if (startedBroker) spawnSync('bash', ['scripts/kafka.sh', 'stop'], { cwd: root, stdio: 'inherit' });
  if (interrupted !== undefined) process.exit(128 + SIGNALS[interrupted]);
}
