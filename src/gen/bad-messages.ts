// Malformed messages of many kinds, each with the error type the validator must report for it,
// built from a real generated event where that makes the fault realistic. None contains a raw
// newline (0x0a) or carriage return, so a JSONL file keeps one message per line.
// Imports gen/prng and events (types and constants only).

import type { ValidationErrorType } from '../events/validate.js';
import type { Prng } from './prng.js';

/** Each kind of malformed message and what validatePageChangeMessage reports for it. */
export const BAD_KIND_ERROR_TYPES = {
  invalid_json: 'invalid_json',
  truncated: 'invalid_json',
  trailing_garbage: 'invalid_json',
  bom_prefixed: 'invalid_json',
  invalid_utf8: 'invalid_utf8',
  binary_garbage: 'invalid_utf8',
  empty: 'empty_message',
  non_object_json: 'not_an_object',
  wrong_type: 'schema_violation',
  missing_required: 'schema_violation',
  invalid_enum: 'schema_violation',
  invalid_date: 'schema_violation',
  unknown_property: 'schema_violation',
  missing_schema: 'missing_schema',
  unknown_major_schema: 'unsupported_major_version',
  wrong_schema: 'unknown_schema',
  invalid_schema_uri: 'invalid_schema_uri',
} as const satisfies Record<string, ValidationErrorType>;

export type BadKind = keyof typeof BAD_KIND_ERROR_TYPES;
export const BAD_KINDS = Object.keys(BAD_KIND_ERROR_TYPES) as BadKind[];

type Json = Record<string, any>;

/** Paths whose value gets a wrong type, with the wrong value. */
const WRONG_TYPES: ReadonlyArray<[string[], unknown]> = [
  [['page', 'page_id'], '12345'],
  [['revision', 'rev_id'], '1290000001'],
  [['page', 'is_redirect'], 'false'],
  [['performer', 'is_bot'], 0],
  [['revision', 'is_minor_edit'], 'true'],
  [['page', 'namespace_id'], 0.5],
  [['dt'], 1735689600],
  [['meta'], 'mediawiki.page_content_change.v1'],
  [['revision', 'content_slots'], []],
  [['wiki_id'], null],
];
const REQUIRED_PATHS: ReadonlyArray<string[]> = [
  ['wiki_id'],
  ['page'],
  ['revision'],
  ['meta'],
  ['dt'],
  ['changelog_kind'],
  ['page_change_kind'],
  ['page', 'page_id'],
  ['page', 'page_title'],
  ['revision', 'rev_id'],
  ['revision', 'rev_dt'],
  ['meta', 'stream'],
];

function has(event: Json, path: readonly string[]): boolean {
  let node: any = event;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node)) return false;
    node = node[key];
  }
  return true;
}

function setAt(event: Json, path: readonly string[], value: unknown): void {
  let node: any = event;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]!] = value;
}

