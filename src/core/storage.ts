// Storage behind a small interface, so an object store can be added without touching the Iceberg
// code. Locations are URIs (`file:///abs/path`); the local implementation maps them to paths.
// Commit safety rests on writeIfAbsent: the metadata file appears atomically and never replaces
// another (Node's rename silently overwrites, so we link(2) a fully written temp file instead).
// Imports nothing from src/ but errors.

import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { CommitStateUnknownError, JobError, storageError } from './errors.js';
import { makeDirectory } from './make-directory.js';
import { syncPath } from './sync-path.js';

export interface ObjectInfo {
  readonly location: string;
  readonly sizeBytes: number;
  readonly modifiedMs: number;
}

/** A file being written; it is complete and durable only after close(). */
export interface ObjectWriter {
  readonly location: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes and syncs; returns the exact size in bytes. */
  close(): Promise<number>;
  /** Stops writing and removes what was written. */
  abort(): Promise<void>;
}

export interface Storage {
  read(location: string): Promise<Uint8Array>;
  readRange(location: string, offset: number, length: number): Promise<Uint8Array>;
  openReadStream(location: string): Readable;
  /** Creates the object only if absent, atomically; throws ALREADY_EXISTS otherwise. */
  writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void>;
  /** Writes the object atomically, replacing any previous content. */
  writeAtomic(location: string, bytes: Uint8Array | string): Promise<void>;
  createWriter(location: string): Promise<ObjectWriter>;
  stat(location: string): Promise<ObjectInfo | undefined>;
  /** Every object under the prefix, recursively, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(location: string): Promise<void>;
  /**
   * Removes the empty folders below `prefix` whose name `name` matches, last changed before
   * `olderThanMs`, which deletes leave behind (object stores have none); returns how many
   * (with `dryRun`, how many would go, removing none).
   */
  removeEmptyFolders(prefix: string, olderThanMs: number, name: RegExp, dryRun?: boolean): Promise<number>;
  /** A local filesystem path for engines that read files directly (DuckDB), if there is one. */
  localPath(location: string): string | undefined;
  /** Whether two locations name the same folder (`file:/x` and `file:///x`, or through a symlink). */
  sameFolder(a: string, b: string): Promise<boolean>;
  /** Whether `location` is a symlink to the object `target` names (a hard link is not). */
  isLinkTo(location: string, target: string): Promise<boolean>;
  /**
   * Makes objects written by others (DuckDB's COPY does not fsync) durable: each file, then every
   * folder from theirs up to `root`, since new folders' entries need their parents synced too.
   */
  makeDurable(locations: readonly string[], root: string): Promise<void>;
}

const FILE_SCHEME = 'file://';

/** `file:///abs/path` for an absolute or relative local path (no percent-encoding, as Java writes). */
export function fileLocation(localPath: string): string {
  return FILE_SCHEME + path.resolve(localPath);
}

/** The local path of a `file://` location, or of a plain absolute path. */
export function localPathOf(location: string): string {
  if (location.startsWith(FILE_SCHEME)) return location.slice(FILE_SCHEME.length);
  if (location.startsWith('file:/')) return location.slice('file:'.length);
  if (path.isAbsolute(location)) return location;
  throw new JobError('CONFIG', `unsupported storage location ${JSON.stringify(location)}: expected file:///absolute/path`, {
    context: { location },
  });
}

/** Joins a location and relative segments with '/'. */
export function joinLocation(base: string, ...segments: string[]): string {
  let out = base.endsWith('/') ? base.slice(0, -1) : base;
  for (const segment of segments) out += '/' + segment.replace(/^\/+/, '');
  return out;
}

/** A location a deletion could not remove, and why. */
export interface FailedDelete {
  readonly location: string;
  readonly error: unknown;
}

/**
 * Deletes every location, going on past failures: files nothing references any more (a failed
 * run's, expiry's, orphan removal's) are all still worth removing when one of them is refused.
 * Returns the failures, for the caller to report.
 */
