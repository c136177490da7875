// Which dates a nightly run dumps. Worked out per wiki, since a night dumps wiki by wiki and stops
// at the first that fails: the wikis after it have no folder for any of that night's dates.

import type { Warehouse } from '../iceberg/catalog.js';
import type { JobConfig } from './config.js';
import { drainShortfalls, type DrainShortfall } from './drain-shortfall.js';
import { dateRange, jobDumpRuns, type DumpRun } from './dump.js';

/** The YYYY-MM-DD date `days` after `date` (before it when negative). */
export function isoDaysAfter(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * The dates due, sorted: of every wiki with run folders, its folders up to `yesterday` that did
 * not complete and the dates after its newest folder up to `yesterday`; `yesterday` alone when
 * there are no runs yet. A wiki that completed a date keeps it (runDumps' keepComplete), so one
 * wiki's due date costs the others a check only.
 */
export function dueDates(runs: readonly DumpRun[], yesterday: string): string[] {
  if (runs.length === 0) return [yesterday];
  const due = new Set(runs.filter((r) => !r.complete && r.date <= yesterday).map((r) => r.date));
  for (const last of newestRunPerWiki(runs).values()) {
    const next = isoDaysAfter(last, 1);
    if (next <= yesterday) for (const d of dateRange(next, yesterday)) due.add(d);
  }
  return [...due].sort();
}

/** Each wiki's newest run folder date: due dates go on from it. */
function newestRunPerWiki(runs: readonly DumpRun[]): Map<string, string> {
  const newest = new Map<string, string>();
  for (const r of runs) if ((newest.get(r.wiki) ?? '') < r.date) newest.set(r.wiki, r.date);
  return newest;
}

/**
 * Of the dates due, those a run of `chosen` (explicit dates) leaves behind: a wiki's dates after
 * its newest folder and before the newest chosen one are due no more once that is written, since
 * due dates go on from a wiki's newest folder (folders that did not complete stay due).
 */
export function datesLeftBehind(runs: readonly DumpRun[], yesterday: string, chosen: readonly string[]): LeftBehind[] {
  const last = [...chosen].sort().at(-1);
  if (last === undefined) return [];
  const left: LeftBehind[] = [];
  for (const [wiki, date] of [...newestRunPerWiki(runs)].sort()) {
    const next = isoDaysAfter(date, 1);
    const end = last <= yesterday ? isoDaysAfter(last, -1) : yesterday;
    const dates = next <= end ? dateRange(next, end).filter((d) => !chosen.includes(d)) : [];
    if (dates.length > 0) left.push({ wiki, dates });
  }
  return left;
}

/** A wiki's due dates a run of explicit dates leaves behind (datesLeftBehind). */
export interface LeftBehind {
  readonly wiki: string;
  readonly dates: readonly string[];
}

export interface DatesDue {
  /** The dates to dump now. */
  readonly dates: string[];
  /** Set when no date is due because the last drain stopped at its cap (drain-shortfall.ts)... */
  readonly withheld?: readonly DrainShortfall[];
  /** ...and the dates that are due but withheld for it. */
  readonly heldDates?: string[];
  /** datesLeftBehind over the same folders. */
  readonly leftBehind: (chosen: readonly string[]) => LeftBehind[];
}

/**
 * The dates a night starting on `today` dumps (dueDates over the job's wikis' run folders); none
 * while the last drain stopped short of its ends, as those dates could miss events still in Kafka.
 */
export async function datesDue(config: JobConfig, warehouse: Warehouse, today: string): Promise<DatesDue> {
  const runs = await jobDumpRuns(config, warehouse);
  const yesterday = isoDaysAfter(today, -1);
  const dates = dueDates(runs, yesterday);
  const leftBehind = (chosen: readonly string[]) => datesLeftBehind(runs, yesterday, chosen);
  const behind = await drainShortfalls(config, warehouse);
  return behind.length > 0 ? { dates: [], withheld: behind, heldDates: dates, leftBehind } : { dates, leftBehind };
}

/**
 * The warning for dates an explicit run (`what`: nightly --date, dump --date) leaves behind, with
 * the commands that dump them: one per set of wikis missing the same dates, so that none rewrites
 * a wiki's complete dates (an explicit date is regenerated whole).
 */
export function leftBehindWarning(what: string, chosen: readonly string[], left: readonly LeftBehind[]): string {
  const dates = [...new Set(left.flatMap((l) => l.dates))].sort();
  const range = `${dates[0]}${dates.length > 1 ? ` to ${dates.at(-1)}` : ''}`;
  const byDates = new Map<string, string[]>();
  for (const l of left) {
    const span = `--from ${l.dates[0]} --to ${l.dates.at(-1)}`;
    byDates.set(span, [...(byDates.get(span) ?? []), l.wiki]);
  }
  const commands = [...byDates].map(([span, wikis]) => `mwlake dump ${span} --wiki ${wikis.join(',')}`).join('; ');
  return `${what} dumps ${chosen.length === 1 ? chosen[0] : `${chosen[0]} to ${chosen.at(-1)}`} only; ${dates.length} earlier due date${dates.length === 1 ? '' : 's'} (${range}) will not be due again once it is written: dump them with ${commands}`;
}
