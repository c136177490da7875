// The job commands: drain, merge, dump, maintain and nightly. Each parses its flags, loads the job
// file, runs one pipeline step and prints its result as one JSON line on stdout.

import { Command } from '../commander.js';
import { JobError } from '../../core/errors.js';
import { stringifyJsonBigInt } from '../../core/json-bigint.js';
import { isDirectory, makeDirectory } from '../../core/make-directory.js';
import { duckDbMemory, loadConfig, wikiSelection, type ConfigOverrides, type JobConfig } from '../../pipeline/config.js';
import { warehouseOf } from '../../pipeline/warehouse.js';
import type { StepProgress } from '../../pipeline/progress-hooks.js';
import type { EventKind } from '../../events/staged-row.js';
import type { CliContext, RegisterCommand } from '../context.js';
import { refuseEmptyFlags } from '../empty-flags.js';
import { requireWarehouseFolder } from '../warehouse-folder.js';
import { parseIsoTime } from '../iso-time.js';

// Steps, and what only a running step needs, are imported when their command runs: startup loads
// only commander and the job file code, which `mwlake query` pays for at every call.
const steps = {
  drain: () => import('../../pipeline/drain.js'),
  replay: () => import('../../pipeline/replay.js'),
  merge: () => import('../../pipeline/merge.js'),
  dump: () => import('../../pipeline/dump.js'),
  dueDates: () => import('../../pipeline/due-dates.js'),
  drainShortfall: () => import('../../pipeline/drain-shortfall.js'),
  maintenance: () => import('../../pipeline/maintenance.js'),
  status: () => import('../../pipeline/status.js'),
  nightly: () => import('../../pipeline/nightly.js'),
  lease: () => import('../../pipeline/lease.js'),
  progress: () => import('../../core/progress.js'),
  progressHooks: () => import('../../pipeline/progress-hooks.js'),
  summaries: () => import('../summaries.js'),
};

/** `--only-stream` values: `visibility` is also the name of that stream's section in the result. */
const REPLAY_STREAMS: ReadonlyMap<string, EventKind> = new Map([
  ['page_change', 'page_change'],
  ['visibility', 'revision_visibility_change'],
]);

function replayStream(flag: string | undefined, config: JobConfig): EventKind | undefined {
  if (flag === undefined) return undefined;
  const kind = REPLAY_STREAMS.get(flag);
  if (kind === undefined) throw new JobError('USAGE', `--only-stream takes ${[...REPLAY_STREAMS.keys()].join(' or ')}, found ${JSON.stringify(flag)}`);
  if (kind === 'revision_visibility_change' && config.kafka.visibilityTopics.length === 0) {
    throw new JobError('USAGE', '--only-stream visibility: this job reads no legacy visibility stream (kafka.visibility_topics and MWLAKE_VISIBILITY_TOPICS are unset)');
  }
  return kind;
}

/** A step's progress on stderr, as hooks. */
async function progressHooks(context: CliContext): Promise<StepProgress> {
  const [{ createProgress }, { stepProgress }] = await Promise.all([steps.progress(), steps.progressHooks()]);
  return stepProgress(createProgress(context.progressStream()));
}

export interface CommonFlags {
  config?: string;
  warehouse?: string;
  brokers?: string;
  jobName?: string;
  dryRun?: boolean;
}

/** The commands that write or read dumps (dump, nightly, status) take the root as a flag too. */
function dumpsRoot(cmd: Command): Command {
  return cmd.option('--dumps-root <dir>', 'dumps output root (default: $MWLAKE_DUMPS_ROOT, else dumps.root of the job file, else dumps beside the warehouse)');
}

/**
 * The flags every job command takes. The others only where they are used (`--dry-run` where there
 * is something to leave undone, `--brokers` where Kafka is read, `--job-name` where a lease or
 * report is named after the job): elsewhere commander refuses them (64), not ignores them.
 */