export async function deleteEach(storage: Storage, locations: readonly string[]): Promise<FailedDelete[]> {
  const results = await Promise.allSettled(locations.map((l) => storage.delete(l)));
  return results.flatMap((r, i) => (r.status === 'rejected' ? [{ location: locations[i]!, error: r.reason as unknown }] : []));
}

/**
 * Deletes what a run wrote and will not commit, best effort: cleaning up after a failure must not
 * hide that failure, so an object that cannot be deleted stays (an orphan `mwlake maintain`
 * removes). Returns the locations left behind.
 */
export async function discardWritten(storage: Storage, locations: readonly string[]): Promise<string[]> {
  return (await deleteEach(storage, locations)).map((f) => f.location);
}

async function writeSynced(file: string, bytes: Uint8Array | string, flag: string): Promise<void> {
  const handle = await fs.open(file, flag, 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Storage on the local filesystem. */
export class LocalStorage implements Storage {
  async read(location: string): Promise<Uint8Array> {
    const file = localPathOf(location);
    try {
      return await fs.readFile(file);
    } catch (cause) {
      throw storageError('read', location, cause);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    const file = localPathOf(location);
    try {
      const handle = await fs.open(file, 'r');
      try {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw storageError('read', location, cause);
    }
  }

  openReadStream(location: string): Readable {
    return createReadStream(localPathOf(location));
  }

  async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
    const file = localPathOf(location);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${randomUUID()}.tmp`);
    let linked = false;
    try {
      await makeDirectory(dir);
      await writeSynced(temp, bytes, 'wx');
      // link(2) fails with EEXIST instead of replacing, and the target appears complete.
      await fs.link(temp, file).catch(async (error: unknown) => {
        // Over NFS a retransmitted link whose first reply was lost reports EEXIST for our own
        // link (link(2), NOTES): the name then points at our temp file's inode.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const ours = await sameFile(temp, file);
        if (ours === undefined) throw new CommitStateUnknownError(`creating ${location} reported EEXIST, and whether the file there is this write's could not be checked`, { cause: error, context: { location } });
        if (!ours) throw error;
      });
      linked = true;
      await syncPath(dir);
    } catch (cause) {
      // Created, but maybe not durable: the caller must not act as if it were absent.
      if (linked) throw new CommitStateUnknownError(`created ${location}, but syncing its folder failed: whether it survives a crash is unknown`, { cause, context: { location, folderSync: 'failed' } });
      if (cause instanceof CommitStateUnknownError) throw cause;
      throw storageError('create', location, cause);
    } finally {
      // Best effort: a leftover temp name is an orphan; failing here would report a created file as not created.
      await fs.rm(temp, { force: true }).catch(() => undefined);
    }
  }

  async writeAtomic(location: string, bytes: Uint8Array | string): Promise<void> {
    const file = localPathOf(location);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${randomUUID()}.tmp`);
    try {
      await makeDirectory(dir);
      await writeSynced(temp, bytes, 'wx');
      await fs.rename(temp, file);
      await syncPath(dir);
    } catch (cause) {
      // Best effort: where the write failed (a file where a folder must be), so may this.
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw storageError('write', location, cause);
    }
  }

  async createWriter(location: string): Promise<ObjectWriter> {
    const file = localPathOf(location);
    let handle: fs.FileHandle;
    try {
      await makeDirectory(path.dirname(file));
      handle = await fs.open(file, 'wx', 0o644);
    } catch (cause) {
      throw storageError('create', location, cause);
    }
    let size = 0;
    let closed = false;
    return {
      location,
      async write(chunk: Uint8Array): Promise<void> {
        try {
          let written = 0;
          while (written < chunk.byteLength) {
            const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
            written += bytesWritten;
          }
          size += chunk.byteLength;
        } catch (cause) {
          throw storageError('write', location, cause);
        }
      },
      async close(): Promise<number> {
        if (closed) return size;
        closed = true;
        try {
          await handle.sync();
          await handle.close();
        } catch (cause) {
          throw storageError('close', location, cause);
        }
        return size;
      },
      async abort(): Promise<void> {
        if (!closed) {
          closed = true;
          await handle.close().catch(() => undefined);
        }
        await fs.rm(file, { force: true });
      },
    };
  }

  async stat(location: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await fs.stat(localPathOf(location));
      return { location, sizeBytes: info.size, modifiedMs: info.mtimeMs };
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storageError('stat', location, cause);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const root = localPathOf(prefix);
    const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    let entries: string[];
    try {
      entries = await fs.readdir(root, { recursive: true });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw storageError('list', prefix, cause);
    }
    for (const entry of entries) {
      const full = path.join(root, entry);
      const info = await fs.stat(full).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      yield { location: joinLocation(base, ...entry.split(path.sep)), sizeBytes: info.size, modifiedMs: info.mtimeMs };
    }
  }

  async makeDurable(locations: readonly string[], root: string): Promise<void> {
    const top = localPathOf(root);
    const dirs = new Set<string>();
    for (const location of locations) {
      const file = localPathOf(location);
      try {
        await syncPath(file);
      } catch (cause) {
        throw storageError('sync', location, cause);
      }
      for (let dir = path.dirname(file); !dirs.has(dir); dir = path.dirname(dir)) {
        dirs.add(dir);
        if (dir === top || path.dirname(dir) === dir || !dir.startsWith(top + path.sep)) break;
      }
    }
    for (const dir of dirs) {
      try {
        await syncPath(dir);
      } catch (cause) {
        throw storageError('sync', dir, cause);
      }
    }
  }

  async delete(location: string): Promise<void> {
    try {
      await fs.rm(localPathOf(location), { force: true });
    } catch (cause) {
      throw storageError('delete', location, cause);
    }
  }

  async removeEmptyFolders(prefix: string, olderThanMs: number, name: RegExp, dryRun = false): Promise<number> {
    const root = localPathOf(prefix);
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => undefined);
      if (entries === undefined) return;
      for (const entry of entries) if (entry.isDirectory()) await walk(path.join(dir, entry.name));
      if (dir === root || !name.test(path.basename(dir))) return;
      const info = await fs.stat(dir).catch(() => undefined);
      if (info === undefined || info.mtimeMs >= olderThanMs) return;
      if (dryRun) {
        if (entries.length === 0) removed++;
        return;
      }
      // rmdir refuses a folder that got a file meanwhile: then it is not empty, and stays.
      await fs.rmdir(dir).then(() => removed++, () => undefined);
    };
    await walk(root);
    return removed;
  }

  localPath(location: string): string | undefined {
    return localPathOf(location);
  }

  async isLinkTo(location: string, target: string): Promise<boolean> {
    const own = localPathOf(location);
    const link = await fs.lstat(own).catch(() => undefined);
    if (link?.isSymbolicLink() !== true) return false;
    const [a, b] = await Promise.all([fs.stat(own, { bigint: true }).catch(() => undefined), fs.stat(localPathOf(target), { bigint: true }).catch(() => undefined)]);
    return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
  }

  async sameFolder(a: string, b: string): Promise<boolean> {
    let x: string;
    let y: string;
    try {
      [x, y] = [path.resolve(localPathOf(a)), path.resolve(localPathOf(b))];
    } catch {
      return false; // not a local location (s3://...): not this folder
    }
    if (x === y) return true;
    // One inode, also through a symlink or a bind mount (which realpath does not see through).
    const [sx, sy] = await Promise.all([fs.stat(x, { bigint: true }).catch(() => undefined), fs.stat(y, { bigint: true }).catch(() => undefined)]);
    return sx !== undefined && sy !== undefined && sx.dev === sy.dev && sx.ino === sy.ino;
  }
}

/**
 * Whether `existing` names the inode of `ours`: false when it is gone (removed since: not ours to
 * report created), undefined when either cannot be checked.
 */
async function sameFile(ours: string, existing: string): Promise<boolean | undefined> {
  try {
    const x = await fs.stat(ours, { bigint: true });
    const y = await fs.stat(existing, { bigint: true }).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    });
    return y !== undefined && x.ino === y.ino && x.dev === y.dev;
  } catch {
    return undefined;
  }
}
