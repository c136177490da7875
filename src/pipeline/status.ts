// `mwlake status`: what an operator checks first. The tables with their current snapshot, rows,
// files and bytes; the events not merged yet; the stored Kafka offsets against the broker's end offsets (lag); the last run
// report; the dump dates present per wiki and the ones missing since the first.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { partitionKey } from '../kafka/source.js';
import { eventStreams, type JobConfig } from './config.js';
import { loadSiteInfos, UnmappedWikiError } from '../dumps/site-info.js';
import { dateRange, DEFAULT_NAMESPACE_MAP, jobDumpRuns } from './dump.js';
import { isoDaysAfter } from './due-dates.js';
import { drainStart, kafkaOptions, storedOffsets } from './drain.js';
import { unmergedJobEvents, type UnmergedEvents } from './merge-source.js';
import { stateWikis } from './state-wikis.js';

export { describeUnmerged } from './merge-source.js';

export interface TableStatus {
  readonly table: string;
  readonly currentSnapshotId: string | null;
  readonly lastUpdated: string;
  readonly snapshots: number;
  /** Rows of the data files, before position deletes (`total-records`). */
  readonly records: number;
  /** Rows position deletes remove from them (`total-position-deletes`): live rows are at most the difference. */
  readonly positionDeletes: number;
  readonly dataFiles: number;
  readonly deleteFiles: number;
  readonly bytes: number;
}

export interface StatusReport {
  readonly job: string;
  readonly tables: TableStatus[];
  /** Events drained but not merged yet, per events table: dumps leave them out until `mwlake merge` runs. */
  readonly unmerged: UnmergedEvents[];
  /** Lag per partition; with `error`, that of the streams that could be read (the visibility stream's topic missing, say). */
  readonly kafka: { readonly lag: Record<string, string>; readonly totalLag: string; readonly error?: string; readonly errorCode?: ErrorCode } | { readonly error: string; readonly errorCode: ErrorCode };
  readonly lastRun: { readonly file: string; readonly startedAt: string; readonly durationMs: number } | null;
  /** Per wiki: complete runs, runs that failed or were interrupted (nightly retries them), and dates with no run since the first. */
  readonly dumps: Record<string, { readonly present: string[]; readonly incomplete: string[]; readonly missing: string[] }>;
  /**
   * The namespace map the dumps take `<siteinfo>` from, and the wikis the job dumps that it has no
   * line for: their dumps fail every night (a wiki newer than the map) and, never written, have
   * no dates above. With `error`, the map could not be read.
   */
  readonly namespaceMap: { readonly path: string; readonly unmapped: string[] } | { readonly path: string; readonly error: string };
}

/** Sizes of the given tables (missing ones are left out), or of every table of the warehouse. */
export async function tableStatuses(warehouse: Warehouse, tables?: readonly { namespace: string; name: string }[]): Promise<TableStatus[]> {
  const out: TableStatus[] = [];
  // Listing walks every file of the warehouse: only `mwlake status` needs tables it does not know.
  for (const { namespace, name } of tables ?? (await warehouse.listTables())) {
    const t = await warehouse.tryLoadTable(namespace, name);
    if (t === undefined) continue;
    const s = t.currentSnapshot();
    const p = s?.summary.properties ?? {};
    out.push({
      table: `${namespace}.${name}`,
      currentSnapshotId: s?.snapshotId.toString() ?? null,
      lastUpdated: new Date(t.metadata.lastUpdatedMs).toISOString(),
      snapshots: t.metadata.snapshots.length,
      records: Number(p['total-records'] ?? 0),
      positionDeletes: Number(p['total-position-deletes'] ?? 0),
      dataFiles: Number(p['total-data-files'] ?? 0),
      deleteFiles: Number(p['total-delete-files'] ?? 0),
      bytes: Number(p['total-files-size'] ?? 0),
    });
  }
  return out;
}

/**
 * Failures of the lag read that a person must fix, whose code `mwlake status` exits with: rejected
 * credentials or authorization (78), an events table without offsets or a topic not there (65, as
 * every drain then fails), a refused path (77). Any other (Kafka down) is 69.
 */
const NEEDS_A_PERSON: ReadonlySet<ErrorCode> = new Set(['CONFIG', 'DATA', 'NOT_FOUND', 'STORAGE_REFUSED']);

