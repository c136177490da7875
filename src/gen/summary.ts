// Counts over generated records (per label, kind, bad kind, topic), for the CLI's closing summary
// and for tests that need exact expected counts. Imports events and gen only; no I/O.

import { PAGE_CHANGE_KINDS, type PageChangeKind } from '../events/page-change.js';
import type { BadKind } from './bad-messages.js';
import { LEGACY_VISIBILITY_KIND, RECORD_LABELS, type GeneratedRecord, type RecordLabel } from './generator.js';

export interface GenSummary {
  records: number;
  /** Sum of value sizes. */
  valueBytes: number;
  /** Sum of content_body bytes over event records. */
  contentBytes: number;
  byLabel: Record<RecordLabel, number>;
  /** Page change kinds of the events that are part of the history (labels good and late). */
  byKind: Record<PageChangeKind, number>;
  /** Legacy visibility change events (label good; their duplicates count as duplicates). */
  visibilityChanges: number;
  byBadKind: Partial<Record<BadKind, number>>;
  byTopic: Record<string, number>;
  /** Event records delivered after a later event of the same page. */
  outOfOrder: number;
  /** Range of Kafka timestamps (meta.dt), ms. */
  firstTimestampMs: number | undefined;
  lastTimestampMs: number | undefined;
}

export function emptySummary(): GenSummary {
  return {
    records: 0,
    valueBytes: 0,
    contentBytes: 0,
    byLabel: Object.fromEntries(RECORD_LABELS.map((label) => [label, 0])) as Record<RecordLabel, number>,
    byKind: Object.fromEntries(PAGE_CHANGE_KINDS.map((kind) => [kind, 0])) as Record<PageChangeKind, number>,
    visibilityChanges: 0,
    byBadKind: {},
    byTopic: {},
    outOfOrder: 0,
    firstTimestampMs: undefined,
    lastTimestampMs: undefined,
  };
}

/** Adds one record to the summary (mutates and returns it). */
export function addToSummary(summary: GenSummary, record: GeneratedRecord): GenSummary {
  summary.records++;
  summary.valueBytes += record.value.length;
  summary.contentBytes += record.contentBytes;
  summary.byLabel[record.label]++;
  if ((record.label === 'good' || record.label === 'late') && record.kind !== undefined) {
    if (record.kind === LEGACY_VISIBILITY_KIND) summary.visibilityChanges++;
    else summary.byKind[record.kind]++;
  }
  if (record.badKind !== undefined) summary.byBadKind[record.badKind] = (summary.byBadKind[record.badKind] ?? 0) + 1;
  summary.byTopic[record.topic] = (summary.byTopic[record.topic] ?? 0) + 1;
  if (record.outOfOrder) summary.outOfOrder++;
  if (summary.firstTimestampMs === undefined || record.timestampMs < summary.firstTimestampMs) summary.firstTimestampMs = record.timestampMs;
  if (summary.lastTimestampMs === undefined || record.timestampMs > summary.lastTimestampMs) summary.lastTimestampMs = record.timestampMs;
  return summary;
}
