// What the generator knows about a wiki: domain, namespaces (with their localized DB-key prefixes
// and content models), MCR slots, share of traffic, and where its page and revision ids start.
// Unknown wiki ids get a generic wikitext profile. Imports nothing from src/ but gen.

export interface NamespaceProfile {
  readonly id: number;
  /** DB-key prefix including the colon ("User_talk:"), or "" for the main namespace. */
  readonly prefix: string;
  /** Relative share of the wiki's pages. */
  readonly weight: number;
  readonly contentModel: 'wikitext' | 'wikibase-item' | 'wikibase-property' | 'wikibase-lexeme';
  /** Page titles are entity ids (Q42) rather than words. */
  readonly entityPrefix?: 'Q' | 'P' | 'L';
  /** Pages can be moved (Wikibase entities cannot). */
  readonly movable: boolean;
  /** Pages get a `mediainfo` slot (Commons files, Structured Data). */
  readonly mediainfo?: boolean;
  /** File pages get a file extension. */
  readonly file?: boolean;
}

export interface WikiProfile {
  readonly wikiId: string;
  readonly domain: string;
  /** Relative share of all events. */
  readonly weight: number;
  readonly namespaces: readonly NamespaceProfile[];
  /** First page id and revision id issued during generation; older ones belong to existing pages. */
  readonly pageIdBase: number;
  readonly revIdBase: number;
  /** Share of edits made by bots. */
  readonly botShare: number;
}

const wikitext = (id: number, prefix: string, weight: number, extra: Partial<NamespaceProfile> = {}): NamespaceProfile => ({
  id,
  prefix,
  weight,
  contentModel: 'wikitext',
  movable: true,
  ...extra,
});

const ENGLISH_NAMESPACES: readonly NamespaceProfile[] = [
  wikitext(0, '', 60),
  wikitext(1, 'Talk:', 10),
  wikitext(2, 'User:', 8),
  wikitext(3, 'User_talk:', 10),
  wikitext(4, 'Wikipedia:', 4),
  wikitext(6, 'File:', 1),
  wikitext(10, 'Template:', 3),
  wikitext(14, 'Category:', 3),
  wikitext(118, 'Draft:', 1),
];

const PROFILES: Readonly<Record<string, Omit<WikiProfile, 'wikiId'>>> = {
  enwiki: { domain: 'en.wikipedia.org', weight: 30, pageIdBase: 78_000_000, revIdBase: 1_290_000_000, botShare: 0.12, namespaces: ENGLISH_NAMESPACES },
  dewiki: {
    domain: 'de.wikipedia.org',
    weight: 8,
    pageIdBase: 13_500_000,
    revIdBase: 252_000_000,
    botShare: 0.1,
    namespaces: [
      wikitext(0, '', 60),
      wikitext(1, 'Diskussion:', 10),
      wikitext(2, 'Benutzer:', 10),
      wikitext(3, 'Benutzer_Diskussion:', 10),
      wikitext(4, 'Wikipedia:', 4),
      wikitext(6, 'Datei:', 1),
      wikitext(10, 'Vorlage:', 3),
      wikitext(14, 'Kategorie:', 2),
    ],
  },
  commonswiki: {
    domain: 'commons.wikimedia.org',
    weight: 25,
    pageIdBase: 165_000_000,
    revIdBase: 1_010_000_000,
    botShare: 0.3,
    namespaces: [
      wikitext(6, 'File:', 80, { mediainfo: true, file: true }),
      wikitext(14, 'Category:', 10),
      wikitext(0, '', 2),
      wikitext(2, 'User:', 3),
      wikitext(3, 'User_talk:', 4),
      wikitext(4, 'Commons:', 1),
    ],
  },
  wikidatawiki: {
    domain: 'www.wikidata.org',
    weight: 35,
    pageIdBase: 125_000_000,
    revIdBase: 2_350_000_000,
    botShare: 0.45,
    namespaces: [
      { id: 0, prefix: '', weight: 90, contentModel: 'wikibase-item', entityPrefix: 'Q', movable: false },
      { id: 120, prefix: 'Property:', weight: 1, contentModel: 'wikibase-property', entityPrefix: 'P', movable: false },
      { id: 146, prefix: 'Lexeme:', weight: 3, contentModel: 'wikibase-lexeme', entityPrefix: 'L', movable: false },
      wikitext(1, 'Talk:', 2),
      wikitext(2, 'User:', 2),
      wikitext(3, 'User_talk:', 2),
    ],
  },
  testwiki: { domain: 'test.wikipedia.org', weight: 1, pageIdBase: 200_000, revIdBase: 680_000, botShare: 0.05, namespaces: ENGLISH_NAMESPACES },
};

const WIKI_ID = /^[a-z][a-z0-9_]{1,63}$/;

/** Domain of a wiki id by the WMF naming pattern (`frwiktionary` → fr.wiktionary.org). */
function guessDomain(wikiId: string): string {
  const families: Array<[string, string]> = [
    ['wiktionary', 'wiktionary.org'],
    ['wikibooks', 'wikibooks.org'],
    ['wikiquote', 'wikiquote.org'],
    ['wikisource', 'wikisource.org'],
    ['wikivoyage', 'wikivoyage.org'],
    ['wikinews', 'wikinews.org'],
    ['wikiversity', 'wikiversity.org'],
    ['wiki', 'wikipedia.org'],
  ];
  for (const [suffix, domain] of families) {
    if (wikiId.endsWith(suffix) && wikiId.length > suffix.length) {
      return `${wikiId.slice(0, -suffix.length).replace(/_/g, '-')}.${domain}`;
    }
  }
  return `${wikiId}.wikimedia.org`;
}

/** True for ids the generator accepts: lowercase DB names such as `enwiki`. */
export function isWikiId(wikiId: string): boolean {
  return WIKI_ID.test(wikiId);
}

/** The profile of a wiki; `index` spreads the id ranges of unknown wikis apart. */
export function wikiProfile(wikiId: string, index: number): WikiProfile {
  const known = PROFILES[wikiId];
  if (known !== undefined) return { wikiId, ...known };
  return {
    wikiId,
    domain: guessDomain(wikiId),
    weight: 5,
    pageIdBase: 1_000_000 + index * 100_000,
    revIdBase: 10_000_000 + index * 1_000_000,
    botShare: 0.1,
    namespaces: ENGLISH_NAMESPACES,
  };
}

export const DEFAULT_WIKIS: readonly string[] = ['enwiki', 'dewiki', 'commonswiki', 'wikidatawiki'];
