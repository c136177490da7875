// The records the dump writer consumes and the source interface the pipeline implements over the
// state tables (DuckDB queries). Types only. Must not import Kafka, Iceberg, DuckDB or events code:
// dumps sees page and revision rows, nothing of where they came from (docs/CONTRIBUTING.md layers).
//
// Ids are JS numbers on purpose: MediaWiki's page_id, rev_id and user_id are `int unsigned`
// columns (< 2^32), so a number is exact; the source converts DuckDB BIGINTs with Number().

/** One content slot of a revision, as the history table's `revision_content_slots` map holds it. */
export interface DumpSlot {
  /** Slot role (`main`, `mediainfo`, ...). */
  readonly role: string;
  readonly contentModel: string | null;
  readonly contentFormat: string | null;
  /** Base-36 SHA-1 of the content (31 chars), as the event states it. */
  readonly contentSha1: string | null;
  /**
   * `content_size` as the event states it, in bytes; written as `bytes` unchanged (never recounted).
   * Null when the event left it out: `bytes` is then the body's UTF-8 length. A source that skips
   * bodies (stubs) must state the size then, measured from the body it did not return.
   */
  readonly contentSizeBytes: number | null;
  /** The revision that introduced this content (inherited slots point back). */
  readonly originRevisionId: number | null;
  /**
   * The raw content, as a string or as its UTF-8 bytes (faster: no decode in the source and no
   * re-encode here; e.g. DuckDB `content_body::BLOB`); null when the query skipped bodies (stubs)
   * or the body is missing.
   */
  readonly contentBody: string | Uint8Array | null;
}

/**
 * One revision with the fields of its page, as it should appear in a dump: the page fields carry
 * the page's state at dump time (title after moves, redirect target), the same on every row of a
 * page. Hidden parts keep their values here; the writer redacts them from the visibility flags.
 */
export interface DumpRevisionRow {
  readonly pageId: number;
  readonly pageNamespaceId: number;
  /** Prefixed title in DB-key form (`Talk:Foo_bar`); the writer turns underscores into spaces. */
  readonly pageTitle: string;
  /** Prefixed DB-key title of the redirect target; null or '' when the page is no redirect. */
  readonly pageRedirectTarget: string | null;
  /** The target's namespace, when known (not for an interwiki target): names a User target as `<siteinfo>` does. */
  readonly pageRedirectTargetNamespaceId?: number | null;

  readonly revisionId: number;
  /** null (or 0) on a page's first revision and some imports. */
  readonly revisionParentId: number | null;
  /** `rev_dt` in milliseconds since the epoch (UTC); written to the second, as MediaWiki stores it. */
  readonly revisionTimestampMs: number;
  readonly revisionIsMinorEdit: boolean;
  readonly revisionComment: string | null;
  readonly revisionCommentIsVisible: boolean;
  /** `rev_sha1`: for multi-slot revisions the combination of the slot sha1s, not the main slot's. */
  readonly revisionSha1: string | null;
  readonly revisionContentIsVisible: boolean;

  /** null without an account (IP editors, imported names), 0 for old system users; negative means unknown. */
  readonly userId: number | null;
  /** User name or IP address; null when unknown. */
  readonly userText: string | null;
  readonly userIsVisible: boolean;

  /** Every slot of the revision, in any order; the `main` slot should be among them. */
  readonly slots: readonly DumpSlot[];
}

/** A page as the title lists name it: the page table's `page_namespace` and `page_title`. */
export interface PageTitle {
  readonly namespaceId: number;
  /** DB key without the namespace prefix (`Foo_bar` of `Talk:Foo_bar`). */
  readonly title: string;
}

/** What a source query selects. */
export interface DumpQuery {
  readonly wikiId: string;
  /** Exclusive cutoff: only revisions with `rev_dt` before this instant (ms since the epoch, UTC). */
  readonly cutoffMs: number;
  /** false for stub outputs: the source may leave `contentBody` null and skip reading bodies. */
  readonly includeContent: boolean;
}

/**
 * The state tables as the dump writer reads them. Every iterable yields rows sorted by page id,
 * then revision id, with the page fields on every row, so that one page with 100,000 revisions
 * streams in bounded memory. Deleted pages never appear (the source filters them); rows of
 * revisions whose content, user or comment is hidden do appear, with their visibility flags.
 */
export interface DumpSource {
  /**
   * Every revision of every page before the cutoff. One pass over it feeds every file of a dump
   * set: current and articles take each page's latest revision from it.
   */
  history(query: DumpQuery): AsyncIterable<DumpRevisionRow>;
  /** Revisions with afterRevisionId < revisionId <= upToRevisionId, whatever their timestamp. */
  revisionsInIdRange(wikiId: string, afterRevisionId: number, upToRevisionId: number, includeContent: boolean): AsyncIterable<DumpRevisionRow>;
  /**
   * The id of the newest revision by (`rev_dt`, rev id) before the cutoff, or null when the wiki
   * has none: legacy incr_dumps.py's maxrevid. Not max(rev_id): an imported revision keeps its old
   * timestamp but gets a new, high id, and would pull later days' revisions into this one.
   */
  maxRevisionId(wikiId: string, cutoffMs: number): Promise<number | null>;
  /**
   * The pages `history` yields for the same wiki and cutoff, once each, sorted by namespace, then
   * title by UTF-8 bytes. Read after `history`, never beside it (a source may have one reader).
   */
  pageTitles(wikiId: string, cutoffMs: number): AsyncIterable<PageTitle>;
}
