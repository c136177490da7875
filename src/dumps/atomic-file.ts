// Small files of a dump run (checksums, dumpstatus.json, dumpruninfo.*, maxrevid.txt, status.txt) written under
// the in-progress name and renamed into place, so readers never see half a file, and synced, so
// that after a power loss a status saying "done" never outlives the files it describes.

import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storageError } from '../core/errors.js';
import { syncPath } from '../core/sync-path.js';
import { IN_PROGRESS_SUFFIX } from './file-names.js';

/**
 * Writes `text` (or bytes) to `path` via `<path>.inprog`, an fsync and a rename, then syncs the
 * folder. A failure removes the in-progress file and names `path` (a full disk exits 71).
 */
export async function writeTextAtomically(path: string, text: string | Uint8Array): Promise<void> {
  const temp = path + IN_PROGRESS_SUFFIX;
  let renamed = false;
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
    await syncPath(dirname(path));
  } catch (cause) {
    if (!renamed) await rm(temp, { force: true }).catch(() => undefined);
    throw storageError('writing', path, cause);
  }
}
