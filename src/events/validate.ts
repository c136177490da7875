// Validation of page change events, of the legacy revision visibility change events, and of error
// events against the Event Platform schemas in
// src/events/schema-bundle.ts, with ajv compiled once per thread, lazily per schema.
// Imports core, ajv and the generated bundle; no file I/O, so worker threads can import it as is.
//
// Version policy for `$schema` (notes §1.1: one topic carries 1.2.0 … 1.12.x at once):
//   * a known version (1.0.0, 1.1.0, 1.2.0) is validated strictly against that schema;
//   * any other 1.x.y is validated against the newest known 1.x schema with unknown properties
//     allowed (additionalProperties: false dropped everywhere); nothing is removed from the event;
//   * another major, a missing `$schema`, or one naming another schema is an error;
//   * beyond the schema, a page change whose revision.content_slots lacks "main" is an error.
// `$schema` may be the path form `/mediawiki/page/change/1.2.0` (what EventBus writes) or an
// absolute URL whose path ends in it, e.g.
// `https://schema.wikimedia.org/repositories/primary/jsonschema/mediawiki/page/change/1.2.0`.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { isUtf8 } from 'node:buffer';
import { JobError } from '../core/errors.js';
import { parseJsonBigInt } from '../core/json-bigint.js';
import type { PageChangeEvent } from './page-change.js';
import { SCHEMA_BUNDLE, type JsonSchemaDocument } from './schema-bundle.js';

export const PAGE_CHANGE_SCHEMA_TITLE = 'mediawiki/page/change';
export const KNOWN_PAGE_CHANGE_VERSIONS = ['1.0.0', '1.1.0', '1.2.0'] as const;
export const NEWEST_PAGE_CHANGE_VERSION = '1.2.0';
export const SUPPORTED_PAGE_CHANGE_MAJOR = 1;
export const ERROR_SCHEMA_ID = '/error/2.1.0';

/** A schema title and the versions of it the bundle has; the version policy above applies to each. */
export interface SchemaFamily {
  readonly title: string;
  readonly known: readonly string[];
  readonly newest: string;
  readonly major: number;
}

export const PAGE_CHANGE_FAMILY: SchemaFamily = {
  title: PAGE_CHANGE_SCHEMA_TITLE,
  known: KNOWN_PAGE_CHANGE_VERSIONS,
  newest: NEWEST_PAGE_CHANGE_VERSION,
  major: SUPPORTED_PAGE_CHANGE_MAJOR,
};

/** The legacy `mediawiki.revision-visibility-change` stream's schema (no `.vN` suffix: it predates the rule). */
export const VISIBILITY_CHANGE_FAMILY: SchemaFamily = { title: 'mediawiki/revision/visibility-change', known: ['1.0.0'], newest: '1.0.0', major: 1 };

/** Why a message is not a usable event of its stream; also the `error_type` of its error event. */
export const VALIDATION_ERROR_TYPES = [
  'empty_message',
  'invalid_utf8',
  'invalid_json',
  'too_deep',
  'not_an_object',
  'missing_schema',
  'invalid_schema_uri',
  'unknown_schema',
  'unsupported_major_version',
  'schema_violation',
  'missing_main_slot',
] as const;
export type ValidationErrorType = (typeof VALIDATION_ERROR_TYPES)[number];

/** `strict`: a known version, against itself. `newer_minor`: an unknown 1.x, leniently against the newest known. */
export type ValidationMode = 'strict' | 'newer_minor';

export interface ValidationSuccess<E extends object = PageChangeEvent> {
  readonly ok: true;
  /** The input object itself (never copied or pruned), typed. */
  readonly event: E;
  /** The version `$schema` names, e.g. "1.6.0". */
  readonly declaredVersion: string;
  /** The schema version it was validated against, e.g. "1.2.0". */
  readonly resolvedVersion: string;
  readonly mode: ValidationMode;
}

export interface ValidationFailure {
  readonly ok: false;
  readonly errorType: ValidationErrorType;
  /** Says what failed, where, what was expected and what was found. */
  readonly message: string;
  /** The `$schema` value when it was a string. */
  readonly schemaUri?: string;
  readonly declaredVersion?: string;
  readonly resolvedVersion?: string;
  /** JSON pointer of the failing value, for schema violations. */
  readonly instancePath?: string;
  /** The JSON Schema keyword that failed (type, required, additionalProperties, …). */
  readonly keyword?: string;
}

