// The synthetic mediawiki.page_content_change.v1 stream: the logical history (gen/history.ts)
// delivered the way production delivers it: two datacenter topics with switchovers (events of one
// page may land on both, out of order), per-page order within a topic, at-least-once replays
// (duplicates), canary events, late events (dt days before meta.dt, T409105) and, with a bad
// fraction, malformed messages; with a visibility fraction, also the legacy visibility change
// stream's events of older revisions. Every record says what it is, so tests can count exactly.
// Pure and deterministic: seeded PRNG streams, no I/O, no clock. Imports events and gen only.

import { JobError } from '../core/errors.js';
import {
  MAX_EVENT_BYTES,
  PAGE_CONTENT_CHANGE_STREAM,
  messageKeyOf,
  topicOf,
  type Datacenter,
  type PageChangeKind,
} from '../events/page-change.js';
import { SCHEMA_BUNDLE } from '../events/schema-bundle.js';
import type { ValidationErrorType } from '../events/validate.js';
import { BAD_KIND_ERROR_TYPES, BAD_KINDS, makeBadMessage, type BadKind } from './bad-messages.js';
import { buildCorpus } from './corpus.js';
import { encodeEvent, History, type HistoryEvent } from './history.js';
import { legacyVisibilityEvent } from './visibility-change.js';
import { REVISION_VISIBILITY_CHANGE_STREAM } from '../events/visibility-change.js';
import { Prng } from './prng.js';
import { DEFAULT_WIKIS, isWikiId, wikiProfile } from './wikis.js';

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;

export interface GeneratorOptions {
  readonly seed: number | string;
  /** Start of the generated period (history time), ms since the epoch. */
  readonly startMs: number;
  /** Wiki ids (DB names); default enwiki, dewiki, commonswiki, wikidatawiki. */
  readonly wikis?: readonly string[];
  /** Exactly this many records in total (all labels). Give this or `days`. */
  readonly events?: number;
  /** Generate history for this many days, then deliver what is pending. */
  readonly days?: number;
  /** History events per day across all wikis (default 100,000); with `events`, sets the time span. */
  readonly eventsPerDay?: number;
  /** Fraction of records that are malformed (default 0). */
  readonly badFraction?: number;
  /** Fraction of records that are at-least-once replays (default 0.01). */
  readonly duplicateFraction?: number;
  /** Fraction of creates and edits delivered 1–7 days late (default 0.005). */
  readonly lateFraction?: number;
  /** A canary event per topic every this many ms of stream time (default 15 minutes). */
  readonly canaryIntervalMs?: number;
  /** Datacenter switchovers spread over the span (default 2). */
  readonly switchovers?: number;
  /** Median size of a slot's content, bytes (default 3,500 → events' median about 4 KB). */
  readonly medianContentBytes?: number;
  /** Largest content of a revision, bytes (default 9.5 MiB, under Kafka's 10 MiB). */
  readonly maxContentBytes?: number;
  /** Chance that a page's content is 5 MiB or more (default 0.00003). */
  readonly hugePageProbability?: number;
  /**
   * The stream (default mediawiki.page_content_change.v1): meta.stream, and the topics
   * `eqiad.<stream>` and `codfw.<stream>`. Tests use their own to keep off shared topics.
   */
  readonly stream?: string;
  /**
   * Chance, per history step, of a legacy visibility change of an older revision (default 0: none).
   * Those go to `eqiad.<visibilityStream>` or `codfw.<visibilityStream>` and draw from their own
   * PRNG: a `days` run delivers the same page change and bad records with or without them.
   */
  readonly visibilityFraction?: number;
  /** The legacy stream (default mediawiki.revision-visibility-change). */
  readonly visibilityStream?: string;
}

/** What a record is an event of: a page change kind, or the legacy stream's visibility change. */
export type GeneratedKind = PageChangeKind | typeof LEGACY_VISIBILITY_KIND;
export const LEGACY_VISIBILITY_KIND = 'revision_visibility_change';

export type RecordLabel = 'good' | 'duplicate' | 'canary' | 'late' | 'bad';
export const RECORD_LABELS: readonly RecordLabel[] = ['good', 'duplicate', 'canary', 'late', 'bad'];

