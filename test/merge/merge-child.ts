// Child process of merge-crash.test.ts: merges the warehouse given as argv[2] and SIGKILLs itself
// between the commits of the two state tables, as a power cut or an OOM kill would. Without an
// argument (node --test runs every file under test/) it does nothing.

import { merge, warehouseAt } from './merge-fixture.js';

const target = process.argv[2];
if (target !== undefined) {
  await merge(warehouseAt(target), { afterFirstCommit: () => void process.kill(process.pid, 'SIGKILL') });
  console.error('merge-child: not killed');
  process.exit(3);
}
