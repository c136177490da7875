// The `<siteinfo>` of a wiki, built from Wikimedia's namespace map (JSON lines of
// wmf_raw.mediawiki_project_namespace_map, one line per wiki and namespace; the copy in
// shared/reference/wikimedia/siteinfo covers all Wikimedia wikis), with config overrides.
// Imports core only; the caller gives the path.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { JobError } from '../core/errors.js';

export type CaseSetting = 'first-letter' | 'case-sensitive' | 'case-insensitive';

export interface NamespaceInfo {
  readonly key: number;
  /** Localized name ('' for the main namespace), as Wikimedia's dumps show it. */
  readonly name: string;
  readonly caseSetting: CaseSetting;
  readonly isContent: boolean;
}

export interface SiteInfo {
  readonly dbName: string;
  readonly siteName: string;
  /** The wiki's main page URL (`<base>`). */
  readonly base: string;
  /** `xml:lang` of the document. */
  readonly languageCode: string;
  readonly caseSetting: CaseSetting;
  /** Sorted by key. */
  readonly namespaces: readonly NamespaceInfo[];
}

export type SiteInfoOverrides = Partial<Omit<SiteInfo, 'dbName'>>;

const CASE_SETTINGS: readonly string[] = ['first-letter', 'case-sensitive', 'case-insensitive'];

/**
 * Some wikis carry a project name instead of a language in the map (commons, meta, wikidata, ...;
 * T407902). Wikimedia's writer falls back to "en" for a fixed list of them; we do so for every code
 * that is not shaped like a BCP 47 tag with a 2–3 letter primary subtag, which covers that list.
 */
const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

export function languageCodeFor(mapLanguage: string): string {
  return LANGUAGE_TAG.test(mapLanguage) ? mapLanguage : 'en';
}

interface MapLine {
  dbname?: unknown;
  sitename?: unknown;
  home_page?: unknown;
  language?: unknown;
  case_setting?: unknown;
  namespace?: unknown;
  namespace_localized_name?: unknown;
  namespace_case_setting?: unknown;
  namespace_is_content?: unknown;
}

function openLines(path: string): Readable {
  const file = createReadStream(path);
  // pipeline, not pipe: a read error (a missing file) must reach the reader, not crash the process.
  return path.endsWith('.gz') ? pipeline(file, createGunzip(), () => {}) : file;
}

function caseSettingOf(value: unknown, where: string): CaseSetting {
  if (typeof value === 'string' && CASE_SETTINGS.includes(value)) return value as CaseSetting;
  throw new JobError('DATA', `namespace map ${where}: expected a case setting (${CASE_SETTINGS.join(', ')}), found ${JSON.stringify(value)}`);
}

function stringOf(value: unknown, field: string, where: string): string {
  if (typeof value === 'string') return value;
  throw new JobError('DATA', `namespace map ${where}: expected string ${field}, found ${JSON.stringify(value)}`);
}

/**
 * Reads the namespace map at `namespaceMapPath` (JSON lines, gzip when the name ends in .gz) and
 * returns the site info of `wikiId`, with `overrides` applied. Throws NOT_FOUND when the map has no
 * line for the wiki and no override supplies everything.
 */
/** The namespace map has no line for the wiki (a wiki newer than the map): only that wiki cannot be dumped. */
export class UnmappedWikiError extends JobError {
  constructor(
    readonly namespaceMap: string,
    readonly wikiId: string,
  ) {
    super('NOT_FOUND', `the namespace map ${namespaceMap} has no line for wiki ${JSON.stringify(wikiId)}: check the wiki id, or point dumps.namespace_map in the job file at a map that has it`, {
      context: { namespaceMap, wiki: wikiId },
    });
  }
}

