// The logical history the generator tells: per wiki, pages with consistent revision chains, and
// the page change event each action produces, shaped as EventBus + the content enrichment write
// them (notes §1.2–1.3 and the 13 real events). Delivery (topics, delays, duplicates) is not here.
// Pure: all randomness from the Prng passed in; no I/O, no clock. Imports events and gen only.
//
// Choices where production behaviour is not documented (flagged [inferred]):
//   * content_body is set on create/edit/move/undelete and on visibility_change when the content
//     stays visible; never on delete (the enrichment cannot fetch a deleted page's content);
//   * hidden parts are omitted, as in the real suppressed delete: hidden content drops rev_sha1,
//     rev_size and content_slots, hidden editor drops editor, hidden comment drops comment;
//   * top-level `comment` only on move, delete and undelete (as in the real events).

import {
  CHANGELOG_KIND_OF,
  PAGE_CONTENT_CHANGE_STREAM,
  type ContentSlot,
  type PageChangeEvent,
  type PageChangeKind,
  type PageEntity,
  type RevisionEntity,
  type UserEntity,
} from '../events/page-change.js';
import { base36Sha1, combineSlotSha1s } from '../events/sha1.js';
import { JobError } from '../core/errors.js';
import { bodyBytes, entityBody, escapedBodyPieces, wikitextBody, type BodyRef, type Corpus } from './corpus.js';
import type { Prng } from './prng.js';
import { countEdit, userEntity, UserPool } from './users.js';
import type { NamespaceProfile, WikiProfile } from './wikis.js';

export const PAGE_CHANGE_SCHEMA_URI = '/mediawiki/page/change/1.2.0';

/** Relative frequency of each kind: edits far outnumber creates, which outnumber the rest. */
export const DEFAULT_KIND_WEIGHTS: Readonly<Record<PageChangeKind, number>> = {
  edit: 0.9,
  create: 0.058,
  delete: 0.015,
  move: 0.012,
  visibility_change: 0.008,
  undelete: 0.007,
};

export interface HistoryOptions {
  readonly corpus: Corpus;
  readonly prng: Prng;
  readonly wikis: readonly WikiProfile[];
  readonly startMs: number;
  /** Median content size of a slot, bytes. */
  readonly medianContentBytes: number;
  /** Largest total content of a revision, bytes (keeps events under Kafka's 10 MiB). */
  readonly maxContentBytes: number;
  /** Chance that a page's content is huge (5 MiB up to maxContentBytes). */
  readonly hugePageProbability: number;
  readonly kindWeights?: Readonly<Record<PageChangeKind, number>>;
  /** meta.stream of the events (default mediawiki.page_content_change.v1). */
  readonly stream?: string;
}

/** One page change in logical order, not yet delivered: meta.dt is set at delivery. */
export interface HistoryEvent {
  /** Position in the logical history (0, 1, 2, … across all wikis). */
  readonly historySeq: number;
  readonly wikiId: string;
  /** The page the event is keyed by (`page.page_id`). */
  readonly pageId: number;
  readonly kind: PageChangeKind;
  /** Exact event time; `dt` is this truncated to seconds. */
  readonly timeMs: number;
  /** The revision the event carries. */
  readonly revId: number;
  /** Total content_body bytes in the event (0 when it has none). */
  readonly contentBytes: number;
  /**
   * The event, except that each content_body holds the placeholder bodyPlaceholder(i) for
   * bodies[i]: the bodies go into the message bytes as escaped corpus slices (encodeEvent).
   */
  readonly event: PageChangeEvent;
  readonly bodies: readonly BodyRef[];
}

/** The stand-in for body `index` in HistoryEvent.event; no generated text contains "@@". */
export function bodyPlaceholder(index: number): string {
  return `@@mwlake-body-${index}@@`;
}

/** The message bytes of a history event: its JSON with the content bodies spliced in. */
export function encodeEvent(corpus: Corpus, event: HistoryEvent): Buffer {
  const text = JSON.stringify(event.event);
  if (event.bodies.length === 0) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let position = 0;
  event.bodies.forEach((body, index) => {
    const marker = `"${bodyPlaceholder(index)}"`;
    const at = text.indexOf(marker, position);
    if (at === -1) throw new JobError('INTERNAL', `body placeholder ${index} missing from event ${event.historySeq}`);
    parts.push(Buffer.from(text.slice(position, at + 1), 'utf8'), ...escapedBodyPieces(corpus, body));
    position = at + marker.length - 1;
  });
  parts.push(Buffer.from(text.slice(position), 'utf8'));
  return Buffer.concat(parts);
}

