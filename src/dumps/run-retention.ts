// Removing old runs (legacy keeps a number of runs per wiki): a date's run folder
// `<dumps_root>/<wiki>/<YYYYMMDD>` and its adds-changes folder `other/incr/<wiki>/<YYYYMMDD>`. Which
// dates go is the caller's choice. Imports dumps modules only.

import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { incrementalDirectory, runDirectory } from './file-names.js';

/** A folder being removed is renamed to this prefix first; dot-named, it is no run folder and no web server lists it. */
const REMOVING = '.removing-';

/** A renamed-away folder whose deletion failed: no run any more, its files still on disk. */
export interface LeftoverFailure {
  readonly path: string;
  readonly error: unknown;
}

/**
 * Removes a run: its adds-changes folder, then its run folder. Each is renamed away before it is
 * deleted, so a stop midway never leaves a run folder half deleted, which nightly would take for
 * a run that did not complete and dump again; an adds-changes folder gone alone leaves the run
 * complete (as for dates dumped before adds-changes existed), so the next removal finishes it.
 * Throws when a folder cannot be renamed away (the run stays whole); a renamed folder that cannot
 * be deleted is left to removeRunLeftovers, which tries again and reports it.
 */
export async function removeRun(dumpsRoot: string, wikiId: string, date: string): Promise<void> {
  for (const folder of [incrementalDirectory(dumpsRoot, wikiId, date), runDirectory(dumpsRoot, wikiId, date)]) {
    const away = join(dirname(folder), `${REMOVING}${basename(folder)}`);
    // A leftover of a removal that stopped would refuse the rename.
    await rm(away, { recursive: true, force: true });
    try {
      await rename(folder, away);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    await rm(away, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Deletes what removals of `wikiId`'s runs left renamed away (stopped, or refused a deletion); those it could not delete. */
export async function removeRunLeftovers(dumpsRoot: string, wikiId: string): Promise<LeftoverFailure[]> {
  const failures: LeftoverFailure[] = [];
  for (const parent of [dirname(incrementalDirectory(dumpsRoot, wikiId, '00000000')), dirname(runDirectory(dumpsRoot, wikiId, '00000000'))]) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(REMOVING))) {
      const path = join(parent, name);
      await rm(path, { recursive: true, force: true }).catch((error: unknown) => failures.push({ path, error }));
    }
  }
  return failures;
}
