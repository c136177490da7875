// Temporary folders named after the process that owns them (`<prefix><pid namespace>-<pid>-XXXXXX`),
// so that a later run removes what a killed process (SIGKILL, the OOM killer) left behind: a
// drain's staging folder can hold hundreds of MB, and cron would pile them up night after night.
// Only folders whose process has exited (process-identity.ts) are removed; a live owner, or one
// in another pid namespace (a container sharing the folder), keeps its folder.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onInterrupt } from './interrupt.js';
import { hasExited, selfIdentity } from './process-identity.js';

function ownerPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-(\\d+)-[A-Za-z0-9]{6}$`);
}

/** Removes the folders `<prefix>…` under `parent` whose owning process has exited; returns their paths. Never throws. */
export async function removeOrphanedTempDirs(prefix: string, parent: string = tmpdir()): Promise<string[]> {
  const pattern = ownerPattern(prefix);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const me = selfIdentity();
  const removed: string[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match === null) continue;
    // A folder on this machine's disk was made on this machine: host and boot are ours.
    // Not `...me`: our own start time would make every other live pid look reused.
    if (!hasExited({ host: me.host, ...(me.bootId === undefined ? {} : { bootId: me.bootId }), pidNamespace: match[1]!, pid: Number(match[2]) })) continue;
    const path = join(parent, name);
    try {
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Not ours to remove (another user's folder): leave it.
    }
  }
  return removed;
}

function ownedName(prefix: string): string {
  return `${prefix}${selfIdentity().pidNamespace ?? '0'}-${process.pid}-`;
}

/** A new folder `<parent>/<prefix><namespace>-<pid>-XXXXXX`, once the orphans of earlier runs are removed. */
export async function createOwnedTempDir(prefix: string, parent: string = tmpdir()): Promise<string> {
  await removeOrphanedTempDirs(prefix, parent);
  return mkdtemp(join(parent, ownedName(prefix)));
}

const SUFFIX_CHARACTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The same name as createOwnedTempDir's, but not created: for a tool that makes the folder only
 * when it needs it (DuckDB's spill folder). The orphans of earlier runs are removed first.
 */
export async function ownedTempPath(prefix: string, parent: string = tmpdir()): Promise<string> {
  await removeOrphanedTempDirs(prefix, parent);
  const suffix = [...randomBytes(6)].map((byte) => SUFFIX_CHARACTERS[byte % SUFFIX_CHARACTERS.length]).join('');
  return join(parent, ownedName(prefix) + suffix);
}

/**
 * Registers `path` for removal if a signal stops the run first (core/interrupt.ts); the returned
 * function forgets that and removes it now, for the owner's normal close.
 */
export function removedOnInterrupt(path: string): () => Promise<void> {
  const remove = () => rm(path, { recursive: true, force: true });
  const forget = onInterrupt(remove);
  return async () => {
    forget();
    await remove();
  };
}
