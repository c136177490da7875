// The one ordering every merge decision uses (issue 4/7): an event wins over another for a concern
// iff its key is greater. Key = (meta.dt, revision id, meta.id) as one fixed-width string, so SQL
// compares it with `>` and max(), and ties between distinct events break deterministically.

/**
 * SQL for the key of an event row of the events table (`meta.dt` µs in UTC, rev id zero-padded
 * to 20 digits, then meta.id). Requires `SET TimeZone = 'UTC'` on the connection.
 */
export const EVENT_KEY_SQL =
  "strftime(meta.dt, '%Y-%m-%dT%H:%M:%S.%fZ') || '|' || lpad(coalesce(revision.rev_id, 0)::VARCHAR, 20, '0') || '|' || coalesce(meta.id, '')";

/** JS twin of EVENT_KEY_SQL for reference models and tests. */
export function eventKey(metaDtMicros: bigint, revisionId: bigint | number | null | undefined, metaId: string | null | undefined): string {
  const ms = Number(metaDtMicros / 1000n);
  const micros = Number(((metaDtMicros % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  return `${iso}.${String(micros).padStart(6, '0')}Z|${String(revisionId ?? 0).padStart(20, '0')}|${metaId ?? ''}`;
}

/** Events that are not page history: production canaries carry meta.domain "canary" (notes §2). */
export const HISTORY_EVENT_FILTER_SQL = "meta.domain IS DISTINCT FROM 'canary' AND wiki_id IS NOT NULL AND page_change_kind IS NOT NULL";
