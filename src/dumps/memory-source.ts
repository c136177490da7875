// A DumpSource over rows held in memory: the reference behaviour of the source contract (sorting,
// cutoff, id ranges), used by tests and small tools. The pipeline's
// DuckDB source must answer the same queries the same way. Imports dumps records only.

import type { DumpQuery, DumpRevisionRow, DumpSource, PageTitle } from './records.js';
import { comparePageTitles } from './title-lists.js';

function compareRows(a: DumpRevisionRow, b: DumpRevisionRow): number {
  return a.pageId - b.pageId || a.revisionId - b.revisionId;
}

/** A row as a stub query sees it: no bodies, and every size stated (records.ts: contentSizeBytes). */
function withoutContent(row: DumpRevisionRow): DumpRevisionRow {
  return { ...row, slots: row.slots.map((slot) => ({ ...slot, contentSizeBytes: slot.contentSizeBytes ?? byteLength(slot.contentBody), contentBody: null })) };
}

function byteLength(body: string | Uint8Array | null): number | null {
  if (body === null) return null;
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
}

async function* yieldRows(rows: readonly DumpRevisionRow[], includeContent: boolean): AsyncIterable<DumpRevisionRow> {
  for (const row of rows) yield includeContent ? row : withoutContent(row);
}

/** Rows per wiki id; rows may be given in any order. */
export class MemoryDumpSource implements DumpSource {
  private readonly rowsByWiki: ReadonlyMap<string, readonly DumpRevisionRow[]>;

  constructor(rowsByWiki: Readonly<Record<string, readonly DumpRevisionRow[]>>) {
    this.rowsByWiki = new Map(Object.entries(rowsByWiki).map(([wikiId, rows]) => [wikiId, [...rows].sort(compareRows)]));
  }

  private before(query: DumpQuery): DumpRevisionRow[] {
    return (this.rowsByWiki.get(query.wikiId) ?? []).filter((row) => row.revisionTimestampMs < query.cutoffMs);
  }

  history(query: DumpQuery): AsyncIterable<DumpRevisionRow> {
    return yieldRows(this.before(query), query.includeContent);
  }

  revisionsInIdRange(wikiId: string, afterRevisionId: number, upToRevisionId: number, includeContent: boolean): AsyncIterable<DumpRevisionRow> {
    const rows = (this.rowsByWiki.get(wikiId) ?? []).filter((row) => row.revisionId > afterRevisionId && row.revisionId <= upToRevisionId);
    return yieldRows(rows, includeContent);
  }

  async maxRevisionId(wikiId: string, cutoffMs: number): Promise<number | null> {
    let newest: DumpRevisionRow | undefined;
    for (const row of this.rowsByWiki.get(wikiId) ?? []) {
      if (row.revisionTimestampMs >= cutoffMs) continue;
      if (newest === undefined || row.revisionTimestampMs > newest.revisionTimestampMs || (row.revisionTimestampMs === newest.revisionTimestampMs && row.revisionId > newest.revisionId)) newest = row;
    }
    return newest?.revisionId ?? null;
  }

  async *pageTitles(wikiId: string, cutoffMs: number): AsyncIterable<PageTitle> {
    const pages = new Map<number, PageTitle>();
    for (const row of this.before({ wikiId, cutoffMs, includeContent: false })) pages.set(row.pageId, { namespaceId: row.pageNamespaceId, title: unprefixed(row) });
    yield* [...pages.values()].sort(comparePageTitles);
  }
}

/** The title without its namespace prefix: namespace names hold no colon. */
export function unprefixed(row: Pick<DumpRevisionRow, 'pageNamespaceId' | 'pageTitle'>): string {
  return row.pageNamespaceId === 0 ? row.pageTitle : row.pageTitle.slice(row.pageTitle.indexOf(':') + 1);
}