function deleteAt(event: Json, path: readonly string[]): void {
  let node: any = event;
  for (const key of path.slice(0, -1)) node = node[key];
  delete node[path[path.length - 1]!];
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Positions of ASCII bytes other than quotes and backslashes, where a byte can be swapped safely. */
function asciiPosition(prng: Prng, bytes: Buffer, from = 1): number {
  for (let attempt = 0; attempt < 64; attempt++) {
    const i = from + prng.int(bytes.length - from - 1);
    const b = bytes[i]!;
    if (b < 0x80 && b !== 0x22 && b !== 0x5c) return i;
  }
  return 1;
}

/**
 * A malformed message of `kind`, derived from `template` (a valid event's bytes, valid UTF-8,
 * without newlines). Deterministic in the PRNG's state.
 */
export function makeBadMessage(prng: Prng, kind: BadKind, template: Buffer): Buffer {
  switch (kind) {
    case 'empty':
      return Buffer.alloc(0);
    case 'invalid_json': {
      const text = template.toString('utf8');
      const variants = [
        () => text.replace('"wiki_id":"', '"wiki_id":'),
        () => `{'wiki_id': 'enwiki', 'page': {'page_id': 1}}`,
        () => text.slice(0, -1) + ',}',
        () => text.replace(/"rev_id":\d+/, '"rev_id":NaN'),
        () => text.replace('{', '{,'),
      ];
      const out = variants[prng.int(variants.length)]!();
      return Buffer.from(out === text ? `${text.slice(0, -1)},}` : out, 'utf8');
    }
    case 'truncated': {
      // Cut before the closing brace, on an ASCII byte so the fault is the JSON, not the UTF-8.
      let end = 1 + prng.int(template.length - 2);
      while (end > 1 && (template[end]! & 0xc0) === 0x80) end--;
      return template.subarray(0, end);
    }
    case 'trailing_garbage':
      return Buffer.concat([template, Buffer.from(prng.pick([' }', 'garbage', '{"wiki_id":"enwiki"}', ']']), 'utf8')]);
    case 'bom_prefixed':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), template]);
    case 'invalid_utf8': {
      const out = Buffer.from(template);
      const badSequences = [[0xff], [0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82]];
      const sequence = prng.pick(badSequences);
      const at = Math.min(asciiPosition(prng, out), out.length - sequence.length - 1);
      for (let i = 0; i < sequence.length; i++) out[at + i] = sequence[i]!;
      return out;
    }
    case 'binary_garbage': {
      const out = Buffer.alloc(prng.range(8, 512));
      for (let i = 0; i < out.length; i++) {
        let b = prng.int(256);
        if (b === 0x0a || b === 0x0d) b = 0x00;
        out[i] = b;
      }
      out[0] = 0xff;
      return out;
    }
    case 'non_object_json': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      return json(prng.pick<unknown>([[event], [], 'mediawiki.page_content_change.v1', 42, null, true, [1, 2, 3]]));
    }
    case 'wrong_type': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      const candidates = WRONG_TYPES.filter(([path]) => has(event, path));
      const [path, value] = prng.pick(candidates);
      setAt(event, path, value);
      return json(event);
    }
    case 'missing_required': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      deleteAt(event, prng.pick(REQUIRED_PATHS.filter((path) => has(event, path))));
      return json(event);
    }
    case 'invalid_enum': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      if (prng.chance(0.5)) event.page_change_kind = prng.pick(['purge', 'Edit', 'rename', '']);
      else event.changelog_kind = prng.pick(['upsert', 'INSERT', 'remove']);
      return json(event);
    }
    case 'invalid_date': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      const bad = prng.pick(['yesterday', '2025-13-45T00:00:00Z', '2025-06-01 12:00:00', '20250601120000', '']);
      if (prng.chance(0.5)) event.dt = bad;
      else event.revision.rev_dt = bad;
      return json(event);
    }
    case 'unknown_property': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      if (prng.chance(0.5)) event.debug_info = { host: 'mw1234' };
      else event.page.page_language = 'en';
      return json(event);
    }
    case 'missing_schema': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      delete event.$schema;
      return json(event);
    }
    case 'unknown_major_schema': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      event.$schema = prng.pick([
        '/mediawiki/page/change/2.0.0',
        '/mediawiki/page/change/3.1.0',
        'https://schema.wikimedia.org/repositories/primary/jsonschema/mediawiki/page/change/2.1.0',
        '/mediawiki/page/change/0.9.0',
      ]);
      return json(event);
    }
    case 'wrong_schema': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      event.$schema = prng.pick(['/mediawiki/revision/create/2.0.0', '/mediawiki/page/delete/1.0.0', '/error/2.1.0']);
      return json(event);
    }
    case 'invalid_schema_uri': {
      const event = JSON.parse(template.toString('utf8')) as Json;
      event.$schema = prng.pick<unknown>(['mediawiki/page/change', '/mediawiki/page/change/latest', 120, '']);
      return json(event);
    }
  }
}
