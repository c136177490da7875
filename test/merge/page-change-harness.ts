// Hand-built page change events with chosen Kafka coordinates (topic, partition, offset, producer
// timestamp), appended in batches as drains would, each batch merged, and the views read back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { EVENTS_SCHEMA, EVENTS_SPEC } from '../../src/events/events-table.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { validatePageChange } from '../../src/events/validate.js';
import { EventStager } from '../../src/pipeline/event-files.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import { EVENTS_NAME, EVENTS_NS, merge, warehouseAt } from './merge-fixture.js';
import type { Warehouse } from '../../src/iceberg/catalog.js';
import type { Logger } from 'pino';

const CHANGELOG: Record<string, string> = { create: 'insert', edit: 'update', move: 'update', delete: 'delete', undelete: 'insert', visibility_change: 'update' };
const ALICE = { user_text: 'Alice', user_id: 2, groups: ['user'], is_bot: false, is_system: false, is_temp: false };
const ADMIN = { user_text: 'Admin', user_id: 1, groups: ['sysop'], is_bot: false, is_system: false, is_temp: false };
let nextId = 0;

export interface Spec {
  kind: 'create' | 'edit' | 'move' | 'delete' | 'undelete' | 'visibility_change';
  metaDt: string; dt?: string; page: number; rev: number; revAt: string; parent?: number;
  title?: string; ns?: number; redirectTo?: string; noBody?: boolean; suppressed?: boolean;
  /** A redirect whose page carries no redirect_page_link (EventBus's visibility changes). */
  noRedirectLink?: boolean;
  /** A page serialized from a page identity (EventBus's visibility changes): is_redirect false, no link. */
  pageIdentity?: boolean;
  visible?: [boolean, boolean, boolean]; priorPage?: number; priorTitle?: string; id?: string; wiki?: string;
  topic?: string; partition?: number; offset?: number; kafkaMs?: number;
}
export type Ev = { e: PageChangeEvent; topic?: string; partition?: number; offset?: number; kafkaMs?: number };

export function ev(s: Spec): Ev {
  const [content, editor, comment] = s.suppressed ? [false, false, false] : (s.visible ?? [true, true, true]);
  const slot: Record<string, unknown> = { slot_role: 'main', content_model: 'wikitext', content_format: 'text/x-wiki', content_sha1: 'a'.repeat(31), content_size: 9, origin_rev_id: s.rev };
  if (s.noBody !== true) slot['content_body'] = s.redirectTo ? `#REDIRECT [[${s.redirectTo}]]` : `body of ${s.rev}`;
  const revision: Record<string, unknown> = {
    rev_id: s.rev, rev_dt: s.revAt, is_minor_edit: false,
    is_content_visible: content, is_editor_visible: editor, is_comment_visible: comment,
    ...(s.parent !== undefined ? { rev_parent_id: s.parent } : {}),
    ...(content && !s.suppressed ? { rev_sha1: 'a'.repeat(31), rev_size: 9, content_slots: { main: slot } } : {}),
    ...(editor ? { editor: ALICE } : {}),
    ...(comment ? { comment: `summary of ${s.rev}` } : {}),
  };
  const page: Record<string, unknown> = { page_id: s.page, page_title: s.title ?? `Page_${s.page}`, namespace_id: s.ns ?? 0, is_redirect: s.redirectTo !== undefined && s.pageIdentity !== true };
  if (s.redirectTo && s.noRedirectLink !== true && s.pageIdentity !== true) page['redirect_page_link'] = { page_id: 999, page_title: s.redirectTo, namespace_id: 0, is_redirect: false };
  const prior: Record<string, unknown> = {};
  if (s.priorPage !== undefined) prior['page'] = { page_id: s.priorPage };
  if (s.priorTitle !== undefined) prior['page'] = { page_title: s.priorTitle, namespace_id: 0 };
  const raw = {
    $schema: '/mediawiki/page/change/1.2.0',
    meta: { stream: 'mediawiki.page_content_change.v1', id: s.id ?? `00000000-0000-4000-9000-${String(++nextId).padStart(12, '0')}`, domain: 'en.wikipedia.org', dt: s.metaDt },
    dt: s.dt ?? s.metaDt, wiki_id: s.wiki ?? 'enwiki', changelog_kind: CHANGELOG[s.kind], page_change_kind: s.kind, page, revision,
    ...(s.suppressed ? {} : { performer: ADMIN }),
    ...(Object.keys(prior).length ? { prior_state: prior } : {}),
  };
  const v = validatePageChange(raw);
  if (!v.ok) throw new Error(v.message);
  return { e: v.event, topic: s.topic, partition: s.partition, offset: s.offset, kafkaMs: s.kafkaMs };
}

