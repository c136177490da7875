#!/usr/bin/env node
// `npm run bench [-- --quick]`: each stage against a reference measured in the same run, as a
// ratio (absolute times drift between machines). Generates its own seeded data, starts or reuses
// the local broker, prints one table and writes it to bench/results/<date>.json. See bench/README.md.

import { spawnSync, execFileSync } from 'node:child_process';
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
// Ctrl-C stops the step running (it is in our process group), which fails it, so the finally below
// removes the data, deletes the topics and stops our broker; then we exit 130.
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
});
const work = mkdtempSync(join(tmpdir(), 'mwlake-bench-'));
const cli = join(root, 'dist/src/cli/main.js');

/** Writes out dirty pages first, so a measurement never pays for the previous step's writeback. */
function settle() {
  execFileSync('sync');
}
function time(fn) {
  settle();
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}
function mwlake(args, env = {}) {
  const r = spawnSync(process.execPath, [cli, '--log-level', 'warn', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`mwlake ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
/** A fresh Node process running one statement through @duckdb/node-api, imported the documented (ESM) way. */
function duck(sql) {
  const script = `import { DuckDBInstance } from '@duckdb/node-api';
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run(${JSON.stringify(sql)});
connection.closeSync();
instance.closeSync();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}
/** Decompresses every XML file of a dump directory into `out`; returns its size in bytes. */
function allXml(dir, out) {
  const files = readdirSync(dir).filter((f) => /\.xml(-p\d+p\d+)?\.(bz2|gz|zst)$/.test(f) && !f.includes('index')).sort();
  writeFileSync(out, '');
  for (const f of files) {
    const tool = f.endsWith('.bz2') ? 'bzcat' : f.endsWith('.gz') ? 'zcat' : 'zstd -dc';
    execFileSync('bash', ['-c', `${tool} '${join(dir, f)}' >> '${out}'`]);
  }
  return statSync(out).size;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
/** Topics this run creates, deleted at the end so repeated runs do not fill the broker's disk. */
const topics = [];
async function deleteTopics() {
  if (topics.length === 0) return;
  const { KafkaAdmin } = await import(join(root, 'dist/src/kafka/admin.js'));
  const admin = await KafkaAdmin.connect({ brokers: brokers.split(','), clientId: 'mwlake-bench' });
  try {
    await admin.deleteTopics(topics);
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
  if (want('ingest')) mwlake(['gen', ...gen, '--out', jsonl]);
  const mb = want('ingest') ? statSync(jsonl).size / 1e6 : 0;

  // ingest: MB/s of event JSON; higher is better, so the ratio is ours/reference in MB/s. Without
  // the ingest row, one untimed drain makes the table the dump and query rows read.
  const ingest = [];
  const ingestWorker = [];
  const ingestRef = [];
  for (let i = 0; i < (want('ingest') ? runs : needsTables ? 1 : 0); i++) {
    const stream = `mwlake.bench.${Date.now()}.${i}`;
    topics.push(`eqiad.${stream}`, `codfw.${stream}`);
    mwlake(['gen', ...gen, '--stream', stream, '--to', 'kafka', '--brokers', brokers]);
    const wh = join(work, `wh${i}`);
    const env = { KAFKA_BROKERS: brokers, MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}`, MWLAKE_JOB_NAME: `bench${i}` };
    const seconds = time(() => mwlake(['drain', '--warehouse', wh], env));
    if (!want('ingest')) break;
    ingest.push(mb / seconds);
    // The same topics again into a fresh table, with the opt-in worker thread (drain.workers: 1).
    const workerEnv = { ...env, MWLAKE_JOB_NAME: `bench${i}w`, MWLAKE_DRAIN_WORKERS: '1' };
    ingestWorker.push(mb / time(() => mwlake(['drain', '--warehouse', join(work, `wh${i}w`)], workerEnv)));
    ingestRef.push(mb / time(() => duck(`COPY (SELECT * FROM read_json('${jsonl}', format='newline_delimited')) TO '${join(work, `ref${i}.parquet`)}' (FORMAT parquet)`)));
  }
  if (want('ingest')) {
    row('ingest', `Kafka → drain → Iceberg, MB/s of JSON (${mb.toFixed(0)} MB)`, ingest, ingestRef, 'ratio ≥ 1.5', (r) => r >= 1.5);
    row('ingest, 1 worker', `the same with drain.workers: 1 (opt-in; more memory), MB/s of JSON`, ingestWorker, ingestRef, 'ratio ≥ 1.5', (r) => r >= 1.5);
  }

  // dump: pages-meta-history alone (`--jobs`) from the state tables, MB/s of its XML, vs lbzip2 -n2
  // compressing that same XML; dump set: the whole set (history, current, articles, multistream,
  // stubs) from one read, MB/s of all the XML it holds, vs lbzip2 on all of it.
  const wh = join(work, 'wh0');
  const env = { MWLAKE_JOB_NAME: 'bench0' };
  if (needsTables) mwlake(['merge', '--warehouse', wh], env);
  const dumpRow = (name, what, extraArgs, refCommand, target, ok) => {
    const ours = [];
    const ref = [];
    let xmlMb = 0;
    for (let i = 0; i < runs; i++) {
      const out = join(work, `${name.replace(' ', '-')}${i}`);
      const t = time(() => mwlake(['dump', ...extraArgs, '--warehouse', wh, '--dumps-root', out, '--wiki', 'enwiki', '--date', '2026-11-30'], env));
      const xml = join(work, 'all.xml');
      xmlMb = allXml(join(out, 'enwiki', '20261130'), xml) / 1e6;
      ours.push(xmlMb / t);
      ref.push(xmlMb / time(() => execFileSync('bash', ['-c', `${refCommand} '${xml}' > /dev/null`])));
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
    q.push(queries.reduce((sum, sql) => sum + time(() => mwlake(['query', '--warehouse', wh, sql('revisions_raw')], env)), 0));
    qRef.push(queries.reduce((sum, sql) => sum + time(() => duck(sql(`read_parquet('${files}')`))), 0));
  }
  if (want('query')) row('query', 'count per wiki + latest revision per page: mwlake query (process start, snapshot binding) vs DuckDB read_parquet in a fresh Node process, seconds for both', q, qRef, 'ratio ≤ 1.1', (r) => r <= 1.1);

  if (want('dump')) dumpRow('dump', 'enwiki pages-meta-history (--jobs metahistorybz2dump)', ['--jobs', 'metahistorybz2dump'], 'lbzip2 -n2 -c', 'ratio ≥ 0.9', (r) => r >= 0.9);
  // dump zstd: the same with dumps.compression zstd, vs `zstd -T2 -3` on the same XML.
  const zstdJob = join(work, 'zstd.yaml');
  writeFileSync(zstdJob, 'job_name: bench0\ndumps:\n  compression: zstd\n');
  if (want('dump-zstd')) dumpRow('dump zstd', 'enwiki pages-meta-history in zstd (--jobs metahistoryzstdump)', ['--config', zstdJob, '--jobs', 'metahistoryzstdump'], 'zstd -T2 -3 -c', 'ratio ≥ 0.8', (r) => r >= 0.8);
  if (want('dump-set')) dumpRow('dump set', 'the whole enwiki dump set (not an issue row; the bz2 target applied)', [], 'lbzip2 -n2 -c', 'ratio ≥ 0.9', (r) => r >= 0.9);

  // ingest memory: peak RSS of the drain at 1x and 4x the input (GNU time's %M, KiB), `runs`
  // drains of the same topics into fresh tables at each size.
  const rss = (count, tag) => {
    const stream = `mwlake.bench.mem.${Date.now()}.${tag}`;
    topics.push(`eqiad.${stream}`, `codfw.${stream}`);
    mwlake(['gen', '--seed', '12', '--events', String(count), '--start', '2026-11-01', '--wikis', 'enwiki,dewiki,frwiki', '--bad-fraction', '0', '--stream', stream, '--to', 'kafka', '--brokers', brokers]);
    const peaks = [];
    for (let i = 0; i < runs; i++) {
      const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, '--log-level', 'warn', 'drain', '--warehouse', join(work, `mem-${tag}-${i}`)], {
        env: { ...process.env, KAFKA_BROKERS: brokers, MWLAKE_TOPICS: `eqiad.${stream},codfw.${stream}`, MWLAKE_JOB_NAME: `mem${tag}${i}` },
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`drain for the memory row failed: ${r.stderr}`);
      peaks.push(Number(r.stderr.trim().split('\n').at(-1)) / 1024);
      rmSync(join(work, `mem-${tag}-${i}`), { recursive: true, force: true });
    }
    return peaks;
  };
  if (want('ingest-memory')) {
    const mem1 = rss(memoryEvents, '1x');
    const mem4 = rss(memoryEvents * 4, '4x');
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
    const m = JSON.parse(execFileSync(process.execPath, [join(root, 'bench', 'merge-scale.mjs'), String(history), String(delta), String(mergeRuns)], { encoding: 'utf8' }).trim().split('\n').at(-1));
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
  if (interrupted) process.exit(130);
}
