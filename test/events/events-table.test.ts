// The events-table row of a valid event: what the table cannot store as its column type says
// goes to the error stream (error_type unstorable_value, naming the field) instead of failing the
// staged chunk's encoding on every run; timestamps in any form the schema accepts are stored as
// the same instant, and the day partition follows meta.dt's instant.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalTimestamp, mayHoldLoneSurrogates } from '../../src/events/events-table.js';
import { prepareText } from '../../src/events/staged-row.js';
import { clone, realEvents } from './helpers.js';

const KAFKA = { topic: 'eqiad.mediawiki.page_content_change.v1', partition: 0, offset: 7n, timestampMs: 1_728_054_595_000 };
const LIMIT = 10 * 1024 * 1024;

type Json = Record<string, any>;

/** One real event (an edit with a revision and a page), edited by `change`, prepared as the drain does. */
function prepared(change: (event: Json) => void) {
  const event = clone(realEvents().find((e) => (e as Json)['page_change_kind'] === 'edit')!) as Json;
  change(event);
  // JSON.stringify writes a lone surrogate as the escape \udXXX, as a producer's JSON would carry it.
  return prepareText(Buffer.from(JSON.stringify(event), 'utf8'), KAFKA, LIMIT);
}

function unstorable(change: (event: Json) => void, where: string): void {
  const p = prepared(change);
  assert.equal(p.kind, 'invalid', JSON.stringify(p).slice(0, 300));
  if (p.kind !== 'invalid') return;
  assert.equal(p.errorType, 'unstorable_value');
  assert.ok(p.message.includes(`at ${where}:`), p.message);
}

test('values the schema accepts but the table cannot store are errors that name the field', () => {
  unstorable((e) => (e['meta']['dt'] = '2016-12-31T23:59:60Z'), '/meta/dt');
  unstorable((e) => (e['page']['namespace_id'] = 2 ** 31), '/page/namespace_id');
  // The wiki names a partition directory ("wiki_id=" and the URL-encoded id), which cannot pass 255 bytes.
  unstorable((e) => (e['wiki_id'] = 'w'.repeat(250)), '/wiki_id');
  unstorable((e) => (e['wiki_id'] = 'é'.repeat(42)), '/wiki_id');
  // Valid RFC 3339, but in UTC before year 0000 or after 9999: DuckDB would refuse the staged chunk.
  unstorable((e) => (e['meta']['dt'] = '0000-01-01T00:30:00+01:00'), '/meta/dt');
  unstorable((e) => (e['revision']['rev_dt'] = '9999-12-31T23:30:00-01:00'), '/revision/rev_dt');
  unstorable((e) => (e['revision']['comment'] = 'half a pair \ud800 here'), '/revision/comment');
  unstorable((e) => (e['revision']['content_slots']['main']['content_body'] = 'x\udfff'), '/revision/content_slots/main/content_body');
  // A newer minor (validated leniently against 1.2.0) with fields the table knows from user 1.3.0
  // and later, of the wrong type.
  const newer = (e: Json) => (e['$schema'] = '/mediawiki/page/change/1.5.0');
  unstorable((e) => (newer(e), (e['performer']['user_central_id'] = 'abc')), '/performer/user_central_id');
  unstorable((e) => (newer(e), (e['performer']['user_central_id'] = 2 ** 53 + 2)), '/performer/user_central_id');
  unstorable((e) => (newer(e), (e['revision']['editor']['edit_global_count'] = true)), '/revision/editor/edit_global_count');
});

