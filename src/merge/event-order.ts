// The one ordering every merge decision uses (issue 4/7). Each watermark group of a state row keeps
// the key of the event that set it: (meta.dt, revision id, meta.id) as one string whose first
// KEY_ORDER_CHARS are fixed-width, so SQL compares it with `>`.
//
// meta.dt has second precision in production, and a delete and an undelete (or two visibility
// changes) of one page in one second carry the same revision id: meta.id, a random UUID, cannot
// order them. Their partition's order can (notes §5.2: order by meta.dt, then topic offset), so
// among one merge's events ties go to the later Kafka offset, and against a stored row a tied event
// with another meta.id wins, since a later run reads later offsets. The stored key leaves the
// offset out: a duplicate delivered again (same meta.id) changes nothing, in whichever run.

/** meta.dt (µs, UTC; `dt` when a producer left meta.dt out), '|', the revision id in 20 digits. */
const KEY_ORDER_CHARS = 48;

/**
 * SQL for the stored key of an event row of the events table (`meta.dt` µs in UTC, rev id
 * zero-padded to 20 digits, then meta.id). Requires `SET TimeZone = 'UTC'` on the connection.
 */
const EVENT_KEY_SQL = pageChangeKeySql('coalesce(meta.dt, dt)');

function pageChangeKeySql(time: string): string {
  return `strftime(${time}, '%Y-%m-%dT%H:%M:%S.%fZ') || '|' || lpad(coalesce(revision.rev_id, 0)::VARCHAR, 20, '0') || '|' || coalesce(meta.id, '')`;
}

/**
 * SQL for the key of what an event says of its page (title, namespace, latest revision) and of
 * its revision's visibility flags, given its EVENT_KEY_SQL as `k`. A create or an edit states them
 * as they were when its revision was made, so it ranks at its `dt`: delivered late (T409105: `dt`
 * weeks before meta.dt), it must not undo a move or a suppression made since. Every other kind
 * states them as of its meta.dt.
 */
const STATE_KEY_SQL = `CASE WHEN page_change_kind IN ('create', 'edit') AND dt IS NOT NULL THEN ${pageChangeKeySql('dt')} ELSE k END`;

/**
 * EVENT_KEY_SQL for a row of the legacy revision visibility change table (meta.dt and rev_id in
 * the same places), so both streams' visibility changes compare in one order.
 */
const VISIBILITY_EVENT_KEY_SQL =
  "strftime(meta.dt, '%Y-%m-%dT%H:%M:%S.%fZ') || '|' || lpad(rev_id::VARCHAR, 20, '0') || '|' || coalesce(meta.id, '')";

/** SQL for an event's rank among one merge's events by its key column `key`: ties by Kafka offset. */
function eventRankSql(key: string): string {
  return `left(${key}, ${KEY_ORDER_CHARS}) || '|' || lpad(_kafka_offset::VARCHAR, 20, '0') || '|' || ${key}`;
}

/** The rank by `k`, the event's EVENT_KEY_SQL. */
const EVENT_RANK_SQL = eventRankSql('k');

/**
 * The page change rows of `relation` (what follows FROM, a WHERE clause included) with the columns
 * every merge decision orders by: `k` and `r`, the event's key and rank, and `ks` and `rs`, the
 * key and rank of what it says of its page and of visibility.
 */
export function pageChangeOrderSql(relation: string): string {
  return `SELECT *, ${EVENT_RANK_SQL} AS r, ${eventRankSql('ks')} AS rs
    FROM (SELECT *, ${STATE_KEY_SQL} AS ks FROM (SELECT *, ${EVENT_KEY_SQL} AS k FROM ${relation}))`;
}

/** The legacy visibility change rows of `relation` with their key `k` and rank `r`. */
export function visibilityChangeOrderSql(relation: string): string {
  return `SELECT *, ${EVENT_RANK_SQL} AS r FROM (SELECT *, ${VISIBILITY_EVENT_KEY_SQL} AS k FROM ${relation})`;
}

/** SQL true when the delta's key `delta` (from the highest-ranked event) beats the stored key `stored`. */
export function keyWinsSql(delta: string, stored: string): string {
  const d = `left(${delta}, ${KEY_ORDER_CHARS})`;
  const s = `left(${stored}, ${KEY_ORDER_CHARS})`;
  return `(${delta} IS NOT NULL AND (${stored} IS NULL OR ${d} > ${s} OR (${d} = ${s} AND ${delta} <> ${stored})))`;
}

/** Events that are not page history: production canaries carry meta.domain "canary" (notes §2). */
export const HISTORY_EVENT_FILTER_SQL = "meta.domain IS DISTINCT FROM 'canary' AND wiki_id IS NOT NULL AND page_change_kind IS NOT NULL";

/** Legacy visibility changes the merge applies: not canaries, and naming a revision and its flags. */
export const VISIBILITY_EVENT_FILTER_SQL = "meta.domain IS DISTINCT FROM 'canary' AND database IS NOT NULL AND rev_id IS NOT NULL AND visibility IS NOT NULL";
