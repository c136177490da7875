// Content bodies for generated revisions: a seeded pseudo-wikitext corpus and a corpus of
// Wikibase-like statements, built once, and compact references (BodyRef) that slice them, so a
// body of any size costs a subarray, not a character loop, and page state stays small. Each
// corpus is also kept JSON-escaped, so an event's content_body goes into the message as a copy
// of escaped bytes instead of a decode, an escape and an encode. Imports core and gen/prng; no I/O.

import { JobError } from '../core/errors.js';
import type { Prng } from './prng.js';

export interface Corpus {
  /** UTF-8 pseudo-wikitext, lines separated by "\n"; read cyclically. */
  readonly wikitext: Buffer;
  /** Byte offsets where lines start. */
  readonly lineStarts: Int32Array;
  /** Wikibase-like statement objects separated by ","; each entry is valid JSON. */
  readonly statements: Buffer;
  /** Byte offsets where entries start (entry i ends one byte before entry i+1 starts). */
  readonly entryStarts: Int32Array;
  readonly wikitextJson: EscapedText;
  readonly statementsJson: EscapedText;
}

/**
 * A text's bytes as they appear inside a JSON string (escaped as JSON.stringify escapes them),
 * with the raw offsets of the bytes that grew, to map raw ranges to escaped ranges.
 */
export interface EscapedText {
  readonly escaped: Buffer;
  /** Raw byte offsets of the bytes JSON escapes (quote, backslash, controls), ascending. */
  readonly specialOffsets: Int32Array;
  /** extraBytes[k]: bytes the escapes of specials 0..k add in total. */
  readonly extraBytes: Int32Array;
}

function escapeText(raw: Buffer): EscapedText {
  const offsets: number[] = [];
  const extra: number[] = [];
  let total = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x22 || b === 0x5c || b < 0x20) {
      // \" \\ \b \t \n \f \r grow by one byte; other controls become \u00XX (five more).
      total += b === 0x22 || b === 0x5c || b === 0x08 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d ? 1 : 5;
      offsets.push(i);
      extra.push(total);
    }
  }
  const escaped = Buffer.from(JSON.stringify(raw.toString('utf8')).slice(1, -1), 'utf8');
  if (escaped.length !== raw.length + total) {
    throw new JobError('INTERNAL', `escaped corpus has ${escaped.length} bytes, expected ${raw.length + total}: the corpus holds something JSON escapes differently`);
  }
  return { escaped, specialOffsets: Int32Array.from(offsets), extraBytes: Int32Array.from(extra) };
}

/** Offset in the escaped text of raw offset `i` (a character boundary). */
function escapedOffset(text: EscapedText, i: number): number {
  const offsets = text.specialOffsets;
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return i + (lo === 0 ? 0 : text.extraBytes[lo - 1]!);
}

function escapedRange(text: EscapedText, start: number, end: number): Buffer {
  return text.escaped.subarray(escapedOffset(text, start), escapedOffset(text, end));
}

function escapeString(text: string): Buffer {
  return Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8');
}

/** A revision slot's content, as a recipe over the corpus. */
export type BodyRef =
  /** `length` bytes of wikitext starting at `start`, wrapping around the corpus end. */
  | { readonly kind: 'wikitext'; readonly start: number; readonly length: number }
  /** `{"type":…,"id":…,…,"claims":{"P1":[` + statements[start, end) + `]},…}`. */
  | { readonly kind: 'entity'; readonly entityType: string; readonly id: string; readonly start: number; readonly end: number }
  | { readonly kind: 'literal'; readonly text: string };

const WORDS = (
  'the of and in to was is for on as by with from at that his an were which are this be also had first one their ' +
  'its new after who they two has her she been other when time during there into school more may years over only ' +
  'year most would world city some where between later three state such used team made known both under film ' +
  'national river village county district station railway church music album song season league party war ' +
  'university history population census region province football election government american british french ' +
  'german species family genus born died early career life works village municipality river mountain island ' +
  'bridge castle museum library company series episode character novel author painter politician footballer'
).split(' ');
const RARE_WORDS = ['Zürich', 'São_Paulo', 'Kraków', 'Ελλάδα', 'Москва', '東京', '北京', 'नमस्ते', 'café', 'naïve', 'Ærøskøbing', 'Đà_Nẵng', '🎉'];
const TEMPLATES = ['Infobox settlement', 'Citation needed', 'Reflist', 'Short description', 'Coord', 'Authority control', 'Commons category'];

function word(prng: Prng): string {
  return prng.chance(0.01) ? prng.pick(RARE_WORDS) : prng.pick(WORDS);
}

