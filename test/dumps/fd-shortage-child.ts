// Run by tool-process.test.ts under a low `ulimit -n`: uses up the file descriptors, starts one
// dumps tool, and prints how that failed as JSON. An uncaught 'error' event ends it with exit 1.

import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompressedFileWriter, findCompressionTools, readDecompressed } from '../../src/dumps/compress.js';
import { Bzip2StreamPool } from '../../src/dumps/stream-pool.js';

const tools = findCompressionTools(process.env['PATH'], 2);
const starts: Record<string, () => Promise<unknown>> = {
  writer: async () => CompressedFileWriter.open(join(tmpdir(), `mwlake-fd-shortage-${process.pid}.bz2`), 'bz2', tools),
  reader: async () => readDecompressed('/nonexistent.bz2', 'bz2', tools).next(),
  pool: async () => Bzip2StreamPool.start(tools),
};
const start = starts[process.argv[2]!]!;

const held: number[] = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch {
  // EMFILE: all used; one free is too few for a child's pipes.
}
closeSync(held.pop()!);
let outcome: { code?: string; message: string };
try {
  await start();
  outcome = { message: 'started' };
} catch (e) {
  outcome = { code: (e as { code?: string }).code, message: (e as Error).message };
}
for (const fd of held) closeSync(fd);
// A turn of the event loop, for a spawn's 'error' event.
await new Promise((resolve) => setImmediate(resolve));
process.stdout.write(JSON.stringify(outcome));
