// The shape of a `mediawiki/page/change` event (schema 1.2.0, schemas/jsonschema/mediawiki/page/
// change/1.2.0.yaml) plus the optional fields later minors add, and the stream and topic names of
// mediawiki.page_content_change.v1. Types and constants only; imports nothing.
// Field names are the wire names on purpose: events are not flattened (Event Platform decision).

/** The six kinds of page change, and the changelog kind EventBus maps each to (notes §1.3). */
export const PAGE_CHANGE_KINDS = ['create', 'edit', 'move', 'delete', 'undelete', 'visibility_change'] as const;
export type PageChangeKind = (typeof PAGE_CHANGE_KINDS)[number];

export const CHANGELOG_KINDS = ['insert', 'update', 'delete'] as const;
export type ChangelogKind = (typeof CHANGELOG_KINDS)[number];

export const CHANGELOG_KIND_OF: Readonly<Record<PageChangeKind, ChangelogKind>> = {
  create: 'insert',
  edit: 'update',
  move: 'update',
  delete: 'delete',
  undelete: 'insert',
  visibility_change: 'update',
};

/** The stream we read, and its topics: one per datacenter (stream config `topic_prefixes`). */
export const PAGE_CONTENT_CHANGE_STREAM = 'mediawiki.page_content_change.v1';
export const DATACENTERS = ['eqiad', 'codfw'] as const;
export type Datacenter = (typeof DATACENTERS)[number];

/** `eqiad.mediawiki.page_content_change.v1` for ('eqiad', stream). */
export function topicOf(datacenter: Datacenter, stream: string = PAGE_CONTENT_CHANGE_STREAM): string {
  return `${datacenter}.${stream}`;
}

/** The stream name of a topic: the topic without its datacenter prefix. */
export function streamOfTopic(topic: string): string {
  for (const datacenter of DATACENTERS) {
    if (topic.startsWith(`${datacenter}.`)) return topic.slice(datacenter.length + 1);
  }
  return topic;
}

/** Production's message key (`message_key_fields`): `{"wiki_id":…,"page_id":…}` as JSON, in that order. */
export function messageKeyOf(wikiId: string, pageId: number): string {
  return JSON.stringify({ wiki_id: wikiId, page_id: pageId });
}

/** Monitoring injects canary events into every topic; they carry `meta.domain` "canary" and must be dropped. */
export const CANARY_DOMAIN = 'canary';

export function isCanaryEvent(event: { readonly meta?: { readonly domain?: string } }): boolean {
  return event.meta?.domain === CANARY_DOMAIN;
}

/** The kinds whose revision page_content_change carries the content of (a delete's cannot be fetched). */
const KINDS_WITH_CONTENT: ReadonlySet<string> = new Set<PageChangeKind>(['create', 'edit', 'move', 'undelete']);

/**
 * Whether a page change whose revision content is visible lacks a slot's content_body, as every
 * `mediawiki.page_change.v1` event does: the schema allows it, but its revision is then dumped
 * like hidden content, so the drain counts such events.
 */
export function lacksContentBody(event: Pick<PageChangeEvent, 'page_change_kind' | 'revision'>): boolean {
  if (!KINDS_WITH_CONTENT.has(event.page_change_kind) || event.revision.is_content_visible === false) return false;
  const slots = event.revision.content_slots;
  return slots === undefined || Object.values(slots).some((slot) => slot.content_body === undefined);
}

/** Production's `max.request.size` for page_content_change (10 MiB): larger events never reach Kafka. */
export const MAX_EVENT_BYTES = 10 * 1024 * 1024;

export interface EventMeta {
  stream: string;
  dt?: string;
  id?: string;
  request_id?: string;
  domain?: string;
  uri?: string;
  [extra: string]: unknown;
}