function capitalized(prng: Prng): string {
  const w = word(prng);
  return w.charAt(0).toUpperCase() + w.slice(1);
}

function phrase(prng: Prng, min: number, max: number): string {
  const n = prng.range(min, max);
  const out = [capitalized(prng)];
  for (let i = 1; i < n; i++) out.push(word(prng));
  return out.join(' ');
}

function sentence(prng: Prng): string {
  const n = prng.range(6, 20);
  const out: string[] = [capitalized(prng)];
  for (let i = 1; i < n; i++) {
    const x = prng.float();
    if (x < 0.06) out.push(`[[${phrase(prng, 1, 3)}]]`);
    else if (x < 0.09) out.push(`[[${phrase(prng, 1, 2)}|${word(prng)}]]`);
    else if (x < 0.1) out.push(`'''${word(prng)}'''`);
    else if (x < 0.11) out.push(`''${word(prng)}''`);
    else out.push(word(prng));
  }
  let text = out.join(' ') + '.';
  if (prng.chance(0.12)) {
    text += `<ref>{{cite web |url=https://example.org/${word(prng)}/${prng.int(100000)} |title=${phrase(prng, 2, 5)} |date=20${prng.range(10, 25)}-0${prng.range(1, 9)}-1${prng.range(0, 9)}}}</ref>`;
  }
  return text;
}

function wikitextLine(prng: Prng): string {
  const x = prng.float();
  if (x < 0.55) {
    const n = prng.range(2, 7);
    const sentences: string[] = [];
    for (let i = 0; i < n; i++) sentences.push(sentence(prng));
    return sentences.join(' ');
  }
  if (x < 0.65) return '';
  if (x < 0.73) {
    const level = prng.chance(0.7) ? '==' : '===';
    return `${level} ${phrase(prng, 1, 4)} ${level}`;
  }
  if (x < 0.86) return `* ${phrase(prng, 3, 12)}`;
  if (x < 0.92) return `{{${prng.pick(TEMPLATES)}|${word(prng)}=${phrase(prng, 1, 4)}}}`;
  if (x < 0.96) return `[[Category:${phrase(prng, 1, 4)}]]`;
  return `{| class="wikitable"\n|-\n| ${phrase(prng, 1, 3)} || ${prng.int(10000)}\n|}`;
}

function statement(prng: Prng, index: number): string {
  const property = `P${prng.range(1, 12000)}`;
  const id = `Q${prng.range(1, 130000000)}$${prng.uuid().toUpperCase()}`;
  let datavalue: string;
  let datatype: string;
  const x = prng.float();
  if (x < 0.5) {
    const numericId = prng.range(1, 130000000);
    datavalue = `{"value":{"entity-type":"item","numeric-id":${numericId},"id":"Q${numericId}"},"type":"wikibase-entityid"}`;
    datatype = 'wikibase-item';
  } else if (x < 0.8) {
    datavalue = `{"value":"${phrase(prng, 1, 6)}","type":"string"}`;
    datatype = 'string';
  } else {
    datavalue = `{"value":{"time":"+${prng.range(1000, 2025)}-00-00T00:00:00Z","timezone":0,"before":0,"after":0,"precision":9,"calendarmodel":"http://www.wikidata.org/entity/Q1985727"},"type":"time"}`;
    datatype = 'time';
  }
  return `{"mainsnak":{"snaktype":"value","property":"${property}","datavalue":${datavalue},"datatype":"${datatype}"},"type":"statement","id":"${id}","rank":"${index % 17 === 0 ? 'preferred' : 'normal'}"}`;
}

function linesStarts(buffer: Buffer): Int32Array {
  const starts: number[] = [0];
  for (let i = buffer.indexOf(0x0a); i !== -1 && i < buffer.length - 1; i = buffer.indexOf(0x0a, i + 1)) starts.push(i + 1);
  return Int32Array.from(starts);
}

/** Builds both corpora from the PRNG: about `wikitextBytes` of wikitext and `statementBytes` of statements. */
export function buildCorpus(prng: Prng, wikitextBytes = 4 * 1024 * 1024, statementBytes = 2 * 1024 * 1024): Corpus {
  const lines: string[] = [];
  let size = 0;
  while (size < wikitextBytes) {
    const line = wikitextLine(prng);
    lines.push(line);
    size += line.length + 1;
  }
  const wikitext = Buffer.from(lines.join('\n') + '\n', 'utf8');
  const entries: string[] = [];
  const entryStarts: number[] = [];
  size = 0;
  while (size < statementBytes) {
    const entry = statement(prng, entries.length);
    entryStarts.push(size);
    entries.push(entry);
    // Byte offsets: entries contain commas of their own, so the starts are counted, not searched.
    size += Buffer.byteLength(entry, 'utf8') + 1;
  }
  const statements = Buffer.from(entries.join(','), 'utf8');
  return {
    wikitext,
    lineStarts: linesStarts(wikitext),
    statements,
    entryStarts: Int32Array.from(entryStarts),
    wikitextJson: escapeText(wikitext),
    statementsJson: escapeText(statements),
  };
}