export async function loadSiteInfo(namespaceMapPath: string, wikiId: string, overrides: SiteInfoOverrides = {}): Promise<SiteInfo> {
  const needle = `"dbname":${JSON.stringify(wikiId)}`;
  const namespaces = new Map<number, NamespaceInfo>();
  let first: MapLine | undefined;
  const stream = openLines(namespaceMapPath);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    let checked = false;
    for await (const line of lines) {
      lineNumber++;
      // The first line is checked in full, so that a file of another shape (a JSON array, a CSV)
      // is reported as such rather than as lacking the wiki; the rest go through a cheap
      // prefilter: the map has ~30,000 lines and we want one wiki's.
      if (line.trim() === '' || (checked && !line.replaceAll(' ', '').includes(needle))) continue;
      const where = `${namespaceMapPath}:${lineNumber}`;
      let row: MapLine;
      try {
        row = JSON.parse(line) as MapLine;
      } catch (cause) {
        throw new JobError('DATA', `namespace map ${where} is not valid JSON; expected JSON lines of wmf_raw.mediawiki_project_namespace_map`, { cause });
      }
      if (!checked && (row === null || typeof row !== 'object' || Array.isArray(row) || typeof row.dbname !== 'string')) {
        throw new JobError('DATA', `namespace map ${where} is not a namespace map line: expected a JSON object with a string "dbname" on each line (JSON lines of wmf_raw.mediawiki_project_namespace_map)`);
      }
      checked = true;
      if (row.dbname !== wikiId) continue;
      first ??= row;
      const key = row.namespace;
      if (typeof key !== 'number' || !Number.isInteger(key)) {
        throw new JobError('DATA', `namespace map ${where}: expected an integer namespace, found ${JSON.stringify(key)}`);
      }
      namespaces.set(key, {
        key,
        name: stringOf(row.namespace_localized_name ?? '', 'namespace_localized_name', where),
        caseSetting: caseSettingOf(row.namespace_case_setting, where),
        isContent: row.namespace_is_content === 1 || row.namespace_is_content === true,
      });
    }
  } catch (cause) {
    if (cause instanceof JobError) throw cause;
    throw new JobError('NOT_FOUND', `cannot read the namespace map ${namespaceMapPath}: ${(cause as Error).message}`, { cause });
  } finally {
    stream.destroy();
  }
  if (first === undefined) {
    if (overrides.siteName !== undefined && overrides.base !== undefined && overrides.namespaces !== undefined && overrides.languageCode !== undefined && overrides.caseSetting !== undefined) {
      return siteInfoOf({ dbName: wikiId, ...(overrides as Omit<SiteInfo, 'dbName'>) });
    }
    throw new UnmappedWikiError(namespaceMapPath, wikiId);
  }
  const where = `${namespaceMapPath} (${wikiId})`;
  return siteInfoOf({
    dbName: wikiId,
    siteName: overrides.siteName ?? stringOf(first.sitename, 'sitename', where),
    base: overrides.base ?? stringOf(first.home_page, 'home_page', where),
    languageCode: overrides.languageCode ?? languageCodeFor(stringOf(first.language, 'language', where)),
    caseSetting: overrides.caseSetting ?? caseSettingOf(first.case_setting, where),
    namespaces: overrides.namespaces ?? [...namespaces.values()],
  });
}

/**
 * Every wiki id (`dbname`) the namespace map at `namespaceMapPath` has a line for: one read of the
 * map, where loadSiteInfo reads it once per wiki. Only the ids are read; loadSiteInfo checks the
 * rest of a wiki's lines when it dumps it.
 */
export async function mappedWikis(namespaceMapPath: string): Promise<Set<string>> {
  const out = new Set<string>();
  const stream = openLines(namespaceMapPath);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const id = DBNAME.exec(line)?.[1];
      if (id !== undefined) out.add(JSON.parse(id) as string);
    }
  } catch (cause) {
    throw new JobError('NOT_FOUND', `cannot read the namespace map ${namespaceMapPath}: ${(cause as Error).message}`, { cause });
  } finally {
    stream.destroy();
  }
  return out;
}

/** A line's `"dbname": "..."`, as loadSiteInfo's prefilter matches it (spaces allowed around the colon). */
const DBNAME = /"dbname" *: *("(?:[^"\\]|\\.)*")/;

/** A SiteInfo with its namespaces sorted by key (the order dumps list them in). */
export function siteInfoOf(site: SiteInfo): SiteInfo {
  return { ...site, namespaces: [...site.namespaces].sort((a, b) => a.key - b.key) };
}

/**
 * Whether pages of namespace `ns` go to the articles dumps (stub-articles, pages-articles, the
 * multistream): every subject namespace but User, as Wikimedia's xmlstubs.py filters them
 * (`notalk`, `namespace:!NS_USER`), so templates, modules, categories and project pages are in.
 * MediaWiki's talk namespaces are the odd ones; negative namespaces hold no pages.
 */
export function isArticlesNamespace(ns: number): boolean {
  return ns >= 0 && ns % 2 === 0 && ns !== 2;
}