let offset = 1_000_000;
/**
 * Page 4 (revisions 40, 41) suppressed-deleted and its archive restored into page 8 (revision 80),
 * then id 4 handed out again to a create (revision 90; MariaDB may reuse a deleted page's id).
 */
export function suppressedArchiveChain() {
  return {
    c: ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 4, rev: 40, revAt: '2026-11-01T09:00:00Z', title: 'A' }),
    e: ev({ kind: 'edit', metaDt: '2026-11-01T09:30:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A' }),
    suppressed: ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A', suppressed: true }),
    again: ev({ kind: 'create', metaDt: '2026-11-01T11:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T11:00:00Z', title: 'A' }),
    merged: ev({ kind: 'undelete', metaDt: '2026-11-01T12:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T11:00:00Z', title: 'A', priorPage: 4 }),
    reuse: ev({ kind: 'create', metaDt: '2026-11-01T14:00:00Z', page: 4, rev: 90, revAt: '2026-11-01T14:00:00Z', title: 'C' }),
  };
}

export async function append(warehouse: Warehouse, events: readonly Ev[]): Promise<void> {
  const table = await warehouse.loadOrCreateTable(EVENTS_NS, EVENTS_NAME, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20 });
  try {
    for (const x of events) await stager.add(x.e, { topic: x.topic ?? 'eqiad.test', partition: x.partition ?? 0, offset: BigInt(x.offset ?? offset++), timestampMs: x.kafkaMs ?? 0 });
    await table.commit({ addDataFiles: await stager.finish() });
  } finally { await stager.close(); }
}

export async function runBatches(batches: readonly (readonly Ev[])[], sql: Record<string, string>, logger?: Logger) {
  const dir = mkdtempSync(join(tmpdir(), 'mwlake-harness-'));
  const warehouse = warehouseAt(dir);
  for (const b of batches) { await append(warehouse, b); await merge(warehouse, logger === undefined ? {} : { logger }); }
  const db = await openDuckDb();
  try {
    await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const out: Record<string, unknown> = {};
    for (const [k, q] of Object.entries(sql)) out[k] = (await db.all(q)).map((r) => JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))));
    return out;
  } finally { await db.close(); rmSync(dir, { recursive: true, force: true }); }
}
export const PAGES = 'SELECT page_id, page_title, page_namespace_id AS ns, page_is_redirect AS redir, page_redirect_target AS target, page_latest_revision_id AS latest, page_is_deleted AS deleted, page_merged_into_page_id AS alias FROM pages ORDER BY page_id';
export const REVS = "SELECT revision_id AS rev, page_id, page_title, revision_content_slots['main'].content_body AS body, revision_comment AS cmt, revision_content_is_visible AS cv, user_is_visible AS uv, revision_comment_is_visible AS mv FROM revisions ORDER BY revision_id";
export const RAW = "SELECT revision_id AS rev, page_id, revision_dt::VARCHAR AS dt, revision_content_slots['main'].content_body AS body, revision_content_is_visible AS cv, user_is_visible AS uv, revision_comment_is_visible AS mv FROM revisions_raw ORDER BY revision_id";
