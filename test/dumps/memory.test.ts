// Memory stays bounded while one page with 100,000 revisions streams through the writer: the
// live heap (after a forced full GC, so the check does not depend on when V8 collects) plus
// external memory is sampled every 10,000 rows and must not grow with the number of revisions.
// A control run that keeps the rendered revisions shows the probe does see retained memory.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { findCompressionTools } from '../../src/dumps/compress.js';
import type { DumpRevisionRow } from '../../src/dumps/records.js';
import { writeXmlDump } from '../../src/dumps/xml-dump.js';
import { renderRevisionText } from '../../src/dumps/xml-render.js';
import { generatedRows } from './generated-source.js';
import { TEST_SITE } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const REVISIONS = 100_000;
const TEXT_CHARS = 3_000;
const SAMPLE_EVERY = 10_000;
/**
 * Allowed growth of live memory over the run; the revisions' text alone is ~300 MB. Samples vary
 * by tens of MiB with load (freed Buffer memory leaves `external` a little after the GC), so the
 * limit is the peak, with room, not a trend.
 */
const LIMIT_BYTES = 64 * 1024 * 1024;

function liveBytes(): number {
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Passes rows through, sampling live memory every SAMPLE_EVERY rows; returns the samples. */
async function* sampled(rows: AsyncIterable<DumpRevisionRow>, samples: number[]): AsyncIterable<DumpRevisionRow> {
  let count = 0;
  for await (const row of rows) {
    if (++count % SAMPLE_EVERY === 0) samples.push(liveBytes());
    yield row;
  }
}

const onePage = () => generatedRows({ pages: 1, revisionsPerPage: REVISIONS, textChars: TEXT_CHARS, seed: 11 });

test('one page with 100,000 revisions is written in bounded memory', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'mwlake-memory-'));
  try {
    const baseline = liveBytes();
    const samples: number[] = [];
    const files = await writeXmlDump(sampled(onePage(), samples), {
      directory,
      wikiId: 'testwiki',
      date: '20240801',
      dumpName: 'pages-meta-history',
      codec: 'zst',
      mode: 'full',
      site: TEST_SITE,
      generator: 'mwlake test',
      maxPartBytes: Infinity,
      tools: findCompressionTools(),
    });
    assert.equal(files.length, 1);
    assert.equal(samples.length, REVISIONS / SAMPLE_EVERY);
    const peakGrowth = Math.max(...samples) - baseline;
    t.diagnostic(`peak growth ${(peakGrowth / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(peakGrowth < LIMIT_BYTES, `live memory grew by ${(peakGrowth / 2 ** 20).toFixed(1)} MiB (limit ${LIMIT_BYTES / 2 ** 20} MiB); samples ${samples.map((s) => ((s - baseline) / 2 ** 20).toFixed(1)).join(', ')}`);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('the probe sees memory that a writer keeping revisions would retain (control)', async (t) => {
  const baseline = liveBytes();
  const samples: number[] = [];
  const kept: string[] = [];
  let count = 0;
  for await (const row of sampled(onePage(), samples)) {
    kept.push(renderRevisionText(row, 'full'));
    if (++count === 4 * SAMPLE_EVERY) break;
  }
  const growth = Math.max(...samples) - baseline;
  t.diagnostic(`control growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(kept.length === 4 * SAMPLE_EVERY);
  assert.ok(growth > LIMIT_BYTES, `keeping ${kept.length} revisions grew live memory by only ${(growth / 2 ** 20).toFixed(1)} MiB`);
});
