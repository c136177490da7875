// Measures pages-meta-history throughput (not a test; run by hand):
//   npx tsc -p . && node dist/test/dumps/throughput.js run [pages] [revisionsPerPage] [textChars] [string|bytes]
// Without "run" it does nothing: `node --test dist/test/` executes every .js file under test/.
// Writes the same generated history as plain XML, bz2 and zstd through writeXmlDump, then times
// `lbzip2 -n2` and `zstd -T2 -3` alone on the plain XML, and prints one JSON line of MB/s and ratios.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCompressionTools, type Codec } from '../../src/dumps/compress.js';
import { writeXmlDump } from '../../src/dumps/xml-dump.js';
import { GeneratedDumpSource, type GeneratedWikiOptions } from './generated-source.js';
import { TEST_SITE } from './helpers.js';

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, (performance.now() - start) / 1000];
}

function runTool(command: string, args: readonly string[], inputPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const input = openSync(inputPath, 'r');
    const output = openSync('/dev/null', 'w');
    const child = spawn(command, args, { stdio: [input, output, 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(input);
      closeSync(output);
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with ${code}`));
    });
  });
}

async function main(): Promise<void> {
  const [pages = 1000, revisionsPerPage = 40, textChars = 5000] = process.argv.slice(3, 6).map(Number);
  const bodiesAsBytes = process.argv[6] === 'bytes';
  const generated: GeneratedWikiOptions = { pages, revisionsPerPage, textChars, bodiesAsBytes };
  const directory = await mkdtemp(join(tmpdir(), 'mwlake-throughput-'));
  const tools = findCompressionTools();
  const source = new GeneratedDumpSource(generated);
  const write = (codec: Codec, dumpName: string) =>
    writeXmlDump(source.history({ wikiId: 'testwiki', cutoffMs: Infinity, includeContent: true }), {
      directory,
      wikiId: 'testwiki',
      date: '20240101',
      dumpName,
      codec,
      mode: 'full',
      site: TEST_SITE,
      generator: 'mwlake throughput',
      maxPartBytes: Infinity,
      tools,
    });
  try {
    const [plain, plainSeconds] = await timed(() => write('none', 'plain'));
    const xmlPath = join(directory, plain[0]!.name);
    const xmlMB = plain[0]!.sizeBytes / 1e6;
    const [, bz2Seconds] = await timed(() => write('bz2', 'bz2'));
    const [, lbzip2Seconds] = await timed(() => runTool(tools.bzip2!.command, ['-n2', '-9', '-c'], xmlPath));
    const [, zstSeconds] = await timed(() => write('zst', 'zst'));
    const [, zstdSeconds] = await timed(() => runTool(tools.zstd!, ['-T2', '-3', '-c', '-q'], xmlPath));
    console.log(
      JSON.stringify({
        bodies: bodiesAsBytes ? 'bytes' : 'string',
        xmlMB: Math.round(xmlMB),
        xmlGenerationMBps: +(xmlMB / plainSeconds).toFixed(1),
        bz2MBps: +(xmlMB / bz2Seconds).toFixed(1),
        lbzip2AloneMBps: +(xmlMB / lbzip2Seconds).toFixed(1),
        bz2Ratio: +(lbzip2Seconds / bz2Seconds).toFixed(3),
        zstMBps: +(xmlMB / zstSeconds).toFixed(1),
        zstdAloneMBps: +(xmlMB / zstdSeconds).toFixed(1),
        zstRatio: +(zstdSeconds / zstSeconds).toFixed(3),
      }),
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'run') await main();