test('timestamps in every form the schema accepts are stored as the same UTC instant, and partition by it', () => {
  for (const [dt, stored, day] of [
    ['2024-10-04t15:09:55z', '2024-10-04T15:09:55Z', '2024-10-04'],
    ['2024-10-04T00:09:55+01', '2024-10-03T23:09:55Z', '2024-10-03'],
    ['2024-10-04 23:30:00.250-01:00', '2024-10-05T00:30:00.250Z', '2024-10-05'],
    // More digits than the column's microseconds (valid RFC 3339): cut past nanoseconds, not refused.
    ['2024-10-04T23:59:59.999999999999Z', '2024-10-04T23:59:59.999999999Z', '2024-10-04'],
  ] as const) {
    const p = prepared((e) => (e['meta']['dt'] = dt));
    assert.equal(p.kind, 'event', JSON.stringify(p).slice(0, 300));
    if (p.kind !== 'event') continue;
    assert.equal((JSON.parse(p.line) as Json)['meta']['dt'], stored, dt);
    assert.equal(p.day, Date.parse(`${day}T00:00:00Z`) / 86_400_000, `${dt} partitions on ${day}`);
  }
  assert.equal(canonicalTimestamp('2024-10-04T15:09:55.123456789Z'), '2024-10-04T15:09:55.123456789Z', 'canonical input is kept as is');
  assert.throws(() => canonicalTimestamp('2024-02-30T00:00:00Z'), /valid date/);
});

test('the real events are stored unchanged: the checks reject nothing valid', () => {
  for (const event of realEvents()) {
    const p = prepareText(Buffer.from(JSON.stringify(event), 'utf8'), KAFKA, LIMIT);
    assert.notEqual(p.kind, 'invalid', JSON.stringify(p).slice(0, 300));
  }
});

test('the lone-surrogate scan: only a \\uD800-\\uDFFF escape in the text asks for the per-string check', () => {
  assert.equal(mayHoldLoneSurrogates('{"a":"x é"}'), false);
  assert.equal(mayHoldLoneSurrogates('{"a":"\\u00e9 \\ud7ff"}'), false);
  assert.equal(mayHoldLoneSurrogates('{"a":"\\ud83d\\ude00"}'), true, 'a valid pair is checked too (and passes)');
  assert.equal(mayHoldLoneSurrogates('{"a":"\\uDC00"}'), true);
  // With the hint, the per-string check refuses the lone surrogate.
  assert.equal(prepared((e) => (e['revision']['comment'] = 'x\udc00')).kind, 'invalid');
});

test('a Kafka timestamp past year 9999 or none (microseconds, nanoseconds, -1) is stored as null, not a crash of every run', () => {
  const event = clone(realEvents().find((e) => (e as Json)['page_change_kind'] === 'edit')!) as Json;
  const text = Buffer.from(JSON.stringify(event), 'utf8');
  for (const [timestampMs, expected] of [[-1, null], [9_000_000_000_000_000, null], [1_728_054_595_000_000, null], [Number.NaN, null], [0, '1970-01-01T00:00:00.000Z'], [1_728_054_595_000, '2024-10-04T15:09:55.000Z']] as const) {
    const p = prepareText(text, { ...KAFKA, timestampMs }, LIMIT);
    assert.equal(p.kind, 'event', `${timestampMs}: ${JSON.stringify(p).slice(0, 200)}`);
    if (p.kind === 'event') assert.ok(p.line.includes(`"_kafka_timestamp":${JSON.stringify(expected)}`), `${timestampMs}: ${p.line.slice(-300)}`);
  }
});

test("an event property named like a column the table fills itself is kept as unknown, and overwrites nothing", () => {
  const event = clone(realEvents().find((e) => (e as Json)['page_change_kind'] === 'edit')!) as Json;
  event['$schema'] = '/mediawiki/page/change/1.12.3';
  Object.assign(event, { _schema: 'evil', _kafka_offset: 999, _unknown_properties: 'mine' });
  const p = prepareText(Buffer.from(JSON.stringify(event), 'utf8'), KAFKA, LIMIT);
  assert.equal(p.kind, 'event', JSON.stringify(p).slice(0, 300));
  if (p.kind !== 'event') return;
  const row = JSON.parse(p.line) as Json;
  assert.equal(row['_schema'], '/mediawiki/page/change/1.12.3');
  assert.equal(String(row['_kafka_offset']), '7');
  assert.deepEqual(JSON.parse(row['_unknown_properties'] as string), { _schema: 'evil', _kafka_offset: 999, _unknown_properties: 'mine' });
});

