// An independent reference for the merge: a plain in-memory fold over the events, sorted by the
// ordering rule and applied one by one, later events overwriting whatever part of the state they
// carry. The order: the event's time (`dt`, when what it states held; meta.dt without one), then
// creates and edits before the other kinds (they state what held when their revision was made),
// creates and edits among themselves by revision id (the newer was saved later), then delivery
// order (Kafka order: never the revision id, as an undelete may restore an older revision). An
// event of another kind does not overwrite what a create or edit of its time set with a newer
// revision than its own: that revision was saved after it. The merge computes the same thing as
// per-group maxima in SQL; agreeing on every generated stream is the test.

export interface RefRevision {
  wiki_id: string;
  revision_id: number;
  page_id: number | null;
  revision_parent_id: number | null;
  revision_dt: string | null;
  revision_is_minor_edit: boolean | null;
  revision_comment: string | null;
  revision_sha1: string | null;
  revision_size: number | null;
  slots: Record<string, { content_body: string | null; content_sha1: string | null; content_size: number | null; content_model: string | null; content_format: string | null; origin_rev_id: number | null }> | null;
  user_id: number | null;
  user_text: string | null;
  revision_content_is_visible: boolean | null;
  user_is_visible: boolean | null;
  revision_comment_is_visible: boolean | null;
}

export interface RefPage {
  wiki_id: string;
  page_id: number;
  page_namespace_id: number | null;
  page_title: string | null;
  page_redirect_target: string | null;
  page_latest_revision_id: number | null;
  page_is_deleted: boolean | null;
  page_is_suppressed: boolean | null;
  page_merged_into_page_id: number | null;
  /** The last undelete, while it holds: the revision it restored and its time (µs). */
  restored: { revision_id: number; at: bigint } | null;
  /** The revision of the create that last (re)used the page id, while it holds, and its time (µs). */
  created: number | null;
  createdAt: bigint | null;
  /** The time (µs) of the undelete that last merged this page's revisions into page_merged_into_page_id. */
  mergedAt: bigint | null;
  /** Which event last set the page fields and the deletion fields: its time, whether it made its revision, the revision. */
  pageBy?: SetBy;
  deletionBy?: SetBy;
}

interface SetBy {
  readonly at: bigint;
  readonly made: boolean;
  readonly rev: number;
}

type Json = Record<string, any>;

function micros(iso: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(iso)!;
  const whole = BigInt(Date.parse(`${m[1]}Z`)) * 1000n;
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return whole + BigInt(frac === '' ? 0 : Number(frac));
}

const makesRevision = (e: Json) => e.page_change_kind === 'create' || e.page_change_kind === 'edit';

/** (time, kind priority, revision id of a create or edit): events tied on it apply in delivery order, the later one last. */
function orderKey(e: Json): [bigint, number, number] {
  const creation = makesRevision(e);
  return [micros(e.dt ?? e.meta.dt), creation ? 0 : 1, creation ? (e.revision?.rev_id ?? 0) : 0];
}

/** Whether `e`, of another kind than a create or edit, may overwrite what `by` set. */
function overwrites(e: Json, by: SetBy | undefined): boolean {
  return makesRevision(e) || by === undefined || !by.made || by.at !== micros(e.dt ?? e.meta.dt) || by.rev <= (e.revision?.rev_id ?? 0);
}

function byOrder(a: { e: Json; at: number }, b: { e: Json; at: number }): number {
  const ka = orderKey(a.e);
  const kb = orderKey(b.e);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return a.at - b.at;
}

