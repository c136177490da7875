// The check every command that reads an existing warehouse makes first: a mistyped --warehouse
// must fail naming where to set it, not list no tables with exit 0.

import { JobError } from '../core/errors.js';
import { isExistingDirectory } from '../core/make-directory.js';

/** Resolves when `path` is a folder; NOT_FOUND (65) when missing, a storage error naming it (77, ...) when it cannot be read. */
export async function requireWarehouseFolder(path: string): Promise<void> {
  if (!(await isExistingDirectory(path))) {
    throw new JobError('NOT_FOUND', `no warehouse at ${path}: give --warehouse DIR, MWLAKE_WAREHOUSE or warehouse: in the job file`, { context: { warehouse: path } });
  }
}
