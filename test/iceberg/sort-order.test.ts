// Sort order evolution: a new order gets the next id and becomes the default, an equal order is
// reused, order 0 stays "unsorted", and the orders survive the metadata JSON round trip.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { withSortOrder } from '../../src/iceberg/commit/evolve-sort-order.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import type { SortField } from '../../src/iceberg/spec/sort-order.js';

const asc = (sourceId: number): SortField => ({ sourceId, transform: { kind: 'identity' }, direction: 'asc', nullOrder: 'nulls-first' });

test('withSortOrder adds, reuses and returns to orders; a reloaded table has them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-sort-order-'));
  try {
    const warehouse = new Warehouse(new LocalStorage(), fileLocation(dir));
    let t = await warehouse.createTable('ns', 't', { schema: { schemaId: 0, fields: [{ id: 1, name: 'a', required: true, type: 'long' }, { id: 2, name: 'b', required: false, type: 'long' }] }, spec: { specId: 0, fields: [] } });
    assert.deepEqual(t.sortOrder(), { orderId: 0, fields: [] });
    t = await t.updateMetadata((m) => withSortOrder(m, [asc(1)]));
    assert.deepEqual(t.sortOrder(), { orderId: 1, fields: [asc(1)] });
    assert.equal(withSortOrder(t.metadata, [asc(1)]), t.metadata, 'the default order again changes nothing');
    t = await t.updateMetadata((m) => withSortOrder(m, [asc(2), asc(1)]));
    assert.equal(t.sortOrder().orderId, 2);
    t = await t.updateMetadata((m) => withSortOrder(m, [asc(1)]));
    assert.equal(t.sortOrder().orderId, 1, 'an equal order is reused');
    t = await t.updateMetadata((m) => withSortOrder(m, []));
    assert.equal(t.sortOrder().orderId, 0);
    assert.deepEqual(t.metadata.sortOrders.map((o) => o.orderId), [0, 1, 2]);
    const reloaded = await warehouse.loadTable('ns', 't');
    assert.deepEqual(reloaded.metadata.sortOrders, t.metadata.sortOrders);
    assert.equal(reloaded.metadata.defaultSortOrderId, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