export function referenceState(events: readonly Json[]): { revisions: Map<string, RefRevision>; pages: Map<string, RefPage> } {
  const history = events.filter((e) => e.meta?.domain !== 'canary' && e.wiki_id != null && e.page_change_kind != null);
  const sorted = history.map((e, at) => ({ e, at })).sort(byOrder).map((x) => x.e);
  const revisions = new Map<string, RefRevision>();
  const pages = new Map<string, RefPage>();
  const page = (wiki: string, id: number): RefPage => {
    const key = `${wiki}:${id}`;
    let p = pages.get(key);
    if (p === undefined) {
      p = { wiki_id: wiki, page_id: id, page_namespace_id: null, page_title: null, page_redirect_target: null, page_latest_revision_id: null, page_is_deleted: null, page_is_suppressed: null, page_merged_into_page_id: null, restored: null, created: null, createdAt: null, mergedAt: null };
      pages.set(key, p);
    }
    return p;
  };
  for (const e of sorted) {
    const r = e.revision;
    if (r?.rev_id != null) {
      const key = `${e.wiki_id}:${r.rev_id}`;
      let row = revisions.get(key);
      if (row === undefined) {
        row = { wiki_id: e.wiki_id, revision_id: r.rev_id, page_id: null, revision_parent_id: null, revision_dt: null, revision_is_minor_edit: null, revision_comment: null, revision_sha1: null, revision_size: null, slots: null, user_id: null, user_text: null, revision_content_is_visible: null, user_is_visible: null, revision_comment_is_visible: null };
        revisions.set(key, row);
      }
      row.page_id = e.page?.page_id ?? null;
      row.revision_parent_id = r.rev_parent_id ?? null;
      row.revision_dt = r.rev_dt ?? null;
      row.revision_is_minor_edit = r.is_minor_edit ?? null;
      if (r.content_slots != null && Object.values(r.content_slots as Record<string, Json>).every((s) => s.content_body != null)) {
        row.revision_sha1 = r.rev_sha1 ?? null;
        row.revision_size = r.rev_size ?? null;
        row.slots = Object.fromEntries(
          Object.entries(r.content_slots as Record<string, Json>).map(([role, s]) => [role, {
            content_body: s.content_body ?? null, content_sha1: s.content_sha1 ?? null, content_size: s.content_size ?? null,
            content_model: s.content_model ?? null, content_format: s.content_format ?? null, origin_rev_id: s.origin_rev_id ?? null,
          }]),
        );
      }
      if (r.editor != null) {
        row.user_id = r.editor.user_id ?? null;
        row.user_text = r.editor.user_text ?? null;
      }
      if (r.comment != null) row.revision_comment = r.comment;
      if (r.is_content_visible != null) {
        row.revision_content_is_visible = r.is_content_visible;
        row.user_is_visible = r.is_editor_visible ?? null;
        row.revision_comment_is_visible = r.is_comment_visible ?? null;
      }
    }
    const setBy: SetBy = { at: micros(e.dt ?? e.meta.dt), made: makesRevision(e), rev: r?.rev_id ?? 0 };
    const p = e.page?.page_id != null ? page(e.wiki_id, e.page.page_id) : undefined;
    if (p !== undefined && overwrites(e, p.pageBy)) {
      p.pageBy = setBy;
      p.page_namespace_id = e.page.namespace_id ?? null;
      p.page_title = e.page.page_title ?? null;
      const link = e.page.redirect_page_link;
      // page_title is the prefixed DB key, interwiki prefix included.
      p.page_redirect_target = e.page.is_redirect && link != null ? link.page_title : null;
      p.page_latest_revision_id = r?.rev_id ?? null;
    }
    if (p !== undefined && ['create', 'delete', 'undelete'].includes(e.page_change_kind) && overwrites(e, p.deletionBy)) {
      p.deletionBy = setBy;
      if (e.page_change_kind === 'delete' || e.page_change_kind === 'undelete') {
        p.page_is_deleted = e.page_change_kind === 'delete';
        p.page_is_suppressed = e.page_change_kind === 'delete' && e.performer == null;
        p.restored = e.page_change_kind === 'undelete' && r?.rev_id != null ? { revision_id: r.rev_id, at: micros(e.dt ?? e.meta.dt) } : null;
        p.created = null;
        p.createdAt = null;
      }
      // A create after a delete reuses the page id: a page never deleted, without the deleted one's revisions.
      if (e.page_change_kind === 'create') {
        p.page_is_deleted = null;
        p.page_is_suppressed = null;
        p.restored = null;
        p.created = r?.rev_id ?? null;
        p.createdAt = setBy.at;
      }
    }
    const oldId = e.prior_state?.page?.page_id;
    if (e.page_change_kind === 'undelete' && oldId != null && oldId !== e.page?.page_id) {
      const old = page(e.wiki_id, oldId);
      old.page_merged_into_page_id = e.page.page_id;
      old.mergedAt = setBy.at;
    }
  }
  return { revisions, pages };
}

/** What a dump for the cutoff must contain: live pages' revisions before it, by resolved page. */
export function referenceDumpHistory(state: ReturnType<typeof referenceState>, wiki: string, cutoffIso: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const r of state.revisions.values()) {
    if (r.wiki_id !== wiki || r.revision_dt === null || r.revision_dt >= cutoffIso) continue;
    // Undelete aliases are followed to the end of their chain.
    let pageId = r.page_id!;
    const filed = state.pages.get(`${wiki}:${pageId}`);
    // The page that reused the id made it, or it was saved after the undelete that took the page's
    // revisions elsewhere, which restored only those made before.
    const stays = (filed?.created != null && r.revision_id >= filed.created) || (filed?.mergedAt != null && micros(r.revision_dt) > filed.mergedAt);
    // When the revision reached pageId by its last undelete hop: one out of a page that came
    // before it (the page's id reused, its earlier life restored elsewhere) is not its to follow.
    let arrived: bigint | null = null;
    for (let depth = 0; depth < 64 && !stays; depth++) {
      const from = state.pages.get(`${wiki}:${pageId}`);
      const next = from?.page_merged_into_page_id;
      if (next == null || (arrived !== null && from!.mergedAt! < arrived)) break;
      arrived = from!.mergedAt;
      pageId = next;
    }
    const p = state.pages.get(`${wiki}:${pageId}`);
    if (p === undefined || p.page_title === null || p.page_is_deleted === true) continue;
    // An undelete carries the newest revision it restored: newer ones made before it stayed deleted.
    if (p.restored !== null && r.revision_id > p.restored.revision_id && micros(r.revision_dt) < p.restored.at) continue;
    if (p.created !== null && r.page_id === pageId && r.revision_id < p.created) continue;
    // Merged into the page's earlier life, before the create that reused its id.
    if (arrived !== null && p.createdAt !== null && arrived < p.createdAt) continue;
    const list = out.get(pageId) ?? [];
    list.push(r.revision_id);
    out.set(pageId, list);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}