function isContinuationByte(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/** Wikitext of about `targetBytes` (exact up to the end of a character), starting at a line start. */
export function wikitextBody(corpus: Corpus, prng: Prng, targetBytes: number): BodyRef {
  const total = corpus.wikitext.length;
  const start = corpus.lineStarts[prng.int(corpus.lineStarts.length)]!;
  let length = Math.max(0, Math.round(targetBytes));
  // End on a character boundary (the corpus itself starts and ends on one).
  while (length > 0 && isContinuationByte(corpus.wikitext[(start + length) % total]!)) length++;
  return { kind: 'wikitext', start, length };
}

function entityPrefix(entityType: string, id: string): string {
  return `{"type":"${entityType}","id":"${id}","labels":{"en":{"language":"en","value":"${id}"}},"descriptions":{},"aliases":{},"claims":{"P31":[`;
}
const ENTITY_SUFFIX = ']},"sitelinks":{}}';

/** A Wikibase-like JSON entity of about `targetBytes`, capped by the statements corpus size. */
export function entityBody(corpus: Corpus, prng: Prng, entityType: string, id: string, targetBytes: number): BodyRef {
  const starts = corpus.entryStarts;
  const overhead = entityPrefix(entityType, id).length + ENTITY_SUFFIX.length;
  const want = Math.max(1, targetBytes - overhead);
  let first = prng.int(starts.length);
  // Move the first entry back when the rest of the corpus is too short.
  while (first > 0 && corpus.statements.length - starts[first]! < want) first = Math.max(0, first - 1 - (first >> 1));
  const start = starts[first]!;
  let lo = first + 1;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! - start < want) lo = mid + 1;
    else hi = mid;
  }
  const end = lo >= starts.length ? corpus.statements.length : starts[lo]! - 1;
  return { kind: 'entity', entityType, id, start, end };
}

/** The body as UTF-8 bytes (a view into the corpus when it can be). */
export function bodyBytes(corpus: Corpus, ref: BodyRef): Buffer {
  switch (ref.kind) {
    case 'literal':
      return Buffer.from(ref.text, 'utf8');
    case 'entity':
      return Buffer.concat([
        Buffer.from(entityPrefix(ref.entityType, ref.id), 'utf8'),
        corpus.statements.subarray(ref.start, ref.end),
        Buffer.from(ENTITY_SUFFIX, 'utf8'),
      ]);
    case 'wikitext': {
      const total = corpus.wikitext.length;
      if (ref.start + ref.length <= total) return corpus.wikitext.subarray(ref.start, ref.start + ref.length);
      const parts: Buffer[] = [corpus.wikitext.subarray(ref.start)];
      let remaining = ref.length - (total - ref.start);
      while (remaining > total) {
        parts.push(corpus.wikitext);
        remaining -= total;
      }
      parts.push(corpus.wikitext.subarray(0, remaining));
      return Buffer.concat(parts);
    }
  }
}

/**
 * The body as it appears between the quotes of a JSON string, in pieces to concatenate: exactly
 * JSON.stringify(body).slice(1, -1) in UTF-8, without materializing the body as a string.
 */
export function escapedBodyPieces(corpus: Corpus, ref: BodyRef): Buffer[] {
  switch (ref.kind) {
    case 'literal':
      return [escapeString(ref.text)];
    case 'entity':
      return [
        escapeString(entityPrefix(ref.entityType, ref.id)),
        escapedRange(corpus.statementsJson, ref.start, ref.end),
        escapeString(ENTITY_SUFFIX),
      ];
    case 'wikitext': {
      const text = corpus.wikitextJson;
      const total = corpus.wikitext.length;
      if (ref.start + ref.length <= total) return [escapedRange(text, ref.start, ref.start + ref.length)];
      const parts: Buffer[] = [escapedRange(text, ref.start, total)];
      let remaining = ref.length - (total - ref.start);
      while (remaining > total) {
        parts.push(text.escaped);
        remaining -= total;
      }
      parts.push(escapedRange(text, 0, remaining));
      return parts;
    }
  }
}
