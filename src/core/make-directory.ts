// `mkdir -p` that always settles. Node 20's recursive mkdir loops forever, burning a core, when a
// missing parent cannot be created but its own parent exists (any path under /proc, e.g.
// /proc/nope/wh: ENOENT, then EEXIST for /proc, then ENOENT again). This creates one level at a
// time and fails with the first error that creating the parent did not cure.

import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storageError } from './errors.js';

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Whether `path` exists and is a directory (a missing or unreadable path: false). */
export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * Whether `path` is a directory: false when it is missing or another kind of file. Any other error
 * (EACCES, ENOTDIR, ...) throws, naming the path: a folder that cannot be read is not a missing one.
 */
export async function isExistingDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw storageError('stat', path, error);
  }
}

/** Creates `path` and any missing parents; resolves when it is a directory, throws fs's error otherwise. */
export async function makeDirectory(path: string): Promise<void> {
  try {
    await mkdir(path);
    return;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST' && (await isDirectory(path))) return;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw error;
    await makeDirectory(parent);
  }
  try {
    await mkdir(path);
  } catch (error) {
    // Another process may have created it meanwhile.
    if (errorCode(error) === 'EEXIST' && (await isDirectory(path))) return;
    throw error;
  }
}
