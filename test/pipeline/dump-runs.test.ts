// Which dump dates nightly counts as done: dumpRuns reads each run folder's dumpstatus.json and the
// status of its adds-changes run.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderDumpStatus } from '../../src/dumps/dump-status.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { dumpRuns } from '../../src/pipeline/dump.js';
import { inTempDir } from '../helpers/temp-dir.js';

test('a date whose full set completed but whose adds-changes run was killed is not complete, so the next night runs it; one without adds-changes is', async () => {
  await inTempDir('mwlake-dump-runs-', async (dir) => {
    const root = join(dir, 'dumps');
    const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'j', MWLAKE_WAREHOUSE: join(dir, 'wh'), MWLAKE_DUMPS_ROOT: root });
    const done = renderDumpStatus('enwiki', '20261101', [['metahistorybz2dump', { status: 'done', updated: '2026-11-02 02:10:00', files: [] }]]);
    for (const date of ['20261101', '20261102', '20261103']) {
      await mkdir(join(root, 'enwiki', date), { recursive: true });
      await writeFile(join(root, 'enwiki', date, 'dumpstatus.json'), done);
    }
    // 1st: no adds-changes run (dumped before there were any); 2nd: killed, no status.txt; 3rd: done.
    await mkdir(join(root, 'other', 'incr', 'enwiki', '20261102'), { recursive: true });
    await mkdir(join(root, 'other', 'incr', 'enwiki', '20261103'), { recursive: true });
    await writeFile(join(root, 'other', 'incr', 'enwiki', '20261103', 'status.txt'), 'done');
    assert.deepEqual(
      (await dumpRuns(config)).map((r) => [r.date, r.complete]),
      [['2026-11-01', true], ['2026-11-02', false], ['2026-11-03', true]],
    );
  });
});
