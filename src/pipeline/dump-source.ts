// The dump writer's DumpSource (src/dumps/records.ts) over DuckDB views of the state tables bound
// by state-views.ts. Rows stream in page then revision order; bodies come as BLOB (UTF-8 bytes the
// writer escapes without decoding), read by the column decoder (one copy per body, not two).
// Deleted pages are already absent from the `revisions` view.
// Reads with content larger than a pass (a wiki's history, a busy day's adds-changes) run in passes
// over (page, revision) ranges (key-ranges.ts), each sorting at most `passBytes` of content; every
// pass rescans the table, trading time for memory.

import type { DumpQuery, DumpRevisionRow, DumpSlot, DumpSource, PageTitle } from '../dumps/records.js';
import { sqlString } from '../duckdb/iceberg-types.js';
import type { DuckDb } from '../duckdb/connection.js';
import { inKeyRangeSql, keyRanges, type KeyRange } from '../duckdb/key-ranges.js';

interface SourceRow {
  page_id: bigint;
  page_namespace_id: number;
  page_title: string;
  page_redirect_target: string | null;
  page_redirect_target_namespace_id: number | null;
  revision_id: bigint;
  revision_parent_id: bigint | null;
  revision_ms: bigint;
  revision_is_minor_edit: boolean | null;
  revision_comment: string | null;
  revision_comment_is_visible: boolean | null;
  revision_sha1: string | null;
  revision_content_is_visible: boolean | null;
  user_id: bigint | null;
  user_text: string | null;
  user_is_visible: boolean | null;
  slots: { role: string; model: string | null; format: string | null; sha1: string | null; size: bigint | null; origin: bigint | null; body: Uint8Array | null }[] | null;
}

function selectList(includeContent: boolean): string {
  // encode(): UTF-8 bytes; a ::BLOB cast would reject non-ASCII text.
  const body = includeContent ? 'encode(e.value.content_body)' : 'NULL::BLOB';
  // Without the body the writer cannot measure it, so an unstated size is measured here (strlen
  // counts UTF-8 bytes); with it, the writer does.
  const size = includeContent ? 'e.value.content_size' : 'coalesce(e.value.content_size, strlen(e.value.content_body))';
  return `page_id, page_namespace_id, page_title, page_redirect_target, page_redirect_target_namespace_id, revision_id, revision_parent_id,
  epoch_ms(revision_dt) AS revision_ms, revision_is_minor_edit, revision_comment, revision_comment_is_visible,
  revision_sha1, revision_content_is_visible, user_id, user_text, user_is_visible,
  list_transform(map_entries(revision_content_slots), e -> {role: e.key, model: e.value.content_model, format: e.value.content_format,
    sha1: e.value.content_sha1, size: ${size}, origin: e.value.origin_rev_id, body: ${body}}) AS slots`;
}

const num = (v: bigint | number | null): number | null => (v === null ? null : Number(v));

function toDumpRow(row: SourceRow): DumpRevisionRow {
  const slots: DumpSlot[] = (row.slots ?? []).map((s) => ({
    role: s.role,
    contentModel: s.model,
    contentFormat: s.format,
    contentSha1: s.sha1,
    contentSizeBytes: num(s.size),
    originRevisionId: num(s.origin),
    contentBody: s.body,
  }));
  return {
    pageId: Number(row.page_id),
    pageNamespaceId: row.page_namespace_id,
    pageTitle: row.page_title,
    pageRedirectTarget: row.page_redirect_target,
    pageRedirectTargetNamespaceId: row.page_redirect_target_namespace_id,
    revisionId: Number(row.revision_id),
    revisionParentId: num(row.revision_parent_id),
    revisionTimestampMs: Number(row.revision_ms),
    revisionIsMinorEdit: row.revision_is_minor_edit === true,
    revisionComment: row.revision_comment,
    revisionCommentIsVisible: row.revision_comment_is_visible !== false,
    revisionSha1: row.revision_sha1,
    revisionContentIsVisible: row.revision_content_is_visible !== false && row.slots !== null,
    userId: num(row.user_id),
    userText: row.user_text,
    userIsVisible: row.user_is_visible !== false,
    slots,
  };
}

/** Bytes a revision takes in a pass besides its content (fields, sort keys). */
const ROW_OVERHEAD_BYTES = 512;
const SORT_KEYS = ['page_id', 'revision_id'];

export interface DuckDbDumpSourceOptions {
  /** The view of state-views.ts (live pages, resolved page ids). */
  readonly revisions?: string;
  /** Content bytes one history pass may sort; about a quarter of DuckDB's memory_limit. */
  readonly passBytes: number;
}

