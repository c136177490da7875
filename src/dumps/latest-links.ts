// `<dumps_root>/<wiki>/latest/`: `<wiki>-latest-<name>` symlinks to the files of the newest
// complete run (operations-dumps xmldumps-backup dumps/symlinks.py), relative (`../<date>/<file>`)
// so the tree can be moved or served as is. Imports dumps modules only.

import { access, lstat, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory } from '../core/make-directory.js';
import { IN_PROGRESS_SUFFIX, latestFileName } from './file-names.js';

const LINK_TARGET = /^\.\.\/(\d{8})\//;

export interface LinkLatestOptions {
  /** Newer runs whose links may be replaced: they are not complete (a failed or killed rerun). */
  readonly replacing?: ReadonlySet<string>;
}

/**
 * Points `latest/` at the run of `date`: one link per file, replaced atomically (new link, then
 * rename), and links to files of other runs removed. Does nothing and returns false when `latest/`
 * already links a newer run's existing files (unless that run is one of `replacing`).
 */
export async function linkLatest(dumpsRoot: string, wikiId: string, date: string, fileNames: readonly string[], o: LinkLatestOptions = {}): Promise<boolean> {
  const latestDir = join(dumpsRoot, wikiId, 'latest');
  await makeDirectory(latestDir);
  const existing = new Map<string, string>();
  // Links a run killed before renaming them into place left under their temporary names.
  const temps: string[] = [];
  for (const name of await readdir(latestDir)) {
    const path = join(latestDir, name);
    if (!(await lstat(path)).isSymbolicLink()) continue;
    if (name.startsWith(`.${wikiId}-latest-`) && name.endsWith(IN_PROGRESS_SUFFIX)) {
      temps.push(name);
      continue;
    }
    const target = await readlink(path);
    existing.set(name, target);
    const linkedDate = LINK_TARGET.exec(target)?.[1];
    // A link into a newer run whose file is gone (its folder removed by hand) holds nothing.
    if (linkedDate !== undefined && linkedDate > date && o.replacing?.has(linkedDate) !== true && (await access(path).then(() => true, () => false))) return false;
  }
  const wanted = new Set<string>();
  for (const fileName of fileNames) {
    const linkName = latestFileName(wikiId, date, fileName);
    if (linkName === undefined) continue;
    wanted.add(linkName);
    const target = `../${date}/${fileName}`;
    if (existing.get(linkName) === target) continue;
    const temp = join(latestDir, `.${linkName}${IN_PROGRESS_SUFFIX}`);
    await rm(temp, { force: true });
    await symlink(target, temp);
    await rename(temp, join(latestDir, linkName));
  }
  for (const name of existing.keys()) {
    if (!wanted.has(name) && name.startsWith(`${wikiId}-latest-`)) await rm(join(latestDir, name), { force: true });
  }
  for (const name of temps) await rm(join(latestDir, name), { force: true });
  return true;
}

/** Removes `latest/` links into the run of `date` whose files are gone (a failed rerun removed them). */
export async function unlinkMissing(dumpsRoot: string, wikiId: string, date: string): Promise<void> {
  const latestDir = join(dumpsRoot, wikiId, 'latest');
  const names = await readdir(latestDir).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(latestDir, name);
    const link = await lstat(path).catch(() => undefined);
    if (link === undefined || !link.isSymbolicLink()) continue;
    if (LINK_TARGET.exec(await readlink(path))?.[1] !== date) continue;
    if (await access(path).then(() => false, () => true)) await rm(path, { force: true });
  }
}

/** The run dates (YYYYMMDD) `latest/` links into. */
export async function linkedDates(dumpsRoot: string, wikiId: string): Promise<Set<string>> {
  const latestDir = join(dumpsRoot, wikiId, 'latest');
  const dates = new Set<string>();
  for (const name of await readdir(latestDir).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const target = await readlink(join(latestDir, name)).catch(() => undefined);
    const linkedDate = target === undefined ? undefined : LINK_TARGET.exec(target)?.[1];
    if (linkedDate !== undefined) dates.add(linkedDate);
  }
  return dates;
}
