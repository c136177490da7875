// `mwlake nightly`: drain, merge, the dumps that are due, table maintenance, then the run report, under the job's
// lease. Every step is idempotent, so a second run the same night finds nothing to do and a
// failed run can simply be run again.

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, storageError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { isExistingDirectory, makeDirectory } from '../core/make-directory.js';
import type { Progress } from '../core/progress.js';
import { stepProgress } from './progress-hooks.js';
import { discardWritten, fileLocation, joinLocation } from '../core/storage.js';
import { writeMetricsFile, type Metric } from '../core/prom-textfile.js';
import { duckDbMemory, eventStreams, type JobConfig } from './config.js';
import { warehouseOf } from './warehouse.js';
import { dateRange, failedDumpsError, relinkNewestRuns, runDumps, type DumpDateResult } from './dump.js';
import { describeShortfalls, type DrainShortfall } from './drain-shortfall.js';
import { datesDue, leftBehindWarning } from './due-dates.js';
import { runDrain, type DrainResult } from './drain.js';
import { acquireLease, runUnderLease } from './lease.js';
import { runMaintenance, tookOverFrom, type MaintenanceResult } from './maintenance.js';
import { runMerge, type MergeResult } from './merge.js';
import { tableStatuses, type TableStatus } from './status.js';
import { requireCompressionTools } from '../dumps/compress.js';
import { PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../merge/state-schema.js';

export interface NightlyOptions {
  readonly config: JobConfig;
  readonly logger: Logger;
  /** Dump only this date (YYYY-MM-DD) instead of every due date. */
  readonly date?: string;
  readonly today?: string;
  readonly dryRun?: boolean;
  readonly allowGap?: boolean;
  /** Progress lines on a terminal (createProgress); none by default. */
  readonly progress?: Progress;
}

export interface RunReport {
  readonly job: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly steps: {
    readonly drain?: DrainResult;
    readonly merge?: MergeResult & { durationMs: number };
    /** `withheld`: the last drain stopped at its cap, so the `heldDates` due were not dumped (drain-shortfall.ts). */
    readonly dumps?: { dates: readonly string[]; results: readonly DumpDateResult[]; durationMs: number; withheld?: readonly DrainShortfall[]; heldDates?: readonly string[] };
    readonly maintenance?: MaintenanceResult;
  };
  /** Size of every table after the run. */
  readonly tables?: readonly TableStatus[];
}

export async function runNightly(o: NightlyOptions): Promise<RunReport> {
  const started = Date.now();
  const { config, logger } = o;
  // A bad --date fails before anything runs, not after the drain and the merge.
  const requested = o.date === undefined ? undefined : dateRange(o.date, o.date, Date.now(), { from: '--date', to: '--date' });
  // A host without the dumps' compressors too: found after the drain and merge, it failed every night hours in.
  requireCompressionTools(config.dumps.compression);
  // A metrics file that cannot be written must fail the night before its hours of work, not after;
  // a dry run too (the check only reads), or it passes a job file the night then refuses.
  if (config.metricsFile !== undefined) {
    // One in the warehouse folder: a first night creates that folder before it checks it, and a
    // first dry run, which creates nothing, leaves it to that night.
    const inWarehouse = resolve(dirname(config.metricsFile)) === resolve(config.warehouse);
    if (inWarehouse && o.dryRun !== true) await makeDirectory(config.warehouse);
    if (!(inWarehouse && o.dryRun === true && !(await isExistingDirectory(config.warehouse)))) await checkWritableFolder(config.metricsFile);
  }
  // A dry run writes nothing: no warehouse folder, no lease (a mistyped --warehouse must not appear).
  if (o.dryRun !== true) await makeDirectory(config.warehouse);
  const warehouse = warehouseOf(config, logger);
  const lease = o.dryRun === true ? { release: async () => {}, assertHeld: () => {} } : await acquireLease({ storage: warehouse.storage, warehouseLocation: warehouse.rootLocation, job: config.jobName, command: 'nightly', logger });
  const report = await runUnderLease(lease, logger, async (): Promise<RunReport> => {
    const hooks = stepProgress(o.progress);
    const drain = await runDrain({ config, warehouse, logger, onProgress: hooks.drain, ...(o.allowGap === true ? { allowGap: true } : {}), ...(o.dryRun === true ? { dryRun: true } : {}) });
    const mergeStarted = Date.now();
    hooks.end();
    // A night taken over while it stalled stops at the next step: the new holder runs them.
    lease.assertHeld();
    const merge = await runMerge({ warehouse, eventsNamespace: config.events.namespace, eventsTable: config.events.table, visibilityTable: config.events.visibilityTable, logger, onProgress: hooks.merge, ...duckDbMemory(config), ...(o.dryRun === true ? { dryRun: true } : {}) });
    const today = o.today ?? new Date().toISOString().slice(0, 10);
    const { dates: due, withheld, heldDates, leftBehind } = await datesDue(config, warehouse, today);
    const dates = requested ?? due;
    if (withheld !== undefined) {
      const what = requested === undefined ? `no date is dumped until a drain reads to its ends (${heldDates!.length === 0 ? 'no date is due yet' : `due: ${heldDates!.join(', ')}`}); raise or remove the cap, or run mwlake drain until it does` : `${requested[0]} is dumped as asked, but may miss events of its day still in Kafka`;
      logger.warn({ withheld, heldDates }, `nightly: ${describeShortfalls(withheld)}; ${what}`);
    }
    // After --date D the dates before it are due no more (a wiki's newest folder is D): say so.
    const skipped = requested === undefined ? [] : leftBehind(requested);
    // A requested date is dumped, and the dates before it are due no more: only those after it stay held.
    const stillHeld = (heldDates ?? []).filter((d) => requested === undefined || d > requested[0]!);
    if (skipped.length > 0) logger.warn({ skipped, date: requested![0] }, leftBehindWarning('nightly --date', requested!, skipped));
    const dumpsStarted = Date.now();
    lease.assertHeld();
    // Due dates keep the wikis a failed night completed; a requested --date is regenerated whole.
    const results =
      dates.length === 0
        ? []
        : await runDumps({ config, warehouse, logger, wikis: config.dumps.wikis, dates, keepComplete: requested === undefined, onProgress: hooks.dumps, assertHeld: lease.assertHeld, ...(o.dryRun === true ? { dryRun: true } : {}) });
    if (o.dryRun !== true) await relinkNewestRuns(config);
    hooks.end();
    const dumpsDone = Date.now();
    lease.assertHeld();
    const maintenance = await runMaintenance({ config, warehouse, logger, assertHeld: lease.assertHeld, ...(o.dryRun === true ? { dryRun: true } : {}), ...('tookOver' in lease ? tookOverFrom(lease) : {}) });
    // Some wikis' dumps failed (after the others' were written and maintenance ran): the night
    // fails naming them, and, as any failed night, writes no report or metrics, so that status
    // and the last-success metric still show the last night that succeeded.
    const failed = failedDumpsError(results);
    if (failed !== undefined) throw failed;
    return {
      job: config.jobName,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      steps: { drain, merge: { ...merge, durationMs: dumpsStarted - mergeStarted }, dumps: { dates, results, durationMs: dumpsDone - dumpsStarted, ...(withheld === undefined ? {} : { withheld, heldDates: stillHeld }) }, maintenance },
      tables: await tableStatuses(warehouse, [
        ...eventStreams(config).map((s) => ({ namespace: config.events.namespace, name: s.table })),
        { namespace: STATE_NAMESPACE, name: PAGES_TABLE },
        { namespace: STATE_NAMESPACE, name: REVISIONS_TABLE },
      ]),
    };
  });
  // Once the lease is released and was held throughout: a night taken over while it stalled, or
  // whose release failed, fails (75, 69) and, as any failed night, writes no report or metrics.
  if (o.dryRun !== true) {
    const reportLocation = joinLocation(warehouse.rootLocation, '_reports', `${config.jobName}-${report.startedAt.replaceAll(':', '')}.json`);
    await warehouse.storage.writeAtomic(reportLocation, JSON.stringify(report, null, 2));
    if (config.metricsFile !== undefined) {
      await writeMetricsFile(warehouse.storage, fileLocation(config.metricsFile), metricsOf(report)).catch(async (error: unknown) => {
        // The night fails: its report must not stand as the last successful run (mwlake status).
        await discardWritten(warehouse.storage, [reportLocation]);
        throw error;
      });
    }
  }
  return report;
}

/** The folder of `file` exists and is writable, and `file` is no folder; either is the configuration's mistake. */
async function checkWritableFolder(file: string): Promise<void> {
  const folder = dirname(file);
  const info = await stat(folder).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storageError('stat', folder, error);
  });
  if (info === undefined || !info.isDirectory()) {
    throw new ConfigError(`metrics_file (MWLAKE_METRICS_FILE) ${file}: ${folder} ${info === undefined ? 'does not exist' : 'is not a folder'}; create it or choose another path`);
  }
  await access(folder, constants.W_OK).catch((error: unknown) => {
    throw storageError('writing', folder, error);
  });
  // The night's last write would fail on it (EISDIR), after all its work, every night.
  if ((await stat(file).catch(() => undefined))?.isDirectory() === true) {
    throw new ConfigError(`metrics_file (MWLAKE_METRICS_FILE) ${file} is a folder; name the file to write, such as ${join(file, 'mwlake.prom')}`);
  }
}

