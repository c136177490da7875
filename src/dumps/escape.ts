// XML escaping for dump text and attributes, and the one rule for characters XML 1.0 forbids.
// Pure functions on strings and UTF-8 bytes; imports only node:buffer.
//
// Forbidden characters (XML 1.0 §2.2 Char: C0 controls other than TAB, LF, CR; U+FFFE; U+FFFF;
// unpaired surrogates) become U+FFFD REPLACEMENT CHARACTER, as MediaWiki's UtfNormal cleanUp does
// for Xml::elementClean. The `bytes` attribute still states the event's content_size, so a text
// with such characters decodes to a string whose UTF-8 length may differ from `bytes`.
// CR is written as `&#13;` (in attributes also TAB and LF as `&#9;`/`&#10;`), because a parser's
// end-of-line and attribute-value normalization would otherwise turn it into LF or a space.

import { isUtf8 } from 'node:buffer';

// Lone surrogates are found by isWellFormed(), not by a regex: a regex without the `u` flag sees
// the halves of a valid pair too, and one with `u` is much slower on long content.
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

const TEXT_SPECIAL = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const TEXT_SPECIAL_ALL = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const ATTRIBUTE_SPECIAL = /[&<>"\t\n\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ATTRIBUTE_SPECIAL_ALL = /[&<>"\t\n\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const LINE_BREAKS = /[\r\n]/g;

const REPLACEMENT = '\uFFFD';

const ENTITY: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

function replaceSpecial(character: string): string {
  return ENTITY[character] ?? REPLACEMENT;
}

function wellFormed(text: string): string {
  const candidate = text as unknown as WellFormedString;
  return candidate.isWellFormed() ? text : candidate.toWellFormed();
}

/** Escapes element content: `& < >` as entities, CR as `&#13;`, forbidden characters as U+FFFD. */
export function escapeText(text: string): string {
  const clean = wellFormed(text);
  return TEXT_SPECIAL.test(clean) ? clean.replace(TEXT_SPECIAL_ALL, replaceSpecial) : clean;
}

/** Escapes an attribute value (double-quoted): also `"`, TAB, LF and CR. */
export function escapeAttribute(text: string): string {
  const clean = wellFormed(text);
  return ATTRIBUTE_SPECIAL.test(clean) ? clean.replace(ATTRIBUTE_SPECIAL_ALL, replaceSpecial) : clean;
}

/**
 * A title as it stands in a multistream index line (`offset:page_id:title`): the text of the page's
 * `<title>` element as written, entities and all, since recompressxml copies what its
 * `<title>(.+)</title>` matches (`AT&amp;T`); a line break becomes U+FFFD, so a page is one line.
 */
export function indexTitle(title: string): string {
  return escapeText(title).replace(LINE_BREAKS, REPLACEMENT);
}

/** A DB-key title (`Foo_bar`) in text form (`Foo bar`), as dumps show titles. */
export function titleText(dbKey: string): string {
  return dbKey.includes('_') ? dbKey.replaceAll('_', ' ') : dbKey;
}

/** Where escaped text goes: strings are encoded as UTF-8, latin1 strings carry one byte per char. */
export interface EscapeSink {
  push(text: string): void;
  pushBytes(bytes: Uint8Array): void;
  /** A string whose char codes are bytes (0–255), written as those bytes. */
  pushLatin1(text: string): void;
}

// In the byte path every character we escape is ASCII, and UTF-8 never uses ASCII bytes inside a
// multi-byte sequence, so the bytes can be scanned and rewritten as latin1 text without decoding.
/** U+FFFE and U+FFFF start with these bytes in UTF-8 (EF BF BE / EF BF BF). */
const NONCHARACTER_PREFIX = Buffer.from([0xef, 0xbf]);

function hasNoncharacter(bytes: Buffer): boolean {
  for (let at = bytes.indexOf(NONCHARACTER_PREFIX); at !== -1; at = bytes.indexOf(NONCHARACTER_PREFIX, at + 1)) {
    const third = bytes[at + 2];
    if (third === 0xbe || third === 0xbf) return true;
  }
  return false;
}

function isControlByte(byte: number): boolean {
  return byte < 0x20 && byte !== 0x09 && byte !== 0x0a;
}

/** Whether any byte of a 32-bit word is below 0x20 (TAB and LF included; a byte from 0x80 never counts). */
const LOW_BYTE = (word: number): number => (word - 0x20202020) & ~word & 0x80808080;

/**
 * Whether any byte is a C0 control other than TAB and LF (CR included: it needs `&#13;`).
 * Scans 16 bytes per step with the "has a byte below 0x20" word test on four words at once, so the
 * common case (none) costs a fraction of a regex over the text; a block where the test fires (TAB,
 * LF or a control) is looked at byte by byte.
 */
export function hasControlByte(bytes: Uint8Array): boolean {
  const length = bytes.length;
  const head = Math.min(length, (4 - (bytes.byteOffset & 3)) & 3);
  for (let i = 0; i < head; i++) if (isControlByte(bytes[i]!)) return true;
  const words = (length - head) >>> 2;
  // Only an aligned start may carry an Int32Array, even an empty one (Int32: no word becomes a double).
  const view = words === 0 ? new Int32Array(0) : new Int32Array(bytes.buffer, bytes.byteOffset + head, words);
  const blocks = words & ~3;
  for (let i = 0; i < blocks; i += 4) {
    if ((LOW_BYTE(view[i]!) | LOW_BYTE(view[i + 1]!) | LOW_BYTE(view[i + 2]!) | LOW_BYTE(view[i + 3]!)) !== 0) {
      const at = head + i * 4;
      for (let j = at; j < at + 16; j++) if (isControlByte(bytes[j]!)) return true;
    }
  }
  for (let i = head + blocks * 4; i < length; i++) if (isControlByte(bytes[i]!)) return true;
  return false;
}

/**
 * Escapes UTF-8 content into `sink` with the same result as `escapeText` on the decoded string.
 * Text without anything to escape goes out as the same bytes; text with `& < >` is rewritten as
 * latin1 text (the bytes unchanged otherwise); invalid UTF-8, control characters, CR and
 * U+FFFE/U+FFFF (all rare) take the string path.
 */
export function pushEscapedUtf8(content: Uint8Array, sink: EscapeSink): void {
  if (content.length === 0) return;
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.length);
  if (!isUtf8(bytes) || hasControlByte(bytes) || hasNoncharacter(bytes)) {
    sink.push(escapeText(bytes.toString('utf8')));
    return;
  }
  const amp = bytes.includes(0x26);
  const lt = bytes.includes(0x3c);
  const gt = bytes.includes(0x3e);
  if (!amp && !lt && !gt) {
    sink.pushBytes(bytes);
    return;
  }
  let text = bytes.toString('latin1');
  if (amp) text = text.replaceAll('&', '&amp;');
  if (lt) text = text.replaceAll('<', '&lt;');
  if (gt) text = text.replaceAll('>', '&gt;');
  sink.pushLatin1(text);
}
