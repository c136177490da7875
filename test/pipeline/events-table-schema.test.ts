// The drain writes its files from its own schema, so an events table another engine evolved is
// refused (78, naming the column) before anything is read or written, instead of failing every
// run as a bug or writing a renamed column's values as NULL.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import type { Schema } from '../../src/iceberg/spec/types.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { openEventsTable } from '../../src/pipeline/drain.js';
import { warehouseOf } from '../../src/pipeline/warehouse.js';
import { runCliCaptured } from '../helpers/cli.js';
import { inTempDir } from '../helpers/temp-dir.js';

test('an events table whose schema another engine changed is refused (78) naming the column, by the drain before it reads Kafka', { timeout: 60_000 }, async () => {
  await inTempDir('mwlake-events-schema-', async (dir) => {
    // No broker listens on port 1: the refusal must come before any Kafka request.
    const env = { MWLAKE_JOB_NAME: 'schema-test', MWLAKE_WAREHOUSE: dir, KAFKA_BROKERS: '127.0.0.1:1' };
    const config = await loadConfig(undefined, env);
    const warehouse = warehouseOf(config, silentLogger());
    const table = await openEventsTable(warehouse, config);
    // Another engine renames a top-level column (same field id), as ALTER TABLE … RENAME COLUMN does.
    await table.updateMetadata((m) => {
      const current = m.schemas.find((s) => s.schemaId === m.currentSchemaId)!;
      const renamed: Schema = { ...current, schemaId: current.schemaId + 1, fields: current.fields.map((f) => (f.name === 'comment' ? { ...f, name: 'action_comment' } : f)) };
      return { ...m, schemas: [...m.schemas, renamed], currentSchemaId: renamed.schemaId };
    });
    for (const dryRun of [false, true]) {
      await assert.rejects(openEventsTable(warehouse, config, { dryRun }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /^events\.page_content_change does not have the schema mwlake writes: column comment \(field id \d+\) is named action_comment\./);
        return true;
      });
    }
    const r = await runCliCaptured(['drain'], env);
    assert.equal(r.code, 78, r.err);
    assert.match(r.err, /column comment \(field id \d+\) is named action_comment/);
  });
});
