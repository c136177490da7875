// The checksum files of a dump run, in the forms of Wikimedia's dumps (operations-dumps
// xmldumps-backup dumps/checksummers.py): `<wiki>-<date>-md5sums.txt` / `-sha1sums.txt` with
// `<hash>  <file>` lines, their JSON forms `{"md5": {"files": {<file>: <hash>}}}`, and one
// `md5sums-<file>.txt` per file (get_checksum_basename_perfile: no wiki-date prefix, the file
// name carries it). Lines are sorted by file name, so reruns are byte-identical. Imports dumps
// modules only.

import { join } from 'node:path';
import { writeTextAtomically } from './atomic-file.js';
import type { WrittenFile } from './xml-dump.js';

export type HashType = 'md5' | 'sha1';

export const HASH_TYPES: readonly HashType[] = ['md5', 'sha1'];

function byName(files: readonly WrittenFile[]): WrittenFile[] {
  return [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `<hash>  <file>\n` per file, sorted by file name (the format `md5sum -c` reads). */
export function checksumText(hashType: HashType, files: readonly WrittenFile[]): string {
  return byName(files)
    .map((file) => `${file[hashType]}  ${file.name}\n`)
    .join('');
}

/** `{"md5": {"files": {...}}}` with keys sorted by file name. */
export function checksumJson(hashType: HashType, files: readonly WrittenFile[]): string {
  const map: Record<string, string> = {};
  for (const file of byName(files)) map[file.name] = file[hashType];
  return JSON.stringify({ [hashType]: { files: map } });
}

/** Names of the run-level checksum files, e.g. `enwiki-20240101-md5sums.txt`. */
export function checksumFileNames(wikiId: string, date: string): string[] {
  return HASH_TYPES.flatMap((hashType) => [`${wikiId}-${date}-${hashType}sums.txt`, `${wikiId}-${date}-${hashType}sums.json`]);
}

/** The per-file checksum file of `fileName`, e.g. `md5sums-enwiki-20240101-pages-articles.xml.bz2.txt`. */
export function perFileChecksumName(hashType: HashType, fileName: string): string {
  return `${hashType}sums-${fileName}.txt`;
}

/**
 * The file a per-file checksum file names, or undefined for other files. Also reads the
 * `<wiki>-<date>-md5sums-<file>.txt` form earlier mwlake versions wrote (`legacy`), which a
 * rerun removes.
 */
export function perFileChecksumTarget(name: string, wikiId: string, date: string): { readonly target: string; readonly legacy: boolean } | undefined {
  const legacyPrefix = `${wikiId}-${date}-`;
  const legacy = name.startsWith(legacyPrefix);
  const match = /^(?:md5|sha1)sums-(.+)\.txt$/.exec(legacy ? name.slice(legacyPrefix.length) : name);
  return match === null ? undefined : { target: match[1]!, legacy };
}

/** Writes the run-level checksum files over `files` and a per-file checksum file for each of `newFiles`. */
export async function writeChecksumFiles(directory: string, wikiId: string, date: string, files: readonly WrittenFile[], newFiles: readonly WrittenFile[]): Promise<void> {
  for (const hashType of HASH_TYPES) {
    await writeTextAtomically(join(directory, `${wikiId}-${date}-${hashType}sums.txt`), checksumText(hashType, files));
    await writeTextAtomically(join(directory, `${wikiId}-${date}-${hashType}sums.json`), checksumJson(hashType, files));
    for (const file of newFiles) {
      await writeTextAtomically(join(directory, perFileChecksumName(hashType, file.name)), `${file[hashType]}  ${file.name}\n`);
    }
  }
}
