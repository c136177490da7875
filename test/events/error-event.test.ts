import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildErrorEvent, decodeRawEvent, encodeRawEvent, errorEventId } from '../../src/events/error-event.js';
import { errorStreamName } from '../../src/events/error-stream.js';
import { validateAgainstSchema, validatePageChangeMessage } from '../../src/events/validate.js';
import { realEvents, vectorsDir } from './helpers.js';

const DT = '2026-01-02T03:04:05.678Z';

function errorEventFor(bytes: Uint8Array) {
  const validation = validatePageChangeMessage(bytes);
  assert.equal(validation.ok, false);
  if (validation.ok) throw new Error('unreachable');
  return buildErrorEvent({
    jobName: 'mwlake_drain',
    emitterId: 'mwlake-drain@test',
    errorType: validation.errorType,
    message: validation.message,
    rawBytes: bytes,
    streamName: 'mediawiki.page_content_change.v1',
    dt: DT,
    id: '6d1f5a8e-0000-4000-8000-000000000001',
    parsed: validation.value,
  });
}

test('the error 2.1.0 schema accepts its own example and rejects an event without emitter_id', () => {
  const example = JSON.parse(readFileSync(join(vectorsDir, 'error.examples.jsonl'), 'utf8').split('\n')[0]!);
  assert.deepEqual(validateAgainstSchema('/error/2.1.0', example), { ok: true });
  delete example.emitter_id;
  const check = validateAgainstSchema('/error/2.1.0', example);
  assert.equal(check.ok, false);
  if (!check.ok) assert.match(check.message, /required property "emitter_id"/);
});

test('an error event for a schema violation is valid error 2.1.0 and keeps the original text exactly', () => {
  const event = realEvents()[1]! as any;
  event.revision.rev_id = 'x';
  event.meta.stream = 'mediawiki.page_content_change.v1';
  const text = JSON.stringify(event, null, 1) + '  ';
  const bytes = Buffer.from(text, 'utf8');
  const errorEvent = errorEventFor(bytes);
  assert.deepEqual(validateAgainstSchema('/error/2.1.0', errorEvent), { ok: true });
  assert.equal(errorEvent.$schema, '/error/2.1.0');
  assert.equal(errorEvent.meta.stream, 'mwlake_drain.error');
  assert.equal(errorEvent.meta.dt, DT);
  assert.equal(errorEvent.dt, DT);
  assert.equal(errorEvent.emitter_id, 'mwlake-drain@test');
  assert.equal(errorEvent.error_type, 'schema_violation');
  assert.match(errorEvent.message, /\/revision\/rev_id/);
  assert.equal(errorEvent.errored_stream_name, 'mediawiki.page_content_change.v1');
  assert.equal(errorEvent.errored_schema_uri, '/mediawiki/page/change/1.2.0');
  assert.equal(errorEvent.raw_event, text);
  assert.deepEqual(Buffer.from(decodeRawEvent(errorEvent.raw_event!)), bytes);
});

test('an error event for invalid UTF-8 escapes the bad bytes reversibly and is valid error 2.1.0', () => {
  const bytes = Buffer.concat([Buffer.from('{"wiki_id":"Zürich 🎉 '), Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f]), Buffer.from('"}')]);
  const errorEvent = errorEventFor(bytes);
  assert.equal(errorEvent.error_type, 'invalid_utf8');
  assert.equal(errorEvent.errored_stream_name, 'mediawiki.page_content_change.v1', 'falls back to the stream read from');
  assert.equal(errorEvent.errored_schema_uri, undefined);
  assert.deepEqual(validateAgainstSchema('/error/2.1.0', errorEvent), { ok: true });
  // Survives serialization: lone surrogates become \udcXX escapes, the JSON is valid UTF-8.
  const wire = Buffer.from(JSON.stringify(errorEvent), 'utf8');
  assert.match(wire.toString('utf8'), /\\udcff/);
  const back = JSON.parse(wire.toString('utf8'));
  assert.deepEqual(Buffer.from(decodeRawEvent(back.raw_event)), bytes);
  assert.equal(back.raw_event.startsWith('{"wiki_id":"Zürich 🎉 \udcff\udcc3('), true);
});

test('encodeRawEvent is the identity on valid UTF-8 and round-trips every byte value', () => {
  for (const text of ['', 'plain', 'Zürich 東京 🎉', '\ud83c\udf89 emoji pair']) {
    assert.equal(encodeRawEvent(Buffer.from(text, 'utf8')), text);
    assert.deepEqual(Buffer.from(decodeRawEvent(text)), Buffer.from(text, 'utf8'));
  }
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const encoded = encodeRawEvent(all);
  assert.deepEqual(Buffer.from(decodeRawEvent(encoded)), all);
  // 0x00–0x7f stay themselves; each of 0x80–0xff is escaped (none forms a valid sequence here).
  assert.equal(encoded.slice(0, 128), all.subarray(0, 128).toString('latin1'));
  assert.equal(encoded.charCodeAt(128), 0xdc80);
  assert.equal(encoded.charCodeAt(255), 0xdcff);
  // A valid sequence next to invalid bytes stays text.
  assert.equal(encodeRawEvent(Buffer.from([0xc3, 0xa9, 0xc3])), 'é\udcc3');
});

test('decodeRawEvent rejects strings encodeRawEvent cannot produce', () => {
  assert.throws(() => decodeRawEvent('a\udc10b'), /lone surrogate U\+DC10 at index 1/);
  assert.throws(() => decodeRawEvent('a\ud83c'), /lone high surrogate U\+D83C at index 1/);
});

test('error streams are named <job_name>.error', () => {
  assert.equal(errorStreamName('mw_page_content_change_drain'), 'mw_page_content_change_drain.error');
});

test('errorEventId: a version 5 UUID of the job and the message, the same on every run', () => {
  const id = errorEventId('mwlake_drain', 'eqiad.mediawiki.page_content_change.v1:3:1234');
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(errorEventId('mwlake_drain', 'eqiad.mediawiki.page_content_change.v1:3:1234'), id);
  assert.notEqual(errorEventId('mwlake_drain', 'eqiad.mediawiki.page_content_change.v1:3:1235'), id);
  assert.notEqual(errorEventId('other_job', 'eqiad.mediawiki.page_content_change.v1:3:1234'), id);
  assert.deepEqual(validateAgainstSchema('/error/2.1.0', buildErrorEvent({ jobName: 'j', emitterId: 'e', errorType: 't', message: 'm', rawBytes: new Uint8Array([1]), streamName: 's', dt: '2026-01-01T00:00:00Z', id })), { ok: true });
});
