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

/**
 * Reads the namespace map at `namespaceMapPath` (JSON lines, gzip when the name ends in .gz) and
 * returns the site info of `wikiId`, with `overrides` applied. Throws UnmappedWikiError (NOT_FOUND)
 * when the map has no line for the wiki and no override supplies everything.
 */
export async function loadSiteInfo(namespaceMapPath: string, wikiId: string, overrides: SiteInfoOverrides = {}): Promise<SiteInfo> {
  const site = (await loadSiteInfos(namespaceMapPath, [wikiId], overrides)).get(wikiId)!;
  if (site instanceof UnmappedWikiError) throw site;
  return site;
}

/** A wiki's lines of the map: its first (site-wide fields) and its namespaces. */
interface WikiLines {
  readonly first: MapLine;
  readonly namespaces: Map<number, NamespaceInfo>;
}

/**
 * loadSiteInfo of each of `wikiIds` in one read of the map: an UnmappedWikiError for a wiki it has
 * no line for (only that wiki cannot be dumped); any other fault of the map throws.
 */
export async function loadSiteInfos(namespaceMapPath: string, wikiIds: readonly string[], overrides: SiteInfoOverrides = {}): Promise<Map<string, SiteInfo | UnmappedWikiError>> {
  // No wiki wanted (a state with no pages yet): the map is not read, as when each wiki had its own read.
  if (wikiIds.length === 0) return new Map();
  const needles = new Map(wikiIds.map((w) => [dbnameNeedle(w), w]));
  const found = new Map<string, WikiLines>();
  const stream = openLines(namespaceMapPath);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    let checked = false;
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      // The first line is checked in full, so that a file of another shape (a JSON array, a CSV)
      // is reported as such rather than as lacking the wikis; the rest go through a cheap
      // prefilter: the map has ~30,000 lines and we want some wikis' lines.
      const wanted = checked ? wantedBy(line, needles) : undefined;
      if (checked && wanted === undefined) continue;
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
      const wiki = typeof row.dbname === 'string' ? needles.get(dbnameNeedle(row.dbname)) : undefined;
      // After the first line, a wiki's line also has to name it as the prefilter found it.
      if (wiki === undefined || (wanted !== undefined && !wanted.includes(wiki))) continue;
      const key = row.namespace;
      if (typeof key !== 'number' || !Number.isInteger(key)) {
        throw new JobError('DATA', `namespace map ${where}: expected an integer namespace, found ${JSON.stringify(key)}`);
      }
      const entry = found.get(wiki) ?? { first: row, namespaces: new Map<number, NamespaceInfo>() };
      found.set(wiki, entry);
      entry.namespaces.set(key, {
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
  return new Map(wikiIds.map((w) => [w, siteInfoFrom(namespaceMapPath, w, found.get(w), overrides)]));
}

const dbnameNeedle = (wikiId: string): string => `"dbname":${JSON.stringify(wikiId)}`;

/** `"dbname":"<id>"` in a line with its spaces removed, the id as written (escapes not decoded). */
const DBNAME = /"dbname":"(?:[^"\\]|\\.)*"/g;

/** The wanted wikis a line names as `"dbname":"<id>"` (spaces aside), or undefined for none. */
function wantedBy(line: string, needles: ReadonlyMap<string, string>): string[] | undefined {
  let out: string[] | undefined;
  for (const [needle] of line.replaceAll(' ', '').matchAll(DBNAME)) {
    const wiki = needles.get(needle);
    if (wiki !== undefined) (out ??= []).push(wiki);
  }
  return out;
}

function siteInfoFrom(path: string, wikiId: string, lines: WikiLines | undefined, overrides: SiteInfoOverrides): SiteInfo | UnmappedWikiError {
  if (lines === undefined) {
    if (overrides.siteName !== undefined && overrides.base !== undefined && overrides.namespaces !== undefined && overrides.languageCode !== undefined && overrides.caseSetting !== undefined) {
      return siteInfoOf({ dbName: wikiId, ...(overrides as Omit<SiteInfo, 'dbName'>) });
    }
    return new UnmappedWikiError(path, wikiId);
  }
  const { first } = lines;
  const where = `${path} (${wikiId})`;
  return siteInfoOf({
    dbName: wikiId,
    siteName: overrides.siteName ?? stringOf(first.sitename, 'sitename', where),
    base: overrides.base ?? stringOf(first.home_page, 'home_page', where),
    languageCode: overrides.languageCode ?? languageCodeFor(stringOf(first.language, 'language', where)),
    caseSetting: overrides.caseSetting ?? caseSettingOf(first.case_setting, where),
    namespaces: overrides.namespaces ?? [...lines.namespaces.values()],
  });
}

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