export type PageChangeValidation = ValidationSuccess | ValidationFailure;

/** A validated message: the decoded text and parsed value travel with the result. */
export type MessageValidation<E extends object = PageChangeEvent> = (ValidationSuccess<E> | ValidationFailure) & {
  /** The message as text, when it was valid UTF-8. */
  readonly text?: string;
  /** The parsed JSON, when it parsed. */
  readonly value?: unknown;
};

export interface SchemaVersion {
  readonly title: string;
  readonly version: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

const PATH_FORM = /^\/((?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+)\/(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/**
 * Parses a `$schema` value: `/<title>/<major>.<minor>.<patch>`, or an absolute URL whose path
 * ends with `/<known title>/<version>` (the title is then matched as a path suffix). Returns
 * undefined when the value has neither form.
 */
export function parseSchemaUri(uri: string): SchemaVersion | undefined {
  // An empty or any fragment names the same document (`…/1.2.0#`), as JSON Schema reads it.
  const bare = uri.replace(/#[\s\S]*$/, '');
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(bare);
  const path = scheme !== null ? bare.slice(scheme[0].length) : bare;
  const match = PATH_FORM.exec(path);
  if (match === null) return undefined;
  let title = match[1]!;
  if (scheme !== null) {
    // A URL's path has a repository prefix (…/jsonschema/mediawiki/page/change/1.2.0).
    const known = [PAGE_CHANGE_SCHEMA_TITLE, 'error', VISIBILITY_CHANGE_FAMILY.title].find(
      (candidate) => title === candidate || title.endsWith(`/${candidate}`),
    );
    if (known !== undefined) title = known;
  }
  const major = Number(match[2]);
  const minor = Number(match[3]);
  const patch = Number(match[4]);
  return { title, version: `${major}.${minor}.${patch}`, major, minor, patch };
}

/**
 * Validates a parsed value as a page change event under the version policy above. Never throws
 * for bad input; the result says why it failed.
 */
export function validatePageChange(value: unknown): PageChangeValidation {
  return validateVersioned<PageChangeEvent>(value, PAGE_CHANGE_FAMILY);
}

/** Validates a parsed value as an event of `family` under the version policy above; never throws for bad input. */
export function validateVersioned<E extends object>(value: unknown, family: SchemaFamily): ValidationSuccess<E> | ValidationFailure {
  const { title, newest } = family;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return failure('not_an_object', `message is not a JSON object: found ${describe(value)}`);
  }
  const schemaUri = (value as Record<string, unknown>)['$schema'];
  if (schemaUri === undefined) {
    return failure('missing_schema', `event has no $schema; expected a string naming ${title}, e.g. "/${title}/${newest}" or a URL ending in that path`);
  }
  if (typeof schemaUri !== 'string') {
    return failure('invalid_schema_uri', `$schema must be a string, found ${describe(schemaUri)}`);
  }
  const parsed = parseSchemaUri(schemaUri);
  if (parsed === undefined) {
    return failure('invalid_schema_uri', `$schema ${quote(schemaUri)} is not a schema URI; expected "/${title}/<major>.<minor>.<patch>" or a URL ending in that path`, { schemaUri });
  }
  if (parsed.title !== title) {
    return failure('unknown_schema', `$schema ${quote(schemaUri)} names schema ${parsed.title} ${parsed.version}; expected ${title}`, { schemaUri, declaredVersion: parsed.version });
  }
  if (parsed.major !== family.major) {
    return failure(
      'unsupported_major_version',
      `$schema ${quote(schemaUri)} has major version ${parsed.major}; expected major ${family.major} (known ${family.known.join(', ')}; other ${family.major}.x versions are read leniently against ${newest})`,
      { schemaUri, declaredVersion: parsed.version },
    );
  }
  const known = family.known.includes(parsed.version);
  const resolvedVersion = known ? parsed.version : newest;
  const mode: ValidationMode = known ? 'strict' : 'newer_minor';
  const schemaId = `/${title}/${resolvedVersion}`;
  const validate = validatorFor(schemaId, mode === 'newer_minor');
  if (validate(value)) {
    const slotProblem = title === PAGE_CHANGE_SCHEMA_TITLE ? mainSlotProblem(value as PageChangeEvent) : undefined;
    if (slotProblem !== undefined) {
      return failure('missing_main_slot', slotProblem, { schemaUri, declaredVersion: parsed.version, resolvedVersion, instancePath: '/revision/content_slots', keyword: 'required' });
    }
    return { ok: true, event: value as E, declaredVersion: parsed.version, resolvedVersion, mode };
  }
  const error = validate.errors![0]!;
  const against = mode === 'strict' ? schemaId : `${schemaId} (lenient: $schema is ${parsed.version})`;
  return failure('schema_violation', `event does not match ${against}: ${explain(error)}`, {
    schemaUri,
    declaredVersion: parsed.version,
    resolvedVersion,
    instancePath: error.instancePath,
    keyword: error.keyword,
  });
}

/**
 * Every MediaWiki revision has a "main" slot (RevisionStore refuses one without), but the schema
 * does not say so: content_slots without it would be stored, and dumped as an empty text.
 * Absent content_slots (a suppressed delete) is fine.
 */
function mainSlotProblem(event: PageChangeEvent): string | undefined {
  const slots = event.revision.content_slots;
  if (slots === undefined || Object.hasOwn(slots, 'main')) return undefined;
  const roles = Object.keys(slots);
  const found = roles.length === 0 ? 'no slots' : `only ${truncate(roles.map((r) => JSON.stringify(r)).join(', '), 120)}`;
  return `at /revision/content_slots: expected a "main" slot (every MediaWiki revision has one), found ${found}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes (UTF-8), parses (JSON) and validates one message value. A BOM is kept, so it makes the
 * JSON invalid rather than being silently dropped.
 */
export function validatePageChangeMessage(bytes: Uint8Array): MessageValidation {
  return validateMessage<PageChangeEvent>(bytes, PAGE_CHANGE_FAMILY);
}

/** validatePageChangeMessage for the events of any family. */
export function validateMessage<E extends object>(bytes: Uint8Array, family: SchemaFamily): MessageValidation<E> {
  if (bytes.byteLength === 0) return failure('empty_message', 'message is empty (0 bytes); expected a JSON object');
  if (!isUtf8(bytes)) {
    return failure('invalid_utf8', `message is not valid UTF-8 (${bytes.byteLength} bytes; ${firstInvalidUtf8(bytes)})`);
  }
  const text = utf8.decode(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return { ...failure('invalid_json', invalidJsonMessage(text, cause as Error)), text };
  }
  const scanned = scanParsed(value);
  if (scanned === 'too_deep') {
    return { ...failure('too_deep', `message nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep; an event has a few`), text };
  }
  // JSON.parse rounds integers beyond ±2^53 (a newer minor's id, say): parse again keeping them
  // exact, as bigint, so that none is stored altered; the schema's integer fields refuse a bigint.
  if (scanned) {
    try {
      value = parseJsonBigInt(text, 'message');
    } catch (cause) {
      return { ...failure('invalid_json', (cause as Error).message), text };
    }
  }
  return { ...validateVersioned<E>(value, family), text, value };
}

/** Characters a reader of the message would not see: control characters, BOMs, zero-width and line separators. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]/g;

/** JSON.parse's complaint, with invisible characters shown as \uXXXX and a leading BOM named. */
function invalidJsonMessage(text: string, cause: Error): string {
  if (text.charCodeAt(0) === 0xfeff) return 'message is not valid JSON: it starts with a byte order mark (U+FEFF, bytes EF BB BF), which JSON does not allow';
  const shown = cause.message.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `message is not valid JSON: ${shown}`;
}

/**
 * Nesting refused: the checks after parsing (the bigint parse, schema validation, the row's
 * projection) recurse, and a stack overflow there would stop every drain on the same message.
 */
export const MAX_JSON_DEPTH = 256;

/** Whether `value` holds an integer beyond ±2^53, or 'too_deep'; iterative, so any depth is safe here. */
function scanParsed(value: unknown): boolean | 'too_deep' {
  let unsafe = false;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v === 'number') {
      if (!unsafe && Number.isInteger(v) && !Number.isSafeInteger(v)) unsafe = true;
    } else if (v !== null && typeof v === 'object') {
      if (depth > MAX_JSON_DEPTH) return 'too_deep';
      for (const item of Array.isArray(v) ? v : Object.values(v)) {
        values.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return unsafe;
}

export type SchemaCheck = { readonly ok: true } | { readonly ok: false; readonly message: string; readonly instancePath: string; readonly keyword: string };

/** Validates a value strictly against one schema of the bundle by `$id` (e.g. "/error/2.1.0"). */
export function validateAgainstSchema(schemaId: string, value: unknown): SchemaCheck {
  const validate = validatorFor(schemaId, false);
  if (validate(value)) return { ok: true };
  const error = validate.errors![0]!;
  return { ok: false, message: `value does not match ${schemaId}: ${explain(error)}`, instancePath: error.instancePath, keyword: error.keyword };
}

export interface CompileReport {
  /** Wall time this call spent compiling (0 when everything was compiled already), in ms. */
  readonly compileMs: number;
  readonly validators: readonly string[];
}

/** Compiles every validator now (each worker pays this once); later calls cost nothing. */
export function compileValidators(): CompileReport {
  const started = performance.now();
  const names: string[] = [];
  for (const version of KNOWN_PAGE_CHANGE_VERSIONS) {
    validatorFor(`/${PAGE_CHANGE_SCHEMA_TITLE}/${version}`, false);
    names.push(`/${PAGE_CHANGE_SCHEMA_TITLE}/${version}`);
  }
  validatorFor(`/${PAGE_CHANGE_SCHEMA_TITLE}/${NEWEST_PAGE_CHANGE_VERSION}`, true);
  names.push(`/${PAGE_CHANGE_SCHEMA_TITLE}/${NEWEST_PAGE_CHANGE_VERSION} (lenient)`);
  validatorFor(ERROR_SCHEMA_ID, false);
  names.push(ERROR_SCHEMA_ID);
  return { compileMs: performance.now() - started, validators: names };
}

let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function validatorFor(schemaId: string, lenient: boolean): ValidateFunction {
  const cacheKey = lenient ? `${schemaId}#lenient` : schemaId;
  let validate = validators.get(cacheKey);
  if (validate !== undefined) return validate;
  const schema = SCHEMA_BUNDLE[schemaId];
  if (schema === undefined) {
    throw new JobError('INTERNAL', `no bundled schema ${schemaId}; expected one of ${Object.keys(SCHEMA_BUNDLE).join(', ')}`);
  }
  if (ajv === undefined) {
    // verbose: errors carry the failing value, for "found …" in messages. No coercion, no
    // defaults, no removal: the caller keeps exactly the object it passed in.
    ajv = new Ajv({ strict: true, allErrors: false, verbose: true });
    addFormats.default(ajv, ['uri-reference']);
    ajv.addFormat('date-time', { type: 'string', validate: isDateTime, compare: ajvDateTime.compare });
  }
  validate = ajv.compile(prepareForCompile(schema, lenient) as Record<string, unknown>);
  validators.set(cacheKey, validate);
  return validate;
}

// A { validate, compare } definition in ajv-formats, typed there as any Format.
const ajvDateTime = fullFormats['date-time'] as { validate: (value: string) => boolean; compare: (a: string, b: string) => number | undefined };

/**
 * ajv-formats' date-time, with `T`, `t` or a space between date and time only: it also takes a
 * tab or any Unicode space there, which the events table (canonicalTimestamp) cannot store, so
 * such an event failed as unstorable after passing its schema.
 */
function isDateTime(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}[Tt ]/.test(value) && ajvDateTime.validate(value);
}

/**
 * A copy ajv can compile: the materialized schemas repeat inlined fragments with the same nested
 * `$id` (ajv rejects an id that resolves to two schemas) and declare the draft-07 meta-schema by
 * its https URI (ajv registers http), and nothing refers to either, so both are dropped. With
 * `lenient`, `additionalProperties: false` is dropped everywhere so newer minors' fields pass.
 */
function prepareForCompile(node: unknown, lenient: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => prepareForCompile(item, lenient));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(node as JsonSchemaDocument)) {
    if (keyword === '$id' || keyword === '$schema') continue;
    if (lenient && keyword === 'additionalProperties' && value === false) continue;
    if (keyword === 'properties' || keyword === 'definitions') {
      // Property names are data, not keywords: a property may be called "$schema".
      out[keyword] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, sub]) => [name, prepareForCompile(sub, lenient)]),
      );
    } else if (keyword === 'examples' || keyword === 'enum' || keyword === 'const' || keyword === 'required') {
      out[keyword] = value;
    } else {
      out[keyword] = prepareForCompile(value, lenient);
    }
  }
  return out;
}