export interface Visibility {
  content: boolean;
  editor: boolean;
  comment: boolean;
}

/** A change of an older revision's visibility: what a legacy visibility change event says. */
export interface OldRevisionVisibilityChange {
  readonly wiki: WikiProfile;
  readonly page: { readonly pageId: number; readonly title: string; readonly namespaceId: number; readonly isRedirect: boolean };
  readonly revision: { readonly revId: number; readonly dt: string; readonly parentId: number | undefined; readonly minor: boolean; readonly size: number; readonly sha1: string; readonly model: string; readonly format: string };
  readonly before: Readonly<Visibility>;
  readonly after: Readonly<Visibility>;
}

/** The flags after a visibility change: mostly hiding one part, sometimes everything, sometimes restoring. */
function changedVisibility(prng: Prng, before: Readonly<Visibility>): Visibility {
  const after = { ...before };
  const hiddenNow = (['content', 'editor', 'comment'] as const).filter((part) => !before[part]);
  const x = prng.float();
  if (hiddenNow.length > 0 && x < 0.15) {
    for (const part of hiddenNow) after[part] = true;
  } else if (x < 0.5) after.comment = false;
  else if (x < 0.72) after.editor = false;
  else if (x < 0.9) after.content = false;
  else after.content = after.editor = after.comment = false;
  if (after.content === before.content && after.editor === before.editor && after.comment === before.comment) after.comment = !before.comment;
  return after;
}

interface SlotState {
  readonly role: string;
  readonly model: string;
  readonly format: string;
  readonly sha1: string;
  readonly size: number;
  readonly originRevId: number;
  readonly body: BodyRef;
}

interface RevisionState {
  readonly revId: number;
  readonly dt: string;
  readonly parentId: number | undefined;
  readonly minor: boolean;
  readonly comment: string;
  readonly editor: UserEntity;
  visibility: Visibility;
  /** Sorted by role. */
  readonly slots: readonly SlotState[];
  readonly sha1: string;
  readonly size: number;
}

/** Bodies an event carries, in placeholder order, and their total size. */
interface Bodies {
  readonly refs: BodyRef[];
  bytes: number;
}

const noBodies = (): Bodies => ({ refs: [], bytes: 0 });

interface PageState {
  pageId: number;
  ns: NamespaceProfile;
  title: string;
  isRedirect: boolean;
  redirectTo: { pageId: number; title: string; namespaceId: number } | undefined;
  revisionCount: number;
  latest: RevisionState;
  previous: RevisionState | undefined;
  /** Index in WikiState.live, or -1 when deleted. */
  liveSlot: number;
}

const WIKITEXT_FORMAT = 'text/x-wiki';
const JSON_FORMAT = 'application/json';
const MIB = 1024 * 1024;

const EDIT_SUMMARIES = ['copyedit', 'fix typo', 'Added reference', 'Updated statistics', 'rm unsourced claim', 'cleanup', 'link fix', '+cat', 'grammar', 'Expanded section'];
const DELETE_REASONS = [
  '[[WP:CSD#G11|G11]]: Unambiguous advertising or promotion',
  '[[WP:CSD#A7|A7]]: No credible indication of importance',
  'Spam',
  '[[COM:CSD#F1|F1]]: Copyright violation',
  'Housekeeping: deleting page to make way for move',
];
const MOVE_REASONS = ['', 'Correct title', 'per [[WP:RM]] discussion', 'Capitalisation', 'Move to draftspace'];
const UNDELETE_REASONS = ['', '[[WP:REFUND|Restored]] per request', 'Deleted in error'];

function isoSeconds(ms: number): string {
  return new Date(ms - (ms % 1000)).toISOString().replace('.000Z', 'Z');
}

/** "File:Foo_bar.jpg" → "File:Foo bar.jpg", as titles appear in comments and wikitext. */
function displayTitle(dbKey: string): string {
  return dbKey.replace(/_/g, ' ');
}

class WikiState {
  readonly users: UserPool;
  nextPageId: number;
  nextRevId: number;
  nextEntityNumber: Record<string, number> = { Q: 130_000_000, P: 13_000, L: 1_500_000 };
  readonly live: PageState[] = [];
  readonly archived: PageState[] = [];
  readonly titles = new Set<string>();
  /** Pages that existed before generation started, materialized on first use, by pool index. */
  readonly pool = new Map<number, PageState>();
  readonly poolSize: number;
  nextArchivedPoolIndex = 0;

