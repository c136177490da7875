// Removing old runs (legacy keeps a number of runs per wiki): a date's run folder
// `<dumps_root>/<wiki>/<YYYYMMDD>` and its adds-changes folder `other/incr/<wiki>/<YYYYMMDD>`. Which
// dates go is the caller's choice. Imports core and dumps modules only.

import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { incrementalDirectory, runDirectory } from './file-names.js';

/** A folder being removed is renamed to this prefix first; dot-named, it is no run folder and no web server lists it. */
const REMOVING = '.removing-';

/**
 * Removes a run: its adds-changes folder, then its run folder. Each is renamed away before it is
 * deleted, so a stop midway never leaves a run folder half deleted, which nightly would take for
 * a run that did not complete and dump again; an adds-changes folder gone alone leaves the run
 * complete (as for dates dumped before adds-changes existed), so the next removal finishes it.
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
    await rm(away, { recursive: true, force: true });
  }
}

/** Deletes what removals of `wikiId`'s runs left renamed when they stopped; the number deleted. */
export async function removeRunLeftovers(dumpsRoot: string, wikiId: string): Promise<number> {
  let removed = 0;
  for (const parent of [dirname(incrementalDirectory(dumpsRoot, wikiId, '00000000')), dirname(runDirectory(dumpsRoot, wikiId, '00000000'))]) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(REMOVING))) {
      await rm(join(parent, name), { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
