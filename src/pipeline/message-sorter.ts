// Where each consumed message goes: oversize, undecodable and invalid ones become error events
// for `<job_name>.error`, canaries are filtered, repeats of a meta.id within the run are
// deduplicated, and the rest is staged for the events table. Drain and replay share it, so
// they count alike: consumed = written + errored + filtered + deduplicated.

import { hostname } from 'node:os';
import { buildErrorEvent, errorStreamName } from '../events/error-event.js';
import { isCanaryEvent, streamOfTopic } from '../events/page-change.js';
import { validatePageChangeMessage } from '../events/validate.js';
import type { KafkaMessage } from '../kafka/source.js';
import type { EventStager } from './event-files.js';

export interface SortCounts {
  consumed: number;
  bytes: number;
  written: number;
  filtered: number;
  deduplicated: number;
}

export class MessageSorter {
  readonly counts: SortCounts = { consumed: 0, bytes: 0, written: 0, filtered: 0, deduplicated: 0 };
  /** Error events to produce before the commit. */
  readonly errors: { topic: string; value: Buffer }[] = [];
  // meta.ids of this run: at-least-once delivery repeats events; the merge also tolerates repeats across runs.
  private readonly seen = new Set<string>();
  private readonly emitterId = `mwlake-drain@${hostname()}`;

  constructor(
    private readonly stager: EventStager,
    private readonly o: { readonly jobName: string; readonly maxMessageBytes: number },
  ) {}

  get errored(): number {
    return this.errors.length;
  }

  async add(m: KafkaMessage): Promise<void> {
    this.counts.consumed++;
    this.counts.bytes += m.sizeBytes;
    const value = m.value ?? Buffer.alloc(0);
    if (value.byteLength > this.o.maxMessageBytes) {
      this.fail(m, value, 'oversize', `message is ${value.byteLength} bytes; the limit is ${this.o.maxMessageBytes}`);
      return;
    }
    const v = validatePageChangeMessage(value);
    if (!v.ok) {
      this.fail(m, value, v.errorType, v.message, v.value);
      return;
    }
    if (isCanaryEvent(v.event)) {
      this.counts.filtered++;
      return;
    }
    const id = (v.event.meta as { id?: string } | undefined)?.id;
    if (id !== undefined) {
      if (this.seen.has(id)) {
        this.counts.deduplicated++;
        return;
      }
      this.seen.add(id);
    }
    await this.stager.add(v.event, { topic: m.topic, partition: m.partition, offset: m.offset, timestampMs: m.timestampMs });
    this.counts.written++;
  }

  private fail(m: KafkaMessage, value: Buffer, errorType: string, message: string, parsed?: unknown): void {
    const event = buildErrorEvent({
      jobName: this.o.jobName,
      emitterId: this.emitterId,
      errorType,
      message: `${message} (at ${m.topic}:${m.partition}@${m.offset})`,
      rawBytes: value,
      streamName: streamOfTopic(m.topic),
      dt: new Date().toISOString(),
      ...(parsed === undefined ? {} : { parsed }),
      triggeredBy: `${m.topic}:${m.partition}:${m.offset}`,
    });
    this.errors.push({ topic: errorStreamName(this.o.jobName), value: Buffer.from(JSON.stringify(event)) });
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
    };
  }
}