  constructor(
    readonly profile: WikiProfile,
    prng: Prng,
    startMs: number,
  ) {
    this.users = new UserPool(prng, startMs, profile.botShare);
    this.nextPageId = profile.pageIdBase;
    this.nextRevId = profile.revIdBase;
    this.poolSize = Math.min(200_000, Math.floor(profile.pageIdBase / 4));
  }

  addLive(page: PageState): void {
    page.liveSlot = this.live.length;
    this.live.push(page);
  }

  removeLive(page: PageState): void {
    const last = this.live.pop()!;
    if (last !== page) {
      this.live[page.liveSlot] = last;
      last.liveSlot = page.liveSlot;
    }
    page.liveSlot = -1;
  }
}

export class History {
  private readonly wikis: WikiState[];
  private readonly wikiWeights: number[];
  private readonly kinds: PageChangeKind[];
  private readonly kindWeights: number[];
  private historySeq = 0;

  constructor(private readonly options: HistoryOptions) {
    this.wikis = options.wikis.map((profile) => new WikiState(profile, options.prng.fork(`users:${profile.wikiId}`), options.startMs));
    this.wikiWeights = options.wikis.map((profile) => profile.weight);
    const weights = options.kindWeights ?? DEFAULT_KIND_WEIGHTS;
    this.kinds = Object.keys(weights) as PageChangeKind[];
    this.kindWeights = this.kinds.map((kind) => weights[kind]);
  }

  private get prng(): Prng {
    return this.options.prng;
  }

  /**
   * The next action at `timeMs`: one event, or two when a move leaves a redirect behind (the move,
   * then the redirect page's create). `allowRedirect` false suppresses the second.
   */
  step(timeMs: number, allowRedirect = true): HistoryEvent[] {
    const wiki = this.wikis[this.prng.weighted(this.wikiWeights)]!;
    const kind = this.kinds[this.prng.weighted(this.kindWeights)]!;
    switch (kind) {
      case 'create':
        return [this.create(wiki, timeMs)];
      case 'edit':
        return [this.edit(wiki, timeMs)];
      case 'move':
        return this.move(wiki, timeMs, allowRedirect);
      case 'delete':
        return [this.delete(wiki, timeMs)];
      case 'undelete':
        return [this.undelete(wiki, timeMs)];
      case 'visibility_change':
        return [this.visibilityChange(wiki, timeMs)];
    }
  }

  /**
   * Changes the visibility of a live page's previous revision, which the legacy visibility change
   * stream carries (page_change carries the latest revision's only); undefined when `prng` finds no
   * such page. Draws only from `prng`: the page change history is the same with or without these.
   */
  changeOldRevisionVisibility(prng: Prng): OldRevisionVisibilityChange | undefined {
    const wiki = this.wikis[prng.weighted(this.wikiWeights)]!;
    for (let attempt = 0; attempt < 6 && wiki.live.length > 0; attempt++) {
      const page = wiki.live[prng.int(wiki.live.length)]!;
      const rev = page.previous;
      if (rev === undefined) continue;
      const before = { ...rev.visibility };
      rev.visibility = changedVisibility(prng, before);
      const main = rev.slots.find((slot) => slot.role === 'main') ?? rev.slots[0]!;
      return {
        wiki: wiki.profile,
        page: { pageId: page.pageId, title: page.title, namespaceId: page.ns.id, isRedirect: page.isRedirect },
        revision: { revId: rev.revId, dt: rev.dt, parentId: rev.parentId, minor: rev.minor, size: rev.size, sha1: rev.sha1, model: main.model, format: main.format },
        before,
        after: { ...rev.visibility },
      };
    }
    return undefined;
  }

  // ---- content ------------------------------------------------------------------------------

  private contentSize(scale = 1): number {
    if (this.prng.chance(this.options.hugePageProbability)) {
      return Math.floor(5 * MIB + this.prng.float() * (this.options.maxContentBytes - 5 * MIB));
    }
    const size = Math.round(this.prng.logNormal(this.options.medianContentBytes * scale, 1.5));
    return Math.min(size, this.options.maxContentBytes);
  }

  private makeSlot(role: string, model: string, body: BodyRef, originRevId: number): SlotState {
    const bytes = bodyBytes(this.options.corpus, body);
    return {
      role,
      model,
      format: model === 'wikitext' ? WIKITEXT_FORMAT : JSON_FORMAT,
      sha1: base36Sha1(bytes),
      size: bytes.length,
      originRevId,
      body,
    };
  }

