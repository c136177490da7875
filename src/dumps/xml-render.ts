// Renders export-0.11 XML text: the document header with <siteinfo>, page open/close, and one
// <revision> in the element order and forms of Wikimedia's Dumps 2.0 writer (refinery-source
// mediawikidumper Revision.getXML / Page.getXML / SiteInfo.getXML; notes §3.5). Pure functions on
// records; imports only node:net, escape.ts, site-info types and records types.
//
// Where Dumps 2.0 output would not validate against export-0.11.xsd we write the valid form:
// - a visible but empty comment is `<comment />` (the XSD requires the element; Dumps 2.0 and
//   MediaWiki omit it);
// - a missing main-slot origin is the revision's own id (Dumps 2.0 writes -1, not a positiveInteger);
// - a missing format is the model's default format (Dumps 2.0 writes "error-no-format");
// - a negative user id ("unknown" in the history table) renders as an unknown editor.
// Empty content is `<text bytes="0" sha1="…" />` as MediaWiki writes it (Dumps 2.0 leaves the sha1
// out, and mwxml then drops the main slot of a revision with other slots). `<ip>` is for IP
// addresses only, as MediaWiki decides it (Dumps 2.0 writes any name without a user id as one).
// The one form kept although the XSD rejects it is `<text bytes="-1" deleted="deleted" />` for hidden
// content (the issue prescribes it; `bytes` is nonNegativeInteger in the XSD).

import { isIP } from 'node:net';
import { escapeAttribute, escapeText, pushEscapedUtf8, titleText, type EscapeSink } from './escape.js';
import type { DumpRevisionRow, DumpSlot } from './records.js';
import type { SiteInfo } from './site-info.js';

export const EXPORT_NAMESPACE = 'http://www.mediawiki.org/xml/export-0.11/';

/** What a revision carries: `full` writes content, `stub` writes `<text>` without it (stub dumps). */
export type RevisionMode = 'full' | 'stub';

export const PAGE_CLOSE = '  </page>\n';
export const DOCUMENT_CLOSE = '</mediawiki>\n';

/** The `<generator>` text: fixed per release, never a time, so reruns are byte-identical. */
export function generatorText(version: string): string {
  return `mwlake ${version}`;
}