export function common(cmd: Command, { writes = true, kafka = false, job = true }: { writes?: boolean; kafka?: boolean; job?: boolean } = {}): Command {
  cmd
    .option('--config <file>', 'job file (YAML), e.g. jobs/page_content_change.yaml')
    .option('--warehouse <dir>', 'Iceberg warehouse directory (default: $MWLAKE_WAREHOUSE, else warehouse of the job file, else ./warehouse)');
  if (kafka) cmd.option('--brokers <list>', 'Kafka brokers host:port,... (default: $KAFKA_BROKERS, else $MWLAKE_KAFKA_BROKERS, else kafka.brokers of the job file, else 127.0.0.1:9092)');
  if (job) cmd.option('--job-name <name>', 'job name (default: $MWLAKE_JOB_NAME, else job_name of the job file)');
  return writes ? cmd.option('--dry-run', 'show what would be done, change nothing') : cmd;
}

/**
 * The job's configuration. `readOnly` commands need no job name. Only the steps that fill a
 * warehouse (drain, nightly) create it (`createsWarehouse`), once their flags are checked: for the
 * others a mistyped --warehouse must fail, not merge nothing, or publish empty dumps and point
 * `latest/` at them, from a new empty one.
 */
export async function config(
  flags: CommonFlags & ConfigOverrides,
  context: CliContext,
  o: { readonly readOnly?: boolean; readonly createsWarehouse?: boolean; readonly usesKafka?: boolean } = {},
): Promise<JobConfig> {
  refuseEmptyFlags([['--config', flags.config], ['--warehouse', flags.warehouse], ['--brokers', flags.brokers], ['--job-name', flags.jobName], ['--dumps-root', flags.dumpsRoot]]);
  const overrides: ConfigOverrides = {};
  if (flags.warehouse !== undefined) overrides.warehouse = flags.warehouse;
  if (flags.brokers !== undefined) overrides.brokers = flags.brokers;
  if (flags.jobName !== undefined) overrides.jobName = flags.jobName;
  if (flags.maxEvents !== undefined) overrides.maxEvents = flags.maxEvents;
  if (flags.maxBytes !== undefined) overrides.maxBytes = flags.maxBytes;
  if (flags.dumpsRoot !== undefined) overrides.dumpsRoot = flags.dumpsRoot;
  const c = await loadConfig(flags.config, context.env, overrides, { jobNameRequired: o.readOnly !== true, usesKafka: o.usesKafka === true });
  // Credentials set for a job file without `kafka.sasl:` are not used: the connection goes without
  // SASL, and a broker that wants it fails it as unavailable (69, retried), naming no setting.
  const saslVariables = ['MWLAKE_KAFKA_SASL_USERNAME', 'MWLAKE_KAFKA_SASL_PASSWORD'].filter((name) => (context.env[name] ?? '') !== '');
  if (o.usesKafka === true && c.kafka.sasl === undefined && saslVariables.length > 0) {
    context.logger().warn({ variables: saslVariables }, `${saslVariables.join(' and ')} ${saslVariables.length > 1 ? 'are' : 'is'} set, but ${flags.config ?? 'the job'} has no kafka.sasl section, which turns SASL on: connecting without SASL`);
  }
  if (o.createsWarehouse !== true) await requireWarehouseFolder(c.warehouse);
  return c;
}

/** Drain's warehouse, created once its flags passed (nightly's in runNightly); a dry run creates nothing and finds one missing empty. */
async function createWarehouse(c: JobConfig, flags: CommonFlags): Promise<void> {
  if (flags.dryRun !== true) await makeDirectory(c.warehouse);
}

function print(context: CliContext, value: unknown): void {
  context.stdout.write(stringifyJsonBigInt(value) + '\n');
}

/** A cap: 0 would still read a first batch, so it is refused. */
const count = (flag: string) => (text: string) => {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new JobError('USAGE', `${flag} must be a whole number of at least 1, found ${JSON.stringify(text)}`);
  return Number(text);
};

/** Runs under the job's lease; a dry run, which writes nothing, takes none. */
async function withLease<T>(c: JobConfig, context: CliContext, command: string, run: (lease: { assertHeld(): void; readonly tookOver?: { readonly startedAt: string } }) => Promise<T>, dryRun = false): Promise<T> {
  if (dryRun) return run({ assertHeld: () => {} });
  const warehouse = warehouseOf(c, context.logger());
  const { acquireLease, runUnderLease } = await steps.lease();
  const lease = await acquireLease({ storage: warehouse.storage, warehouseLocation: warehouse.rootLocation, job: c.jobName, command, logger: context.logger() });
  return runUnderLease(lease, context.logger(), () => run(lease));
}