  private mainBody(ns: NamespaceProfile, title: string, size: number): BodyRef {
    if (ns.entityPrefix !== undefined) {
      const entityType = ns.contentModel.replace('wikibase-', '');
      const id = title.slice(ns.prefix.length);
      return entityBody(this.options.corpus, this.prng, entityType, id, Math.min(size, 2 * MIB));
    }
    return wikitextBody(this.options.corpus, this.prng, size);
  }

  private mediainfoBody(pageId: number): BodyRef {
    return entityBody(this.options.corpus, this.prng, 'mediainfo', `M${pageId}`, Math.round(this.prng.logNormal(2500, 0.7)));
  }

  private revision(
    revId: number,
    timeMs: number,
    parentId: number | undefined,
    minor: boolean,
    comment: string,
    editor: UserEntity,
    slots: SlotState[],
  ): RevisionState {
    slots.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
    const sha1 = combineSlotSha1s(Object.fromEntries(slots.map((slot) => [slot.role, slot.sha1])));
    const size = slots.reduce((sum, slot) => sum + slot.size, 0);
    return {
      revId,
      dt: isoSeconds(timeMs),
      parentId,
      minor,
      comment,
      editor,
      visibility: { content: true, editor: true, comment: true },
      slots,
      sha1,
      size,
    };
  }

  private newRevId(wiki: WikiState): number {
    const revId = wiki.nextRevId;
    wiki.nextRevId += 1 + (this.prng.chance(0.2) ? this.prng.int(4) : 0);
    return revId;
  }

  private newPageId(wiki: WikiState): number {
    const pageId = wiki.nextPageId;
    wiki.nextPageId += 1 + (this.prng.chance(0.1) ? this.prng.int(3) : 0);
    return pageId;
  }

  private newTitle(wiki: WikiState, ns: NamespaceProfile, entityNumber?: number): string {
    if (ns.entityPrefix !== undefined) {
      const n = entityNumber ?? wiki.nextEntityNumber[ns.entityPrefix]!++;
      const title = `${ns.prefix}${ns.entityPrefix}${n}`;
      wiki.titles.add(title);
      return title;
    }
    const words: string[] = [];
    const count = this.prng.range(1, 4);
    for (let i = 0; i < count; i++) words.push(this.prng.pick(TITLE_WORDS));
    let base = words.join('_');
    base = base.charAt(0).toUpperCase() + base.slice(1);
    const extension = ns.file ? this.prng.pick(['.jpg', '.jpg', '.png', '.svg', '.pdf', '.tif']) : '';
    let title = `${ns.prefix}${base}${extension}`;
    for (let n = 2; wiki.titles.has(title); n++) title = `${ns.prefix}${base}_(${n})${extension}`;
    wiki.titles.add(title);
    return title;
  }

  private pickNamespace(wiki: WikiState): NamespaceProfile {
    const namespaces = wiki.profile.namespaces;
    return namespaces[this.prng.weighted(namespaces.map((ns) => ns.weight))]!;
  }

  // ---- pages --------------------------------------------------------------------------------

  /** A page that existed before the stream started, with a latest revision older than startMs. */
  private materialize(wiki: WikiState, poolIndex: number, archived: boolean): PageState {
    const ns = this.pickNamespace(wiki);
    const pageId = wiki.profile.pageIdBase - (archived ? 2 : 1) - 2 * poolIndex;
    const revId = wiki.profile.revIdBase - (archived ? 3 : 1) - 4 * poolIndex;
    const title = ns.entityPrefix !== undefined ? this.newTitle(wiki, ns, 1 + poolIndex * 2 + (archived ? 1 : 0)) : this.newTitle(wiki, ns);
    const timeMs = this.options.startMs - 1000 - this.prng.int(3000 * 86_400_000);
    const editor = userEntity(wiki.users.editor(timeMs));
    const slots = [this.makeSlot('main', ns.contentModel, this.mainBody(ns, title, this.contentSize()), revId)];
    if (ns.mediainfo === true && this.prng.chance(0.7)) slots.push(this.makeSlot('mediainfo', 'wikibase-mediainfo', this.mediainfoBody(pageId), revId));
    const parentId = this.prng.chance(0.95) ? revId - 1 - this.prng.int(5000) : undefined;
    const latest = this.revision(revId, timeMs, parentId, this.prng.chance(0.3), this.editSummary(ns), editor, slots);
    return {
      pageId,
      ns,
      title,
      isRedirect: false,
      redirectTo: undefined,
      revisionCount: parentId === undefined ? 1 : 2 + Math.floor(this.prng.logNormal(8, 1.5)),
      latest,
      previous: undefined,
      liveSlot: -1,
    };
  }

