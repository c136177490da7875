import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileValidators,
  parseSchemaUri,
  validatePageChange,
  validatePageChangeMessage,
  type ValidationFailure,
} from '../../src/events/validate.js';
import { clone, realEvents } from './helpers.js';

function failed(result: ReturnType<typeof validatePageChange>): ValidationFailure {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result).slice(0, 200)}`);
  return result as ValidationFailure;
}

/** Line 2 of the real events: an edit with prior_state. */
function realEdit(): Record<string, any> {
  return clone(realEvents()[1]!) as Record<string, any>;
}

/** A real event made 1.6.0: $schema bumped and fields that 1.3.0–1.6.0 added. */
function newerMinorEvent(): Record<string, any> {
  const event = realEdit();
  event.$schema = '/mediawiki/page/change/1.6.0';
  event.performer.user_central_id = 4711;
  event.performer.wiki_id = 'testwikidatawiki';
  event.revision.editor.user_central_id = 4711;
  event.page.namespace_is_content = true;
  event.revision.revert = {
    method: 'undo',
    is_exact: true,
    rev_original_id: 686137,
    rev_original_dt: '2024-10-04T15:00:00Z',
    rev_reverted_oldest_id: 686138,
    rev_reverted_newest_id: 686138,
  };
  return event;
}

test('all 13 real page_change events validate strictly against 1.2.0', () => {
  const events = realEvents();
  assert.equal(events.length, 13);
  for (const [i, event] of events.entries()) {
    const result = validatePageChange(event);
    assert.equal(result.ok, true, `line ${i + 1}: ${result.ok ? '' : result.message}`);
    if (result.ok) {
      assert.equal(result.resolvedVersion, '1.2.0');
      assert.equal(result.declaredVersion, '1.2.0');
      assert.equal(result.mode, 'strict');
      assert.equal(result.event, event, 'the result carries the input object itself');
    }
  }
});

test('an event of a known older version is validated against that version', () => {
  const event = realEdit();
  event.$schema = '/mediawiki/page/change/1.1.0';
  const result = validatePageChange(event);
  assert.ok(result.ok);
  assert.equal(result.resolvedVersion, '1.1.0');
  assert.equal(result.mode, 'strict');
  // 1.1.0 still requires performer (1.2.0 made it optional, T342487).
  delete event.performer;
  const failure = failed(validatePageChange(event));
  assert.equal(failure.errorType, 'schema_violation');
  assert.equal(failure.resolvedVersion, '1.1.0');
  assert.match(failure.message, /required property "performer"/);
});

test('a newer 1.x minor validates leniently against 1.2.0 and keeps its unknown fields', () => {
  const event = newerMinorEvent();
  const before = JSON.stringify(event);
  const result = validatePageChange(event);
  assert.ok(result.ok, result.ok ? '' : result.message);
  assert.equal(result.declaredVersion, '1.6.0');
  assert.equal(result.resolvedVersion, '1.2.0');
  assert.equal(result.mode, 'newer_minor');
  assert.equal(JSON.stringify(result.event), before, 'nothing removed or coerced');
  assert.equal(result.event.performer?.user_central_id, 4711);
  assert.equal(result.event.page.namespace_is_content, true);
  assert.equal(result.event.revision.revert?.method, 'undo');
});

test('the same 1.6.0 fields under $schema 1.2.0 are rejected: known versions are strict', () => {
  const event = newerMinorEvent();
  event.$schema = '/mediawiki/page/change/1.2.0';
  const failure = failed(validatePageChange(event));
  assert.equal(failure.errorType, 'schema_violation');
  assert.equal(failure.keyword, 'additionalProperties');
  assert.match(failure.message, /unknown property "(namespace_is_content|user_central_id|wiki_id|revert)"/);
});

test('lenient validation still checks the types of the fields 1.2.0 knows', () => {
  const event = newerMinorEvent();
  event.revision.rev_id = '686139';
  const failure = failed(validatePageChange(event));
  assert.equal(failure.errorType, 'schema_violation');
  assert.equal(failure.instancePath, '/revision/rev_id');
  assert.match(failure.message, /lenient: \$schema is 1\.6\.0/);
  assert.match(failure.message, /expected integer, found string "686139"/);
});

test('an unknown major version fails with a precise message', () => {
  const event = realEdit();
  event.$schema = '/mediawiki/page/change/2.0.0';
  const failure = failed(validatePageChange(event));
  assert.equal(failure.errorType, 'unsupported_major_version');
  assert.equal(failure.declaredVersion, '2.0.0');
  assert.equal(
    failure.message,
    '$schema "/mediawiki/page/change/2.0.0" has major version 2; expected major 1 (known 1.0.0, 1.1.0, 1.2.0; other 1.x versions are read leniently against 1.2.0)',
  );
});

test('an event without $schema fails with a precise message', () => {
  const event = realEdit();
  delete event.$schema;
  const failure = failed(validatePageChange(event));
  assert.equal(failure.errorType, 'missing_schema');
  assert.equal(
    failure.message,
    'event has no $schema; expected a string naming mediawiki/page/change, e.g. "/mediawiki/page/change/1.2.0" or a URL ending in that path',
  );
});

test('$schema is accepted as a path and as a full URL ending in that path', () => {
  for (const uri of [
    '/mediawiki/page/change/1.2.0',
    'https://schema.wikimedia.org/repositories/primary/jsonschema/mediawiki/page/change/1.2.0',
    'https://schema.discovery.wmnet/repositories/primary/jsonschema/mediawiki/page/change/1.2.0',
    '/mediawiki/page/change/1.2.0#',
    'https://schema.wikimedia.org/repositories/primary/jsonschema/mediawiki/page/change/1.2.0#',
  ]) {
    const event = realEdit();
    event.$schema = uri;
    const result = validatePageChange(event);
    assert.ok(result.ok, `${uri}: ${result.ok ? '' : result.message}`);
    assert.equal(result.resolvedVersion, '1.2.0');
    assert.equal(result.mode, 'strict');
  }
  assert.deepEqual(parseSchemaUri('https://schema.wikimedia.org/repositories/primary/jsonschema/mediawiki/page/change/1.12.3'), {
    title: 'mediawiki/page/change',
    version: '1.12.3',
    major: 1,
    minor: 12,
    patch: 3,
  });
});

test('$schema values that are not schema URIs or name another schema fail with their own error types', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [42, 'invalid_schema_uri', /^\$schema must be a string, found integer 42$/],
    ['mediawiki/page/change/1.2.0', 'invalid_schema_uri', /is not a schema URI/],
    ['/mediawiki/page/change/1.2', 'invalid_schema_uri', /is not a schema URI/],
    ['/mediawiki/page/change/1.2.0-rc1', 'invalid_schema_uri', /is not a schema URI/],
    ['/mediawiki/revision/create/1.1.0', 'unknown_schema', /names schema mediawiki\/revision\/create 1\.1\.0; expected mediawiki\/page\/change/],
    ['/mediawiki/page/change/0.0.1', 'unsupported_major_version', /has major version 0/],
  ];
  for (const [uri, errorType, message] of cases) {
    const event = realEdit();
    event.$schema = uri;
    const failure = failed(validatePageChange(event));
    assert.equal(failure.errorType, errorType, String(uri));
    assert.match(failure.message, message);
  }
});

test('invalid vectors fail with instance path, keyword, expected and found', () => {
  const cases: Array<[string, (e: Record<string, any>) => void, string, string, RegExp]> = [
    ['wrong type', (e) => (e.page.page_id = '330275'), '/page/page_id', 'type', /expected integer, found string "330275"/],
    ['boolean as string', (e) => (e.page.is_redirect = 'false'), '/page/is_redirect', 'type', /expected boolean, found string "false"/],
    ['missing required top-level', (e) => delete e.wiki_id, '', 'required', /at \(root\): keyword required: expected required property "wiki_id"/],
    ['missing required nested', (e) => delete e.revision.rev_dt, '/revision', 'required', /required property "rev_dt"/],
    ['missing meta.stream', (e) => delete e.meta.stream, '/meta', 'required', /required property "stream"/],
    ['bad enum', (e) => (e.page_change_kind = 'purge'), '/page_change_kind', 'enum', /expected one of "create", "undelete", "edit", "move", "delete", "visibility_change", found string "purge"/],
    ['bad date-time', (e) => (e.dt = 'yesterday'), '/dt', 'format', /expected format date-time, found string "yesterday"/],
    // ajv-formats alone took these; the events table cannot store them.
    ['a tab between date and time', (e) => (e.revision.rev_dt = '2024-09-01\t12:00:00Z'), '/revision/rev_dt', 'format', /expected format date-time, found string "2024-09-01\\t12:00:00Z"/],
    ['a no-break space between date and time', (e) => (e.meta.dt = '2024-09-01\u00a012:00:00Z'), '/meta/dt', 'format', /expected format date-time/],
    ['rev_id below minimum', (e) => (e.revision.rev_id = 0), '/revision/rev_id', 'minimum', /expected a number >= 1, found integer 0/],
    ['empty title', (e) => (e.page.page_title = ''), '/page/page_title', 'minLength', /at least 1 characters, found string ""/],
    ['unknown slot field', (e) => (e.revision.content_slots.main.extra = 1), '/revision/content_slots/main', 'additionalProperties', /unknown property "extra"/],
    ['user type as string', (e) => (e.performer.is_bot = 'no'), '/performer/is_bot', 'type', /expected boolean/],
  ];
  for (const dt of ['2024-09-01 12:00:00Z', '2024-09-01t12:00:00z', '2024-09-01T12:00:00+01:00']) {
    const event = realEdit();
    event.revision.rev_dt = dt;
    assert.equal(validatePageChange(event).ok, true, dt);
  }
  for (const [name, mutate, path, keyword, message] of cases) {
    const event = realEdit();
    mutate(event);
    const failure = failed(validatePageChange(event));
    assert.equal(failure.errorType, 'schema_violation', name);
    assert.equal(failure.instancePath, path, name);
    assert.equal(failure.keyword, keyword, name);
    assert.match(failure.message, /^event does not match \/mediawiki\/page\/change\/1\.2\.0: at /, name);
    assert.match(failure.message, message, name);
  }
});

test('message bytes: empty, invalid UTF-8, invalid JSON and non-objects fail before the schema', () => {
  const cases: Array<[Uint8Array, string, RegExp]> = [
    [new Uint8Array(0), 'empty_message', /^message is empty \(0 bytes\)/],
    [Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'invalid_utf8', /first invalid byte 0xc3 at offset 2/],
    [Buffer.from([0xed, 0xa0, 0x80]), 'invalid_utf8', /first invalid byte 0xed at offset 0/],
    // Invisible characters are named, not printed: "Unexpected token '﻿'" tells a reader nothing.
    [Buffer.from('\ufeff{}'), 'invalid_json', /^message is not valid JSON: it starts with a byte order mark \(U\+FEFF, bytes EF BB BF\)/],
    [Buffer.from('{"wiki_id": \u0000"enwiki"}'), 'invalid_json', /^message is not valid JSON: Unexpected token '\\u0000', .*"wiki_id": \\u0000"enwiki"\}" is not valid JSON$/],
    [Buffer.from('{"wiki_id": "enwiki", '), 'invalid_json', /not valid JSON/],
    [Buffer.from('[1,2]'), 'not_an_object', /found array of 2/],
    [Buffer.from('null'), 'not_an_object', /found null/],
    [Buffer.from('"text"'), 'not_an_object', /found string "text"/],
    // Checks after parsing recurse: nesting this deep overflowed the stack, stopping every drain on the message.
    [Buffer.from('['.repeat(20_000) + ']'.repeat(20_000)), 'too_deep', /more than 256 levels deep/],
    [Buffer.from(JSON.stringify(realEdit()).replace(/^\{/, `{"x":${'{"a":'.repeat(257)}1${'}'.repeat(257)},`)), 'too_deep', /more than 256 levels deep/],
  ];
  for (const [bytes, errorType, message] of cases) {
    const result = validatePageChangeMessage(bytes);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.errorType, errorType, Buffer.from(bytes).toString('hex'));
      assert.match(result.message, message);
    }
  }
  // An id beyond 2^53 is refused naming the value the message holds, not JSON.parse's rounding of it.
  const big = validatePageChangeMessage(Buffer.from(JSON.stringify(realEdit()).replace(/"rev_id":\d+/, '"rev_id":9007199254740993')));
  assert.equal(big.ok, false);
  // Not "expected integer, found integer …": the message says why an integer fails `type`.
  if (!big.ok) assert.match(big.message, /at \/revision\/rev_id: keyword type: expected integer within ±9007199254740991 \(2\^53-1\), found integer 9007199254740993$/);
  const bigTitle = validatePageChangeMessage(Buffer.from(JSON.stringify(realEdit()).replace(/"page_title":"[^"]*"/, '"page_title":9007199254740993')));
  assert.ok(!bigTitle.ok && /at \/page\/page_title: keyword type: expected string, found integer 9007199254740993$/.test(bigTitle.message), bigTitle.ok ? "ok" : bigTitle.message);
  // 1e400 is not "number Infinity", which the message does not hold.
  const huge = validatePageChangeMessage(Buffer.from(JSON.stringify(realEdit()).replace(/"rev_size":\d+/, '"rev_size":-1e400')));
  assert.ok(!huge.ok && /at \/revision\/rev_size: keyword type: expected integer, found a number beyond the double range \(magnitude over 1\.8e308\)$/.test(huge.message), huge.ok ? 'ok' : huge.message);
  const real = Buffer.from(JSON.stringify(realEdit()));
  const ok = validatePageChangeMessage(real);
  assert.ok(ok.ok);
  assert.equal(ok.text, real.toString('utf8'));
});

test('content_slots without a "main" slot fails naming the field, in every version; absent content_slots is fine', () => {
  // The schema allows it, but MediaWiki has no revision without a main slot: stored, the dump would
  // show the revision with an empty text.
  for (const schema of ['/mediawiki/page/change/1.2.0', '/mediawiki/page/change/1.9.0']) {
    const onlyOther = realEvents().find((e) => Object.keys((e as any).revision.content_slots ?? {}).length > 1) as Record<string, any>;
    const event = clone(onlyOther) as Record<string, any>;
    event.$schema = schema;
    delete event.revision.content_slots.main;
    const f = failed(validatePageChange(event));
    assert.equal(f.errorType, 'missing_main_slot');
    assert.equal(f.instancePath, '/revision/content_slots');
    assert.match(f.message, /at \/revision\/content_slots: expected a "main" slot .*found only "mediainfo"$/);
    event.revision.content_slots = {};
    assert.match(failed(validatePageChange(event)).message, /found no slots$/);
    // A role list cut where an emoji's surrogate pair is split: the message stays valid Unicode.
    for (const n of [117, 118, 119]) {
      event.revision.content_slots = { [`${'a'.repeat(n)}\u{1F600}`]: { slot_role: 'x' } };
      const message = failed(validatePageChange(event)).message;
      assert.doesNotMatch(message, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, `${n}: ${JSON.stringify(message)}`);
      assert.match(message, /… \(\d+ chars\)$/);
    }
  }
  // A suppressed delete has no content_slots at all.
  const suppressed = realEvents().find((e) => (e as any).revision.content_slots === undefined);
  assert.ok(suppressed !== undefined);
  assert.ok(validatePageChange(suppressed).ok);
});

test('compiling the validators is cheap enough for each worker to do it', () => {
  const report = compileValidators();
  assert.ok(report.validators.includes('/error/2.1.0'));
  assert.ok(report.compileMs < 5000, `compile took ${report.compileMs} ms`);
  assert.equal(compileValidators().compileMs < 5, true, 'a second call reuses the compiled validators');
});