export const registerJobs: RegisterCommand = (program, context) => {
  common(program.command('drain').description('drain Kafka up to the end offsets seen at start into the events table, exactly once; or replay a time window'), { kafka: true })
    .option('--max-events <n>', 'stop after about this many events', count('--max-events'))
    .option('--max-bytes <n>', 'stop after about this many bytes', count('--max-bytes'))
    .option('--allow-gap', 'accept events lost to retention (recorded in the snapshot summary)')
    .option('--reset-offsets <topics>', 'read these topics from their start, ignoring their stored offsets: after a topic was deleted and recreated (recorded in the snapshot summary)')
    .option('--from <iso-time>', 'replay: re-read each partition from its first message Kafka stamped at or after this time (with --to)')
    .option('--to <iso-time>', 'replay: up to its first message stamped at or after this time')
    .option('--force', 'replay: replace the rows the table already holds in the window instead of skipping them')
    .option('--only-stream <stream>', `replay: only this stream, ${[...REPLAY_STREAMS.keys()].join(' or ')} (default: every stream the job drains)`)
    .option('--json', 'print the result as JSON even on a terminal')
    .action(async (flags: CommonFlags & { maxEvents?: number; maxBytes?: number; allowGap?: boolean; resetOffsets?: string; from?: string; to?: string; force?: boolean; onlyStream?: string; json?: boolean }) => {
      const c = await config(flags, context, { createsWarehouse: true, usesKafka: true });
      if (flags.from !== undefined || flags.to !== undefined) {
        const [fromMs, toMs] = [parseIsoTime(flags.from ?? ''), parseIsoTime(flags.to ?? '')];
        if (fromMs === undefined || toMs === undefined) {
          const given = (flag: string, v: string | undefined) => (v === undefined ? `no ${flag}` : `${flag} ${JSON.stringify(v)}`);
          throw new JobError('USAGE', `a replay needs --from and --to as ISO times such as 2026-11-02T00:00:00Z (no offset: UTC), found ${given('--from', flags.from)} and ${given('--to', flags.to)}`);
        }
        // A replay reads its whole window and never skips a gap: these would be silently ignored.
        for (const [flag, set] of [['--reset-offsets', flags.resetOffsets !== undefined], ['--max-events', flags.maxEvents !== undefined], ['--max-bytes', flags.maxBytes !== undefined], ['--allow-gap', flags.allowGap === true]] as const) {
          if (set) throw new JobError('USAGE', `${flag} applies to a drain, not a replay (--from/--to)`);
        }
        const only = replayStream(flags.onlyStream, c);
        const { runReplay, checkReplayRequest } = await steps.replay();
        checkReplayRequest(c, { fromMs, toMs, ...(only === undefined ? {} : { only }) });
        // A replay recovers rows of tables that exist: a mistyped --warehouse must fail, not replay nothing.
        await requireWarehouseFolder(c.warehouse);
        const result = await withLease(c, context, 'drain', () =>
          runReplay({ config: c, warehouse: warehouseOf(c, context.logger()), logger: context.logger(), fromMs, toMs, force: flags.force === true, dryRun: flags.dryRun === true, ...(only === undefined ? {} : { only }) }),
        flags.dryRun === true);
        print(context, { step: 'replay', ...result });
        return;
      }
      if (flags.force === true) throw new JobError('USAGE', '--force applies to a replay (--from/--to) only');
      if (flags.onlyStream !== undefined) throw new JobError('USAGE', '--only-stream applies to a replay (--from/--to) only');
      // As --wiki: `--reset-offsets "$TOPICS"` with TOPICS unset must not run a plain drain.
      const resetTopics = flags.resetOffsets?.split(',').map((t) => t.trim()).filter((t) => t !== '');
      if (resetTopics?.length === 0) throw new JobError('USAGE', `--reset-offsets takes topic names separated by commas, found ${JSON.stringify(flags.resetOffsets)}`);
      const { runDrain, checkResetTopics } = await steps.drain();
      checkResetTopics(c, resetTopics ?? []);
      await createWarehouse(c, flags);
      const hooks = await progressHooks(context);
      const result = await withLease(c, context, 'drain', () =>
        runDrain({ config: c, warehouse: warehouseOf(c, context.logger()), logger: context.logger(), allowGap: flags.allowGap === true, dryRun: flags.dryRun === true, onProgress: hooks.drain,
          ...(resetTopics === undefined ? {} : { resetTopics }) }),
      flags.dryRun === true).finally(hooks.end);
      // A person at a terminal gets a summary; pipes, cron and Airflow get one JSON line.
      if ((context.stdout as { isTTY?: boolean }).isTTY === true && flags.json !== true) context.stdout.write((await steps.summaries()).drainSummary(result));
      else print(context, { step: 'drain', ...result });
    });

  common(program.command('merge').description('merge new events into the state tables (revisions, pages)')).action(async (flags: CommonFlags) => {
    const c = await config(flags, context);
    const { runMerge } = await steps.merge();
    const hooks = await progressHooks(context);
    const result = await withLease(c, context, 'merge', () =>
      runMerge({ warehouse: warehouseOf(c, context.logger()), eventsNamespace: c.events.namespace, eventsTable: c.events.table, visibilityTable: c.events.visibilityTable, logger: context.logger(), dryRun: flags.dryRun === true, onProgress: hooks.merge, ...duckDbMemory(c) }), flags.dryRun === true,
    ).finally(hooks.end);
    print(context, { step: 'merge', ...result });
  });

  dumpsRoot(common(program.command('dump').description('write XML dumps (export 0.11, Wikimedia layout) for a date or a date range')))
    .option('--wiki <ids>', 'wiki ids, comma-separated, or all', 'all')
    .option('--date <YYYY-MM-DD>', 'the dump date: revisions before its 00:00 UTC')
    .option('--from <YYYY-MM-DD>', 'first date of a range to regenerate')
    .option('--to <YYYY-MM-DD>', 'last date of the range')
    .option('--due', 'every date nightly would dump now (after each wiki\'s newest dump up to yesterday, and those that did not complete), keeping the wikis a date completed')
    .option('--jobs <names>', 'only these jobs, comma-separated (e.g. metahistorybz2dump); the others keep what an earlier run wrote')
    .action(async (flags: CommonFlags & { wiki: string; date?: string; from?: string; to?: string; due?: boolean; dumpsRoot?: string; jobs?: string }) => {
      const { dateRange, failedDumpsError, relinkNewestRuns, runDumps } = await steps.dump();
      let dates: string[] | undefined;
      const given = [flags.date, flags.from, flags.to].filter((v) => v !== undefined).length;
      if (flags.due === true && given === 0) dates = undefined;
      else if (flags.due !== true && flags.date !== undefined && given === 1) dates = dateRange(flags.date, flags.date, Date.now(), { from: '--date', to: '--date' });
      else if (flags.due !== true && flags.date === undefined && flags.from !== undefined && flags.to !== undefined) dates = dateRange(flags.from, flags.to);
      else throw new JobError('USAGE', 'give --date D, or --from D1 --to D2, or --due');
      const c = await config(flags, context);
      // Trimmed like every other list: `--wiki "enwiki, dewiki"` must not look up wiki " dewiki".
      const listed = flags.wiki.split(',').map((w) => w.trim()).filter((w) => w !== '');
      if (listed.length === 0) throw new JobError('USAGE', `--wiki takes all or wiki ids separated by commas, found ${JSON.stringify(flags.wiki)}`);
      const selected = wikiSelection(listed);
      if (selected === undefined) throw new JobError('USAGE', `--wiki takes all (alone, in lower case) or wiki ids separated by commas, found ${JSON.stringify(flags.wiki)}`);
      const wikis = selected === 'all' ? c.dumps.wikis : selected;
      // As --wiki: a script's trailing comma (`--jobs "$A,$B"` with B unset) is not a job named "".
      const jobs = flags.jobs?.split(',').map((name) => name.trim()).filter((name) => name !== '');
      if (jobs?.length === 0) throw new JobError('USAGE', `--jobs takes dump job names separated by commas (e.g. metahistorybz2dump), found ${JSON.stringify(flags.jobs)}`);
      const hooks = await progressHooks(context);
      const warehouse = warehouseOf(c, context.logger());
      const outcome = await withLease(c, context, 'dump', async (lease) => {
        // Worked out under the lease: another run may be writing the folders they come from.
        const { datesDue, leftBehindWarning } = await steps.dueDates();
        const { describeShortfalls } = await steps.drainShortfall();
        // Explicit dates read only the state tables: the due dates (which read the events table's
        // drain records too) only warn about them, so a failure to work them out must not stop the dump.
        const dueNow = await datesDue({ ...c, dumps: { ...c.dumps, wikis } }, warehouse, new Date().toISOString().slice(0, 10)).catch((error: unknown) => {
          if (dates === undefined) throw error;
          context.logger().warn({ err: error }, `dump: the due dates could not be worked out (${error instanceof Error ? error.message : String(error)}), so dates this run leaves behind or events not drained yet are not warned about`);
          return undefined;
        });
        const due = dates === undefined ? dueNow : undefined;
        const chosen = dates ?? due!.dates;
        // As nightly --date: dates due before the newest asked for are due no more once it is written.
        const left = dates === undefined || dueNow === undefined ? [] : dueNow.leftBehind(dates);
        if (left.length > 0) context.logger().warn({ leftBehind: left }, leftBehindWarning('dump', dates!, left));
        const withheld = dueNow?.withheld ?? [];
        // Printed with the result: a scheduler reading it sees why nothing was dumped.
        const held = withheld.length === 0 ? {} : { withheld, ...(due?.heldDates === undefined ? {} : { heldDates: due.heldDates }) };
        if (withheld.length > 0) {
          const what = due === undefined ? 'the dates asked for are dumped, but may miss events of their days still in Kafka' : 'no date is due until a drain reads to its ends; give --date to dump one anyway';
          context.logger().warn(held, `dump: ${describeShortfalls(withheld)}; ${what}`);
        }
        const run =
          chosen.length === 0
            ? []
            : await runDumps({
                config: c, warehouse, logger: context.logger(), wikis, dates: chosen, dryRun: flags.dryRun === true, requireMerged: true, onProgress: hooks.dumps, assertHeld: lease.assertHeld,
                ...(dates === undefined ? { keepComplete: true } : {}), ...(jobs === undefined ? {} : { jobs }),
              });
        // As nightly: a run killed while linking left latest/ mixed, and a rerun that finds its date
        // complete (or nothing due) links nothing itself.
        if (flags.dryRun !== true) {
          lease.assertHeld();
          await relinkNewestRuns({ ...c, dumps: { ...c.dumps, wikis } });
        }
        return { dates: chosen, results: run, ...held };
      }, flags.dryRun === true).finally(hooks.end);
      print(context, { step: 'dump', ...outcome });
      // Printed first: the result says what was dumped; the exit says what was not.
      const failed = failedDumpsError(outcome.results);
      if (failed !== undefined) throw failed;
    });

  dumpsRoot(common(program.command('maintain').description('compact small files, expire old snapshots and remove orphan files, and remove dump runs past dumps.keep_runs, as the job file configures'))).action(async (flags: CommonFlags & { dumpsRoot?: string }) => {
    const c = await config(flags, context);
    const { runMaintenance, tookOverFrom } = await steps.maintenance();
    const result = await withLease(c, context, 'maintain', (lease) => runMaintenance({ config: c, warehouse: warehouseOf(c, context.logger()), logger: context.logger(), dryRun: flags.dryRun === true, assertHeld: lease.assertHeld, ...tookOverFrom(lease) }), flags.dryRun === true);
    print(context, { step: 'maintain', ...result });
  });

  dumpsRoot(common(program.command('status').description('tables, Kafka lag against the stored offsets, the last run, dump dates present, incomplete and missing'), { writes: false, kafka: true }))
    .option('--json', 'print JSON')
    .action(async (flags: CommonFlags & { dumpsRoot?: string; json?: boolean }) => {
      const c = await config(flags, context, { usesKafka: true });
      const { runStatus, describeUnmerged } = await steps.status();
      const status = await runStatus({ config: c, warehouse: warehouseOf(c, context.logger()), logger: context.logger() });
      // Printed whole either way; a monitoring check still hears that no lag could be read (69: Kafka
      // down, or no topic there), or that some could not for a reason a person must fix (78, 65 or
      // 77, e.g. rejected credentials or authorization).
      const kafkaDown = (): void => {
        if (!('lag' in status.kafka)) throw new JobError(status.kafka.errorCode, `status: the Kafka lag could not be read (the rest of the status is printed): ${status.kafka.error}`);
        if (status.kafka.errorCode !== undefined) throw new JobError(status.kafka.errorCode, `status: the Kafka lag of some topics could not be read (the rest of the status is printed): ${status.kafka.error}`);
      };
      if (flags.json === true) {
        print(context, status);
        kafkaDown();
        return;
      }
      const lines = [`job ${status.job}`, 'tables:'];
      for (const t of status.tables) lines.push(`  ${t.table.padEnd(32)} ${String(t.records).padStart(10)} records${t.positionDeletes > 0 ? ` (${t.positionDeletes} position-deleted)` : ''}  ${String(t.dataFiles).padStart(5)} files  ${t.bytes} bytes  snapshot ${t.currentSnapshotId ?? '-'} (${t.lastUpdated})`);
      lines.push('merge:' + (status.unmerged.length === 0 ? ' up to date' : ''));
      for (const u of status.unmerged) lines.push(`  ${describeUnmerged(u)}: run mwlake merge`);
      const k = status.kafka;
      lines.push('kafka:' + ('lag' in k ? ` total lag ${k.totalLag}` : ` unavailable: ${k.error}`));
      if ('lag' in k) {
        for (const [p, n] of Object.entries(k.lag)) lines.push(`  ${p} lag ${n}`);
        if (k.error !== undefined) lines.push(`  unavailable: ${k.error}`);
      }
      lines.push(`last run: ${status.lastRun === null ? 'none' : `${status.lastRun.startedAt} (${Math.round(status.lastRun.durationMs / 1000)} s)`}`);
      // The root is named: a mistyped --dumps-root would otherwise look like a job with no dumps yet.
      lines.push(`dumps under ${c.dumps.root}:`);
      if (Object.keys(status.dumps).length === 0) lines.push(`  none${(await isDirectory(c.dumps.root)) ? '' : ' (no such folder)'}`);
      const dates = (list: string[]) => (list.length === 0 ? 'none' : list.length <= 3 ? list.join(' ') : `${list.length} (${list[0]} … ${list.at(-1)})`);
      for (const [wiki, d] of Object.entries(status.dumps)) lines.push(`  ${wiki}: ${d.present.length} dates, newest ${d.present.at(-1) ?? '-'}, incomplete ${dates(d.incomplete)}, missing ${dates(d.missing)}`);
      const m = status.namespaceMap;
      if ('error' in m) lines.push(`  namespace map unreadable: ${m.error}`);
      else if (m.unmapped.length > 0) lines.push(`  not dumped, the namespace map ${m.path} has no line for them: ${m.unmapped.join(', ')}`);
      context.stdout.write(lines.join('\n') + '\n');
      kafkaDown();
    });

  dumpsRoot(common(program.command('nightly').description('drain, merge, dump every due date, maintain the tables, write the run report and metrics'), { kafka: true }))
    .option('--date <YYYY-MM-DD>', 'dump this date instead of every due date')
    .option('--allow-gap', 'accept events lost to retention')
    .option('--json', 'print the run report')
    .action(async (flags: CommonFlags & { dumpsRoot?: string; date?: string; allowGap?: boolean; json?: boolean }) => {
      const c = await config(flags, context, { createsWarehouse: true, usesKafka: true });
      const { runNightly } = await steps.nightly();
      const { createProgress } = await steps.progress();
      const report = await runNightly({ config: c, logger: context.logger(), progress: createProgress(context.progressStream()), ...(flags.date === undefined ? {} : { date: flags.date }), dryRun: flags.dryRun === true, allowGap: flags.allowGap === true });
      if (flags.json === true) print(context, report);
      else print(context, { step: 'nightly', durationMs: report.durationMs, events: report.steps.drain?.written ?? 0, dumpDates: report.steps.dumps?.dates ?? [] });
    });
};
