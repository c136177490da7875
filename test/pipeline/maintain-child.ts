// Child process of maintain-crash.test.ts: runs `mwlake maintain` (runMaintenance) on the warehouse
// argv[2] and SIGKILLs itself at the point argv[3] names, as a power cut or an OOM kill would:
//   compact-before-commit:N  the N-th compaction wrote its files, its commit has not started
//   compact-after-commit:N   right after the N-th compaction commit
//   expire-after-commit:N    the N-th expiry committed its metadata, no expired file deleted yet
//   expire-mid-delete:N      the N-th expiry committed and deleted one expired file of several
//   orphans-mid-delete:N     orphan removal (alone) deleted N files of more
// argv[4] is the JSON of the maintenance settings, argv[5] the clock (ms). Without an argument
// (node --test runs every file under test/) it does nothing.

import { LocalStorage } from '../../src/core/storage.js';
import { silentLogger } from '../../src/core/log.js';
import type { TableChange } from '../../src/iceberg/commit/table-change.js';
import { Table } from '../../src/iceberg/table.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { runMaintenance } from '../../src/pipeline/maintenance.js';
import { warehouseAt } from '../merge/merge-fixture.js';

const [target, point, settings, clock] = process.argv.slice(2);
if (target !== undefined && point !== undefined && settings !== undefined && clock !== undefined) {
  const [where, nth] = point.split(':') as [string, string];
  const n = Number(nth);
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL');
    throw new Error('not killed');
  };
  let compactions = 0;
  let expiries = 0;
  let deletesAfterExpiry = 0;
  let deletes = 0;
  let expiring = false;
  const commit = Table.prototype.commit;
  Table.prototype.commit = async function (this: Table, change: TableChange) {
    if (change.operation !== 'replace') return commit.call(this, change);
    const k = ++compactions;
    if (where === 'compact-before-commit' && k === n) die();
    const result = await commit.call(this, change);
    if (where === 'compact-after-commit' && k === n) die();
    return result;
  };
  const updateMetadata = Table.prototype.updateMetadata;
  Table.prototype.updateMetadata = async function (this: Table, update) {
    const result = await updateMetadata.call(this, update);
    const k = ++expiries;
    if (where === 'expire-after-commit' && k === n) die();
    expiring = where === 'expire-mid-delete' && k === n;
    return result;
  };
  const remove = LocalStorage.prototype.delete;
  LocalStorage.prototype.delete = async function (this: LocalStorage, location: string) {
    await remove.call(this, location);
    if (expiring && ++deletesAfterExpiry === 1) die();
    if (where === 'orphans-mid-delete' && ++deletes === n) die();
  };
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'maintain-crash', MWLAKE_WAREHOUSE: target }, {}, { jobNameRequired: false });
  await runMaintenance({
    config: { ...config, maintenance: { ...config.maintenance, ...(JSON.parse(settings) as object) } },
    warehouse: warehouseAt(target),
    logger: silentLogger(),
    nowMs: Number(clock),
  });
  console.error(`maintain-child: not killed at ${point} (${compactions} compactions, ${expiries} expiries, ${deletes} deletes)`);
  process.exit(3);
}