/** "at /revision/rev_id: keyword type: expected integer, found string "12"" and friends. */
function explain(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(root)' : error.instancePath;
  const params = error.params as Record<string, unknown>;
  let expected: string;
  let found: string;
  switch (error.keyword) {
    case 'required':
      expected = `required property ${quote(String(params.missingProperty))}`;
      found = 'no such property';
      break;
    case 'additionalProperties':
      expected = 'only the properties the schema defines';
      found = `unknown property ${quote(String(params.additionalProperty))}`;
      break;
    case 'type':
      // A bigint is an integer JSON.parse would round: it fails `type` though it looks like one.
      expected = String(params.type);
      if (typeof error.data === 'bigint' && /integer|number/.test(expected)) expected = `${expected} within ±${Number.MAX_SAFE_INTEGER} (2^53-1)`;
      found = describe(error.data);
      break;
    case 'enum':
      expected = `one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      found = describe(error.data);
      break;
    case 'format':
      expected = `format ${String(params.format)}`;
      found = describe(error.data);
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      expected = `a number ${String(params.comparison)} ${String(params.limit)}`;
      found = describe(error.data);
      break;
    case 'minLength':
    case 'maxLength':
      expected = `a string of ${error.keyword === 'minLength' ? 'at least' : 'at most'} ${String(params.limit)} characters`;
      found = describe(error.data);
      break;
    default:
      expected = error.message ?? error.keyword;
      found = describe(error.data);
  }
  return `at ${at}: keyword ${error.keyword}: expected ${expected}, found ${found}`;
}

/** A short, exact description of a JSON value for messages ("string "abc"", "array of 2", …). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return `string ${quote(value)}`;
    case 'number':
      // 1e400 parses as Infinity: say what the message holds, not what JSON.parse made of it.
      if (!Number.isFinite(value)) return `a number beyond the double range (magnitude over 1.8e308)`;
      return `${Number.isInteger(value) ? 'integer' : 'number'} ${value}`;
    case 'bigint':
      return `integer ${value}`;
    case 'boolean':
      return `boolean ${value}`;
    case 'object':
      return `object with keys ${truncate(Object.keys(value as object).join(', '), 80) || '(none)'}`;
    default:
      return typeof value;
  }
}

function quote(text: string): string {
  return JSON.stringify(truncate(text, 120));
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never half a surrogate pair: the message would not be valid Unicode, and Java and Python writers mangle it.
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length} chars)`;
}

function failure(errorType: ValidationErrorType, message: string, extra: Partial<ValidationFailure> = {}): ValidationFailure {
  return { ok: false, errorType, message, ...extra };
}

/** Where UTF-8 decoding first fails, for the message: "first invalid byte 0xff at offset 12". */
function firstInvalidUtf8(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) return `first invalid byte 0x${bytes[i]!.toString(16).padStart(2, '0')} at offset ${i}`;
    i += length;
  }
  return 'no invalid byte found';
}

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (Unicode Table 3-7: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const at = (k: number): number => (i + k < bytes.length ? bytes[i + k]! : -1);
  const cont = (b: number, lo = 0x80, hi = 0xbf): boolean => b >= lo && b <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(at(1)) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(at(1), lo, hi) && cont(at(2)) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(at(1), lo, hi) && cont(at(2)) && cont(at(3)) ? 4 : 0;
  }
  return 0;
}