  /** A live page to act on, skewed to popular ones; undefined only if none can be found. */
  private pickLivePage(wiki: WikiState, accept: (page: PageState) => boolean = () => true): PageState | undefined {
    for (let attempt = 0; attempt < 6; attempt++) {
      if (wiki.live.length > 0 && this.prng.chance(0.45)) {
        // Recently created or touched pages get more follow-up edits.
        const page = wiki.live[wiki.live.length - 1 - Math.floor(wiki.live.length * this.prng.float() ** 2)]!;
        if (accept(page)) return page;
        continue;
      }
      const poolIndex = Math.floor(wiki.poolSize * this.prng.float() ** 2);
      let page = wiki.pool.get(poolIndex);
      if (page === undefined) {
        page = this.materialize(wiki, poolIndex, false);
        wiki.pool.set(poolIndex, page);
        wiki.addLive(page);
      }
      if (page.liveSlot >= 0 && accept(page)) return page;
    }
    return undefined;
  }

  // ---- serialization ------------------------------------------------------------------------

  private pageEntity(page: PageState, revisionCount?: number): PageEntity {
    const entity: PageEntity = { page_id: page.pageId, page_title: page.title, namespace_id: page.ns.id, is_redirect: page.isRedirect };
    if (page.redirectTo !== undefined) {
      entity.redirect_page_link = {
        page_id: page.redirectTo.pageId,
        page_title: page.redirectTo.title,
        namespace_id: page.redirectTo.namespaceId,
        is_redirect: false,
      };
    }
    if (revisionCount !== undefined) entity.revision_count = revisionCount;
    return entity;
  }

  /** The revision entity; hidden parts omitted; bodies (as placeholders) only when asked and the content is visible. */
  private revisionEntity(rev: RevisionState, withBodies: boolean, collected?: Bodies): RevisionEntity {
    const entity: RevisionEntity = { rev_id: rev.revId, rev_dt: rev.dt, is_minor_edit: rev.minor };
    if (rev.visibility.content) {
      entity.rev_sha1 = rev.sha1;
      entity.rev_size = rev.size;
    }
    if (rev.parentId !== undefined) entity.rev_parent_id = rev.parentId;
    if (rev.visibility.comment) entity.comment = rev.comment;
    if (rev.visibility.editor) entity.editor = rev.editor;
    entity.is_content_visible = rev.visibility.content;
    entity.is_editor_visible = rev.visibility.editor;
    entity.is_comment_visible = rev.visibility.comment;
    if (rev.visibility.content) {
      const slots: Record<string, ContentSlot> = {};
      for (const slot of rev.slots) {
        const out: ContentSlot = {
          slot_role: slot.role,
          content_model: slot.model,
          content_sha1: slot.sha1,
          content_size: slot.size,
          content_format: slot.format,
          origin_rev_id: slot.originRevId,
        };
        if (withBodies && collected !== undefined) {
          out.content_body = bodyPlaceholder(collected.refs.length);
          collected.refs.push(slot.body);
          collected.bytes += slot.size;
        }
        slots[slot.role] = out;
      }
      entity.content_slots = slots;
    }
    return entity;
  }

  private envelope(
    wiki: WikiState,
    kind: PageChangeKind,
    timeMs: number,
    page: PageEntity,
    revision: RevisionEntity,
    extra: { performer?: UserEntity; comment?: string; prior?: PageChangeEvent['prior_state']; redirect?: PageEntity },
  ): PageChangeEvent {
    const event: Partial<PageChangeEvent> = {
      changelog_kind: CHANGELOG_KIND_OF[kind],
      page_change_kind: kind,
      dt: isoSeconds(timeMs),
      wiki_id: wiki.profile.wikiId,
      page,
    };
    if (extra.performer !== undefined) event.performer = extra.performer;
    if (extra.comment !== undefined) event.comment = extra.comment;
    event.revision = revision;
    if (extra.prior !== undefined) event.prior_state = extra.prior;
    if (extra.redirect !== undefined) event.created_redirect_page = extra.redirect;
    event.$schema = PAGE_CHANGE_SCHEMA_URI;
    event.meta = {
      stream: this.options.stream ?? PAGE_CONTENT_CHANGE_STREAM,
      uri: `https://${wiki.profile.domain}/wiki/${encodeURI(page.page_title)}`,
      id: this.prng.uuid(),
      request_id: this.prng.uuid(),
      domain: wiki.profile.domain,
      dt: '',
    };
    return event as PageChangeEvent;
  }