/** One Kafka message the generator produced, with what it is. */
export interface GeneratedRecord {
  /** Position in the output, 0-based. */
  readonly seq: number;
  readonly label: RecordLabel;
  readonly datacenter: Datacenter;
  readonly topic: string;
  /** `{"wiki_id":…,"page_id":…}` as JSON. */
  readonly key: string;
  /** The message value: JSON without raw newlines (bad records: whatever their kind says). */
  readonly value: Buffer;
  /** Kafka message timestamp, ms: meta.dt of the event (a duplicate keeps its original's). */
  readonly timestampMs: number;
  /** For event records (everything but bad). */
  readonly kind?: GeneratedKind;
  readonly wikiId?: string;
  readonly pageId?: number;
  readonly revId?: number;
  /** meta.id: a duplicate repeats its original's. */
  readonly eventId?: string;
  /** Position of the event in the logical history; absent for canary and bad records. */
  readonly historySeq?: number;
  /** Sum of content_body bytes in the event. */
  readonly contentBytes: number;
  /** Delivered after a later event (by history) of the same page. */
  readonly outOfOrder: boolean;
  /** For duplicates: the seq of the record it repeats. */
  readonly duplicateOf?: number;
  readonly badKind?: BadKind;
  /** For bad records: the error type validatePageChangeMessage reports. */
  readonly expectedErrorType?: ValidationErrorType;
}

interface Pending {
  readonly deliverMs: number;
  readonly order: number;
  readonly record: Omit<GeneratedRecord, 'seq' | 'outOfOrder' | 'duplicateOf'>;
  readonly duplicateOf?: number;
}

/** Min-heap on (deliverMs, order): the delivery queue. */
class DeliveryQueue {
  private readonly items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Pending | undefined {
    return this.items[0];
  }

  private less(a: Pending, b: Pending): boolean {
    return a.deliverMs < b.deliverMs || (a.deliverMs === b.deliverMs && a.order < b.order);
  }

  push(item: Pending): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.less(items[left]!, items[smallest]!)) smallest = left;
      if (right < items.length && this.less(items[right]!, items[smallest]!)) smallest = right;
      if (smallest === i) break;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
    return top;
  }
}

interface Switchover {
  readonly atMs: number;
  readonly windowMs: number;
  readonly from: Datacenter;
  readonly to: Datacenter;
}

function isoMillis(ms: number): string {
  return new Date(ms).toISOString();
}

/** Throws USAGE for options generateRecords would refuse; callers check before any side effect. */
export function checkOptions(options: GeneratorOptions): void {
  const bad = (message: string): never => {
    throw new JobError('USAGE', message, { context: { options } });
  };
  if ((options.events === undefined) === (options.days === undefined)) bad('give exactly one of events or days');
  if (options.events !== undefined && (!Number.isSafeInteger(options.events) || options.events < 0)) {
    bad(`events must be a non-negative integer, found ${options.events}`);
  }
  if (options.days !== undefined && !(options.days > 0)) bad(`days must be a positive number, found ${options.days}`);
  if (!Number.isFinite(options.startMs)) bad(`startMs must be a finite number, found ${options.startMs}`);
  const fraction = (name: string, value: number | undefined, max: number): void => {
    if (value !== undefined && !(value >= 0 && value <= max)) bad(`${name} must be between 0 and ${max}, found ${value}`);
  };
  fraction('badFraction', options.badFraction, 1);
  fraction('duplicateFraction', options.duplicateFraction, 0.5);
  fraction('lateFraction', options.lateFraction, 0.5);
  fraction('hugePageProbability', options.hugePageProbability, 1);
  if (options.eventsPerDay !== undefined && !(options.eventsPerDay > 0)) bad(`eventsPerDay must be positive, found ${options.eventsPerDay}`);
  for (const wiki of options.wikis ?? []) if (!isWikiId(wiki)) bad(`wiki id ${JSON.stringify(wiki)} is not a database name like "enwiki"`);
  if (options.wikis !== undefined && options.wikis.length === 0) bad('wikis must name at least one wiki');
  if (options.stream !== undefined && !/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/.test(options.stream)) {
    bad(`stream ${JSON.stringify(options.stream)} is not a stream name like mediawiki.page_content_change.v1`);
  }
  fraction('visibilityFraction', options.visibilityFraction, 0.5);
  // The legacy stream's name has hyphens (it predates the naming rules).
  if (options.visibilityStream !== undefined && !/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/.test(options.visibilityStream)) {
    bad(`visibilityStream ${JSON.stringify(options.visibilityStream)} is not a stream name like mediawiki.revision-visibility-change`);
  }
  const max = options.maxContentBytes;
  if (max !== undefined && !(max >= 1024 && max <= 9.5 * MIB)) bad(`maxContentBytes must be between 1024 and ${9.5 * MIB}, found ${max}`);
}