function failedLag(errors: readonly unknown[]): { error: string; errorCode: ErrorCode } {
  const codes = errors.map((e) => (e instanceof JobError ? e.code : undefined));
  return { error: errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; '), errorCode: codes.find((c) => c !== undefined && NEEDS_A_PERSON.has(c)) ?? 'UNAVAILABLE' };
}

async function kafkaLag(config: JobConfig, warehouse: Warehouse, logger: Logger): Promise<StatusReport['kafka']> {
  try {
    // Each stream's lag against the offsets its own table stores.
    const streams = eventStreams(config);
    const admin = await KafkaAdmin.connect({ ...kafkaOptions(config, logger), retries: 1 });
    try {
      const lag: Record<string, string> = {};
      let total = 0n;
      const errors: unknown[] = [];
      for (const stream of streams) {
        try {
          const events = await warehouse.tryLoadTable(config.events.namespace, stream.table);
          const stored = events === undefined ? {} : storedOffsets(events);
          // Where the next drain starts, and what it would refuse there.
          const refused: string[] = [];
          for (const m of await admin.fetchWatermarks(stream.topics)) {
            const { next, gap, beyondEnd } = drainStart(stored, m);
            if (beyondEnd !== undefined) refused.push(`stored offset ${beyondEnd} of ${partitionKey(m)} is beyond its end offset ${m.endOffset} (was the topic deleted and recreated? drain --reset-offsets ${m.topic})`);
            if (gap !== undefined) refused.push(`retention deleted offsets ${gap.from}..${gap.to} of ${partitionKey(m)} before this job read them (drain --allow-gap accepts the loss)`);
            const n = m.endOffset > next ? m.endOffset - next : 0n;
            lag[partitionKey(m)] = n.toString();
            total += n;
          }
          if (refused.length > 0) errors.push(new JobError('DATA', `the next drain of ${stream.topics.join(', ')} fails: ${refused.join('; ')}`));
        } catch (error) {
          // One stream's failure (a missing topic) must not hide the other's lag.
          errors.push(error);
        }
      }
      if (errors.length > 0 && Object.keys(lag).length === 0) return failedLag(errors);
      // A stream a person must fix (its topic's authorization, say) is reported even beside the others' lag.
      const failed = errors.length > 0 ? failedLag(errors) : undefined;
      return { lag, totalLag: total.toString(), ...(failed === undefined ? {} : { error: failed.error }), ...(failed !== undefined && NEEDS_A_PERSON.has(failed.errorCode) ? { errorCode: failed.errorCode } : {}) };
    } finally {
      await admin.close();
    }
  } catch (error) {
    return failedLag([error]);
  }
}

async function lastRun(config: JobConfig): Promise<StatusReport['lastRun']> {
  const dir = join(config.warehouse, '_reports');
  // `<job>-<startedAt>.json` (nightly.ts): matched whole, since a job `x-eu` would start with `x-`.
  const name = new RegExp(`^${config.jobName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{4}-\\d\\d-\\d\\dT\\d{6}(\\.\\d+)?Z\\.json$`);
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => name.test(f)).sort();
  const newest = files.at(-1);
  if (newest === undefined) return null;
  const report = JSON.parse(await readFile(join(dir, newest), 'utf8')) as { startedAt: string; durationMs: number };
  return { file: join(dir, newest), startedAt: report.startedAt, durationMs: report.durationMs };
}

/**
 * Per wiki the job dumps (jobDumpRuns: the listed ones, or with `all` those in the state): complete dump dates (every
 * job done), incomplete ones (which nightly retries), and the dates missing since the first up to
 * yesterday.
 */
async function dumpDates(config: JobConfig, warehouse: Warehouse, today: string): Promise<StatusReport['dumps']> {
  const out: Record<string, { present: string[]; incomplete: string[]; missing: string[] }> = {};
  const yesterday = isoDaysAfter(today, -1);
  for (const run of await jobDumpRuns(config, warehouse)) {
    const w = (out[run.wiki] ??= { present: [], incomplete: [], missing: [] });
    (run.complete ? w.present : w.incomplete).push(run.date);
  }
  for (const w of Object.values(out)) {
    const first = [...w.present, ...w.incomplete].sort()[0];
    w.missing = first === undefined || first > yesterday ? [] : dateRange(first, yesterday).filter((d) => !w.present.includes(d) && !w.incomplete.includes(d));
  }
  return out;
}

async function namespaceMapStatus(config: JobConfig, warehouse: Warehouse): Promise<StatusReport['namespaceMap']> {
  const path = config.dumps.namespaceMap ?? DEFAULT_NAMESPACE_MAP;
  try {
    const wikis = config.dumps.wikis === 'all' ? await stateWikis(warehouse) : config.dumps.wikis;
    // As the dumps read it: a map they would refuse whole is an error here too.
    const sites = await loadSiteInfos(path, wikis);
    return { path, unmapped: [...sites].flatMap(([wiki, site]) => (site instanceof UnmappedWikiError ? [wiki] : [])).sort() };
  } catch (error) {
    return { path, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function runStatus(o: { config: JobConfig; warehouse: Warehouse; logger: Logger; today?: string }): Promise<StatusReport> {
  if (!o.warehouse.rootLocation.startsWith('file://')) throw new JobError('CONFIG', `status reads a local warehouse; ${o.warehouse.rootLocation} is not one`);
  return {
    job: o.config.jobName,
    tables: await tableStatuses(o.warehouse),
    unmerged: await unmergedJobEvents(o.warehouse, { namespace: o.config.events.namespace, name: o.config.events.table, visibilityName: o.config.events.visibilityTable }),
    kafka: await kafkaLag(o.config, o.warehouse, o.logger),
    lastRun: await lastRun(o.config),
    dumps: await dumpDates(o.config, o.warehouse, o.today ?? new Date().toISOString().slice(0, 10)),
    namespaceMap: await namespaceMapStatus(o.config, o.warehouse),
  };
}