  private emit(wiki: WikiState, kind: PageChangeKind, timeMs: number, event: PageChangeEvent, bodies: Bodies): HistoryEvent {
    return {
      historySeq: this.historySeq++,
      wikiId: wiki.profile.wikiId,
      pageId: event.page.page_id,
      kind,
      timeMs,
      revId: event.revision.rev_id,
      contentBytes: bodies.bytes,
      event,
      bodies: bodies.refs,
    };
  }

  private editSummary(ns: NamespaceProfile): string {
    if (ns.entityPrefix !== undefined) {
      return this.prng.pick([
        `/* wbsetclaim-update:2||1 */ [[Property:P${this.prng.range(1, 9000)}]]: [[Q${this.prng.range(1, 99_000_000)}]]`,
        `/* wbsetlabel-add:1|${this.prng.pick(['en', 'de', 'fr', 'ja'])} */ ${this.prng.pick(TITLE_WORDS)}`,
        '/* wbeditentity-update:0| */',
        `/* wbsetdescription-set:1|en */ ${this.prng.pick(TITLE_WORDS)} ${this.prng.pick(TITLE_WORDS)}`,
      ]);
    }
    const x = this.prng.float();
    if (x < 0.08) return '';
    if (x < 0.4) return `/* ${this.prng.pick(TITLE_WORDS)} */ ${this.prng.pick(EDIT_SUMMARIES)}`;
    return this.prng.pick(EDIT_SUMMARIES);
  }

  // ---- actions ------------------------------------------------------------------------------

  private create(wiki: WikiState, timeMs: number): HistoryEvent {
    const ns = this.pickNamespace(wiki);
    const pageId = this.newPageId(wiki);
    const title = this.newTitle(wiki, ns);
    const revId = this.newRevId(wiki);
    const user = wiki.users.editor(timeMs);
    countEdit(user);
    const editor = userEntity(user);
    const slots = [this.makeSlot('main', ns.contentModel, this.mainBody(ns, title, this.contentSize(0.5)), revId)];
    if (ns.mediainfo === true && this.prng.chance(0.5)) slots.push(this.makeSlot('mediainfo', 'wikibase-mediainfo', this.mediainfoBody(pageId), revId));
    const comment =
      ns.entityPrefix !== undefined
        ? `/* wbeditentity-create-${ns.contentModel.replace('wikibase-', '')}:0| */`
        : `Created page with "${bodyBytes(this.options.corpus, slots[0]!.body).toString('utf8', 0, Math.min(60, slots[0]!.size)).replace(/\n/g, ' ').replace(/\uFFFD+$/, '')}"`;
    const latest = this.revision(revId, timeMs, undefined, false, comment, editor, slots);
    const page: PageState = { pageId, ns, title, isRedirect: false, redirectTo: undefined, revisionCount: 1, latest, previous: undefined, liveSlot: -1 };
    wiki.addLive(page);
    const bodies = noBodies();
    const event = this.envelope(wiki, 'create', timeMs, this.pageEntity(page), this.revisionEntity(latest, true, bodies), { performer: editor });
    return this.emit(wiki, 'create', timeMs, event, bodies);
  }

  private edit(wiki: WikiState, timeMs: number): HistoryEvent {
    const page = this.pickLivePage(wiki);
    if (page === undefined) return this.create(wiki, timeMs);
    const parent = page.latest;
    const revId = this.newRevId(wiki);
    const user = wiki.users.editor(timeMs);
    countEdit(user);
    const editor = userEntity(user);
    const slots: SlotState[] = [];
    const hasMediainfo = parent.slots.some((slot) => slot.role === 'mediainfo');
    const x = this.prng.float();
    // Which slots change: on Commons files, structured data edits touch only mediainfo.
    const changeMain = !hasMediainfo || x < 0.65;
    const changeMediainfo = hasMediainfo && x >= 0.55;
    const addMediainfo = page.ns.mediainfo === true && !hasMediainfo && this.prng.chance(0.15);
    for (const slot of parent.slots) {
      if (slot.role === 'main' && changeMain) slots.push(this.editedMainSlot(page, slot, revId));
      else if (slot.role === 'mediainfo' && changeMediainfo) slots.push(this.makeSlot('mediainfo', slot.model, this.mediainfoBody(page.pageId), revId));
      else slots.push(slot);
    }
    if (addMediainfo) slots.push(this.makeSlot('mediainfo', 'wikibase-mediainfo', this.mediainfoBody(page.pageId), revId));
    if (page.isRedirect && slots.some((slot) => slot.role === 'main' && slot.originRevId === revId)) {
      page.isRedirect = false;
      page.redirectTo = undefined;
    }
    const rev = this.revision(revId, timeMs, parent.revId, this.prng.chance(0.25), this.editSummary(page.ns), editor, slots);
    page.previous = parent;
    page.latest = rev;
    page.revisionCount++;
    const bodies = noBodies();
    const event = this.envelope(wiki, 'edit', timeMs, this.pageEntity(page), this.revisionEntity(rev, true, bodies), {
      performer: editor,
      prior: { revision: this.revisionEntity(parent, false) },
    });
    return this.emit(wiki, 'edit', timeMs, event, bodies);
  }

