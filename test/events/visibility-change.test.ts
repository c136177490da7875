// The legacy revision visibility change events as the drain prepares them: the schema's example
// validates and becomes a row of its own table, unknown fields kept; a page change, or an event
// without its revision, on that stream is an error with the reason.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareText } from '../../src/events/staged-row.js';
import { VISIBILITY_EVENTS_SCHEMA, VISIBILITY_EVENTS_SPEC } from '../../src/events/visibility-change.js';
import { realEvents, vectorsDir } from './helpers.js';

const example = readFileSync(join(vectorsDir, 'revision_visibility_change.examples.jsonl'), 'utf8').trim();
const kafka = { topic: 'eqiad.mediawiki.revision-visibility-change', partition: 0, offset: 41n, timestampMs: Date.parse('2020-06-10T18:57:17Z') };
const prepare = (text: string) => prepareText(Buffer.from(text), kafka, 1 << 20, 'revision_visibility_change');

test("the schema's example is a row of the visibility table, partitioned by database and day", () => {
  const p = prepare(example);
  assert.equal(p.kind, 'event', JSON.stringify(p));
  if (p.kind !== 'event') return;
  assert.equal(p.wikiId, 'examplewiki');
  assert.equal(p.day, Math.floor(Date.parse('2020-06-10T00:00:00Z') / 86_400_000));
  const row = JSON.parse(p.line) as Record<string, unknown>;
  const columns = new Set(VISIBILITY_EVENTS_SCHEMA.fields.map((f) => f.name));
  for (const key of Object.keys(row)) assert.ok(columns.has(key), `${key} is a column`);
  assert.equal(row['_schema'], '/mediawiki/revision/visibility-change/1.0.0');
  assert.deepEqual(row['visibility'], { comment: true, text: false, user: true });
  assert.deepEqual(row['prior_state'], { visibility: { comment: true, text: true, user: true } });
  assert.equal(row['rev_timestamp'], '2020-06-10T18:57:16Z');
  assert.equal(row['_kafka_offset'], '41');
  assert.equal(row['_unknown_properties'], '{"rev_content_changed":true}');
  assert.deepEqual(VISIBILITY_EVENTS_SPEC.fields.map((f) => [f.name, f.transform.kind]), [['database', 'identity'], ['meta_dt_day', 'day']]);
});

test('a page change on the visibility stream, or a visibility change without rev_id, is an error naming why', () => {
  const pageChange = prepare(JSON.stringify(realEvents()[1]));
  assert.deepEqual(pageChange.kind === 'invalid' && pageChange.errorType, 'unknown_schema');
  assert.match(pageChange.kind === 'invalid' ? pageChange.message : '', /expected mediawiki\/revision\/visibility-change/);
  const { rev_id: _gone, ...noRevision } = JSON.parse(example) as Record<string, unknown>;
  const missing = prepare(JSON.stringify(noRevision));
  assert.deepEqual(missing.kind === 'invalid' && missing.errorType, 'schema_violation');
  assert.match(missing.kind === 'invalid' ? missing.message : '', /rev_id/);
  // And a visibility change on the page change stream is one too.
  const wrongStream = prepareText(Buffer.from(example), kafka, 1 << 20);
  assert.deepEqual(wrongStream.kind === 'invalid' && wrongStream.errorType, 'unknown_schema');
});

test('a newer 1.x visibility change validates leniently against 1.0.0 and keeps its new fields', () => {
  const newer = { ...(JSON.parse(example) as Record<string, unknown>), $schema: '/mediawiki/revision/visibility-change/1.1.0', rev_new_field: 'x' };
  const p = prepare(JSON.stringify(newer));
  assert.equal(p.kind, 'event', JSON.stringify(p));
  if (p.kind === 'event') assert.match((JSON.parse(p.line) as { _unknown_properties: string })._unknown_properties, /"rev_new_field":"x"/);
});
