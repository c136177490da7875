// The legacy `mediawiki.revision-visibility-change` event of a generated visibility change, shaped
// as EventBus writes it (the schema's example, and the legacy stream's field names: `text` and
// `user` where page_change says content and editor). Pure; imports events and gen only.

import type { OldRevisionVisibilityChange, Visibility } from './history.js';

export const VISIBILITY_CHANGE_SCHEMA_URI = '/mediawiki/revision/visibility-change/1.0.0';

/** The oversighter every generated change names: production's performer is a user with `suppress` rights. */
const PERFORMER = { user_groups: ['*', 'user', 'suppress'], user_id: 1, user_is_bot: false, user_text: 'Oversight' };

const legacyFlags = (v: Readonly<Visibility>): { comment: boolean; text: boolean; user: boolean } => ({ comment: v.comment, text: v.content, user: v.editor });

export interface LegacyVisibilityEvent extends Record<string, unknown> {
  readonly meta: { readonly uri: string; readonly id: string; readonly domain: string; readonly stream: string; dt: string };
}

/** The event; meta.dt is left empty, for the delivery to set. */
export function legacyVisibilityEvent(change: OldRevisionVisibilityChange, o: { readonly stream: string; readonly id: string }): LegacyVisibilityEvent {
  const { wiki, page, revision } = change;
  return {
    $schema: VISIBILITY_CHANGE_SCHEMA_URI,
    meta: { uri: `https://${wiki.domain}/wiki/${encodeURI(page.title)}`, id: o.id, domain: wiki.domain, stream: o.stream, dt: '' },
    database: wiki.wikiId,
    page_id: page.pageId,
    page_is_redirect: page.isRedirect,
    page_namespace: page.namespaceId,
    page_title: page.title,
    performer: PERFORMER,
    rev_id: revision.revId,
    ...(revision.parentId === undefined ? {} : { rev_parent_id: revision.parentId }),
    rev_timestamp: revision.dt,
    rev_sha1: revision.sha1,
    rev_len: revision.size,
    rev_minor_edit: revision.minor,
    rev_content_model: revision.model,
    rev_content_format: revision.format,
    visibility: legacyFlags(change.after),
    prior_state: { visibility: legacyFlags(change.before) },
  };
}