/** Replays are bursts of 1–15 consecutive records of one topic (a producer retrying a batch). */
const MAX_REPLAY_BURST = 15;
const TEMPLATE_MAX_BYTES = 64 * 1024;

/**
 * The records of a generated stream, in delivery order. The same options give the same records,
 * byte for byte. Records are produced lazily; memory stays proportional to the pages touched.
 */
export function* generateRecords(options: GeneratorOptions): Generator<GeneratedRecord, void, undefined> {
  checkOptions(options);
  const root = new Prng(options.seed, 'mwlake-gen');
  const corpusPrng = root.fork('corpus');
  const historyPrng = root.fork('history');
  const deliveryPrng = root.fork('delivery');
  const badPrng = root.fork('bad');
  const canaryPrng = root.fork('canary');
  const visibilityPrng = root.fork('visibility');

  const wikiIds = options.wikis ?? DEFAULT_WIKIS;
  const stream = options.stream ?? PAGE_CONTENT_CHANGE_STREAM;
  const eventsPerDay = options.eventsPerDay ?? 100_000;
  const badFraction = options.badFraction ?? 0;
  const duplicateFraction = options.duplicateFraction ?? 0.01;
  const lateFraction = options.lateFraction ?? 0.005;
  const canaryIntervalMs = options.canaryIntervalMs ?? 15 * 60_000;
  const visibilityFraction = options.visibilityFraction ?? 0;
  const visibilityStream = options.visibilityStream ?? REVISION_VISIBILITY_CHANGE_STREAM;
  const maxContentBytes = options.maxContentBytes ?? 9.5 * MIB;
  const total = options.events;
  const spanMs = options.days !== undefined ? options.days * DAY_MS : ((total ?? 0) / eventsPerDay) * DAY_MS;
  const endMs = options.days !== undefined ? options.startMs + spanMs : Infinity;

  const corpus = buildCorpus(corpusPrng);
  const history = new History({
    corpus,
    prng: historyPrng,
    wikis: wikiIds.map((id, i) => wikiProfile(id, i)),
    startMs: options.startMs,
    medianContentBytes: options.medianContentBytes ?? 3_500,
    maxContentBytes,
    hugePageProbability: options.hugePageProbability ?? 0.00003,
    stream,
  });

  // Switchovers evenly over the span, each with a window in which both datacenters produce.
  const switchovers: Switchover[] = [];
  const switchoverCount = options.switchovers ?? 2;
  for (let i = 0; i < switchoverCount; i++) {
    switchovers.push({
      atMs: options.startMs + (spanMs * (i + 1)) / (switchoverCount + 1),
      windowMs: Math.min(30 * 60_000, Math.max(2 * 60_000, spanMs / 30)),
      from: i % 2 === 0 ? 'eqiad' : 'codfw',
      to: i % 2 === 0 ? 'codfw' : 'eqiad',
    });
  }
  /** The datacenter active at `ms` (the one a switchover moved to last). */
  const activeAt = (ms: number): Datacenter => {
    let active: Datacenter = 'eqiad';
    for (const s of switchovers) if (ms >= s.atMs) active = s.to;
    return active;
  };
  /** The datacenter an event produced at `ms` goes to, and an extra delay (a draining backlog). */
  const route = (ms: number): [Datacenter, number] => {
    let active: Datacenter = 'eqiad';
    for (const s of switchovers) {
      if (ms >= s.atMs - s.windowMs / 2 && ms < s.atMs + s.windowMs / 2) {
        return [deliveryPrng.chance(0.5) ? s.from : s.to, deliveryPrng.int(60_000)];
      }
      if (ms >= s.atMs) active = s.to;
    }
    return [active, 0];
  };

  const queue = new DeliveryQueue();
  let order = 0;
  let emitted = 0;
  const budgetLeft = (): number => (total === undefined ? Infinity : total - emitted - queue.size);

  /** Per page and topic: the last delivery time, so one page's events stay in order within a topic. */
  const lastDelivery = new Map<string, { topic: string; ms: number }>();
  /** Per revision (with legacy visibility changes only): its latest on-time delivery. */
  const revisionDelivery = new Map<string, number>();
  /** Per page: the highest history position delivered so far. */
  const maxHistorySeq = new Map<string, number>();
  /** Per topic: recent good/late records, for replays. */
  const recent = new Map<string, GeneratedRecord[]>();
  let template: { value: Buffer; key: string; topic: string; datacenter: Datacenter; wikiId: string; pageId: number } | undefined;

  const scheduleHistory = (event: HistoryEvent): void => {
    const late = (event.kind === 'create' || event.kind === 'edit') && deliveryPrng.chance(lateFraction);
    const [datacenter, backlogMs] = route(event.timeMs);
    const topic = topicOf(datacenter, stream);
    const pageKey = `${event.wikiId}\u0000${event.pageId}`;
    let deliverMs: number;
    if (late) {
      deliverMs = event.timeMs + DAY_MS + deliveryPrng.int(6 * DAY_MS);
    } else {
      deliverMs = event.timeMs + 300 + deliveryPrng.int(2_500) + backlogMs;
      const last = lastDelivery.get(pageKey);
      if (last !== undefined && last.topic === topic && deliverMs <= last.ms) deliverMs = last.ms + 1;
      lastDelivery.set(pageKey, { topic, ms: deliverMs });
      if (visibilityFraction > 0) {
        const revisionKey = `${event.wikiId}\u0000${event.revId}`;
        revisionDelivery.set(revisionKey, Math.max(deliverMs, revisionDelivery.get(revisionKey) ?? -Infinity));
      }
    }
    event.event.meta.dt = isoMillis(deliverMs);
    const value = encodeEvent(corpus, event);
    if (value.length > MAX_EVENT_BYTES) {
      throw new JobError('INTERNAL', `generated event of ${value.length} bytes exceeds ${MAX_EVENT_BYTES} (maxContentBytes ${maxContentBytes})`);
    }
    const key = messageKeyOf(event.wikiId, event.pageId);
    if (value.length <= TEMPLATE_MAX_BYTES) template = { value, key, topic, datacenter, wikiId: event.wikiId, pageId: event.pageId };
    queue.push({
      deliverMs,
      order: order++,
      record: {
        label: late ? 'late' : 'good',
        datacenter,
        topic,
        key,
        value,
        timestampMs: deliverMs,
        kind: event.kind,
        wikiId: event.wikiId,
        pageId: event.pageId,
        revId: event.revId,
        eventId: event.event.meta.id!,
        historySeq: event.historySeq,
        contentBytes: event.contentBytes,
      },
    });
  };

  const scheduleVisibility = (atMs: number): void => {
    const change = history.changeOldRevisionVisibility(visibilityPrng);
    if (change === undefined) return;
    const datacenter = activeAt(atMs);
    // After every event of the revision delivered on time, as production's clocks would stamp it.
    const revisionKey = `${change.wiki.wikiId}\u0000${change.revision.revId}`;
    const deliverMs = Math.max(atMs + 300 + visibilityPrng.int(2_500), (revisionDelivery.get(revisionKey) ?? -Infinity) + 1);
    revisionDelivery.set(revisionKey, deliverMs);
    const event = legacyVisibilityEvent(change, { stream: visibilityStream, id: visibilityPrng.uuid() });
    event.meta.dt = isoMillis(deliverMs);
    queue.push({
      deliverMs,
      order: order++,
      record: {
        label: 'good',
        datacenter,
        topic: topicOf(datacenter, visibilityStream),
        key: messageKeyOf(change.wiki.wikiId, change.page.pageId),
        value: Buffer.from(JSON.stringify(event), 'utf8'),
        timestampMs: deliverMs,
        kind: LEGACY_VISIBILITY_KIND,
        wikiId: change.wiki.wikiId,
        pageId: change.page.pageId,
        revId: change.revision.revId,
        eventId: event.meta.id,
        contentBytes: 0,
      },
    });
  };

  const canaryExample = (SCHEMA_BUNDLE['/mediawiki/page/change/1.2.0']!['examples'] as unknown[])[0];
  const scheduleCanary = (atMs: number, datacenter: Datacenter): void => {
    // Production canaries are the schema's example with meta.domain "canary" (dt stays the example's).
    const event = structuredClone(canaryExample) as Record<string, any>;
    event.meta = { ...event.meta, domain: 'canary', stream, id: canaryPrng.uuid(), dt: isoMillis(atMs) };
    queue.push({
      deliverMs: atMs,
      order: order++,
      record: {
        label: 'canary',
        datacenter,
        topic: topicOf(datacenter, stream),
        key: messageKeyOf(event.wiki_id, event.page.page_id),
        value: Buffer.from(JSON.stringify(event), 'utf8'),
        timestampMs: atMs,
        kind: event.page_change_kind,
        wikiId: event.wiki_id,
        pageId: event.page.page_id,
        revId: event.revision.rev_id,
        eventId: event.meta.id,
        contentBytes: 0,
      },
    });
  };

  let nextHistoryMs = options.startMs + historyPrng.exponential(DAY_MS / eventsPerDay);
  let nextCanaryMs = Math.floor(options.startMs + canaryIntervalMs);

  const historyOpen = (): boolean => (total === undefined ? Math.min(nextHistoryMs, nextCanaryMs) < endMs : budgetLeft() > 0);

  /** Advances the history until the queue's head is due before anything new could be produced. */
  const refill = (): void => {
    while (historyOpen()) {
      const head = queue.peek();
      const nextMs = Math.min(nextHistoryMs, nextCanaryMs);
      if (head !== undefined && head.deliverMs < nextMs) return;
      if (nextCanaryMs <= nextHistoryMs) {
        for (const datacenter of ['eqiad', 'codfw'] as const) if (budgetLeft() > 0) scheduleCanary(nextCanaryMs, datacenter);
        nextCanaryMs += canaryIntervalMs;
        continue;
      }
      for (const event of history.step(Math.floor(nextHistoryMs), budgetLeft() >= 2)) scheduleHistory(event);
      if (visibilityFraction > 0 && budgetLeft() > 0 && visibilityPrng.chance(visibilityFraction)) scheduleVisibility(Math.floor(nextHistoryMs));
      nextHistoryMs += historyPrng.exponential(DAY_MS / eventsPerDay);
    }
  };

  const averageBurst = (1 + MAX_REPLAY_BURST) / 2;
  for (;;) {
    if (total !== undefined && emitted >= total) return;
    refill();
    // No draw before a legacy record: bad records fall between the same page change records either way.
    if (template !== undefined && badFraction > 0 && budgetLeft() >= 1 && queue.peek()?.record.kind !== LEGACY_VISIBILITY_KIND && badPrng.chance(badFraction)) {
      const badKind = BAD_KINDS[badPrng.int(BAD_KINDS.length)]!;
      const value = makeBadMessage(badPrng, badKind, template.value);
      yield {
        seq: emitted++,
        label: 'bad',
        datacenter: template.datacenter,
        topic: template.topic,
        key: template.key,
        value,
        timestampMs: queue.peek()?.deliverMs ?? Math.floor(nextHistoryMs),
        wikiId: template.wikiId,
        pageId: template.pageId,
        contentBytes: 0,
        outOfOrder: false,
        badKind,
        expectedErrorType: BAD_KIND_ERROR_TYPES[badKind],
      };
      continue;
    }
    const next = queue.pop();
    if (next === undefined) return;
    let outOfOrder = false;
    const { record } = next;
    if (record.historySeq !== undefined) {
      const pageKey = `${record.wikiId}\u0000${record.pageId}`;
      const seen = maxHistorySeq.get(pageKey);
      outOfOrder = seen !== undefined && record.historySeq < seen;
      if (seen === undefined || record.historySeq > seen) maxHistorySeq.set(pageKey, record.historySeq);
    }
    const out: GeneratedRecord = {
      ...record,
      seq: emitted++,
      outOfOrder,
      ...(next.duplicateOf === undefined ? {} : { duplicateOf: next.duplicateOf }),
    };
    yield out;
    if (out.label === 'good' || out.label === 'late') {
      let ring = recent.get(out.topic);
      if (ring === undefined) recent.set(out.topic, (ring = []));
      ring.push(out);
      if (ring.length > MAX_REPLAY_BURST) ring.shift();
      // The legacy stream's replays draw from its own PRNG, as everything of that stream does.
      const prng = out.kind === LEGACY_VISIBILITY_KIND ? visibilityPrng : deliveryPrng;
      if (duplicateFraction > 0 && prng.chance(duplicateFraction / averageBurst)) {
        const burst = Math.min(prng.range(1, MAX_REPLAY_BURST), ring.length, Math.max(0, budgetLeft()));
        const replayAt = next.deliverMs + 1_000 + prng.int(20_000);
        ring.slice(ring.length - burst).forEach((original, i) => {
          queue.push({
            deliverMs: replayAt + i,
            order: order++,
            // Same bytes, same Kafka timestamp (the sink stamps event time); later position.
            record: { ...original, label: 'duplicate' },
            duplicateOf: original.seq,
          });
        });
      }
    }
  }
}

/** True when a value has no raw newline or carriage return (one message per JSONL line). */
export function isSingleLine(value: Uint8Array): boolean {
  return value.indexOf(0x0a) === -1 && value.indexOf(0x0d) === -1;
}
