// Whether the job's last drain stopped at its cap (drain.max_events, max_bytes) short of the end
// offsets it planned. A date dumped then could miss events of its own day still in Kafka, and once
// dumped it is due no more: so nightly and `dump --due` dump nothing until a drain reads to its
// ends, and an explicit date is dumped with a warning.

import { DRAIN_OFFSETS_LEFT_PROPERTY } from '../events/events-table.js';
import type { Warehouse } from '../iceberg/catalog.js';
import { eventStreams, type JobConfig } from './config.js';

export interface DrainShortfall {
  /** `namespace.table` of the events table the drain stopped short for. */
  readonly table: string;
  /** Kafka offsets left before the ends the drain planned. */
  readonly offsetsLeft: number;
}

/**
 * The events tables of the streams the job drains whose last drain left offsets before its
 * planned ends; empty when every drain read to them. A stream taken off the job no longer counts:
 * no drain would ever clear what its table says.
 */
export async function drainShortfalls(config: JobConfig, warehouse: Warehouse): Promise<DrainShortfall[]> {
  const out: DrainShortfall[] = [];
  for (const { table: name } of eventStreams(config)) {
    const table = await warehouse.tryLoadTable(config.events.namespace, name);
    const left = Number(table?.summaryProperty(DRAIN_OFFSETS_LEFT_PROPERTY)?.value ?? 0);
    if (left > 0) out.push({ table: `${config.events.namespace}.${name}`, offsetsLeft: left });
  }
  return out;
}

/** "the last drain of X stopped at its cap with N offsets left (drain.max_events, max_bytes)" for each. */
export function describeShortfalls(behind: readonly DrainShortfall[]): string {
  const each = behind.map((b) => `${b.table} with ${b.offsetsLeft} offset${b.offsetsLeft === 1 ? '' : 's'} left`).join(', ');
  return `the last drain stopped at its cap (drain.max_events or drain.max_bytes) before the end offsets it planned: ${each}`;
}