test('a "__proto__" slot role or newer field is stored as data, not dropped', () => {
  const event = clone(realEvents().find((e) => (e as Json)['page_change_kind'] === 'edit')!) as Json;
  event['$schema'] = '/mediawiki/page/change/1.7.0';
  // Written into the text by hand: JSON.parse makes "__proto__" an own property, as a producer's JSON would.
  const text = JSON.stringify(event)
    .replace('"content_slots":{', '"content_slots":{"__proto__":{"slot_role":"__proto__","content_model":"wikitext"},')
    .replace(/}$/, ',"__proto__":{"later":1}}');
  const p = prepareText(Buffer.from(text, 'utf8'), KAFKA, LIMIT);
  assert.equal(p.kind, 'event', JSON.stringify(p).slice(0, 300));
  if (p.kind !== 'event') return;
  const row = JSON.parse(p.line) as Json;
  assert.deepEqual(Object.keys(row['revision']['content_slots']).sort(), ['__proto__', 'main']);
  assert.equal(row['revision']['content_slots']['__proto__']['content_model'], 'wikitext');
  assert.deepEqual(JSON.parse(row['_unknown_properties'] as string), { ['__proto__']: { later: 1 } });
});

test('a content_slots role with a lone surrogate is an error naming the map, not a chunk DuckDB refuses on every run', () => {
  unstorable((e) => (e['revision']['content_slots']['x\ud800'] = { slot_role: 'x', content_model: 'wikitext' }), '/revision/content_slots');
  // A well-formed pair in a role is fine.
  const p = prepared((e) => (e['revision']['content_slots']['x\ud83d\ude00'] = { slot_role: 'x', content_model: 'wikitext' }));
  assert.equal(p.kind, 'event', JSON.stringify(p).slice(0, 300));
});

test('an integer beyond 2^53 in a newer minor\'s field is kept exactly, not rounded', () => {
  const event = clone(realEvents().find((e) => (e as Json)['page_change_kind'] === 'edit')!) as Json;
  event['$schema'] = '/mediawiki/page/change/1.9.0';
  // Written into the text: a JS number cannot hold these.
  const text = JSON.stringify(event).replace(/}$/, ',"later_id":12345678901234567891,"later_ids":[-9007199254740993,7]}');
  const p = prepareText(Buffer.from(text, 'utf8'), KAFKA, LIMIT);
  assert.equal(p.kind, 'event', JSON.stringify(p).slice(0, 300));
  if (p.kind !== 'event') return;
  const row = JSON.parse(p.line) as Json;
  assert.equal(row['_unknown_properties'], '{"later_id":12345678901234567891,"later_ids":[-9007199254740993,7]}');
  // One the table has a long column for is refused, naming the exact value.
  const known = JSON.stringify(event).replace('"performer":{', '"performer":{"user_central_id":9007199254740993,');
  const q = prepareText(Buffer.from(known, 'utf8'), KAFKA, LIMIT);
  assert.equal(q.kind, 'invalid', JSON.stringify(q).slice(0, 300));
  if (q.kind === 'invalid') assert.match(q.message, /at \/performer\/user_central_id: .*9007199254740993/);
});

test('a number beyond the double range in a newer minor\'s field is an error naming it, not stored as null', () => {
  const event = clone(realEvents().find((e) => (e as Json)['page_change_kind'] === 'edit')!) as Json;
  event['$schema'] = '/mediawiki/page/change/1.9.0';
  const text = JSON.stringify(event).replace('"page":{', '"page":{"later_score":-1e400,');
  const p = prepareText(Buffer.from(text, 'utf8'), KAFKA, LIMIT);
  assert.equal(p.kind, 'invalid', JSON.stringify(p).slice(0, 300));
  if (p.kind !== 'invalid') return;
  assert.equal(p.errorType, 'unstorable_value');
  assert.ok(p.message.includes('at /page/later_score:'), p.message);
});

