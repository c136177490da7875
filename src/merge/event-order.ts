// The one ordering every merge decision uses (issue 4/7). Each watermark group of a state row keeps
// the key of the event that set it: (time, kind priority, Kafka timestamp, revision id, meta.id) as
// one string whose first KEY_ORDER_CHARS (up to the revision id) are fixed-width and compared with `>`.
//
// The time is the event's `dt`, when what it states held (notes §1.2: the revision's timestamp for
// a create, an edit or a move, the action time for the other kinds); meta.dt is when the platform
// got it, seconds later for a move and weeks later for some creates and edits (T409105), so
// ranking some kinds by one and some by the other misorders them. A late create or edit states
// its page and its revision's flags as they were when the revision was made and must not undo a
// move or a suppression made since, also in the same second. So at equal times a create or an
// edit beats another kind only with a newer revision than the one that kind acted on (keyWinsSql):
// the rank alone (creates and edits below the others) cannot say that, so a merge takes the best
// of each side by rank and compares the two with keyWinsSql. Two creates or edits of one time
// compare revision ids too (in the rank and keyWinsSql): ordered by Kafka instead, a late one of
// an older revision would beat a newer one, and the two rules together would not be one order,
// so the result would depend on which events one merge saw together.
//
// Production times have second precision, so a delete and an undelete of one page in one second
// tie. Kafka order breaks the tie, never the revision id (an undelete may restore an older
// revision than the delete carried) nor meta.id (a random UUID): first the producer's timestamp,
// comparable across the eqiad and codfw topics (notes §2: a switchover leaves events of one page
// in both), then, within one topic and partition, the offset. Offsets of different partitions are
// not comparable; their order there is only deterministic. The stored key leaves the offset out:
// against a stored row a tied event with another meta.id wins, since a later run reads later
// offsets, and a duplicate delivered again (same meta.id) changes nothing, in whichever run.

/** Time (µs, UTC), '|', the kind priority (0 create/edit, 1 other), '|', the Kafka timestamp (µs, UTC). */
const KEY_ORDER_CHARS = 57;

// Where each field of a key sits (1-based, as SQL's substr counts): `time|kind|kafka time|revision|meta.id`.
const TIME_CHARS = 27;
/** The time up to whole seconds, production's precision. */
const SECOND_CHARS = 19;
const KIND_AT = 29;
const KAFKA_TIME_AT = 31;
const REVISION_AT = 59;
const REVISION_CHARS = 20;

const keyTime = (key: string) => `left(${key}, ${TIME_CHARS})`;
const keyKind = (key: string) => `substr(${key}, ${KIND_AT}, 1)`;
const keyRevision = (key: string) => `substr(${key}, ${REVISION_AT}, ${REVISION_CHARS})`;

/** `dt`, or meta.dt when a producer left `dt` out. */
const EVENT_TIME_SQL = 'coalesce(dt, meta.dt)';

/** SQL true for an event that made its revision (a create or an edit), of the events table. */
export const MAKES_REVISION_SQL = "page_change_kind IN ('create', 'edit')";

/** Creates and edits lose ties to an older or the same revision: they state what held when it was made. */
const KIND_PRIORITY_SQL = `CASE WHEN ${MAKES_REVISION_SQL} THEN '0' ELSE '1' END`;

const timeSql = (t: string) => `strftime(${t}, '%Y-%m-%dT%H:%M:%S.%fZ')`;

function keySql(time: string, priority: string, revId: string): string {
  const kafkaTime = timeSql("coalesce(_kafka_timestamp, TIMESTAMPTZ '1970-01-01 00:00:00+00')");
  return `${timeSql(time)} || '|' || ${priority} || '|' || ${kafkaTime} || '|' || lpad(coalesce(${revId}, 0)::VARCHAR, 20, '0') || '|' || coalesce(meta.id, '')`;
}

/** SQL for the stored key of an event row of the events table. Requires `SET TimeZone = 'UTC'` on the connection. */
const EVENT_KEY_SQL = keySql(EVENT_TIME_SQL, KIND_PRIORITY_SQL, 'revision.rev_id');

/**
 * EVENT_KEY_SQL for a row of the legacy revision visibility change table (it has meta.dt only; a
 * visibility change ranks as one from the page change stream), so both streams compare in one order.
 */
const VISIBILITY_EVENT_KEY_SQL = keySql('meta.dt', "'1'", 'rev_id');

/** SQL for an event's rank among one merge's events by its key column `key`: then by position in its partition. */
function eventRankSql(key: string): string {
  // Creates and edits of one time by revision id first (keyWinsSql), the other kinds by Kafka order.
  const order = `left(${key}, ${KAFKA_TIME_AT - 1}) || CASE WHEN ${keyKind(key)} = '0' THEN ${keyRevision(key)} || '|' ELSE '' END || substr(${key}, ${KAFKA_TIME_AT}, ${KEY_ORDER_CHARS - KAFKA_TIME_AT + 1})`;
  return `${order} || '|' || _kafka_topic || '|' || lpad(_kafka_partition::VARCHAR, 10, '0') || '|' || lpad(_kafka_offset::VARCHAR, 20, '0') || '|' || ${key}`;
}