/** fragment/mediawiki/state/entity/user 1.0.0; later minors add the optional tail. */
export interface UserEntity {
  user_text?: string;
  /** Absent for IP (anonymous) editors. */
  user_id?: number;
  groups?: string[];
  is_bot?: boolean;
  is_system?: boolean;
  is_temp?: boolean;
  edit_count?: number;
  registration_dt?: string;
  /** page/change 1.3.0+ (CentralAuth). */
  user_central_id?: number;
  /** user entity 1.2.0+ (page/change 1.6.0+). */
  wiki_id?: string;
  /** user entity 1.3.0+. */
  first_edit_dt?: string;
  edit_global_count?: number;
}

/** fragment/mediawiki/state/entity/page_link 1.0.0 (the target of a redirect). */
export interface PageLink {
  page_id?: number;
  page_title?: string;
  namespace_id?: number;
  is_redirect?: boolean;
  interwiki_prefix?: string;
  wikibase_item_id?: string;
}

/** fragment/mediawiki/state/entity/page 2.0.0. */
export interface PageEntity {
  page_id: number;
  /** Prefixed DB key: localized namespace prefix, underscores (`File:Foo_bar.jpg`). */
  page_title: string;
  namespace_id?: number;
  is_redirect?: boolean;
  redirect_page_link?: PageLink;
  /** Only on delete events: the number of revisions archived. */
  revision_count?: number;
  /** page entity 2.1.0+ (page/change 1.6.0+). */
  namespace_is_content?: boolean;
  /** Wikibase client wikis, later minors. */
  wikibase_item_id?: string;
}

/** fragment/mediawiki/state/entity/content 1.0.0: one slot of a revision. */
export interface ContentSlot {
  slot_role?: string;
  content_model?: string;
  content_format?: string;
  /** Base-36 SHA-1 of the body, 31 characters. */
  content_sha1?: string;
  /** Byte size (UTF-8) of the body. */
  content_size?: number;
  /** The revision in which this slot's content was created (inherited slots point back). */
  origin_rev_id?: number;
  /** Only in page_content_change: the raw content. */
  content_body?: string;
}

/** page/change 1.4.0+: set on edits that revert earlier ones (T423583). */
export interface RevisionRevert {
  method?: 'rollback' | 'undo' | 'manual';
  is_exact?: boolean;
  rev_original_id?: number;
  rev_original_dt?: string;
  rev_reverted_oldest_id?: number;
  rev_reverted_newest_id?: number;
}

/** fragment/mediawiki/state/entity/revision 1.0.0. Hidden parts are omitted, not nulled. */
export interface RevisionEntity {
  rev_id: number;
  rev_dt: string;
  /** Absent on a page's first revision. */
  rev_parent_id?: number;
  /** Base-36 SHA-1; for several slots, combined from the slot sha1s (src/events/sha1.ts). */
  rev_sha1?: string;
  /** Sum of the slot sizes in bytes. */
  rev_size?: number;
  is_minor_edit?: boolean;
  comment?: string;
  editor?: UserEntity;
  is_content_visible?: boolean;
  is_editor_visible?: boolean;
  is_comment_visible?: boolean;
  content_slots?: Record<string, ContentSlot>;
  revert?: RevisionRevert;
}

/** `prior_state`: only the parts that changed (move: old title/namespace; visibility: old flags). */
export interface PriorState {
  page?: Partial<PageEntity>;
  revision?: Partial<RevisionEntity>;
  [extra: string]: unknown;
}

/** A `mediawiki/page/change` event as on the wire. Newer minors may carry more fields. */
export interface PageChangeEvent {
  $schema: string;
  changelog_kind: ChangelogKind;
  page_change_kind: PageChangeKind;
  /** Event time: rev_dt for create/edit/move, the action time otherwise. */
  dt: string;
  wiki_id: string;
  meta: EventMeta;
  page: PageEntity;
  revision: RevisionEntity;
  /** Omitted for suppressions (since 1.2.0, T342487). */
  performer?: UserEntity;
  /** The action's reason (delete/move/undelete), not revision.comment. */
  comment?: string;
  prior_state?: PriorState;
  /** Move only: the redirect left at the old title (it also gets its own create event). */
  created_redirect_page?: PageEntity;
}
