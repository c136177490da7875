// Sort order evolution (spec §Sorting): a new order becomes the default; data files keep the
// sort_order_id they were written with, so readers know which files the new order holds for.

import type { SortField, SortOrder } from '../spec/sort-order.js';
import { transformToString } from '../spec/serde/schema.js';
import type { TableMetadata } from '../spec/table-metadata.js';

const sameFields = (a: readonly SortField[], b: readonly SortField[]) =>
  a.length === b.length &&
  a.every((f, i) => f.sourceId === b[i]!.sourceId && f.direction === b[i]!.direction && f.nullOrder === b[i]!.nullOrder && transformToString(f.transform) === transformToString(b[i]!.transform));

/** Makes `fields` the default sort order, reusing an equal order's id (0 is always "unsorted"). */
export function withSortOrder(m: TableMetadata, fields: readonly SortField[]): TableMetadata {
  const existing = m.sortOrders.find((o) => sameFields(o.fields, fields) && (fields.length > 0 || o.orderId === 0));
  if (existing !== undefined) return existing.orderId === m.defaultSortOrderId ? m : { ...m, defaultSortOrderId: existing.orderId };
  const order: SortOrder = { orderId: fields.length === 0 ? 0 : Math.max(0, ...m.sortOrders.map((o) => o.orderId)) + 1, fields };
  return { ...m, sortOrders: [...m.sortOrders, order], defaultSortOrderId: order.orderId };
}