/** The rank by `k`, the event's key. */
const EVENT_RANK_SQL = eventRankSql('k');

/**
 * The page change rows of `relation` (what follows FROM, a WHERE clause included) with the columns
 * every merge decision orders by: `k` and `r`, the event's key and rank.
 */
export function pageChangeOrderSql(relation: string): string {
  return `SELECT *, ${EVENT_RANK_SQL} AS r FROM (SELECT *, ${EVENT_KEY_SQL} AS k FROM ${relation})`;
}

/** The legacy visibility change rows of `relation` with their key `k` and rank `r`. */
export function visibilityChangeOrderSql(relation: string): string {
  return `SELECT *, ${EVENT_RANK_SQL} AS r FROM (SELECT *, ${VISIBILITY_EVENT_KEY_SQL} AS k FROM ${relation})`;
}

/** Whether a key has the current layout (older layouts lack the revision id at a fixed place). */
const currentLayoutSql = (key: string) => `(substr(${key}, ${REVISION_AT - 1}, 1) = '|' AND substr(${key}, ${REVISION_AT + REVISION_CHARS}, 1) = '|')`;

/**
 * SQL true when the delta's key `delta` (from the highest-ranked event) beats the stored key `stored`.
 * At the same time, an event that made its revision against one of another kind compares revision
 * ids: a revision newer than the one the other acted on (a move's null revision, a delete's or a
 * visibility change's current revision, an undelete's restored one) was made after it, also in the
 * same second; the same or an older one was made before it, however late it was delivered.
 */
export function keyWinsSql(delta: string, stored: string): string {
  const d = `left(${delta}, ${KEY_ORDER_CHARS})`;
  const s = `left(${stored}, ${KEY_ORDER_CHARS})`;
  const [revD, revS] = [keyRevision(delta), keyRevision(stored)];
  const [kindD, kindS] = [keyKind(delta), keyKind(stored)];
  // Two creates or edits of one time: the newer revision was saved later, whatever Kafka order says.
  const byRevisionTie = `${keyTime(delta)} = ${keyTime(stored)} AND ${currentLayoutSql(delta)} AND ${currentLayoutSql(stored)} AND (${kindD} <> ${kindS} OR (${kindD} = '0' AND ${kindS} = '0' AND ${revD} <> ${revS}))`;
  const byRevision = `CASE WHEN ${kindD} = '0' THEN ${revD} > ${revS} ELSE ${revD} >= ${revS} END`;
  return `(${delta} IS NOT NULL AND (${stored} IS NULL OR CASE WHEN ${byRevisionTie} THEN ${byRevision} ELSE ${d} > ${s} OR (${d} = ${s} AND ${delta} <> ${stored}) END))`;
}

/**
 * SQL true when the page key `pageKey` is of a create or an edit saved in a later second than the
 * event of the deletion key `deletionKey`: a revision saved on a deleted page, which MediaWiki
 * allows only once it is restored (its undelete's event lost?). Same-second ties and other kinds
 * (a move's Kafka order, a duplicate's new timestamp) prove nothing. Keys of older layouts never say so.
 */
export function editedAfterDeleteSql(pageKey: string, deletionKey: string): string {
  const second = (key: string) => `left(${key}, ${SECOND_CHARS})`;
  return `(${currentLayoutSql(pageKey)} AND ${currentLayoutSql(deletionKey)} AND ${keyKind(pageKey)} = '0' AND ${second(pageKey)} > ${second(deletionKey)})`;
}

/** Events that are not page history: production canaries carry meta.domain "canary" (notes §2). */
export const HISTORY_EVENT_FILTER_SQL = "meta.domain IS DISTINCT FROM 'canary' AND wiki_id IS NOT NULL AND page_change_kind IS NOT NULL";

/** Legacy visibility changes the merge applies: not canaries, and naming a revision and its flags. */
export const VISIBILITY_EVENT_FILTER_SQL = "meta.domain IS DISTINCT FROM 'canary' AND database IS NOT NULL AND rev_id IS NOT NULL AND visibility IS NOT NULL";

/**
 * SQL reading back a stored key's time and revision id (the event's `dt` and the revision it
 * carried): NULL for a key of an older layout. views.ts needs them of a page's undelete.
 */
export function keyTimeSql(key: string): string {
  return `CASE WHEN ${currentLayoutSql(key)} THEN try_cast(${keyTime(key)} AS TIMESTAMPTZ) END`;
}

/** The same time as its fixed-width text, which orders as the time does: no cast where only the order counts. */
export function keyTimeTextSql(key: string): string {
  return `CASE WHEN ${currentLayoutSql(key)} THEN ${keyTime(key)} END`;
}

export function keyRevisionIdSql(key: string): string {
  return `CASE WHEN ${currentLayoutSql(key)} THEN try_cast(${keyRevision(key)} AS BIGINT) END`;
}
