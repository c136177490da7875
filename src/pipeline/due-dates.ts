// Which dates a nightly run dumps. Worked out per wiki, since a night dumps wiki by wiki and stops
// at the first that fails: the wikis after it have no folder for any of that night's dates.

import type { Warehouse } from '../iceberg/catalog.js';
import type { JobConfig } from './config.js';
import { drainShortfalls, type DrainShortfall } from './drain-shortfall.js';
import { dateRange, dumpRuns, type DumpRun } from './dump.js';
import { stateWikis } from './state-wikis.js';

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
  const newest = new Map<string, string>();
  const due = new Set<string>();
  for (const r of runs) {
    if (!r.complete && r.date <= yesterday) due.add(r.date);
    if ((newest.get(r.wiki) ?? '') < r.date) newest.set(r.wiki, r.date);
  }
  for (const last of newest.values()) {
    const next = isoDaysAfter(last, 1);
    if (next <= yesterday) for (const d of dateRange(next, yesterday)) due.add(d);
  }
  return [...due].sort();
}

export interface DatesDue {
  /** The dates to dump now. */
  readonly dates: string[];
  /** Set when no date is due because the last drain stopped at its cap (drain-shortfall.ts)... */
  readonly withheld?: readonly DrainShortfall[];
  /** ...and the dates that are due but withheld for it. */
  readonly heldDates?: string[];
}

/**
 * The dates a night starting on `today` dumps (dueDates over the job's wikis' run folders); none
 * while the last drain stopped short of its ends, as those dates could miss events still in Kafka.
 */
export async function datesDue(config: JobConfig, warehouse: Warehouse, today: string): Promise<DatesDue> {
  const all = config.dumps.wikis === 'all' ? await stateWikis(warehouse) : undefined;
  const dates = dueDates(await dumpRuns(config, all), isoDaysAfter(today, -1));
  const behind = await drainShortfalls(config, warehouse);
  return behind.length > 0 ? { dates: [], withheld: behind, heldDates: dates } : { dates };
}
