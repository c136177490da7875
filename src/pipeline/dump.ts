// `mwlake dump`: binds the state views at their current snapshots and writes, per wiki and date,
// the full dump set and the adds-changes run (src/dumps), or only the chosen jobs of the full set.
// Dates are cut at 00:00 UTC, exclusive.

import { readdir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, JobError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { makeDirectory } from '../core/make-directory.js';
import { VERSION } from '../core/version.js';
import { openDuckDb } from '../duckdb/connection.js';
import { requireCompressionTools } from '../dumps/compress.js';
import { completeRunFiles, jobsUseCodec, relinkNewestCompleteRun, runDump, runStatusText, selectDumpJobs, unrecombinableJobs, type DumpCompression } from '../dumps/dump-run.js';
import { cutoffOfDate, incrementalDirectory, runDirectory } from '../dumps/file-names.js';
import { isIncrementalDone, runIncrementalDump } from '../dumps/incr-run.js';
import { linkedDates } from '../dumps/latest-links.js';
import { removeRun, removeRunLeftovers } from '../dumps/run-retention.js';
import { loadSiteInfos, UnmappedWikiError } from '../dumps/site-info.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../merge/state-schema.js';
import { duckDbMemory, type JobConfig } from './config.js';
import { DuckDbDumpSource } from './dump-source.js';
import { describeUnmerged, unmergedJobEvents } from './merge-source.js';
import { bindStateViews, viewsUsedBy } from './state-views.js';
import { stateWikis } from './state-wikis.js';

export const DEFAULT_NAMESPACE_MAP = fileURLToPath(new URL('../../../jobs/siteinfo/namespace_map.json.gz', import.meta.url));

export interface DumpOptions {
  readonly config: JobConfig;
  readonly warehouse: Warehouse;
  readonly logger: Logger;
  /** 'all' or wiki ids. */
  readonly wikis: readonly string[] | 'all';
  /** ISO dates (YYYY-MM-DD), in order. */
  readonly dates: readonly string[];
  readonly dryRun?: boolean;
  /**
   * Only these dumpstatus.json jobs of the full set (e.g. metahistorybz2dump); the others keep
   * what an earlier run wrote, and the adds-changes run is written only if the date has none
   * completed (a failed night stopped before it). Default: everything.
   */
  readonly jobs?: readonly string[];
  /**
   * Leave a (wiki, date) whose full set completed as it is, writing only its adds-changes run if
   * that is missing: nightly's retry of a failed night redoes the wikis that failed or were never
   * reached, not the ones already done. Default false: `mwlake dump` regenerates what it is asked.
   */
  readonly keepComplete?: boolean;
  /**
   * Fail (NOT_FOUND) when no merge has run: `mwlake dump` before `mwlake merge` would publish empty
   * dumps and move `latest/` to them. Nightly, which merges first, dumps an empty state as empty.
   */
  readonly requireMerged?: boolean;
  /** Called before each (wiki, date); throws to stop the run (its lease was taken over). */
  readonly assertHeld?: () => void;
  /** Called after each (wiki, date): how many are done of how many, and the bytes written. */
  readonly onProgress?: (p: { done: number; total: number; bytes: number; wiki: string; date: string }) => void;
}

export interface DumpDateResult {
  readonly wiki: string;
  readonly date: string;
  readonly files: number;
  readonly bytes: number;
  readonly directory?: string;
  readonly maxRevisionId?: number;
  /** The full set had completed before (keepComplete): only a missing adds-changes run was written. */
  readonly kept?: true;
  /** Recombine jobs chosen that had nothing to recombine here (their job did not split, or is not done), so did not run. */
  readonly passedBy?: readonly string[];
  /** Why nothing was written for this wiki (its namespace map line is missing); the other wikis were dumped. */
  readonly failed?: string;
  /**
   * Passed by (keepComplete): the wiki has no folder for the date but a newer one, so the date is
   * not due for it (another wiki's is); keep_runs removed it, or a `--date` run left it behind.
   */
  readonly notDue?: true;
}

/**
 * The error a run whose dumps of some wikis failed (`failed` results) ends with, once the other
 * wikis are dumped; undefined when none failed.
 */
export function failedDumpsError(results: readonly DumpDateResult[]): JobError | undefined {
  const failed = results.filter((r) => r.failed !== undefined);
  if (failed.length === 0) return undefined;
  const wikis = [...new Set(failed.map((r) => r.wiki))];
  const others = new Set(results.filter((r) => r.failed === undefined).map((r) => r.wiki)).size;
  const rest = others === 0 ? '' : `; the run went on with the other ${others} wiki${others === 1 ? '' : 's'}`;
  return new JobError('NOT_FOUND', `the dumps of ${wikis.join(', ')} were not written (${failed[0]!.failed})${rest}`, { context: { wikis } });
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether the run folder `<dumps_root>/<wiki>/<YYYYMMDD>` completed: its dumpstatus.json has every job done. */
export async function isCompleteRun(directory: string): Promise<boolean> {
  return (await completeRunFiles(directory)) !== undefined;
}

/**
 * Whether the adds-changes run of `date` finished, or never started (dates dumped before mwlake
 * wrote adds-changes have none): one killed after the full set completed stays due until it has.
 */
async function incrementalSettled(dumpsRoot: string, wiki: string, date: string): Promise<boolean> {
  if ((await stat(incrementalDirectory(dumpsRoot, wiki, date)).catch(() => undefined)) === undefined) return true;
  return isIncrementalDone(dumpsRoot, wiki, date);
}

export interface DumpRun {
  readonly wiki: string;
  /** YYYY-MM-DD. */
  readonly date: string;
  /** The full set completed, and its adds-changes run too if one started. */
  readonly complete: boolean;
}

/**
 * Each wiki the job dumps with its run folder names (`<dumps_root>/<wiki>/<YYYYMMDD>`), sorted by
 * wiki then date. With a list of wikis only theirs: a wiki taken off the list is no longer the job's.
 */
async function runFolders(config: JobConfig, all?: readonly string[]): Promise<[string, string[]][]> {
  const listed = config.dumps.wikis === 'all' ? (all === undefined ? undefined : new Set(all)) : new Set(config.dumps.wikis);
  const out: [string, string[]][] = [];
  for (const wiki of (await readdir(config.dumps.root).catch(() => [] as string[])).sort()) {
    if (wiki === 'other' || wiki === 'latest' || (listed !== undefined && !listed.has(wiki))) continue;
    // Only calendar dates: a stray `20261399` or `00000000` made nightly's next due date NaN (exit 70).
    const dates = (await readdir(join(config.dumps.root, wiki)).catch(() => [] as string[])).filter(isDumpDate).sort();
    out.push([wiki, dates]);
  }
  return out;
}

function isDumpDate(name: string): boolean {
  if (!/^\d{8}$/.test(name)) return false;
  try {
    cutoffOfDate(name);
    return true;
  } catch {
    return false;
  }
}

async function isSettledRun(dumpsRoot: string, wiki: string, date: string): Promise<boolean> {
  return (await isCompleteRun(join(dumpsRoot, wiki, date))) && (await incrementalSettled(dumpsRoot, wiki, date));
}

/**
 * The run folders of the wikis the job dumps (runFolders), sorted by wiki then date. With
 * `dumps.wikis: all`, `all` names them (stateWikis); without it, every wiki folder counts.
 */
export async function dumpRuns(config: JobConfig, all?: readonly string[]): Promise<DumpRun[]> {
  const runs: DumpRun[] = [];
  for (const [wiki, dates] of await runFolders(config, all)) {
    for (const d of dates) runs.push({ wiki, date: `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`, complete: await isSettledRun(config.dumps.root, wiki, d) });
  }
  return runs;
}

/** What `dumps.keep_runs` does with a wiki's runs (runRetention). */
export interface RunRetention {
  /** The runs it lets go, oldest first. */
  readonly past: DumpRun[];
  /** Per wiki, the oldest run that did not complete, where it is older than the runs kept: it holds back the runs from it on. */
  readonly heldBy: DumpRun[];
}

/**
 * Per wiki, the runs `dumps.keep_runs` lets go: complete ones older than its newest `keep`
 * complete runs, and only up to its oldest run that did not complete, less the run before that.
 * That one stays due (nightly dumps it again), removing runs after it would leave gaps that status
 * lists as missing, and its adds-changes starts where the run before it ended. `latest/` links
 * the newest complete run, which is always kept.
 */
export function runRetention(runs: readonly DumpRun[], keep: number): RunRetention {
  const byWiki = new Map<string, DumpRun[]>();
  for (const r of runs) byWiki.set(r.wiki, [...(byWiki.get(r.wiki) ?? []), r]);
  const past: DumpRun[] = [];
  const heldBy: DumpRun[] = [];
  for (const list of byWiki.values()) {
    const sorted = [...list].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    const oldestKept = sorted.filter((r) => r.complete).at(-keep)?.date;
    if (oldestKept === undefined) continue;
    const going: DumpRun[] = [];
    for (const r of sorted) {
      if (r.date >= oldestKept) break;
      if (!r.complete) {
        heldBy.push(r);
        // And the complete run before it: the held date's adds-changes starts at its maxrevid.
        going.pop();
        break;
      }
      going.push(r);
    }
    past.push(...going);
  }
  return { past, heldBy };
}

export interface RunRemovalResult {
  /** `<wiki>/<YYYY-MM-DD>` of each run removed (in a dry run, that would be). */
  readonly removed: string[];
  /** Runs past keep_runs not removed (each wiki's first failure logged); the next maintenance tries again. */
  readonly notRemoved?: number;
  /** `<wiki>/<YYYY-MM-DD>` of the runs that hold back removal (RunRetention.heldBy). */
  readonly heldBy?: string[];
  /** Folders of removed runs whose files could not be deleted (each logged); the next maintenance tries again. */
  readonly leftoversNotDeleted?: number;
}

/**
 * Removes the runs past `dumps.keep_runs` (runRetention), oldest first, with their adds-changes;
 * nothing when it is unset. A run that cannot be removed stops its wiki's removal, so that what is
 * left stays one unbroken stretch of dates. Failures are logged and counted, never thrown: they
 * must not fail the night whose dumps are written.
 */
export async function removeOldRuns(
  config: JobConfig,
  warehouse: Warehouse,
  o: { readonly logger: Logger; readonly dryRun?: boolean; readonly assertHeld?: () => void },
): Promise<RunRemovalResult | undefined> {
  const keep = config.dumps.keepRuns;
  if (keep === undefined) return undefined;
  const root = config.dumps.root;
  const runs = await jobDumpRuns(config, warehouse);
  const { past, heldBy } = runRetention(runs, keep);
  const removed: string[] = [];
  let notRemoved = 0;
  for (const wiki of new Set(past.map((r) => r.wiki))) {
    const going = past.filter((r) => r.wiki === wiki);
    if (o.dryRun === true) {
      removed.push(...going.map((r) => `${wiki}/${r.date}`));
      continue;
    }
    const stop = (run: DumpRun, index: number, why: string, error?: unknown): void => {
      o.logger.warn({ ...(error === undefined ? {} : { err: error }), wiki, date: run.date }, `maintain: ${wiki}'s runs from ${run.date} on are kept past dumps.keep_runs for now: ${why}; the next maintenance tries again`);
      notRemoved += going.length - index;
    };
    // A dump killed while linking leaves latest/ at an older run, perhaps one about to go: it is
    // pointed at the newest complete run first (as nightly does before maintenance).
    let linked: Set<string>;
    o.assertHeld?.();
    try {
      await relinkNewestCompleteRun(root, wiki);
      linked = await linkedDates(root, wiki);
    } catch (error) {
      stop(going[0]!, 0, `latest/ could not be pointed at its newest complete run (${(error as Error).message})`, error);
      continue;
    }
    for (const [index, run] of going.entries()) {
      const compact = run.date.replaceAll('-', '');
      if (linked.has(compact)) {
        stop(run, index, 'latest/ still links it');
        break;
      }
      // Thrown, not counted: a run whose lease was taken over must stop, not remove what the new holder may be dumping.
      o.assertHeld?.();
      try {
        await removeRun(root, wiki, compact);
      } catch (error) {
        stop(run, index, `it could not be removed (${(error as Error).message})`, error);
        break;
      }
      removed.push(`${wiki}/${run.date}`);
    }
  }
  let leftoversNotDeleted = 0;
  if (o.dryRun !== true) {
    for (const wiki of new Set(runs.map((r) => r.wiki))) {
      for (const { path, error } of await removeRunLeftovers(root, wiki)) {
        o.logger.warn({ err: error, path }, `maintain: ${path}, a removed run's folder, could not be deleted (${(error as Error).message}); the next maintenance tries again`);
        leftoversNotDeleted++;
      }
    }
  }
  // Said, since the runs pile up until that date completes or is given up.
  for (const r of heldBy) {
    o.logger.warn(
      { wiki: r.wiki, date: r.date, keepRuns: keep },
      `maintain: ${r.wiki}'s runs from the one before ${r.date} on are kept past dumps.keep_runs: ${r.date} did not complete, and nightly dumps it again; to give the date up, remove its run folder and its other/incr/${r.wiki}/${r.date.replaceAll('-', '')} folder by hand`,
    );
  }
  if (removed.length > 0) o.logger.info({ removed, keepRuns: keep }, `maintain: ${o.dryRun === true ? 'would remove' : 'removed'} ${removed.length} run${removed.length === 1 ? '' : 's'} past dumps.keep_runs`);
  return {
    removed,
    ...(notRemoved > 0 ? { notRemoved } : {}),
    ...(heldBy.length > 0 ? { heldBy: heldBy.map((r) => `${r.wiki}/${r.date}`) } : {}),
    ...(leftoversNotDeleted > 0 ? { leftoversNotDeleted } : {}),
  };
}

/** The job's runs (dumpRuns): with `dumps.wikis: all`, of the wikis the state holds. */
export async function jobDumpRuns(config: JobConfig, warehouse: Warehouse): Promise<DumpRun[]> {
  return dumpRuns(config, config.dumps.wikis === 'all' ? await stateWikis(warehouse) : undefined);
}

/**
 * Points each wiki's `latest/` at its newest complete run again (dumps relinkNewestCompleteRun): a
 * run killed while linking is complete, so no later night would otherwise finish the links before
 * the next date's run; and a newer run killed while it regenerated its date (not complete any more)
 * gives its links back. Cheap: it reads back from the newest folder only to the first complete
 * run, and links already right are left as they are.
 */
export async function relinkNewestRuns(config: JobConfig): Promise<void> {
  for (const [wiki, dates] of await runFolders(config)) await relinkNewestCompleteRun(config.dumps.root, wiki, dates);
}

/**
 * Every date from `from` to `to`, inclusive. Refuses what is not a calendar date (Date.parse would
 * roll 2026-02-30 over to March) and a date whose cutoff, its 00:00 UTC, has not come yet: such a
 * dump would be incomplete, and `latest/` would point at it.
 */
export function dateRange(from: string, to: string, nowMs: number = Date.now(), flags: { readonly from: string; readonly to: string } = { from: '--from', to: '--to' }): string[] {
  for (const [flag, d] of [[flags.from, from], [flags.to, to]] as const) {
    if (!ISO_DATE.test(d)) throw new JobError('USAGE', `${flag}: not a date (YYYY-MM-DD): ${JSON.stringify(d)}`);
    let cutoff: number;
    try {
      cutoff = cutoffOfDate(d.replaceAll('-', ''));
    } catch {
      throw new JobError('USAGE', `${flag}: not a calendar date (YYYY-MM-DD): ${JSON.stringify(d)}`);
    }
    if (cutoff > nowMs) {
      throw new JobError('USAGE', `${flag}: date ${d} is in the future: its dump holds the revisions before ${d} 00:00 UTC, which has not come yet`);
    }
  }
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  if (out.length === 0) throw new JobError('USAGE', `--from ${from} is after --to ${to}`);
  return out;
}

export async function runDumps(o: DumpOptions): Promise<DumpDateResult[]> {
  const compression: Partial<DumpCompression> = o.config.dumps.compression === 'zstd' ? { history: 'zst', current: 'zst', articles: 'zst' } : {};
  if (o.jobs !== undefined) selectDumpJobs(o.jobs, compression);
  // bz2 whatever the jobs: the adds-changes and multistream files are bz2.
  requireCompressionTools(jobsUseCodec(compression, o.jobs, 'zst') ? 'zstd' : 'bz2');
  const configuredMap = o.config.dumps.namespaceMap;
  // A wrong path in the job file is the configuration's fault (78), not the data's.
  if (configuredMap !== undefined) {
    await stat(configuredMap).catch((cause: unknown) => {
      throw new ConfigError(`dumps.namespace_map: ${configuredMap} cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
    });
  }
  const db = await openDuckDb(duckDbMemory(o.config));
  try {
    // Only the views the dump reads: planning the events table's files too (its manifests grow with
    // every drain) cost each dump time for nothing, and a failure to read them stopped it.
    const bind = () => bindStateViews(db, o.warehouse, { namespace: o.config.events.namespace, name: o.config.events.table }, {}, viewsUsedBy('revisions'));
    let bound = await bind();
    // A merge may be between its two commits right now (a dump without the lease: --dry-run, another job): once more.
    if (bound.revisionsAheadOf !== undefined) bound = await bind();
    if (o.requireMerged === true && bound.pages === undefined) {
      throw new JobError('NOT_FOUND', `nothing to dump: no merge has run in ${o.warehouse.rootLocation} (${STATE_NAMESPACE}.${PAGES_TABLE} has no snapshot); run mwlake merge first`, { context: { warehouse: o.warehouse.rootLocation } });
    }
    // The older pair both tables hold would publish what the newer events deleted or hid.
    if (bound.revisionsAheadOf !== undefined) {
      throw new JobError(
        'DATA',
        `${STATE_NAMESPACE}.${REVISIONS_TABLE} is merged up to events snapshot ${bound.revisionsAheadOf}, ${STATE_NAMESPACE}.${PAGES_TABLE} only up to ${bound.sourceSnapshotId} (a merge stopped between the two or is committing them now, or ${PAGES_TABLE} was rolled back alone): ` +
          `a dump would publish revisions those events deleted or hid. Run \`mwlake merge\` to finish the merge, or roll ${STATE_NAMESPACE}.${REVISIONS_TABLE} back as well`,
        { context: { revisionsSource: bound.revisionsAheadOf, pagesSource: bound.sourceSnapshotId } },
      );
    }
    // Not refused: regenerating an old date with a drain pending is legitimate. But a dump right
    // after a drain without its merge leaves the new events out, which the operator must hear.
    // The dump reads the state tables only: an events table it cannot read must not stop it.
    const events = { namespace: o.config.events.namespace, name: o.config.events.table, visibilityName: o.config.events.visibilityTable };
    const unmerged = await unmergedJobEvents(o.warehouse, events).catch((error: unknown) => {
      o.logger.warn({ err: error }, `dump: could not check ${events.namespace}.${events.name} for events not merged yet: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    });
    for (const u of unmerged) o.logger.warn({ ...u }, `dump: ${describeUnmerged(u)}; the dumps hold the state merged before them: run mwlake merge first to include them`);
    // At the snapshot the views bound: a merge since may have added a wiki they hold nothing of.
    const held = await stateWikis(o.warehouse, bound.pages === undefined ? {} : { snapshotId: BigInt(bound.pages) });
    const wikis = o.wikis === 'all' ? held : [...o.wikis];
    // Dumped (a wiki without pages has empty dumps), but a mistyped or wrong wiki must be heard.
    for (const wiki of wikis) if (!held.includes(wiki)) o.logger.warn({ wiki }, `dump: the state holds no pages of ${wiki}, so its dumps are empty; the state holds ${held.length === 0 ? 'no wiki' : held.join(', ')}`);
    const results: DumpDateResult[] = [];
    // A quarter of the limit for a pass's content: the sort holds it about three times over.
    const source = new DuckDbDumpSource(db, { passBytes: (await db.memoryLimitBytes()) / 4 });
    const map = o.config.dumps.namespaceMap ?? DEFAULT_NAMESPACE_MAP;
    // A recombine job passes by where it has nothing to recombine, before anything is written
    // there; the run fails only if nothing at all was left to run (below).
    let firstPassed: JobError | undefined;
    let ran = 0;
    // Due dates are one list for every wiki; each wiki's own go on from its newest folder (due-dates.ts).
    const newestFolder = o.keepComplete === true ? new Map((await runFolders({ ...o.config, dumps: { ...o.config.dumps, wikis } })).map(([wiki, dates]) => [wiki, dates.at(-1) ?? ''])) : undefined;
    // A wiki newer than the namespace map fails alone: the others are dumped (and nightly goes on
    // to maintenance), then the run fails naming it (failedDumpsError).
    const sites = await loadSiteInfos(map, wikis);
    for (const wiki of wikis) {
      const site = sites.get(wiki)!;
      if (site instanceof UnmappedWikiError) {
        o.logger.error({ wiki, namespaceMap: map }, `dump: ${site.message}; its dumps are not written, the other wikis' are`);
        for (const date of o.dates) results.push({ wiki, date, files: 0, bytes: 0, failed: site.message });
        continue;
      }
      for (const date of o.dates) {
        o.assertHeld?.();
        const compact = date.replaceAll('-', '');
        const runDir = runDirectory(o.config.dumps.root, wiki, compact);
        // Without this, a date keep_runs removed from one wiki was dumped whole again, and removed
        // again, every night another wiki's run of it stayed incomplete.
        if (newestFolder !== undefined && compact < (newestFolder.get(wiki) ?? '') && (await stat(runDir).catch(() => undefined)) === undefined) {
          o.logger.info({ wiki, date }, `dump: ${wiki} ${date} passed by: not due for ${wiki}, which has a newer run and none of this date`);
          results.push({ wiki, date, files: 0, bytes: 0, notDue: true });
          if (o.dryRun !== true) o.onProgress?.({ done: results.length, total: wikis.length * o.dates.length, bytes: results.reduce((n, r) => n + r.bytes, 0), wiki, date });
          continue;
        }
        const kept = o.keepComplete === true && (await isCompleteRun(runDir));
        const passed = o.jobs === undefined || kept ? [] : await unrecombinableJobs(o.config.dumps.root, wiki, compact, o.jobs, compression);
        for (const { job, why, refusal } of passed) {
          // Not splitting is a wiki's normal; the other two need a rerun of the job itself.
          o.logger[why === 'not-split' ? 'info' : 'warn']({ wiki, date, job }, `dump: ${job} passed by on ${wiki}: ${refusal.message}`);
          firstPassed ??= refusal;
        }
        const jobs = o.jobs?.filter((job) => !passed.some((p) => p.job === job));
        const passedBy = passed.length === 0 ? {} : { passedBy: passed.map((p) => p.job) };
        // A regenerated full set regenerates its adds-changes too; a kept or partial one only fills a gap.
        const incrDue = (o.jobs === undefined && !kept) || !(await isIncrementalDone(o.config.dumps.root, wiki, compact));
        // A kept date whose adds-changes are done has nothing to run either.
        if (jobs?.length !== 0 && (!kept || incrDue)) ran++;
        if (o.dryRun === true || jobs?.length === 0) {
          results.push({ wiki, date, files: 0, bytes: 0, ...passedBy });
          if (o.dryRun !== true) o.onProgress?.({ done: results.length, total: wikis.length * o.dates.length, bytes: results.reduce((n, r) => n + r.bytes, 0), wiki, date });
          continue;
        }
        // Its folder first: a run stopped after the full set completed (while linking latest/, say)
        // then leaves the date due (dumpRuns), not complete without its adds-changes. A new one is
        // removed again if the full set is refused before it recorded anything, so that a refused
        // `--jobs` run does not turn a complete date into a due one.
        const incrFolder = incrementalDirectory(o.config.dumps.root, wiki, compact);
        // Undefined when unreadable: then nothing tells a refusal from a failure after recording.
        const readStatus = () => runStatusText(runDir).then((text) => ({ text }), () => undefined);
        const statusBefore = incrDue && !kept && (await stat(incrFolder).then(() => false, () => true)) ? await readStatus() : undefined;
        if (incrDue) await makeDirectory(incrFolder);
        const full = kept
          ? { directory: runDir, files: [], complete: true }
          : await runDump({
              dumpsRoot: o.config.dumps.root,
              wikiId: wiki,
              date: compact,
              source,
              site,
              generatorVersion: VERSION,
              compression,
              ...(o.config.dumps.partSizeMb === undefined ? {} : { maxPartBytes: o.config.dumps.partSizeMb * 2 ** 20 }),
              ...(jobs === undefined ? {} : { jobs }),
            }).catch(async (error: unknown) => {
              // Not once the run recorded a job (a stop while linking latest/, say): it marks the date due.
              if (statusBefore !== undefined && (await readStatus())?.text === statusBefore.text) await rmdir(incrFolder).catch(() => undefined);
              throw error;
            });
        const incr = incrDue ? await runIncrementalDump({ dumpsRoot: o.config.dumps.root, wikiId: wiki, date: compact, source, site, generatorVersion: VERSION, delaySeconds: o.config.dumps.incrDelayHours * 3600, logger: o.logger }) : undefined;
        const files = full.files.length + (incr?.files.length ?? 0);
        const bytes = full.files.reduce((n, f) => n + f.sizeBytes, 0);
        const maxRevisionId = incr?.maxRevisionId;
        const logged = { wiki, date, files, directory: full.directory, complete: full.complete, ...(jobs === undefined ? {} : { jobs }), maxRevisionId };
        o.logger.info(logged, kept ? 'dump: kept, its full set completed before' : 'dump: written');
        results.push({ wiki, date, files, bytes, directory: full.directory, ...(maxRevisionId === undefined ? {} : { maxRevisionId }), ...(kept ? { kept: true as const } : {}), ...passedBy });
        o.onProgress?.({ done: results.length, total: wikis.length * o.dates.length, bytes: results.reduce((n, r) => n + r.bytes, 0), wiki, date });
      }
    }
    // Nothing left to run anywhere is the operator's mistake (also in a dry run, which says so);
    // a wiki that failed says more (failedDumpsError, from the caller).
    if (firstPassed !== undefined && ran === 0 && !results.some((r) => r.failed !== undefined)) {
      if (results.length === 1) throw firstPassed;
      throw new JobError('USAGE', `nothing to run in any of the ${results.length} wiki and date runs chosen, each passed by for nothing to recombine, kept complete or not due for its wiki; the first passed by: ${firstPassed.message}`);
    }
    return results;
  } finally {
    await db.close();
  }
}