/** `<mediawiki …>` and the `<siteinfo>` block. */
export function renderDocumentOpen(site: SiteInfo, generator: string): string {
  let out =
    `<mediawiki xmlns="${EXPORT_NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
    `xsi:schemaLocation="${EXPORT_NAMESPACE} http://www.mediawiki.org/xml/export-0.11.xsd" version="0.11" xml:lang="${escapeAttribute(site.languageCode)}">\n` +
    '  <siteinfo>\n' +
    `    <sitename>${escapeText(site.siteName)}</sitename>\n` +
    `    <dbname>${escapeText(site.dbName)}</dbname>\n` +
    `    <base>${escapeText(site.base)}</base>\n` +
    `    <generator>${escapeText(generator)}</generator>\n` +
    `    <case>${site.caseSetting}</case>\n` +
    '    <namespaces>\n';
  for (const ns of site.namespaces) {
    const open = `      <namespace key="${ns.key}" case="${ns.caseSetting}"`;
    out += ns.name === '' ? `${open} />\n` : `${open}>${escapeText(ns.name)}</namespace>\n`;
  }
  return out + '    </namespaces>\n  </siteinfo>\n';
}

/** NS_USER and NS_USER_TALK: the namespaces whose name MediaWiki may give in a gendered form. */
const GENDERED_NAMESPACES: ReadonlySet<number> = new Set([2, 3]);

/**
 * A page's `<title>` text (spaces, not underscores), prefixed with its namespace's name as
 * `<siteinfo>` lists it, as MediaWiki's XmlDumpWriter::canonicalTitle writes it. Events carry
 * titles as MediaWiki formats them, with a User page's namespace in its owner's gendered form
 * (`Benutzerin:Anna` on dewiki), which siteinfo does not list: readers that split titles by the
 * listed names would not find the namespace.
 */
export function pageTitleText(row: DumpRevisionRow, site: SiteInfo): string {
  return withSiteNamespaceName(titleText(row.pageTitle), row.pageNamespaceId, site);
}

/**
 * The `<redirect title>` text: canonicalTitle too in MediaWiki, so a target in a gendered form
 * takes the siteinfo name of its namespace. Without the target's namespace (rows merged before it
 * was kept), a target known to be in the page's own namespace (it has the page's own prefix,
 * which MediaWiki parsed into that namespace) is renamed; any other keeps the form the event gave.
 */
export function redirectTitleText(row: DumpRevisionRow, site: SiteInfo): string {
  const target = titleText(row.pageRedirectTarget ?? '');
  const namespaceId = row.pageRedirectTargetNamespaceId;
  if (namespaceId !== undefined && namespaceId !== null) return withSiteNamespaceName(target, namespaceId, site);
  if (!GENDERED_NAMESPACES.has(row.pageNamespaceId)) return target;
  const title = titleText(row.pageTitle);
  const colon = title.indexOf(':');
  if (colon < 0 || !target.startsWith(title.slice(0, colon + 1))) return target;
  return withSiteNamespaceName(target, row.pageNamespaceId, site);
}

/** `text` (a title in namespace `namespaceId`) with its prefix replaced by the siteinfo name, for User and User talk. */
function withSiteNamespaceName(text: string, namespaceId: number, site: SiteInfo): string {
  if (!GENDERED_NAMESPACES.has(namespaceId)) return text;
  const colon = text.indexOf(':');
  const name = site.namespaces.find((ns) => ns.key === namespaceId)?.name;
  if (colon < 0 || name === undefined || name === '' || text.slice(0, colon) === name) return text;
  return `${name}${text.slice(colon)}`;
}

/** `<page>` with title, ns, id and the redirect target if any. */
export function renderPageOpen(row: DumpRevisionRow, site: SiteInfo): string {
  let out = `  <page>\n    <title>${escapeText(pageTitleText(row, site))}</title>\n    <ns>${row.pageNamespaceId}</ns>\n    <id>${row.pageId}</id>\n`;
  const target = row.pageRedirectTarget;
  if (target !== null && target !== '') out += `    <redirect title="${escapeAttribute(redirectTitleText(row, site))}" />\n`;
  return out;
}

/** `2024-03-01T10:00:00Z`: UTC, to the second (MediaWiki's TS_ISO_8601). */
export function formatTimestamp(timestampMs: number): string {
  return new Date(Math.floor(timestampMs / 1000) * 1000).toISOString().slice(0, 19) + 'Z';
}

/** MediaWiki's default serialization format per content model, for rows that lack a format. */
const DEFAULT_FORMAT: Readonly<Record<string, string>> = {
  wikitext: 'text/x-wiki',
  javascript: 'text/javascript',
  css: 'text/css',
  'sanitized-css': 'text/css',
  json: 'application/json',
  text: 'text/plain',
  Scribunto: 'text/plain',
  'wikibase-item': 'application/json',
  'wikibase-property': 'application/json',
  'wikibase-lexeme': 'application/json',
  'wikibase-mediainfo': 'application/json',
  'flow-board': 'application/json',
  'proofread-page': 'text/x-wiki',
  'proofread-index': 'text/x-wiki',
  // JSON content of extensions deployed on Wikimedia wikis (each a JsonContent or JsonConfig handler).
  GadgetDefinition: 'application/json',
  JsonSchema: 'application/json',
  'Tabular.JsonConfig': 'application/json',
  'Map.JsonConfig': 'application/json',
  'Chart.JsonConfig': 'application/json',
  MassMessageListContent: 'application/json',
  NewsletterContent: 'application/json',
  EntitySchema: 'application/json',
  'translate-messagebundle': 'application/json',
  Campaign: 'application/json',
};

const FALLBACK_MODEL = 'error-no-model';
const FALLBACK_FORMAT = 'application/octet-stream';

function modelOf(slot: DumpSlot | undefined): string {
  const model = slot?.contentModel;
  return model === null || model === undefined || model === '' ? FALLBACK_MODEL : model;
}

function formatOf(slot: DumpSlot | undefined, model: string): string {
  const format = slot?.contentFormat;
  if (format !== null && format !== undefined && format !== '') return format;
  return DEFAULT_FORMAT[model] ?? FALLBACK_FORMAT;
}

function originOf(slot: DumpSlot | undefined, revisionId: number): number {
  const origin = slot?.originRevisionId;
  return origin !== null && origin !== undefined && origin > 0 ? origin : revisionId;
}

/** Receives rendered XML in pieces, so long content is encoded once and never copied into a bigger string. */
export type XmlSink = EscapeSink;

/**
 * `content_size` as stated; when an event left it out (it is optional), the body's UTF-8 length;
 * undefined when neither is known, which is not empty content.
 */
function sizeOf(slot: DumpSlot): number | undefined {
  const stated = slot.contentSizeBytes;
  if (stated !== null && stated !== undefined) return stated;
  const body = slot.contentBody;
  if (typeof body === 'string') return Buffer.byteLength(body, 'utf8');
  return body?.byteLength;
}

/** Base-36 SHA-1 of empty content, for an empty slot whose event left the sha1 out. */
const EMPTY_CONTENT_SHA1 = 'phoiac9h4m842xq45sp7s6u21eteeq1';

function pushTextElement(sink: XmlSink, indent: string, slot: DumpSlot | undefined, mode: RevisionMode): void {
  // No slot: a revision without a main slot has empty main content.
  const size = slot === undefined ? 0 : sizeOf(slot);
  const body = slot?.contentBody;
  // A body is written even when the event stated a size of 0: the size may be wrong, the text is not.
  const hasBody = mode === 'full' && body !== null && body !== undefined && (typeof body === 'string' ? body !== '' : body.byteLength > 0);
  if (size === undefined) {
    // Neither a size nor a body: content not included, of unknown size (bytes is optional), not
    // the empty content that bytes="0" would say.
    sink.push(`${indent}<text sha1="${escapeAttribute(slot?.contentSha1 ?? '')}" />\n`);
    return;
  }
  if (size <= 0 && !hasBody) {
    // With its sha1, as MediaWiki writes it: mwxml drops a main slot whose <text> has no sha1
    // when <content> follows.
    sink.push(`${indent}<text bytes="0" sha1="${escapeAttribute(slot?.contentSha1 || EMPTY_CONTENT_SHA1)}" />\n`);
    return;
  }
  const sha1 = escapeAttribute(slot?.contentSha1 ?? '');
  // No body (the source has none): MediaWiki's form for content not included, as in stubs; an
  // element with no text would say the content is empty.
  if (mode === 'stub' || body === null || body === undefined) {
    sink.push(`${indent}<text bytes="${size}" sha1="${sha1}" />\n`);
    return;
  }
  sink.push(`${indent}<text bytes="${size}" sha1="${sha1}" xml:space="preserve">`);
  if (typeof body === 'string') {
    if (body !== '') sink.push(escapeText(body));
  } else if (body !== null && body !== undefined) {
    pushEscapedUtf8(body, sink);
  }
  sink.push('</text>\n');
}

function contributorElement(row: DumpRevisionRow): string {
  const text = row.userText;
  const id = row.userId;
  // Hidden, unknown (no name) and negative ids all render as Wikimedia renders an unknown editor.
  if (!row.userIsVisible || text === null || text === '' || (id !== null && id < 0)) return '      <contributor deleted="deleted" />\n';
  // MediaWiki's XmlDumpWriter::writeContributor: <ip> only for an IP address without a user id. A
  // name without an id (an imported edit's `imported>Name`: events leave user_id out) is
  // <username> with id 0, not an anonymous edit.
  if ((id === null || id === 0) && isIP(text) !== 0) return `      <contributor>\n        <ip>${escapeText(text)}</ip>\n      </contributor>\n`;
  return `      <contributor>\n        <username>${escapeText(text)}</username>\n        <id>${id ?? 0}</id>\n      </contributor>\n`;
}

function commentElement(row: DumpRevisionRow): string {
  if (!row.revisionCommentIsVisible) return '      <comment deleted="deleted" />\n';
  const comment = row.revisionComment;
  if (comment === null || comment === '') return '      <comment />\n';
  return `      <comment>${escapeText(comment)}</comment>\n`;
}

function compareRoles(a: DumpSlot, b: DumpSlot): number {
  return a.role < b.role ? -1 : a.role > b.role ? 1 : 0;
}

/** Pushes one `<revision>` element, redacted by the row's visibility flags, into `sink`. */
export function renderRevision(row: DumpRevisionRow, mode: RevisionMode, sink: XmlSink): void {
  let main: DumpSlot | undefined;
  let others: DumpSlot[] | undefined;
  for (const slot of row.slots) {
    if (slot.role === 'main') main = slot;
    else (others ??= []).push(slot);
  }
  let out = `    <revision>\n      <id>${row.revisionId}</id>\n`;
  const parent = row.revisionParentId;
  if (parent !== null && parent > 0) out += `      <parentid>${parent}</parentid>\n`;
  out += `      <timestamp>${formatTimestamp(row.revisionTimestampMs)}</timestamp>\n`;
  out += contributorElement(row);
  if (row.revisionIsMinorEdit) out += '      <minor />\n';
  out += commentElement(row);
  const model = modelOf(main);
  out += `      <origin>${originOf(main, row.revisionId)}</origin>\n      <model>${escapeText(model)}</model>\n      <format>${escapeText(formatOf(main, model))}</format>\n`;
  if (!row.revisionContentIsVisible) {
    // Dumps 2.0: hidden content hides every slot, so no <content> elements either.
    sink.push(out + '      <text bytes="-1" deleted="deleted" />\n      <sha1 />\n    </revision>\n');
    return;
  }
  sink.push(out);
  pushTextElement(sink, '      ', main, mode);
  if (others !== undefined) {
    others.sort(compareRoles);
    for (const slot of others) {
      const slotModel = modelOf(slot);
      sink.push(
        `      <content>\n        <role>${escapeText(slot.role)}</role>\n        <origin>${originOf(slot, row.revisionId)}</origin>\n` +
          `        <model>${escapeText(slotModel)}</model>\n        <format>${escapeText(formatOf(slot, slotModel))}</format>\n`,
      );
      pushTextElement(sink, '        ', slot, mode);
      sink.push('      </content>\n');
    }
  }
  const sha1 = row.revisionSha1;
  sink.push(sha1 === null || sha1 === '' ? '      <sha1 />\n    </revision>\n' : `      <sha1>${escapeText(sha1)}</sha1>\n    </revision>\n`);
}

/** One `<revision>` element as a string (tests and small outputs). */
export function renderRevisionText(row: DumpRevisionRow, mode: RevisionMode): string {
  const chunk: Buffer[] = [];
  renderRevision(row, mode, {
    push: (text) => chunk.push(Buffer.from(text, 'utf8')),
    pushBytes: (bytes) => chunk.push(Buffer.from(bytes)),
    pushLatin1: (text) => chunk.push(Buffer.from(text, 'latin1')),
  });
  return Buffer.concat(chunk).toString('utf8');
}
