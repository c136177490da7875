// Small files of a dump run (checksums, dumpstatus.json, maxrevid.txt, status.txt) written under
// the in-progress name and renamed into place, so readers never see half a file. Imports nothing
// from src/ but file-names.

import { rename, writeFile } from 'node:fs/promises';
import { IN_PROGRESS_SUFFIX } from './file-names.js';

/** Writes `text` to `path` via `<path>.inprog` and a rename. */
export async function writeTextAtomically(path: string, text: string): Promise<void> {
  const temp = path + IN_PROGRESS_SUFFIX;
  await writeFile(temp, text, { encoding: 'utf8', mode: 0o644 });
  await rename(temp, path);
}
