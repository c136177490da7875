// One dump run: for a wiki and date D (cutoff D 00:00 UTC, exclusive) writes, under
// `<dumps_root>/<wiki>/<YYYYMMDD>/`, stub-meta-history, pages-meta-current, pages-articles,
// pages-articles-multistream (+ index) and pages-meta-history, then the checksum files, keeping
// dumpstatus.json current after every job, and finally points `latest/` at the run.
// Job names follow Wikimedia's (notes §4). Imports core and dumps modules; the source is injected.

import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { JobError } from '../core/errors.js';
import { writeTextAtomically } from './atomic-file.js';
import { checksumFileNames, writeChecksumFiles } from './checksums.js';
import { findCompressionTools, type Codec, type CompressionTools } from './compress.js';
import { formatUpdated, renderDumpStatus, type JobState } from './dump-status.js';
import { checkWikiId, cutoffOfDate, runDirectory } from './file-names.js';
import { linkLatest } from './latest-links.js';
import { writeMultistreamDump } from './multistream.js';
import type { DumpQuery, DumpSource } from './records.js';
import { contentNamespaceIds, type SiteInfo } from './site-info.js';
import { writeXmlDump, type WrittenFile } from './xml-dump.js';
import { generatorText } from './xml-render.js';

/** Default size limit of one part, in uncompressed XML bytes. */
export const DEFAULT_MAX_PART_BYTES = 2 * 1024 ** 3;

export interface DumpCompression {
  readonly stubs: Codec;
  readonly current: Codec;
  readonly articles: Codec;
  readonly history: Codec;
}

/** Wikimedia's choices: gzip stubs, bzip2 content. */
export const DEFAULT_COMPRESSION: DumpCompression = { stubs: 'gz', current: 'bz2', articles: 'bz2', history: 'bz2' };

export interface DumpRunOptions {
  readonly dumpsRoot: string;
  readonly wikiId: string;
  /** YYYYMMDD; the cutoff is that day's 00:00 UTC, exclusive. */
  readonly date: string;
  readonly source: DumpSource;
  readonly site: SiteInfo;
  /** mwlake's version, for `<generator>`. */
  readonly generatorVersion: string;
  readonly maxPartBytes?: number;
  readonly compression?: Partial<DumpCompression>;
  /** Defaults to lbzip2/bzip2 and zstd found on PATH, threads = available cores. */
  readonly tools?: CompressionTools;
  /** Clock for dumpstatus.json's "updated" (the only place a run time appears). */
  readonly now?: () => Date;
  /** Point `latest/` at this run when it completes (default true). */
  readonly linkLatest?: boolean;
}

export interface DumpRunResult {
  readonly directory: string;
  /** Every content file, in job order. */
  readonly files: readonly WrittenFile[];
  /** Whether `latest/` now points at this run. */
  readonly linkedLatest: boolean;
}

/** The dumpstatus.json job name of pages-meta-history for a codec (`metahistorybz2dump`, ...). */
export function historyJobName(codec: Codec): string {
  return codec === 'none' ? 'metahistorydump' : `metahistory${codec}dump`;
}

interface Job {
  readonly name: string;
  readonly run: () => Promise<WrittenFile[]>;
}

/** Runs every job of the dump for one wiki and date; throws the first job failure after recording it. */
export async function runDump(options: DumpRunOptions): Promise<DumpRunResult> {
  const wikiId = checkWikiId(options.wikiId);
  const { date, source, site } = options;
  const cutoffMs = cutoffOfDate(date);
  if (site.dbName !== wikiId) {
    throw new JobError('CONFIG', `site info is for ${JSON.stringify(site.dbName)}, expected ${JSON.stringify(wikiId)}`);
  }
  const compression: DumpCompression = { ...DEFAULT_COMPRESSION, ...options.compression };
  const tools = options.tools ?? findCompressionTools();
  const now = options.now ?? (() => new Date());
  const maxPartBytes = options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  const generator = generatorText(options.generatorVersion);
  const directory = runDirectory(options.dumpsRoot, wikiId, date);
  await mkdir(directory, { recursive: true });

  const query = (includeContent: boolean): DumpQuery => ({ wikiId, cutoffMs, includeContent });
  const common = { directory, wikiId, date, site, generator, maxPartBytes, tools };
  const jobs: Job[] = [
    {
      name: 'xmlstubsdump',
      run: () => writeXmlDump(source.history(query(false)), { ...common, dumpName: 'stub-meta-history', codec: compression.stubs, mode: 'stub' }),
    },
    {
      name: 'metacurrentdump',
      run: () => writeXmlDump(source.current(query(true)), { ...common, dumpName: 'pages-meta-current', codec: compression.current, mode: 'full' }),
    },
    {
      name: 'articlesdump',
      run: () =>
        writeXmlDump(source.articles(query(true), contentNamespaceIds(site)), { ...common, dumpName: 'pages-articles', codec: compression.articles, mode: 'full' }),
    },
    {
      name: 'articlesmultistreamdump',
      run: () => writeMultistreamDump(source.articles(query(true), contentNamespaceIds(site)), { ...common, dumpName: 'pages-articles-multistream' }),
    },
    {
      name: historyJobName(compression.history),
      run: () => writeXmlDump(source.history(query(true)), { ...common, dumpName: 'pages-meta-history', codec: compression.history, mode: 'full' }),
    },
  ];

  const states = new Map<string, JobState>();
  const started = formatUpdated(now());
  for (const job of jobs) states.set(job.name, { status: 'waiting', updated: started, files: [] });
  const statusPath = join(directory, 'dumpstatus.json');
  const saveStatus = (): Promise<void> => writeTextAtomically(statusPath, renderDumpStatus(wikiId, date, [...states.entries()]));
  await saveStatus();

  const files: WrittenFile[] = [];
  for (const job of jobs) {
    states.set(job.name, { status: 'in-progress', updated: formatUpdated(now()), files: [] });
    await saveStatus();
    let written: WrittenFile[];
    try {
      written = await job.run();
    } catch (error) {
      states.set(job.name, { status: 'failed', updated: formatUpdated(now()), files: [] });
      await saveStatus();
      throw error;
    }
    files.push(...written);
    await writeChecksumFiles(directory, wikiId, date, files, written);
    states.set(job.name, { status: 'done', updated: formatUpdated(now()), files: written });
    await saveStatus();
  }

  await removeStaleChecksumFiles(directory, wikiId, date, files);
  const linked = options.linkLatest === false ? false : await linkLatest(options.dumpsRoot, wikiId, date, [...files.map((file) => file.name), ...checksumFileNames(wikiId, date)]);
  return { directory, files, linkedLatest: linked };
}

/** Per-file checksum files of files this run no longer has (an earlier run of the date split differently). */
async function removeStaleChecksumFiles(directory: string, wikiId: string, date: string, files: readonly WrittenFile[]): Promise<void> {
  const current = new Set(files.map((file) => file.name));
  const perFile = new RegExp(`^${wikiId}-${date}-(md5|sha1)sums-(.+)\\.txt$`);
  for (const name of await readdir(directory)) {
    const target = perFile.exec(name)?.[2];
    if (target !== undefined && !current.has(target)) await rm(join(directory, name), { force: true });
  }
}
