// Shared by dump-crash.test.ts and its child: the run options of the dump they kill and compare.

import { findCompressionTools } from '../../src/dumps/compress.js';
import type { DumpRunOptions } from '../../src/dumps/dump-run.js';
import type { DumpSource } from '../../src/dumps/records.js';
import { GENERATOR_VERSION, TEST_SITE } from './helpers.js';

export const CRASH_WIKI = 'testwiki';
export const CRASH_DATE = '20240801';

export function crashRunOptions(dumpsRoot: string, source: DumpSource, jobs?: readonly string[]): DumpRunOptions {
  return {
    ...(jobs === undefined ? {} : { jobs }),
    dumpsRoot,
    wikiId: CRASH_WIKI,
    date: CRASH_DATE,
    source,
    site: TEST_SITE,
    generatorVersion: GENERATOR_VERSION,
    tools: findCompressionTools(undefined, 2),
    // Fixed, so that dumpstatus.json is byte-identical between runs too.
    now: () => new Date(Date.UTC(2024, 7, 1, 3, 4, 5)),
    // Several parts per output: kills land between the files of one output too.
    maxPartBytes: 256 * 1024,
  };
}
