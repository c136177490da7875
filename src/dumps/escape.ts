// XML escaping for dump text and attributes, and the one rule for characters XML 1.0 forbids.
// Pure string functions; imports nothing.
//
// Forbidden characters (XML 1.0 §2.2 Char: C0 controls other than TAB, LF, CR; U+FFFE; U+FFFF;
// unpaired surrogates) become U+FFFD REPLACEMENT CHARACTER, as MediaWiki's UtfNormal cleanUp does
// for Xml::elementClean. The `bytes` attribute still states the event's content_size, so a text
// with such characters decodes to a string whose UTF-8 length may differ from `bytes`.
// CR is written as `&#13;` (in attributes also TAB and LF as `&#9;`/`&#10;`), because a parser's
// end-of-line and attribute-value normalization would otherwise turn it into LF or a space.

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
 * A title as it stands in a multistream index line (`offset:page_id:title`, not XML): forbidden
 * characters and line breaks become U+FFFD so that one page is always one line.
 */
export function indexTitle(title: string): string {
  const clean = wellFormed(title).replace(LINE_BREAKS, REPLACEMENT);
  return TEXT_SPECIAL.test(clean) ? clean.replace(TEXT_SPECIAL_ALL, (c) => (c === '&' || c === '<' || c === '>' ? c : REPLACEMENT)) : clean;
}

/** A DB-key title (`Foo_bar`) in text form (`Foo bar`), as dumps show titles. */
export function titleText(dbKey: string): string {
  return dbKey.includes('_') ? dbKey.replaceAll('_', ' ') : dbKey;
}
