// A DumpSource that generates a synthetic wiki on the fly (nothing is held in memory), for the
// memory-bound test and the throughput measurement. Text looks like wikitext: words, links,
// templates and refs, so escaping and compression do realistic work.

import type { DumpQuery, DumpRevisionRow, DumpSource, PageTitle } from '../../src/dumps/records.js';
import { unprefixed } from '../../src/dumps/memory-source.js';
import { comparePageTitles } from '../../src/dumps/title-lists.js';

export interface GeneratedWikiOptions {
  readonly pages: number;
  readonly revisionsPerPage: number;
  /** Approximate size of each revision's text in UTF-16 units. */
  readonly textChars: number;
  readonly seed?: number;
  /** Give bodies as UTF-8 bytes (as a BLOB query would) instead of strings. */
  readonly bodiesAsBytes?: boolean;
  /** First page id (default 1). */
  readonly firstPageId?: number;
}

// Mostly plain words with a link, template, ref or entity now and then and a few non-Latin-1
// characters, near the density of real wikitext (about 1 escaped character per 200).
const WORDS = [
  'the', 'of', 'and', 'in', 'was', 'for', 'on', 'with', 'as', 'by', 'history', 'city', 'river', 'music', 'album', 'station',
  'population', 'university', 'season', 'team', 'village', 'church', 'century', 'company', 'film', 'species', 'railway',
  'national', 'government', 'during', 'family', 'school', 'province', 'election', 'district', 'language', 'Zürich', 'Kraków',
  'museum', 'football', 'council', 'television', 'album', 'released', 'between', 'several', 'member', 'village', 'north',
  'south', 'west', 'east', 'former', 'second', 'first', 'known', 'under', 'after', 'before', 'since', 'world', 'french',
  '[[Link]]', '[[Target|label]]', "'''bold'''", "''italic''", '==Section==', 'also', 'which', 'their', 'there', 'would',
];
const RARE = ['{{cite web|url=https://example.org/?a=1&b=2}}', '<ref name="a">Source</ref>', '&nbsp;', '東京', 'Ελλάδα'];

/** xorshift32: deterministic, fast, good enough for picking words. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

function paragraph(next: () => number, chars: number): string {
  const words: string[] = [];
  let length = 0;
  while (length < chars) {
    const pick = next();
    const word = pick % 97 === 0 ? RARE[(pick >>> 8) % RARE.length]! : WORDS[pick % WORDS.length]!;
    words.push(word);
    length += word.length + 1;
    if (next() % 12 === 0) {
      words.push('\n');
      length++;
    }
  }
  return words.join(' ');
}

/** Rows of the generated wiki, sorted by page id then revision id. */
export async function* generatedRows(options: GeneratedWikiOptions, includeContent = true): AsyncGenerator<DumpRevisionRow> {
  const next = random(options.seed ?? 42);
  const firstPageId = options.firstPageId ?? 1;
  let revisionId = 1;
  const base = Date.UTC(2020, 0, 1);
  for (let page = 0; page < options.pages; page++) {
    const pageId = firstPageId + page;
    // Each page's revisions share a body and differ in a growing tail, like real histories.
    const body = paragraph(next, Math.max(0, options.textChars - 64));
    const bodyBytes = options.bodiesAsBytes === true ? Buffer.from(body, 'utf8') : undefined;
    let parent: number | null = null;
    for (let r = 0; r < options.revisionsPerPage; r++) {
      const tail = `\nRevision ${r} of page ${pageId} ${next() % 1000}`;
      const text = bodyBytes === undefined ? body + tail : Buffer.concat([bodyBytes, Buffer.from(tail, 'latin1')]);
      const sizeBytes = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
      yield {
        pageId,
        pageNamespaceId: 0,
        pageTitle: `Generated_page_${pageId}`,
        pageRedirectTarget: null,
        revisionId,
        revisionParentId: parent,
        revisionTimestampMs: base + revisionId * 1000,
        revisionIsMinorEdit: r % 3 === 0,
        revisionComment: `edit ${r}`,
        revisionCommentIsVisible: true,
        revisionSha1: 'generatedsha1generatedsha1gener',
        revisionContentIsVisible: true,
        userId: r % 4 === 0 ? null : 1000 + (r % 50),
        userText: r % 4 === 0 ? `192.0.2.${r % 250}` : `User ${r % 50}`,
        userIsVisible: true,
        slots: [
          {
            role: 'main',
            contentModel: 'wikitext',
            contentFormat: 'text/x-wiki',
            contentSha1: 'generatedsha1generatedsha1gener',
            contentSizeBytes: sizeBytes,
            originRevisionId: revisionId,
            contentBody: includeContent ? text : null,
          },
        ],
      };
      parent = revisionId;
      revisionId++;
    }
  }
}

/** A source whose every query streams the generated wiki (the cutoff is far in the future). */
export class GeneratedDumpSource implements DumpSource {
  constructor(private readonly options: GeneratedWikiOptions) {}

  history(query: DumpQuery): AsyncIterable<DumpRevisionRow> {
    return generatedRows(this.options, query.includeContent);
  }

  async *current(query: DumpQuery): AsyncIterable<DumpRevisionRow> {
    let pending: DumpRevisionRow | undefined;
    for await (const row of generatedRows(this.options, query.includeContent)) {
      if (pending !== undefined && pending.pageId !== row.pageId) yield pending;
      pending = row;
    }
    if (pending !== undefined) yield pending;
  }

  articles(query: DumpQuery): AsyncIterable<DumpRevisionRow> {
    return this.current(query);
  }

  async *revisionsInIdRange(_wikiId: string, afterRevisionId: number, upToRevisionId: number, includeContent: boolean): AsyncIterable<DumpRevisionRow> {
    for await (const row of generatedRows(this.options, includeContent)) {
      if (row.revisionId > afterRevisionId && row.revisionId <= upToRevisionId) yield row;
    }
  }

  async maxRevisionId(): Promise<number | null> {
    const count = this.options.pages * this.options.revisionsPerPage;
    return count === 0 ? null : count;
  }

  async *pageTitles(wikiId: string, cutoffMs: number): AsyncIterable<PageTitle> {
    const titles: PageTitle[] = [];
    for await (const row of this.current({ wikiId, cutoffMs, includeContent: false })) titles.push({ namespaceId: row.pageNamespaceId, title: unprefixed(row) });
    yield* titles.sort(comparePageTitles);
  }
}
