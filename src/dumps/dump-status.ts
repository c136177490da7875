// dumpstatus.json of a dump run: Wikimedia's StatusAPI version "0.8" (operations-dumps
// xmldumps-backup dumps/runstatusapi.py): {"jobs": {<job>: {"status", "updated", "files":
// {<file>: {"size", "url", "md5", "sha1"}}}}, "version": "0.8"}. With the run info files below,
// the only dump files that carry the run's wall-clock time ("updated"). Imports dumps modules only.

import type { WrittenFile } from './xml-dump.js';

export const STATUS_API_VERSION = '0.8';

export const JOB_STATUSES = ['waiting', 'in-progress', 'done', 'failed', 'skipped'] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobState {
  readonly status: JobStatus;
  /** UTC time of the last change, as `YYYY-MM-DD HH:MM:SS`. */
  readonly updated: string;
  readonly files: readonly WrittenFile[];
}

/** `2024-01-02 03:04:05` (UTC), the form Wikimedia's runinfo uses. */
export function formatUpdated(time: Date): string {
  return time.toISOString().slice(0, 19).replace('T', ' ');
}

/** The dumpstatus.json text for the jobs, in run order; urls are `/<wiki>/<date>/<file>`. */
export function renderDumpStatus(wikiId: string, date: string, jobs: readonly (readonly [string, JobState])[]): string {
  const out: Record<string, unknown> = {};
  for (const [name, state] of jobs) {
    const files: Record<string, unknown> = {};
    for (const file of state.files) {
      files[file.name] = { size: file.sizeBytes, url: `/${wikiId}/${date}/${file.name}`, md5: file.md5, sha1: file.sha1 };
    }
    out[name] = { status: state.status, updated: state.updated, files };
  }
  return JSON.stringify({ jobs: out, version: STATUS_API_VERSION }) + '\n';
}

/** The file names of legacy's per-run job list, beside dumpstatus.json. */
export const RUN_INFO_FILES = { txt: 'dumpruninfo.txt', json: 'dumpruninfo.json' } as const;

/**
 * dumpruninfo.txt and dumpruninfo.json, legacy's per-run job list (runnerutils.py RunInfo), which
 * older tools and scripts read instead of dumpstatus.json: lines `name:<job>; status:<status>;
 * updated:<time>` and `{"jobs": {<job>: {"status", "updated"}}}`, last job first as legacy writes them.
 */
export function renderRunInfo(jobs: readonly (readonly [string, JobState])[]): { txt: string; json: string } {
  const lastFirst = [...jobs].reverse();
  const json: Record<string, { status: JobStatus; updated: string }> = {};
  for (const [name, state] of lastFirst) json[name] = { status: state.status, updated: state.updated };
  return {
    txt: lastFirst.map(([name, state]) => `name:${name}; status:${state.status}; updated:${state.updated}\n`).join(''),
    json: JSON.stringify({ jobs: json }) + '\n',
  };
}

/**
 * The jobs a dumpstatus.json text records, in its order; undefined when the text is not one
 * (a partial rerun then treats the date as never run).
 */
export function parseDumpStatus(text: string): Map<string, JobState> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const jobs = (parsed as { jobs?: unknown } | null)?.jobs;
  if (typeof jobs !== 'object' || jobs === null) return undefined;
  const out = new Map<string, JobState>();
  for (const [name, job] of Object.entries(jobs as Record<string, unknown>)) {
    const { status, updated, files } = (job ?? {}) as { status?: unknown; updated?: unknown; files?: unknown };
    if (!JOB_STATUSES.includes(status as JobStatus) || typeof updated !== 'string' || typeof files !== 'object' || files === null) return undefined;
    const written: WrittenFile[] = [];
    for (const [fileName, file] of Object.entries(files as Record<string, unknown>)) {
      const { size, md5, sha1 } = (file ?? {}) as { size?: unknown; md5?: unknown; sha1?: unknown };
      if (typeof size !== 'number' || typeof md5 !== 'string' || typeof sha1 !== 'string') return undefined;
      written.push({ name: fileName, sizeBytes: size, md5, sha1 });
    }
    out.set(name, { status: status as JobStatus, updated, files: written });
  }
  return out;
}

/**
 * Whether a dumpstatus.json text says its run completed: every job `done`. Unparsable, malformed
 * (parseDumpStatus) or no jobs: no, so nightly writes the date again rather than trust it.
 */
export function isCompleteRunStatus(text: string): boolean {
  const jobs = parseDumpStatus(text);
  return jobs !== undefined && jobs.size > 0 && [...jobs.values()].every((job) => job.status === 'done');
}
