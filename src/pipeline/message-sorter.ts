// Where each consumed message goes: oversize, undecodable and invalid ones become error events
// for `<job_name>.error`, canaries are filtered, repeats of a meta.id within the run are
// deduplicated, and the rest is staged for the events table. Drain and replay share it, so
// they count alike: consumed = written + errored + filtered + deduplicated.

import { hostname } from 'node:os';
import { buildErrorEvent, errorEventId } from '../events/error-event.js';
import { recordIdentity } from '../kafka/record-identity.js';
import { kafkaTimestampIso } from '../events/events-table.js';
import { streamOfTopic } from '../events/page-change.js';
import { prepareMessage, type EventKind, type PreparedMessage } from '../events/staged-row.js';
import type { KafkaMessage } from '../kafka/source.js';
import type { Logger } from '../core/log.js';
import { MIN_EVENTS_FOR_ERROR_RATIO } from './config.js';
import type { EventStager } from './event-files.js';

const EMPTY = Buffer.alloc(0);
/** Events whose meta.ids are surely remembered: a repeat within this many events is dropped. */
export const DEDUP_WINDOW = 1 << 18;

export interface SortCounts {
  consumed: number;
  bytes: number;
  written: number;
  filtered: number;
  deduplicated: number;
  /** Of those written, page changes with visible content but no content_body: dumped like hidden content. */
  withoutContent: number;
}

/** An error event to produce; the drain's error sink names the topic (kafka.errorTopic). */
export interface ErrorRecord {
  readonly value: Buffer;
}

export class MessageSorter {
  readonly counts: SortCounts = { consumed: 0, bytes: 0, written: 0, filtered: 0, deduplicated: 0, withoutContent: 0 };
  // Error events not yet produced; the drain takes them in batches, so many bad events never pile up here.
  private pendingErrors: ErrorRecord[] = [];
  private pendingBytes = 0;
  private erroredCount = 0;
  /** Error events made, per error_type: what the drain's error-ratio refusal names. */
  readonly errorTypes = new Map<string, number>();
  // meta.ids of the run's recent events: at-least-once delivery repeats an event soon after it (a
  // producer's retry), and the merge tolerates repeats anyway. Every id of a catch-up run of tens
  // of millions of events (about 85 bytes each) would exhaust the heap on every rerun, so two
  // generations are kept: between one and two windows of ids.
  private recent = new Set<string>();
  private older = new Set<string>();
  /** Ids marked seen (a replay's held rows): kept for the whole run. */
  private readonly held = new Set<string>();
  private readonly dedupWindow: number;
  private readonly emitterId = `mwlake-drain@${hostname()}`;

  constructor(
    private readonly stager: EventStager,
    private readonly o: { readonly jobName: string; readonly maxMessageBytes: number; readonly kind?: EventKind; readonly dedupWindow?: number },
  ) {
    this.dedupWindow = o.dedupWindow ?? DEDUP_WINDOW;
  }

  /** Treats these meta.ids as written already (a replay's held rows): their repeats are deduplicated. */
  markSeen(ids: Iterable<string>): void {
    for (const id of ids) this.held.add(id);
  }

  /** How many meta.ids the sorter holds for deduplication. */
  get rememberedIds(): number {
    return this.held.size + this.recent.size + this.older.size;
  }

  get errored(): number {
    return this.erroredCount;
  }

  /**
   * What is wrong when more of the events sorted (written and invalid, from
   * MIN_EVENTS_FOR_ERROR_RATIO on) are invalid than `maxErrorRatio` allows (1: never); else undefined.
   */
  errorRatioExcess(maxErrorRatio: number, topics: readonly string[]): string | undefined {
    const judged = this.counts.written + this.erroredCount;
    if (maxErrorRatio >= 1 || judged < MIN_EVENTS_FOR_ERROR_RATIO || this.erroredCount <= maxErrorRatio * judged) return undefined;
    const types = [...this.errorTypes].sort((a, b) => b[1] - a[1]).map(([type, n]) => `${type} ${n}`).join(', ');
    return `${this.erroredCount} of the ${judged} events read from ${topics.join(', ')} are invalid (${types}), more than drain.max_error_ratio (${maxErrorRatio}) allows`;
  }

  /** Bytes of error events made since the last takeErrors. */
  get pendingErrorBytes(): number {
    return this.pendingBytes;
  }

  /** The error events made since the last call, to produce before the commit. */
  takeErrors(): ErrorRecord[] {
    const taken = this.pendingErrors;
    this.pendingErrors = [];
    this.pendingBytes = 0;
    return taken;
  }