export class DuckDbDumpSource implements DumpSource {
  private readonly revisions: string;
  private readonly passBytes: number;

  constructor(
    private readonly db: DuckDb,
    o: DuckDbDumpSourceOptions,
  ) {
    this.revisions = o.revisions ?? 'revisions';
    this.passBytes = o.passBytes;
  }

  private cutoff(q: DumpQuery): string {
    return `wiki_id = ${sqlString(q.wikiId)} AND revision_dt < make_timestamptz(${Math.trunc(q.cutoffMs)}::BIGINT * 1000)`;
  }

  private async *rows(sql: string): AsyncIterable<DumpRevisionRow> {
    for await (const batch of this.db.streamDecoded<SourceRow>(sql)) for (const row of batch) yield toDumpRow(row);
  }

  /**
   * Rows of `where` in (page, revision) order. With content, in passes over (page, revision)
   * ranges of at most `passBytes` by the revisions' stated sizes when they exceed it.
   */
  private async *sorted(where: string, includeContent: boolean): AsyncIterable<DumpRevisionRow> {
    const select = `SELECT ${selectList(includeContent)} FROM ${this.revisions} WHERE ${where}`;
    const passes = await this.passes(where, includeContent);
    if (passes.length === 0) yield* this.rows(`${select} ORDER BY page_id, revision_id`);
    for (const pass of passes) yield* this.rows(`${select} AND ${inKeyRangeSql(SORT_KEYS, pass)} ORDER BY page_id, revision_id`);
  }

  /** The ranges a read of `where` takes; none (one unsplit read) without content or when it fits. */
  private passes(where: string, includeContent: boolean): Promise<KeyRange[]> {
    if (!includeContent) return Promise.resolve([]);
    return keyRanges(this.db, {
      relation: `(SELECT page_id, revision_id, revision_size FROM ${this.revisions} WHERE ${where})`,
      keys: SORT_KEYS,
      sizeSql: `coalesce(revision_size, 0) + ${ROW_OVERHEAD_BYTES}`,
      budgetBytes: this.passBytes,
    });
  }

  history(q: DumpQuery): AsyncIterable<DumpRevisionRow> {
    return this.sorted(this.cutoff(q), q.includeContent);
  }

  /** The passes history(q) takes (none when it has no content or fits in one). */
  historyPasses(q: DumpQuery): Promise<KeyRange[]> {
    return this.passes(this.cutoff(q), q.includeContent);
  }

  revisionsInIdRange(wikiId: string, afterRevisionId: number, upToRevisionId: number, includeContent: boolean): AsyncIterable<DumpRevisionRow> {
    return this.sorted(this.idRange(wikiId, afterRevisionId, upToRevisionId), includeContent);
  }

  /** The passes revisionsInIdRange takes with content. */
  idRangePasses(wikiId: string, afterRevisionId: number, upToRevisionId: number): Promise<KeyRange[]> {
    return this.passes(this.idRange(wikiId, afterRevisionId, upToRevisionId), true);
  }

  private idRange(wikiId: string, afterRevisionId: number, upToRevisionId: number): string {
    return `wiki_id = ${sqlString(wikiId)} AND revision_id > ${Math.trunc(afterRevisionId)} AND revision_id <= ${Math.trunc(upToRevisionId)}`;
  }

  async maxRevisionId(wikiId: string, cutoffMs: number): Promise<number | null> {
    const rows = await this.db.all<{ m: bigint | null }>(
      `SELECT revision_id AS m FROM ${this.revisions} WHERE ${this.cutoff({ wikiId, cutoffMs, includeContent: false })} ORDER BY revision_dt DESC, revision_id DESC LIMIT 1`,
    );
    return num(rows[0]?.m ?? null);
  }

  /** Sorted by DuckDB, which spills to disk: a big wiki's titles need not fit in memory. */
  async *pageTitles(wikiId: string, cutoffMs: number): AsyncIterable<PageTitle> {
    // Namespace names hold no colon, so the prefix ends at the first one; ORDER BY on VARCHAR
    // compares bytes, as MySQL's binary page_title does.
    const sql = `SELECT page_namespace_id AS ns, title FROM (
      SELECT page_id, any_value(page_namespace_id) AS page_namespace_id,
        any_value(CASE WHEN page_namespace_id = 0 THEN page_title ELSE substr(page_title, strpos(page_title, ':') + 1) END) AS title
      FROM ${this.revisions} WHERE ${this.cutoff({ wikiId, cutoffMs, includeContent: false })} GROUP BY page_id)
      ORDER BY ns, title`;
    for await (const batch of this.db.streamDecoded<{ ns: number; title: string }>(sql)) for (const row of batch) yield { namespaceId: row.ns, title: row.title };
  }
}