  private editedMainSlot(page: PageState, slot: SlotState, revId: number): SlotState {
    // A revert restores the previous revision's content exactly (same sha1).
    const before = page.previous?.slots.find((s) => s.role === 'main');
    if (before !== undefined && before.sha1 !== slot.sha1 && this.prng.chance(0.03)) return { ...before, originRevId: revId };
    let size: number;
    const x = this.prng.float();
    if (x < 0.003) size = 0;
    else if (x < 0.05) size = Math.round(slot.size * this.prng.logNormal(1, 1));
    else size = Math.max(1, Math.round(slot.size * this.prng.logNormal(1, 0.08) + this.prng.range(-40, 200)));
    size = Math.min(size, this.options.maxContentBytes - 64 * 1024);
    return this.makeSlot('main', slot.model, this.mainBody(page.ns, page.title, size), revId);
  }

  private move(wiki: WikiState, timeMs: number, allowRedirect: boolean): HistoryEvent[] {
    const page = this.pickLivePage(wiki, (p) => p.ns.movable && !p.isRedirect);
    if (page === undefined) return [this.edit(wiki, timeMs)];
    const parent = page.latest;
    const oldTitle = page.title;
    const oldNs = page.ns;
    let newNs = oldNs;
    if (this.prng.chance(0.15)) {
      const candidates = wiki.profile.namespaces.filter((ns) => ns.movable && ns.file === oldNs.file);
      newNs = this.prng.pick(candidates);
    }
    const newTitle = this.newTitle(wiki, newNs);
    const user = wiki.users.mover();
    countEdit(user);
    const performer = userEntity(user);
    const reason = this.prng.pick(MOVE_REASONS);
    const revId = this.newRevId(wiki);
    const comment = `${user.userText} moved page [[${displayTitle(oldTitle)}]] to [[${displayTitle(newTitle)}]]${reason === '' ? '' : `: ${reason}`}`;
    // The move's null revision keeps every slot (and its origin) of the revision before it.
    const rev = this.revision(revId, timeMs, parent.revId, true, comment, performer, [...parent.slots]);
    page.previous = parent;
    page.latest = rev;
    page.revisionCount++;
    page.title = newTitle;
    page.ns = newNs;
    wiki.titles.delete(oldTitle);
    let redirectPage: PageState | undefined;
    if (allowRedirect && this.prng.chance(0.7)) {
      const redirectRevId = this.newRevId(wiki);
      const body: BodyRef = { kind: 'literal', text: `#REDIRECT [[${displayTitle(newTitle)}]]` };
      const redirectRev = this.revision(redirectRevId, timeMs, undefined, false, comment, performer, [this.makeSlot('main', 'wikitext', body, redirectRevId)]);
      redirectPage = {
        pageId: this.newPageId(wiki),
        ns: oldNs,
        title: oldTitle,
        isRedirect: true,
        redirectTo: { pageId: page.pageId, title: newTitle, namespaceId: newNs.id },
        revisionCount: 1,
        latest: redirectRev,
        previous: undefined,
        liveSlot: -1,
      };
      wiki.titles.add(oldTitle);
      wiki.addLive(redirectPage);
    }
    const bodies = noBodies();
    const moveEvent = this.envelope(wiki, 'move', timeMs, this.pageEntity(page), this.revisionEntity(rev, true, bodies), {
      performer,
      comment: reason,
      prior: { page: { page_title: oldTitle, namespace_id: oldNs.id }, revision: this.revisionEntity(parent, false) },
      ...(redirectPage === undefined
        ? {}
        : { redirect: { page_id: redirectPage.pageId, page_title: oldTitle, namespace_id: oldNs.id, is_redirect: true } }),
    });
    const events = [this.emit(wiki, 'move', timeMs, moveEvent, bodies)];
    if (redirectPage !== undefined) {
      const redirectBodies = noBodies();
      const createEvent = this.envelope(
        wiki,
        'create',
        timeMs,
        this.pageEntity(redirectPage),
        this.revisionEntity(redirectPage.latest, true, redirectBodies),
        { performer },
      );
      events.push(this.emit(wiki, 'create', timeMs, createEvent, redirectBodies));
    }
    return events;
  }

