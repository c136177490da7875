// The legacy `mediawiki.revision-visibility-change` stream (schema
// mediawiki/revision/visibility-change 1.0.0): a revision's three visibility flags changed, for
// any revision, where page_change carries only the current revision's (notes §1.3). Its events
// table keeps the event's own shape and meta, as the events table does for page changes.

import type { PartitionSpec } from '../iceberg/spec/partition.js';
import type { Schema } from '../iceberg/spec/types.js';
import { EVENT_HEAD, KAFKA_COLUMNS, schemaOfDefs, wikiDaySpec, type Def } from './events-table.js';

export const REVISION_VISIBILITY_CHANGE_STREAM = 'mediawiki.revision-visibility-change';

export interface Visibility {
  readonly text: boolean;
  readonly user: boolean;
  readonly comment: boolean;
}

/** The fields mwlake reads; the rest is stored as sent. */
export interface RevisionVisibilityChangeEvent {
  readonly $schema: string;
  readonly meta: { readonly dt: string; readonly stream: string; readonly id?: string; readonly domain?: string };
  readonly database: string;
  readonly page_id: number;
  readonly rev_id: number;
  readonly rev_timestamp: string;
  readonly visibility: Visibility;
  readonly prior_state: { readonly visibility?: Visibility };
}

const VISIBILITY: readonly Def[] = [
  ['text', 'boolean'],
  ['user', 'boolean'],
  ['comment', 'boolean'],
];

const EVENT: readonly Def[] = [
  ...EVENT_HEAD,
  ['database', 'string'],
  ['page_id', 'long'],
  ['page_namespace', 'long'],
  ['page_title', 'string'],
  ['page_is_redirect', 'boolean'],
  ['rev_id', 'long'],
  ['rev_timestamp', 'timestamptz'],
  ['rev_parent_id', 'long'],
  ['rev_sha1', 'string'],
  ['rev_len', 'long'],
  ['rev_minor_edit', 'boolean'],
  ['rev_content_model', 'string'],
  ['rev_content_format', 'string'],
  ['visibility', { struct: VISIBILITY }],
  ['prior_state', { struct: [['visibility', { struct: VISIBILITY }]] }],
  ['comment', 'string'],
  ['parsedcomment', 'string'],
  [
    'performer',
    {
      struct: [
        ['user_text', 'string'],
        ['user_groups', { list: 'string' }],
        ['user_is_bot', 'boolean'],
        ['user_id', 'long'],
        ['user_edit_count', 'long'],
        ['user_registration_dt', 'string'],
      ],
    },
  ],
  ['chronology_id', 'string'],
  ...KAFKA_COLUMNS,
];

export const VISIBILITY_EVENTS_SCHEMA: Schema = schemaOfDefs(EVENT);

/** identity(database), day(meta.dt), as the page change events table. */
export const VISIBILITY_EVENTS_SPEC: PartitionSpec = wikiDaySpec(VISIBILITY_EVENTS_SCHEMA, 'database');
