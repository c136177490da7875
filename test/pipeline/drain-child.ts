// Child process of drain.test.ts: drains with the job taken from the environment and SIGKILLs
// itself at the point named by argv[2]: `consume` (after the first batch), `write` (after the
// first staged chunk's data files, others still to write) or `commit` (data files and error events
// written, table not yet committed). Without an argument it does nothing.

import { silentLogger } from '../../src/core/log.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { runDrain } from '../../src/pipeline/drain.js';
import { warehouseOf } from '../../src/pipeline/warehouse.js';

const point = process.argv[2];
if (point !== undefined) {
  const config = await loadConfig(undefined, process.env);
  const die = () => void process.kill(process.pid, 'SIGKILL');
  await runDrain({
    config,
    warehouse: warehouseOf(config, silentLogger()),
    logger: silentLogger(),
    ...(point === 'consume' ? { onProgress: die } : point === 'write' ? { afterChunkWritten: die } : { beforeCommit: die }),
  });
  console.error('drain-child: not killed');
  process.exit(3);
}