test("a newer minor's event is its row's columns plus _unknown_properties: nothing it sends is dropped", () => {
  let sent: Json = {};
  const p = prepared((e) => {
    e['$schema'] = '/mediawiki/page/change/1.12.0';
    e['later_top'] = { nested: [1, { deep: 'x' }] };
    e['meta']['topic'] = 'eqiad.mediawiki.page_content_change.v1';
    e['page']['namespace_is_content'] = true;
    e['revision']['editor']['user_central_id'] = 4711;
    e['revision']['editor']['later_flag'] = false;
    e['revision']['content_slots']['main']['later_slot_field'] = 'y';
    e['revision']['revert'] = 'not an object';
    e['prior_state']['revision']['later'] = [null];
    sent = clone(e) as Json;
  });
  assert.equal(p.kind, 'event', JSON.stringify(p).slice(0, 300));
  if (p.kind !== 'event') return;
  const { _schema, _kafka_topic, _kafka_partition, _kafka_offset, _kafka_timestamp, _unknown_properties, ...columns } = JSON.parse(p.line) as Json;
  const merge = (known: unknown, unknown: unknown): unknown => {
    if (unknown === undefined) return known;
    if (known === null || typeof known !== 'object') return unknown;
    const out: Json = { ...(known as Json) };
    for (const [k, v] of Object.entries(unknown as Json)) out[k] = merge((known as Json)[k], v);
    return out;
  };
  const dropNulls = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(dropNulls) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)])) : v;
  const rebuilt = { $schema: _schema, ...(merge(columns, JSON.parse(_unknown_properties as string)) as Json) };
  assert.deepEqual(dropNulls(rebuilt), dropNulls(sent));
  assert.equal(_schema, '/mediawiki/page/change/1.12.0');
});

test('a page change with visible content but no content_body (every page_change.v1 event) is flagged for the drain to count', () => {
  const flags = (events: Record<string, unknown>[]) =>
    events.map((e) => {
      const p = prepareText(Buffer.from(JSON.stringify(e), 'utf8'), KAFKA, LIMIT);
      assert.equal(p.kind, 'event');
      return `${(e as Json)['page_change_kind']} ${p.kind === 'event' && p.withoutContent}`;
    });
  // The real events carry no bodies: flagged unless a delete or visibility change.
  assert.deepEqual(flags(realEvents()), [
    'create true', 'edit true', 'delete false', 'delete false', 'undelete true', 'undelete true', 'visibility_change false',
    'create true', 'edit true', 'create true', 'edit true', 'move true', 'edit true',
  ]);
  const withBodies = realEvents().map((e) => {
    for (const slot of Object.values(((e as Json)['revision']['content_slots'] ?? {}) as Record<string, Json>)) slot['content_body'] = 'text';
    return e;
  });
  assert.ok(flags(withBodies).every((f) => f.endsWith(' false')));
  // Hidden content is not fetched, so no body is expected.
  const hidden = clone(realEvents()[1]!) as Json;
  hidden['revision']['is_content_visible'] = false;
  delete hidden['revision']['content_slots'];
  assert.deepEqual(flags([hidden]), ['edit false']);
  // One slot of an MCR revision without its body is enough.
  const mcr = clone(withBodies.find((e) => Object.keys((e as Json)['revision']['content_slots'] ?? {}).length > 1)!) as Json;
  delete Object.values(mcr['revision']['content_slots'] as Record<string, Json>).at(-1)!['content_body'];
  assert.deepEqual(flags([mcr]).map((f) => f.endsWith(' true')), [true]);
});