function metricsOf(r: RunReport): Metric[] {
  const job = { job: r.job };
  const d = r.steps.drain;
  const v = d?.visibility;
  return [
    { name: 'mwlake_last_success_timestamp_seconds', help: 'End of the last successful nightly run', type: 'gauge', samples: [{ labels: job, value: Math.round((Date.parse(r.startedAt) + r.durationMs) / 1000) }] },
    { name: 'mwlake_run_duration_seconds', help: 'Duration of the last run', type: 'gauge', samples: [{ labels: job, value: r.durationMs / 1000 }] },
    {
      name: 'mwlake_events_total',
      help: 'Events of the last drain by outcome',
      type: 'gauge',
      samples: d === undefined ? [] : [
        { labels: { ...job, outcome: 'consumed' }, value: d.consumed },
        { labels: { ...job, outcome: 'written' }, value: d.written },
        { labels: { ...job, outcome: 'errored' }, value: d.errored },
        { labels: { ...job, outcome: 'filtered' }, value: d.filtered },
        { labels: { ...job, outcome: 'deduplicated' }, value: d.deduplicated },
      ],
    },
    // Of those written: a count above 0 means a job reading the wrong stream (page_change without content).
    {
      name: 'mwlake_events_without_content',
      help: 'Page changes of the last drain written without content_body for visible content (dumped as hidden)',
      type: 'gauge',
      samples: d === undefined ? [] : [{ labels: job, value: d.withoutContent }],
    },
    // Its own metric, so that a sum over outcomes of page changes never adds these in.
    {
      name: 'mwlake_visibility_events_total',
      help: 'Legacy revision visibility change events of the last drain by outcome',
      type: 'gauge',
      samples: (v === undefined ? [] : (['consumed', 'written', 'errored', 'filtered', 'deduplicated'] as const)).map((outcome) => ({ labels: { ...job, outcome }, value: v![outcome] })),
    },
    {
      name: 'mwlake_kafka_lag',
      help: 'Messages left after the drain, per partition',
      type: 'gauge',
      samples: Object.entries({ ...d?.lag, ...v?.lag }).map(([partition, lag]) => ({ labels: { ...job, partition }, value: Number(lag) })),
    },
    {
      name: 'mwlake_dumps_withheld_dates',
      help: 'Due dump dates the last run did not dump because its drain stopped at its cap (drain.max_events, max_bytes)',
      type: 'gauge',
      samples: [{ labels: job, value: r.steps.dumps?.heldDates?.length ?? 0 }],
    },
    {
      name: 'mwlake_step_duration_seconds',
      help: 'Duration of each step of the last run',
      type: 'gauge',
      samples: [
        ['drain', d?.durationMs],
        ['merge', r.steps.merge?.durationMs],
        ['dumps', r.steps.dumps?.durationMs],
        ['maintenance', r.steps.maintenance?.durationMs],
      ].flatMap(([step, ms]) => (ms === undefined ? [] : [{ labels: { ...job, step: String(step) }, value: Number(ms) / 1000 }])),
    },
    {
      name: 'mwlake_table_records',
      help: 'Records in the data files of each table at its current snapshot, before position deletes',
      type: 'gauge',
      samples: (r.tables ?? []).map((t) => ({ labels: { ...job, table: t.table }, value: t.records })),
    },
    {
      name: 'mwlake_table_position_deletes',
      help: 'Records the position deletes of each table remove at its current snapshot',
      type: 'gauge',
      samples: (r.tables ?? []).map((t) => ({ labels: { ...job, table: t.table }, value: t.positionDeletes })),
    },
    {
      name: 'mwlake_table_bytes',
      help: 'Bytes of the live files of each table',
      type: 'gauge',
      samples: (r.tables ?? []).map((t) => ({ labels: { ...job, table: t.table }, value: t.bytes })),
    },
    {
      name: 'mwlake_dump_bytes',
      help: 'Bytes of dump files written by the last run',
      type: 'gauge',
      samples: [{ labels: job, value: (r.steps.dumps?.results ?? []).reduce((n, x) => n + x.bytes, 0) }],
    },
  ];
}