  /** Prepares (validates and serialises) the message on this thread and sorts it. */
  add(m: KafkaMessage): Promise<void> {
    return this.accept(m, prepareMessage(m.value ?? EMPTY, m, this.o.maxMessageBytes, this.o.kind));
  }

  /** Sorts a message prepared already (on a worker thread); call in consumption order. */
  async accept(m: KafkaMessage, prepared: PreparedMessage): Promise<void> {
    this.counts.consumed++;
    this.counts.bytes += m.sizeBytes;
    switch (prepared.kind) {
      case 'invalid':
        this.fail(m, m.value ?? EMPTY, prepared.errorType, prepared.message);
        return;
      case 'canary':
        this.counts.filtered++;
        return;
      case 'event': {
        const id = prepared.id;
        // The schema allows an empty meta.id: it names no event, so it must not make every later one a repeat.
        if (id !== undefined && id !== '') {
          if (this.held.has(id) || this.recent.has(id) || this.older.has(id)) {
            this.counts.deduplicated++;
            return;
          }
          this.recent.add(id);
          if (this.recent.size >= this.dedupWindow) {
            this.older = this.recent;
            this.recent = new Set();
          }
        }
        await this.stager.addLine(prepared.wikiId, prepared.day, prepared.line);
        this.counts.written++;
        if (prepared.withoutContent) this.counts.withoutContent++;
      }
    }
  }

  private fail(m: KafkaMessage, value: Buffer, errorType: string, message: string): void {
    const ref = `${m.topic}:${m.partition}:${m.offset}`;
    const event = buildErrorEvent({
      jobName: this.o.jobName,
      emitterId: this.emitterId,
      errorType,
      // Error 2.1.0 has no field for the key, and raw_event is "" for a null value as for an empty
      // one: said in the message, since for a tombstone the key is all the record holds.
      message: `${m.value === null ? 'message value is null (a tombstone); ' : ''}${message} (at ${m.topic}:${m.partition}@${m.offset}${m.key === null ? '' : `, key ${describeKey(m.key)}`})`,
      rawBytes: value,
      streamName: streamOfTopic(m.topic),
      // The message's own time and a derived id, so a rerun produces the same event, not a new one.
      dt: kafkaTimestampIso(m.timestampMs) ?? new Date().toISOString(),
      // The record's identity, not just its coordinates: a recreated topic reuses those for other messages.
      id: errorEventId(this.o.jobName, `${m.topic}:${m.partition}:${recordIdentity(m)}`),
      triggeredBy: ref,
    });
    const record = { value: Buffer.from(JSON.stringify(event)) };
    this.pendingErrors.push(record);
    this.pendingBytes += record.value.byteLength;
    this.erroredCount++;
    this.errorTypes.set(errorType, (this.errorTypes.get(errorType) ?? 0) + 1);
  }

  /** Warns when page changes lacked content_body: the likeliest cause is a job reading the wrong stream. */
  warnWithoutContent(logger: Logger, step: 'drain' | 'replay', stream: { readonly kind: EventKind; readonly topics: readonly string[] }): void {
    const c = this.counts;
    if (c.withoutContent === 0) return;
    logger.warn({ stream: stream.kind, withoutContent: c.withoutContent, topics: stream.topics }, `${step}: ${c.withoutContent} of the ${c.written} events written carry no content_body for a revision whose content is visible, so the dumps show it as hidden; is the job reading mediawiki.page_change.v1 instead of mediawiki.page_content_change.v1?`);
  }

  /** Summary properties of the commit. */
  summary(prefix: string): Record<string, string> {
    const c = this.counts;
    return {
      [`${prefix}.consumed`]: String(c.consumed),
      [`${prefix}.written`]: String(c.written),
      [`${prefix}.errored`]: String(this.errored),
      [`${prefix}.filtered`]: String(c.filtered),
      [`${prefix}.deduplicated`]: String(c.deduplicated),
      ...(c.withoutContent > 0 ? { [`${prefix}.without-content`]: String(c.withoutContent) } : {}),
    };
  }
}

const utf8Key = new TextDecoder('utf-8', { fatal: true });

/** A record key for a message: its text as JSON when it is UTF-8 (at most 200 characters), else its bytes in hex (at most 200). */
function describeKey(key: Buffer): string {
  let text: string;
  try {
    text = utf8Key.decode(key);
  } catch {
    return `0x${key.subarray(0, 200).toString('hex')}${key.length > 200 ? ` (${key.length} bytes, first 200)` : ''}`;
  }
  return JSON.stringify(text.slice(0, 200)) + (text.length > 200 ? ` (${text.length} characters, first 200)` : '');
}
