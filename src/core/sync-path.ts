// fsync(2) for files written by others (DuckDB, a compressor) and for folders whose entries
// changed: a rename or a new file is durable only once its folder is synced.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** fsync(2) of a file or folder opened read-only, which Linux allows for both. */
export async function syncPath(target: string): Promise<void> {
  const handle = await open(target, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