  private delete(wiki: WikiState, timeMs: number): HistoryEvent {
    const page = this.pickLivePage(wiki);
    if (page === undefined) return this.create(wiki, timeMs);
    wiki.removeLive(page);
    wiki.archived.push(page);
    const rev = page.latest;
    const reason = this.prng.pick(DELETE_REASONS);
    const pageEntity = this.pageEntity(page, page.revisionCount);
    let event: PageChangeEvent;
    if (this.prng.chance(0.08)) {
      // Suppression (T342487): no performer; the revision shows every part hidden, and prior_state
      // the flags it had (as in the real suppressed delete).
      const hidden: RevisionEntity = { rev_id: rev.revId, rev_dt: rev.dt, is_minor_edit: rev.minor };
      if (rev.parentId !== undefined) hidden.rev_parent_id = rev.parentId;
      hidden.is_content_visible = false;
      hidden.is_editor_visible = false;
      hidden.is_comment_visible = false;
      const prior: Partial<RevisionEntity> = {};
      if (rev.visibility.content) prior.is_content_visible = true;
      if (rev.visibility.editor) prior.is_editor_visible = true;
      if (rev.visibility.comment) prior.is_comment_visible = true;
      event = this.envelope(wiki, 'delete', timeMs, pageEntity, hidden, {
        comment: reason,
        ...(Object.keys(prior).length > 0 ? { prior: { revision: prior } } : {}),
      });
    } else {
      event = this.envelope(wiki, 'delete', timeMs, pageEntity, this.revisionEntity(rev, false), {
        performer: userEntity(wiki.users.admin()),
        comment: reason,
      });
    }
    return this.emit(wiki, 'delete', timeMs, event, noBodies());
  }

  private undelete(wiki: WikiState, timeMs: number): HistoryEvent {
    let page: PageState;
    if (wiki.archived.length > 0 && this.prng.chance(0.7)) {
      page = wiki.archived.splice(this.prng.int(wiki.archived.length), 1)[0]!;
    } else {
      // A page deleted before the stream started.
      page = this.materialize(wiki, wiki.nextArchivedPoolIndex++, true);
    }
    const oldPageId = page.pageId;
    const newId = this.prng.chance(0.15);
    if (newId) page.pageId = this.newPageId(wiki);
    wiki.addLive(page);
    const bodies = noBodies();
    const event = this.envelope(wiki, 'undelete', timeMs, this.pageEntity(page), this.revisionEntity(page.latest, true, bodies), {
      performer: userEntity(wiki.users.admin()),
      comment: this.prng.pick(UNDELETE_REASONS),
      ...(newId ? { prior: { page: { page_id: oldPageId } } } : {}),
    });
    return this.emit(wiki, 'undelete', timeMs, event, bodies);
  }

  private visibilityChange(wiki: WikiState, timeMs: number): HistoryEvent {
    const page = this.pickLivePage(wiki);
    if (page === undefined) return this.create(wiki, timeMs);
    const rev = page.latest;
    const before = { ...rev.visibility };
    const after = changedVisibility(this.prng, before);
    rev.visibility = after;
    const prior: Partial<RevisionEntity> = {};
    if (after.content !== before.content) prior.is_content_visible = before.content;
    if (after.editor !== before.editor) prior.is_editor_visible = before.editor;
    if (after.comment !== before.comment) prior.is_comment_visible = before.comment;
    const suppressed = this.prng.chance(0.25);
    const bodies = noBodies();
    const event = this.envelope(wiki, 'visibility_change', timeMs, this.pageEntity(page), this.revisionEntity(rev, true, bodies), {
      ...(suppressed ? {} : { performer: userEntity(wiki.users.admin()) }),
      prior: { revision: prior },
    });
    return this.emit(wiki, 'visibility_change', timeMs, event, bodies);
  }
}

const TITLE_WORDS = [
  'river', 'castle', 'station', 'church', 'album', 'season', 'league', 'election', 'bridge', 'museum', 'village', 'district',
  'mountain', 'island', 'library', 'company', 'episode', 'novel', 'painter', 'footballer', 'history', 'census', 'railway',
  'Zürich', 'Kraków', 'São_Paulo', 'Москва', '東京', 'café', 'Ærø', 'Đà_Nẵng', 'north', 'south', 'old', 'new', 'great', 'little',
];
