// `<dumps_root>/<wiki>/latest/`: `<wiki>-latest-<name>` symlinks to the files of the newest
// complete run (operations-dumps xmldumps-backup dumps/symlinks.py), relative (`../<date>/<file>`)
// so the tree can be moved or served as is, each with its RSS feed `<link>-rss.xml` (Feeds in the
// same file: watchers poll it for a new run). Imports core and dumps modules only.

import { access, lstat, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory } from '../core/make-directory.js';
import { writeTextAtomically } from './atomic-file.js';
import { IN_PROGRESS_SUFFIX, latestFileName } from './file-names.js';

const FEED_SUFFIX = '-rss.xml';
const CHECKSUM_FILE = /-(?:md5|sha1)sums\.(?:txt|json)$/;

/** Legacy's xml_escape: & < > only. */
const escapeFeed = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/**
 * The RSS 2.0 feed of a latest/ link, as legacy's feed.xml template fills it: the run folder as
 * channel and item link (`/<wiki>/<date>`, the form of dumpstatus.json's urls), the file as an
 * escaped HTML link, and the time the link was made.
 */
export function feedText(wikiId: string, date: string, fileName: string, linkName: string, now: Date): string {
  const run = `/${wikiId}/${date}`;
  return [
    '<?xml version="1.0"?>',
    '<rss version="2.0">',
    '\t<channel>',
    `\t\t<title>${escapeFeed(linkName.slice(`${wikiId}-latest-`.length))}</title>`,
    `\t\t<link>${escapeFeed(run)}</link>`,
    `\t\t<description>Wikimedia dump updates for ${escapeFeed(wikiId)}</description>`,
    '\t\t<item>',
    `\t\t\t<title>${escapeFeed(run)}</title>`,
    `\t\t\t<link>${escapeFeed(run)}</link>`,
    `\t\t\t<description>${escapeFeed(`<a href="${run}/${fileName}">${fileName}</a>`)}</description>`,
    `\t\t\t<pubDate>${now.toUTCString()}</pubDate>`,
    '\t\t</item>',
    '\t</channel>',
    '</rss>',
  ].join('\n');
}

/** Removes the feeds whose link is gone (legacy cleanup_feeds), and any a killed run left half-written. */
async function removeOrphanFeeds(latestDir: string): Promise<void> {
  const names = new Set(await readdir(latestDir).catch(() => [] as string[]));
  for (const name of names) {
    const orphan = name.endsWith(FEED_SUFFIX) && !names.has(name.slice(0, -FEED_SUFFIX.length));
    if (orphan || name.endsWith(`${FEED_SUFFIX}${IN_PROGRESS_SUFFIX}`)) await rm(join(latestDir, name), { force: true });
  }
}

const LINK_TARGET = /^\.\.\/(\d{8})\//;

export interface LinkLatestOptions {
  /** Newer runs whose links may be replaced: they are not complete (a failed or killed rerun). */
  readonly replacing?: ReadonlySet<string>;
  /** The feeds' pubDate (tests). */
  readonly now?: () => Date;
}

/**
 * Points `latest/` at the run of `date`: one link per file, replaced atomically (new link, then
 * rename), and links to files of other runs removed. Does nothing and returns false when `latest/`
 * already links a newer run's existing files (unless that run is one of `replacing`).
 */
export async function linkLatest(dumpsRoot: string, wikiId: string, date: string, fileNames: readonly string[], o: LinkLatestOptions = {}): Promise<boolean> {
  const latestDir = join(dumpsRoot, wikiId, 'latest');
  await makeDirectory(latestDir);
  const existing = new Map<string, string>();
  // Links a run killed before renaming them into place left under their temporary names.
  const temps: string[] = [];
  for (const name of await readdir(latestDir)) {
    const path = join(latestDir, name);
    if (!(await lstat(path)).isSymbolicLink()) continue;
    if (name.startsWith(`.${wikiId}-latest-`) && name.endsWith(IN_PROGRESS_SUFFIX)) {
      temps.push(name);
      continue;
    }
    const target = await readlink(path);
    existing.set(name, target);
    const linkedDate = LINK_TARGET.exec(target)?.[1];
    // A link into a newer run whose file is gone (its folder removed by hand) holds nothing.
    if (linkedDate !== undefined && linkedDate > date && o.replacing?.has(linkedDate) !== true && (await access(path).then(() => true, () => false))) return false;
  }
  const wanted = new Set<string>();
  for (const fileName of fileNames) {
    const linkName = latestFileName(wikiId, date, fileName);
    if (linkName === undefined) continue;
    wanted.add(linkName);
    const target = `../${date}/${fileName}`;
    // Legacy feeds the content files, not the checksum files it links.
    const feed = CHECKSUM_FILE.test(fileName) ? undefined : join(latestDir, `${linkName}${FEED_SUFFIX}`);
    if (existing.get(linkName) !== target) {
      const temp = join(latestDir, `.${linkName}${IN_PROGRESS_SUFFIX}`);
      await rm(temp, { force: true });
      await symlink(target, temp);
      await rename(temp, join(latestDir, linkName));
    } else if (feed === undefined || (await access(feed).then(() => true, () => false))) {
      continue;
    }
    // Written when the link is (re)made: its pubDate says when this run became the latest.
    if (feed !== undefined) await writeTextAtomically(feed, feedText(wikiId, date, fileName, linkName, o.now?.() ?? new Date()));
  }
  for (const name of existing.keys()) {
    if (!wanted.has(name) && name.startsWith(`${wikiId}-latest-`)) await rm(join(latestDir, name), { force: true });
  }
  for (const name of temps) await rm(join(latestDir, name), { force: true });
  await removeOrphanFeeds(latestDir);
  return true;
}

/** Removes `latest/` links into the run of `date` whose files are gone (a failed rerun removed them). */
export async function unlinkMissing(dumpsRoot: string, wikiId: string, date: string): Promise<void> {
  const latestDir = join(dumpsRoot, wikiId, 'latest');
  const names = await readdir(latestDir).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(latestDir, name);
    const link = await lstat(path).catch(() => undefined);
    if (link === undefined || !link.isSymbolicLink()) continue;
    if (LINK_TARGET.exec(await readlink(path))?.[1] !== date) continue;
    if (await access(path).then(() => false, () => true)) await rm(path, { force: true });
  }
  await removeOrphanFeeds(latestDir);
}

/** The run dates (YYYYMMDD) `latest/` links into. */
export async function linkedDates(dumpsRoot: string, wikiId: string): Promise<Set<string>> {
  const latestDir = join(dumpsRoot, wikiId, 'latest');
  const dates = new Set<string>();
  for (const name of await readdir(latestDir).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const target = await readlink(join(latestDir, name)).catch(() => undefined);
    const linkedDate = target === undefined ? undefined : LINK_TARGET.exec(target)?.[1];
    if (linkedDate !== undefined) dates.add(linkedDate);
  }
  return dates;
}
