// One dump run: for a wiki and date D (cutoff D 00:00 UTC, exclusive) writes, under
// `<dumps_root>/<wiki>/<YYYYMMDD>/`, stub-meta-history, stub-meta-current, stub-articles,
// pages-meta-current, pages-articles, pages-articles-multistream (+ index), pages-meta-history
// and the title lists (title-lists.ts), then the checksum files, keeping dumpstatus.json current
// as each job ends, and finally points `latest/` at the run. Outputs split into parts are also
// recombined into one file each (recombine.ts) once their job is done.
// The XML jobs are fed by one pass over the wiki's history (the state is read once, not once per
// file), and their compressors run side by side; the title lists read the pages once after it.
// pages-articles in bz2 is joined from the multistream's compressed streams (the same XML), so
// that XML is compressed once. A run may
// rewrite only some jobs (after one failed, or to regenerate one file kind): the others keep the
// state and files dumpstatus.json recorded for them.
// Job names follow Wikimedia's (notes §4). Imports core and dumps modules; the source is injected.

import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { JobError } from '../core/errors.js';
import { onInterrupt } from '../core/interrupt.js';
import { makeDirectory } from '../core/make-directory.js';
import { writeTextAtomically } from './atomic-file.js';
import { checksumFileNames, perFileChecksumTarget, writeChecksumFiles } from './checksums.js';
import { CODEC_SUFFIX, findCompressionTools, isCompressedName, type Codec, type CompressionTools } from './compress.js';
import { formatUpdated, isCompleteRunStatus, parseDumpStatus, renderDumpStatus, renderRunInfo, RUN_INFO_FILES, type JobState } from './dump-status.js';
import { checkWikiId, cutoffOfDate, dumpFileName, dumpFilePattern, fileNamePattern, IN_PROGRESS_SUFFIX, isPartFileName, runDirectory } from './file-names.js';
import { linkedDates, linkLatest, unlinkMissing, type LinkLatestOptions } from './latest-links.js';
import { writeMultistreamDump, type MultistreamFiles } from './multistream.js';
import type { DumpRevisionRow, DumpSource } from './records.js';
import { ReaderGoneError, RowChannel } from './row-channel.js';
import { isArticlesNamespace, type SiteInfo } from './site-info.js';
import { removeStaleFiles, RenderedRevisions, writeXmlDump, type WrittenFile } from './xml-dump.js';
import { DOCUMENT_CLOSE, generatorText, renderDocumentOpen } from './xml-render.js';
import { joinMultistreamParts, readMultistreamLayout, recombineMultistream, recombineXmlParts, type MultistreamPartLayout } from './recombine.js';
import { removeTitleLists, TITLE_LIST_JOBS, writeTitleLists, type TitleList } from './title-lists.js';

const TITLE_LIST_JOB_NAMES: ReadonlySet<string> = new Set(Object.values(TITLE_LIST_JOBS));

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
  /** Clock for "updated" in dumpstatus.json and the run info files (the only places a run time appears). */
  readonly now?: () => Date;
  /** Point `latest/` at this run when it completes (default true). */
  readonly linkLatest?: boolean;
  /**
   * The dumpstatus.json jobs to write (default all, see dumpJobNames); the others keep what an
   * earlier run of the date recorded, or `waiting` when none did.
   */
  readonly jobs?: readonly string[];
}

export interface DumpRunResult {
  readonly directory: string;
  /** The content files this run wrote, in job order (every file when it ran every job). */
  readonly files: readonly WrittenFile[];
  /** Whether every job of the date is done, now or by an earlier run. */
  readonly complete: boolean;
  /** Whether `latest/` now points at this run (only a complete one is linked). */
  readonly linkedLatest: boolean;
}

/** The dumpstatus.json job name of pages-meta-history for a codec (`metahistorybz2dump`, ...). */
export function historyJobName(codec: Codec): string {
  return codec === 'none' ? 'metahistorydump' : `metahistory${codec}dump`;
}

/** The dumpstatus.json jobs of a run in run order (Wikimedia's names), with the codec of their files (the multistream's is always bz2). */
function dumpJobs(compression: Partial<DumpCompression>): readonly { readonly job: string; readonly codec: Codec }[] {
  const c: DumpCompression = { ...DEFAULT_COMPRESSION, ...compression };
  return [
    { job: TITLE_LIST_JOBS['all-titles-in-ns0'], codec: 'gz' },
    { job: TITLE_LIST_JOBS['all-titles'], codec: 'gz' },
    { job: 'xmlstubsdump', codec: c.stubs },
    { job: 'metacurrentdump', codec: c.current },
    { job: 'articlesdump', codec: c.articles },
    { job: 'articlesmultistreamdump', codec: 'bz2' },
    { job: historyJobName(c.history), codec: c.history },
  ];
}

/** Whether the jobs chosen (all when undefined), or the jobs they recombine, write files of `codec`. */
export function jobsUseCodec(compression: Partial<DumpCompression>, jobs: readonly string[] | undefined, codec: Codec): boolean {
  const selected = [...selectDumpJobs(jobs, compression)];
  return dumpJobs(compression).some((j) => j.codec === codec && selected.some((job) => job === j.job || recombinedJob(job) === j.job));
}

/**
 * The job that recombines a job's split outputs into one file each (Wikimedia's `…recombine`
 * twins, recombine.ts). It runs with its job and is listed in dumpstatus.json only once that job
 * has split an output; chosen without its job, it recombines the parts its job left (after a
 * recombination failed), reading no history.
 */
const RECOMBINE_JOB: Readonly<Record<string, string>> = {
  xmlstubsdump: 'xmlstubsdumprecombine',
  metacurrentdump: 'metacurrentdumprecombine',
  articlesdump: 'articlesdumprecombine',
  articlesmultistreamdump: 'articlesmultistreamdumprecombine',
};

/** The job a recombine job belongs to, if `job` is one. */
function recombinedJob(job: string): string | undefined {
  return Object.keys(RECOMBINE_JOB).find((main) => RECOMBINE_JOB[main] === job);
}

/** A recombine job with nothing to recombine on a date, and why. */
export interface Unrecombinable {
  readonly job: string;
  /** `split-unlisted`: its job split there before mwlake recombined parts, so its status lists no recombination. */
  readonly why: 'not-done' | 'not-split' | 'split-unlisted';
  readonly refusal: JobError;
}

/**
 * A recombine job chosen without its job recombines the parts that job left: one refusal (64) per
 * such job whose job is not done on the date, or whose status lists no recombination there.
 */
function recombineRefusals(earlier: ReadonlyMap<string, JobState>, selected: ReadonlySet<string>, wikiId: string, date: string): Unrecombinable[] {
  const refused: Unrecombinable[] = [];
  for (const job of selected) {
    const main = recombinedJob(job);
    if (main === undefined) continue;
    const state = earlier.get(main);
    if (state?.status === 'done' && earlier.has(job)) continue;
    const why = state?.status !== 'done' ? 'not-done' : state.files.some((file) => isPartFileName(file.name)) ? 'split-unlisted' : 'not-split';
    const what = { 'not-done': `is not done on ${wikiId} ${date}`, 'not-split': `did not split on ${wikiId} ${date}`, 'split-unlisted': `split on ${wikiId} ${date} before mwlake recombined parts` }[why];
    // Rerunning the job would not split an output that fit in one part.
    const advice = why === 'not-split' ? `its output fit in one file; a job writes parts only past dumps.part_size_mb of XML` : `run ${main}, which recombines what it splits`;
    const refusal = new JobError('USAGE', `dump job ${job} recombines the parts of ${main}, which ${what}: there is nothing to recombine (${advice})`);
    refused.push({ job, why, refusal });
  }
  return refused;
}

/**
 * Of `jobs` (as selectDumpJobs takes them), the recombine jobs that have nothing to recombine on
 * the date, each with its refusal; read from the date's dumpstatus.json, so that a run can pass
 * them by there. An unreadable status refuses none here: the run refuses it, naming the file.
 */
export async function unrecombinableJobs(dumpsRoot: string, wikiId: string, date: string, jobs: readonly string[], compression: Partial<DumpCompression> = {}): Promise<Unrecombinable[]> {
  const selected = selectDumpJobs(jobs, compression);
  if (![...selected].some((job) => recombinedJob(job) !== undefined)) return [];
  const wiki = checkWikiId(wikiId);
  const text = await runStatusText(runDirectory(dumpsRoot, wiki, date));
  const earlier = text === undefined ? new Map<string, JobState>() : parseDumpStatus(text);
  if (earlier === undefined) return [];
  return recombineRefusals(earlier, selected, wiki, date);
}

/** The dumpstatus.json text of the run in `directory`; undefined before its first run (any other read error throws). */
export function runStatusText(directory: string): Promise<string | undefined> {
  return readStatusText(join(directory, 'dumpstatus.json'));
}

async function readStatusText(statusPath: string): Promise<string | undefined> {
  return readFile(statusPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

/** The jobs of a run in dumpstatus.json's order: each recombine job after its job. */
function statusJobNames(compression: Partial<DumpCompression>): string[] {
  return dumpJobNames(compression).flatMap((job) => (RECOMBINE_JOB[job] === undefined ? [job] : [job, RECOMBINE_JOB[job]!]));
}

/** The dumpstatus.json jobs of a run, in run order. */
export function dumpJobNames(compression: Partial<DumpCompression> = {}): string[] {
  return dumpJobs(compression).map((j) => j.job);
}

/** The jobs to run, checked against the run's; throws USAGE naming an unknown one. */
export function selectDumpJobs(wanted: readonly string[] | undefined, compression: Partial<DumpCompression> = {}): ReadonlySet<string> {
  const all = dumpJobNames(compression);
  if (wanted === undefined) return new Set(all);
  if (wanted.length === 0) throw new JobError('USAGE', `no dump job chosen: the jobs are ${all.join(', ')}`);
  for (const job of wanted) {
    const main = recombinedJob(job);
    if (main !== undefined && all.includes(main)) continue;
    if (!all.includes(job)) throw new JobError('USAGE', `unknown dump job ${JSON.stringify(job)}: the jobs are ${all.join(', ')} (and ${all.flatMap((j) => RECOMBINE_JOB[j] ?? []).join(', ')} to recombine a job's parts again)`);
  }
  // A recombine job chosen with its job is that job's to run.
  return new Set(wanted.filter((job) => !wanted.includes(recombinedJob(job) ?? '')));
}

/**
 * The states of the jobs a run of some jobs keeps, from the date's dumpstatus.json; refuses
 * (before anything is written) what it cannot keep as recorded: an unreadable status, jobs of
 * another compression, or a done job whose files are gone or changed size.
 */
async function keptStates(directory: string, statusPath: string, compression: DumpCompression, selected: ReadonlySet<string>): Promise<Map<string, JobState>> {
  const text = await readStatusText(statusPath);
  if (text === undefined) return new Map();
  const runAll = 'run every job of the date (no --jobs)';
  const earlier = parseDumpStatus(text);
  if (earlier === undefined) throw new JobError('DATA', `${statusPath} is not a dumpstatus.json this version can read, so the jobs not chosen cannot be kept: ${runAll}`);
  const jobs = dumpJobs(compression);
  const jobNames = jobs.map((j) => j.job);
  const statusNames = statusJobNames(compression);
  for (const [job, state] of earlier) {
    if (!statusNames.includes(job) && state.files.length > 0) {
      throw new JobError('USAGE', `${statusPath} records job ${job}, which the configured compression does not write (it writes ${jobNames.join(', ')}): ${runAll}`);
    }
  }
  for (const [job, state] of earlier) {
    const main = recombinedJob(job) ?? job;
    const codec = jobs.find((j) => j.job === main)?.codec;
    // Jobs of another compression reach here only without files (refused above otherwise).
    if (selected.has(main) || selected.has(job) || state.status !== 'done' || codec === undefined) continue;
    const suffix = CODEC_SUFFIX[codec];
    for (const file of state.files) {
      const path = join(directory, file.name);
      if (suffix === '' ? isCompressedName(file.name) : !file.name.endsWith(suffix)) {
        throw new JobError('USAGE', `${path} of job ${job} was written with other compression than the configured one: ${runAll}`);
      }
      const size = await stat(path).then((s) => s.size, () => undefined);
      if (size !== file.sizeBytes) {
        const found = size === undefined ? 'is missing' : `is ${size} bytes, not the ${file.sizeBytes} recorded`;
        throw new JobError('DATA', `${path} of job ${job} ${found}: add ${main} to --jobs, or ${runAll}`);
      }
    }
  }
  return earlier;
}

/** Bytes of content queued per output before the pass waits for its writer. */
const CHANNEL_CONTENT_BYTES = 16 * 1024 * 1024;

/** One output of a job (xmlstubsdump has three); a job is done when all its outputs are. */
interface Output {
  /** The dumpstatus.json job it belongs to. */
  readonly job: string;
  /**
   * Which rows of the pass it writes: all, each page's latest revision, or those in content
   * namespaces; none when another output writes its files.
   */
  readonly rows: 'every' | 'latest' | 'articles' | 'none';
  readonly run: (rows: AsyncIterable<DumpRevisionRow>) => Promise<WrittenFile[]>;
  /** Given the output's files: how to recombine them, when they are parts. */
  readonly recombine?: (files: readonly WrittenFile[]) => (() => Promise<WrittenFile[]>) | undefined;
}

function contentBytes(row: DumpRevisionRow): number {
  let bytes = 0;
  for (const slot of row.slots) bytes += slot.contentBody?.length ?? 0;
  return bytes;
}

/** Whether `a` is a later revision of its page than `b`: greater (rev_dt, rev_id), as Wikimedia's point-in-time snapshot picks it (T431872). */
function isLater(a: DumpRevisionRow, b: DumpRevisionRow): boolean {
  return a.revisionTimestampMs > b.revisionTimestampMs || (a.revisionTimestampMs === b.revisionTimestampMs && a.revisionId > b.revisionId);
}

/**
 * The one pass over the history: every row to `every`, each page's latest revision before the
 * cutoff to `latest`, and to `articles` when its namespace is one of the articles dumps'.
 */
async function routeRows(
  rows: AsyncIterable<DumpRevisionRow>,
  routes: Readonly<Record<Exclude<Output['rows'], 'none'>, readonly RowChannel<DumpRevisionRow>[]>>,
): Promise<void> {
  let latest: DumpRevisionRow | undefined;
  const endPage = async (page: DumpRevisionRow): Promise<void> => {
    for (const channel of routes.latest) await channel.push(page);
    if (isArticlesNamespace(page.pageNamespaceId)) for (const channel of routes.articles) await channel.push(page);
  };
  for await (const row of rows) {
    if (latest !== undefined && row.pageId !== latest.pageId) {
      await endPage(latest);
      latest = undefined;
    }
    if (latest === undefined || isLater(row, latest)) latest = row;
    for (const channel of routes.every) await channel.push(row);
  }
  if (latest !== undefined) await endPage(latest);
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
  const selected = selectDumpJobs(options.jobs, compression);
  const directory = runDirectory(options.dumpsRoot, wikiId, date);
  const statusPath = join(directory, 'dumpstatus.json');
  const everyJob = dumpJobNames(compression).every((job) => selected.has(job));
  const earlier = everyJob ? new Map<string, JobState>() : await keptStates(directory, statusPath, compression, selected);
  // Before the folder is made: a refused run must not leave a date folder that looks like a run.
  const [refused] = recombineRefusals(earlier, selected, wikiId, date);
  if (refused !== undefined) throw refused.refusal;
  await makeDirectory(directory);

  // Files of another part split an earlier run of the date left: removed at the end, once latest/
  // links the new files, so that it never links a removed one meanwhile.
  const deferStale: RegExp[] = [];
  // Outputs publish their files under the names an earlier run's files have: the checksums of those
  // go before the first rename, else a run killed right after it leaves them naming the new bytes
  // with the old hashes. Until then they describe the earlier files, which are still in place. In
  // line with the other checksum writes (bookkeeping); an output whose drop failed publishes nothing.
  let dropped: Promise<void> | undefined;
  const beforePublish = (): Promise<void> => {
    if (dropped === undefined) {
      dropped = bookkeeping.then(async () => {
        await writeChecksumFiles(directory, wikiId, date, inJobOrder(), []);
        await removeStaleChecksumFiles(directory, wikiId, date, inJobOrder());
      });
      bookkeeping = dropped.catch(() => undefined);
    }
    return dropped;
  };
  const common = { directory, wikiId, date, site, generator, maxPartBytes, tools, rendered: new RenderedRevisions(), deferStale, beforePublish };
  // bz2 pages-articles comes from the multistream writer, with the multistream's parts, when both run.
  const joinArticles = compression.articles === 'bz2' && selected.has('articlesdump') && selected.has('articlesmultistreamdump');
  let startedMultistream!: (run: Promise<MultistreamFiles>) => void;
  const multistreamRun = new Promise<MultistreamFiles>((resolve) => (startedMultistream = resolve));
  const stubs = (dumpName: string) => (rows: AsyncIterable<DumpRevisionRow>) => writeXmlDump(rows, { ...common, dumpName, codec: compression.stubs, mode: 'stub' });
  // The title lists read the source once the history pass is over (a source may have one reader),
  // both lists in one read. A failed or stopped run stops them, before they start or while the
  // source sorts, as it stops the other outputs; their earlier files go as a failed output's do.
  // It stops recombinations the same way.
  const lateStop = new AbortController();
  const stopLateJobs = (reason: unknown): void => {
    if (!lateStop.signal.aborted) lateStop.abort(reason);
  };
  let historyPassed!: () => void;
  const historyPass = new Promise<void>((resolve, reject) => {
    historyPassed = resolve;
    lateStop.signal.addEventListener('abort', () => reject(lateStop.signal.reason), { once: true });
  });
  historyPass.catch(() => undefined);
  const late = { directory, tools, signal: lateStop.signal, beforePublish };
  // Parts recombined alone (kept from an earlier run) are checked against their first part's header, not this run's.
  const recombineXml =
    (dumpName: string, codec: Codec, kept = false) =>
    (files: readonly WrittenFile[]): (() => Promise<WrittenFile[]>) | undefined =>
      files.length < 2
        ? undefined
        : async () => [
            await recombineXmlParts({
              ...late,
              parts: files,
              codec,
              ...(kept ? {} : { header: renderDocumentOpen(site, generator) }),
              footer: DOCUMENT_CLOSE,
              name: dumpFileName(wikiId, date, dumpName, 'xml', codec),
            }),
          ];
  const lists = (Object.keys(TITLE_LIST_JOBS) as TitleList[]).filter((list) => selected.has(TITLE_LIST_JOBS[list]));
  let titleRun: Promise<Map<TitleList, WrittenFile>> | undefined;
  const titleList = (list: TitleList) => async (): Promise<WrittenFile[]> => {
    titleRun ??= historyPass.then(
      () => writeTitleLists(source.pageTitles(wikiId, cutoffMs), { directory, wikiId, date, lists, tools, beforePublish, signal: lateStop.signal, deferStale }),
      async (error: unknown) => {
        await removeTitleLists(directory, wikiId, date, lists, deferStale);
        throw error;
      },
    );
    return [(await titleRun).get(list)!];
  };
  const allOutputs: Output[] = [
    { job: TITLE_LIST_JOBS['all-titles-in-ns0'], rows: 'none', run: titleList('all-titles-in-ns0') },
    { job: TITLE_LIST_JOBS['all-titles'], rows: 'none', run: titleList('all-titles') },
    // Wikimedia's xmlstubsdump writes all three stub files.
    ...['stub-meta-history', 'stub-meta-current', 'stub-articles'].map(
      (dumpName, index): Output => ({ job: 'xmlstubsdump', rows: (['every', 'latest', 'articles'] as const)[index]!, run: stubs(dumpName), recombine: recombineXml(dumpName, compression.stubs) }),
    ),
    {
      job: 'metacurrentdump',
      rows: 'latest',
      run: (rows) => writeXmlDump(rows, { ...common, dumpName: 'pages-meta-current', codec: compression.current, mode: 'full' }),
      recombine: recombineXml('pages-meta-current', compression.current),
    },
    {
      job: 'articlesdump',
      ...(joinArticles
        ? { rows: 'none' as const, run: async () => (await multistreamRun).singleStream }
        : { rows: 'articles' as const, run: (rows: AsyncIterable<DumpRevisionRow>) => writeXmlDump(rows, { ...common, dumpName: 'pages-articles', codec: compression.articles, mode: 'full' }) }),
      // Joined from the multistream's streams as its parts were, not compressed again.
      recombine: joinArticles
        ? (files) => (files.length < 2 ? undefined : async () => [await joinMultistreamParts({ ...late, parts: (await multistreamRun).layout, name: dumpFileName(wikiId, date, 'pages-articles', 'xml', 'bz2') })])
        : recombineXml('pages-articles', compression.articles),
    },
    {
      job: 'articlesmultistreamdump',
      rows: 'articles',
      run: async (rows) => {
        const run = writeMultistreamDump(rows, { ...common, dumpName: 'pages-articles-multistream', ...(joinArticles ? { singleStreamName: 'pages-articles' } : {}) });
        startedMultistream(run);
        return (await run).files;
      },
      recombine: (files) =>
        files.length <= 2
          ? undefined
          : async () =>
              recombineMultistream({
                ...late,
                parts: (await multistreamRun).layout,
                name: dumpFileName(wikiId, date, 'pages-articles-multistream', 'xml', 'bz2'),
                indexName: dumpFileName(wikiId, date, 'pages-articles-multistream-index', 'txt', 'bz2'),
              }),
    },
    {
      job: historyJobName(compression.history),
      rows: 'every',
      // Not through the shared renderings: most of its rows go to no other output, and keeping a
      // rendering per row for as long as the row lives cost a history dump about a tenth of its CPU;
      // a page's latest revision is rendered twice instead, here and once for the outputs sharing it.
      run: (rows) => writeXmlDump(rows, { ...common, rendered: undefined, dumpName: 'pages-meta-history', codec: compression.history, mode: 'full' }),
    },
  ];
  // A recombine job chosen without its job: the parts its job left, as the date's status lists them.
  const keptParts = (job: string, dumpName: string, fileType: 'xml' | 'txt'): WrittenFile[] => {
    const pattern = dumpFilePattern(wikiId, date, dumpName, fileType);
    const partNumber = (file: WrittenFile) => Number(pattern.exec(file.name)?.[1]);
    return (earlier.get(job)?.files ?? []).filter((file) => pattern.exec(file.name)?.[2] !== undefined).sort((a, b) => partNumber(a) - partNumber(b));
  };
  const keptXml = (job: string, dumpName: string, codec: Codec): (() => Promise<WrittenFile[]>)[] => {
    const run = recombineXml(dumpName, codec, true)(keptParts(job, dumpName, 'xml'));
    return run === undefined ? [] : [run];
  };
  const keptRecombines: Readonly<Record<string, () => (() => Promise<WrittenFile[]>)[]>> = {
    xmlstubsdumprecombine: () => ['stub-meta-history', 'stub-meta-current', 'stub-articles'].flatMap((dumpName) => keptXml('xmlstubsdump', dumpName, compression.stubs)),
    metacurrentdumprecombine: () => keptXml('metacurrentdump', 'pages-meta-current', compression.current),
    // Compressed again even when the run joined bz2 parts from the multistream's streams: the same XML.
    articlesdumprecombine: () => keptXml('articlesdump', 'pages-articles', compression.articles),
    articlesmultistreamdumprecombine: () => {
      const xml = keptParts('articlesmultistreamdump', 'pages-articles-multistream', 'xml');
      const index = keptParts('articlesmultistreamdump', 'pages-articles-multistream-index', 'txt');
      if (xml.length < 2 || index.length !== xml.length) return [];
      return [
        async () => {
          // One part at a time: each read starts a decompressor.
          const parts: MultistreamPartLayout[] = [];
          for (const [i, file] of xml.entries()) parts.push(await readMultistreamLayout({ directory, xml: file, index: index[i]!, tools, footer: DOCUMENT_CLOSE, signal: lateStop.signal }));
          return recombineMultistream({
            ...late,
            parts,
            name: dumpFileName(wikiId, date, 'pages-articles-multistream', 'xml', 'bz2'),
            indexName: dumpFileName(wikiId, date, 'pages-articles-multistream-index', 'txt', 'bz2'),
          });
        },
      ];
    },
  };
  for (const job of selected) {
    const main = recombinedJob(job);
    if (main === undefined) continue;
    const runs = keptRecombines[job]!();
    if (runs.length === 0) throw new JobError('DATA', `dump job ${job} finds no parts of ${main} listed in ${statusPath}: run ${main}`, { context: { path: statusPath } });
    // Its earlier files go if it fails, as a job's do: the status and checksums will not list them.
    for (const file of earlier.get(job)?.files ?? []) deferStale.push(fileNamePattern(file.name));
    allOutputs.push({
      job,
      rows: 'none',
      run: async () => {
        const files: WrittenFile[] = [];
        for (const run of runs) files.push(...(await run()));
        return files;
      },
    });
  }
  const outputs = allOutputs.filter((output) => selected.has(output.job));
  const jobNames = statusJobNames(compression);

  const states = new Map<string, JobState>();
  const started = formatUpdated(now());
  for (const job of jobNames) {
    const before = earlier.get(job);
    const main = recombinedJob(job);
    // A recombine job is listed once its job has split; an earlier run's is kept with its job.
    if (main !== undefined && (selected.has(main) || before === undefined)) continue;
    // A job left in-progress by a run that died is not running now: a date is dumped by one run at a time.
    if (selected.has(job)) states.set(job, { status: 'in-progress', updated: started, files: [] });
    // A title list the date's status does not list came after its run: the date stays as complete
    // as it was, not `waiting` for a job nightly would then redo the whole date for. Any other job
    // missing (the history of another compression, which failed) is waiting: the date is not complete.
    else if (before === undefined && earlier.size > 0 && TITLE_LIST_JOB_NAMES.has(job)) continue;
    else states.set(job, before === undefined ? { status: 'waiting', updated: started, files: [] } : before.status === 'in-progress' ? { ...before, status: 'failed', files: [] } : before);
  }
  // dumpstatus.json last: it is the one this tool reads back, so a run stopped between the writes
  // is not complete by it, and its rerun writes the run info files again.
  const writeStatus = async (): Promise<void> => {
    const jobs = jobNames.flatMap((job) => (states.has(job) ? [[job, states.get(job)!] as const] : []));
    const runInfo = renderRunInfo(jobs);
    await writeTextAtomically(join(directory, RUN_INFO_FILES.json), runInfo.json);
    await writeTextAtomically(join(directory, RUN_INFO_FILES.txt), runInfo.txt);
    await writeTextAtomically(statusPath, renderDumpStatus(wikiId, date, jobs));
  };
  // The date's status files as an earlier run left them: a run that fails or is stopped before any
  // output published a file puts them back, so a regeneration that did not get that far leaves the
  // earlier run whole (its files, checksums and latest/ links were never touched).
  const earlierStatusFiles = await readStatusFiles(directory);
  // Before any output starts: a status that cannot be written stops the run with nothing written.
  try {
    await writeStatus();
  } catch (error) {
    if (earlierStatusFiles !== undefined) await restoreStatusFiles(directory, earlierStatusFiles).catch(() => undefined);
    throw error;
  }
  const channels = outputs.map((output) => new RowChannel<DumpRevisionRow>(output.job, CHANNEL_CONTENT_BYTES, contentBytes));
  const failures: unknown[] = [];
  // Outputs finish in any order; their status and checksum writes go one after another. One that
  // fails (a full disk) fails the run as an output would: the others are stopped, later writes still
  // run, and the run ends only once every output has.
  let bookkeeping: Promise<void> = Promise.resolve();
  // A failure fails the run: every output's rows stop, and so do the title lists and
  // recombinations, which the channels do not reach once the history pass is over.
  const failRun = (error: unknown, o: { readonly recorded?: boolean } = {}): void => {
    if (o.recorded !== false) failures.push(error);
    for (const channel of channels) channel.fail(error);
    stopLateJobs(error);
  };
  const record = (update: () => Promise<void>): Promise<void> => (bookkeeping = bookkeeping.then(update).catch((error: unknown) => failRun(error)));
  const written = new Map<Output, WrittenFile[]>();
  // The files this run wrote, its recombined ones after their job's.
  const recombined = new Map<string, WrittenFile[]>();
  const writtenInJobOrder = (): WrittenFile[] =>
    jobNames.flatMap((job) => recombined.get(job) ?? outputs.filter((output) => output.job === job).flatMap((output) => written.get(output) ?? []));
  // Checksum files and latest/ cover the files of the date's done jobs, written now or kept: not
  // those of a job still running or failed (xmlstubsdump's other outputs may have finished).
  const inJobOrder = (): WrittenFile[] => jobNames.flatMap((job) => {
    const state = states.get(job);
    return state?.status === 'done' ? state.files : [];
  });

  // A job that split an output recombines it once the job is done, beside the outputs still running.
  const recombining: Promise<void>[] = [];
  const recombine = async (job: string, runs: readonly (() => Promise<WrittenFile[]>)[]): Promise<void> => {
    try {
      const files: WrittenFile[] = [];
      for (const run of runs) files.push(...(await run()));
      await record(async () => {
        await writeChecksumFiles(directory, wikiId, date, [...inJobOrder(), ...files], files);
        states.set(job, { status: 'done', updated: formatUpdated(now()), files });
        recombined.set(job, files);
        await writeStatus();
      });
    } catch (error) {
      // Stopped by another job's failure: that one is the run's error.
      if (error !== lateStop.signal.reason) failRun(error);
      await record(async () => {
        states.set(job, { status: 'failed', updated: formatUpdated(now()), files: [] });
        await writeStatus();
      });
    }
  };
  const writers = outputs.map((output, index) =>
    output.run(channels[index]!).then(
      (files) =>
        record(async () => {
          written.set(output, files);
          const ofJob = outputs.filter((o) => o.job === output.job);
          if (states.get(output.job)?.status !== 'in-progress' || !ofJob.every((o) => written.has(o))) {
            await writeChecksumFiles(directory, wikiId, date, inJobOrder(), files);
            return;
          }
          const done: JobState = { status: 'done', updated: formatUpdated(now()), files: ofJob.flatMap((o) => written.get(o)!) };
          // Listed in the checksums before the status says done; done only once they are.
          await writeChecksumFiles(directory, wikiId, date, [...inJobOrder(), ...done.files], files);
          states.set(output.job, done);
          // Listed in the same write: a run killed before the recombination must not leave the date complete.
          const recombines = ofJob.flatMap((o) => o.recombine?.(written.get(o)!) ?? []);
          const recombineJob = recombines.length > 0 ? RECOMBINE_JOB[output.job] : undefined;
          if (recombineJob !== undefined) states.set(recombineJob, { status: 'in-progress', updated: done.updated, files: [] });
          await writeStatus();
          if (recombineJob !== undefined) recombining.push(recombine(recombineJob, recombines));
        }),
      (error: unknown) => {
        failRun(error);
        return record(async () => {
          states.set(output.job, { status: 'failed', updated: formatUpdated(now()), files: [] });
          await writeStatus();
          // Nothing published yet: the checksums still describe the earlier files, which are still in place.
          if (dropped === undefined && earlierStatusFiles !== undefined) return;
          // The failed output removed its files, and those an earlier run of it left.
          const left = inJobOrder();
          if (left.length > 0) await writeChecksumFiles(directory, wikiId, date, left, []);
          else for (const name of checksumFileNames(wikiId, date)) await rm(join(directory, name), { force: true });
        });
      },
    ),
  );
  const routes = { every: [] as RowChannel<DumpRevisionRow>[], latest: [] as RowChannel<DumpRevisionRow>[], articles: [] as RowChannel<DumpRevisionRow>[] };
  for (const [index, output] of outputs.entries()) if (output.rows !== 'none') routes[output.rows].push(channels[index]!);
  // Once every output has stopped, a failed run marks the jobs that did not finish failed, and drops
  // the per-file checksums of files that are gone and the latest/ links to them. Done once, by the
  // run or by SIGTERM's cleanup, after which the process exits.
  let settled: Promise<WrittenFile[]> | undefined;
  const settle = (): Promise<WrittenFile[]> =>
    (settled ??= (async () => {
      await Promise.all(writers);
      // Started by the writers' bookkeeping, so all of them are listed once the writers are done.
      await Promise.all(recombining);
      await bookkeeping;
      if (failures.length > 0) {
        // A job whose files were written but whose checksums could not be is not done either; the
        // status is written once more in case the failure was an earlier write of it.
        for (const [job, state] of states) if (state.status === 'in-progress') states.set(job, { status: 'failed', updated: formatUpdated(now()), files: [] });
        await record(writeStatus);
        // Every output has stopped, so none publishes from here on.
        if (dropped === undefined && earlierStatusFiles !== undefined) {
          await record(async () => {
            await restoreStatusFiles(directory, earlierStatusFiles);
            // What a run killed outright left in progress under these outputs' names: no status lists it.
            for (const name of await readdir(directory)) {
              const final = name.slice(0, -IN_PROGRESS_SUFFIX.length);
              if (name.endsWith(IN_PROGRESS_SUFFIX) && deferStale.some((pattern) => pattern.test(name) || pattern.test(final))) await rm(join(directory, name), { force: true });
            }
          });
          return [];
        }
        // Outputs that finished keep their files.
        await removeStaleFiles(directory, deferStale, [...writtenInJobOrder(), ...inJobOrder()]);
        await removeStaleChecksumFiles(directory, wikiId, date, inJobOrder());
        // latest/ may point at this date from an earlier complete run whose files this run replaced
        // or removed: then at the date again if every job still got done (a stop in the last
        // status write), else at the newest other complete run.
        const linked = (await linkedDates(options.dumpsRoot, wikiId)).has(date);
        await unlinkMissing(options.dumpsRoot, wikiId, date);
        if (options.linkLatest !== false) {
          // Complete as dumpstatus.json says, not as the run remembers: the last write may have failed.
          const relinked = [...states.values()].every((state) => state.status === 'done') && (await relinkCompleteRun(options.dumpsRoot, wikiId, date));
          // This date is not complete now: the newest complete run takes latest/ back from it.
          if (!relinked && linked) await relinkNewestCompleteRun(options.dumpsRoot, wikiId);
        }
      }
      return inJobOrder();
    })());
  // SIGTERM fails every output as an error would: in-progress parts are removed, and
  // dumpstatus.json says failed, not in-progress, for whoever reads it next.
  const forgetInterrupt = onInterrupt(async (reason) => {
    // The run's error even when every output had finished (a recombination or title list was running).
    // The title lists must not wait for a history read that a stalled source never ends.
    failRun(reason);
    await settle();
  });
  try {
    // No history read when only the title lists run.
    if (routes.every.length + routes.latest.length + routes.articles.length > 0) await routeRows(source.history({ wikiId, cutoffMs, includeContent: true }), routes);
    for (const channel of channels) channel.close();
    historyPassed();
  } catch (error) {
    // A writer that stopped has its own error in `failures` already; this one only echoes it.
    failRun(error, { recorded: !(error instanceof ReaderGoneError) });
  }
  const files = await settle();
  forgetInterrupt();
  if (failures.length > 0) throw failures.find((error) => !(error instanceof ReaderGoneError)) ?? failures[0];

  await removeStaleChecksumFiles(directory, wikiId, date, files);
  // Kept jobs' per-file checksum files too: an earlier version may have named them otherwise.
  if (!everyJob) await writeChecksumFiles(directory, wikiId, date, files, files);
  const complete = [...states.values()].every((state) => state.status === 'done');
  const linked = options.linkLatest === false || !complete ? false : await linkLatest(options.dumpsRoot, wikiId, date, [...files.map((file) => file.name), ...checksumFileNames(wikiId, date)], options.now === undefined ? {} : { now: options.now });
  await removeStaleFiles(directory, deferStale, files);
  if (!linked) await unlinkMissing(options.dumpsRoot, wikiId, date);
  return { directory, files: writtenInJobOrder(), complete, linkedLatest: linked };
}

/** The bytes of a run folder's dumpstatus.json and run info files (undefined: absent). */
type StatusFiles = ReadonlyMap<string, Buffer | undefined>;

const STATUS_FILE_NAMES = ['dumpstatus.json', RUN_INFO_FILES.json, RUN_INFO_FILES.txt] as const;

/** Undefined when the folder has no status, or one that cannot be read: a failed run then cannot put it back, as before. */
async function readStatusFiles(directory: string): Promise<StatusFiles | undefined> {
  const files = new Map<string, Buffer | undefined>();
  try {
    for (const name of STATUS_FILE_NAMES) {
      files.set(name, await readFile(join(directory, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      }));
    }
  } catch {
    return undefined;
  }
  return files.get('dumpstatus.json') === undefined ? undefined : files;
}

/** Puts the status files back as readStatusFiles read them; dumpstatus.json last, as writeStatus writes it. */
async function restoreStatusFiles(directory: string, texts: StatusFiles): Promise<void> {
  for (const name of [...STATUS_FILE_NAMES].reverse()) {
    const text = texts.get(name);
    if (text === undefined) await rm(join(directory, name), { force: true });
    else await writeTextAtomically(join(directory, name), text);
  }
}

/**
 * Points `latest/` at the complete run of `date` again, from its dumpstatus.json: a run killed
 * while linking left `latest/` partly on an older run, and its date, complete, is never due again.
 * Returns whether `latest/` now links it (false: not complete, or a newer run is linked).
 */
export async function relinkCompleteRun(dumpsRoot: string, wikiId: string, date: string, o: LinkLatestOptions = {}): Promise<boolean> {
  const files = await completeRunFiles(runDirectory(dumpsRoot, wikiId, date));
  return files !== undefined && (await linkRun(dumpsRoot, wikiId, date, files, o));
}

/**
 * Points `latest/` at the newest complete run of `dates` (default: every run folder of the wiki),
 * taking it from newer runs that are not complete (a failed or killed rerun of their date: they
 * hold part of a set at most). Does nothing when no run is complete.
 */
export async function relinkNewestCompleteRun(dumpsRoot: string, wikiId: string, dates?: readonly string[]): Promise<void> {
  const all = dates ?? (await readdir(join(dumpsRoot, wikiId)).catch(() => [] as string[])).filter((d) => RUN_DATE.test(d));
  const unfinished = new Set<string>();
  for (const d of [...all].sort().reverse()) {
    const files = await completeRunFiles(runDirectory(dumpsRoot, wikiId, d));
    if (files === undefined) {
      unfinished.add(d);
      continue;
    }
    await linkRun(dumpsRoot, wikiId, d, files, { replacing: unfinished });
    return;
  }
}

/** The files of the run in `directory` if its dumpstatus.json says it completed (every job done). */
export async function completeRunFiles(directory: string): Promise<WrittenFile[] | undefined> {
  const text = await readFile(join(directory, 'dumpstatus.json'), 'utf8').catch(() => undefined);
  if (text === undefined || !isCompleteRunStatus(text)) return undefined;
  return [...parseDumpStatus(text)!.values()].flatMap((job) => job.files);
}

const RUN_DATE = /^\d{8}$/;

/** Links the complete run of `date` (its `files`); false when a newer run is linked. */
async function linkRun(dumpsRoot: string, wikiId: string, date: string, files: readonly WrittenFile[], o: LinkLatestOptions): Promise<boolean> {
  const directory = runDirectory(dumpsRoot, wikiId, date);
  if (!(await linkLatest(dumpsRoot, wikiId, date, [...files.map((file) => file.name), ...checksumFileNames(wikiId, date)], o))) return false;
  // What the killed run would have removed once linked: files of an earlier run's other part split.
  await removeStaleFiles(directory, RUN_FILE_KINDS.map(([dumpName, fileType]) => dumpFilePattern(wikiId, date, dumpName, fileType)), files);
  await removeStaleChecksumFiles(directory, wikiId, date, files);
  return true;
}

/** The dump names a run writes files of, with their file type (the multistream index is text). */
const RUN_FILE_KINDS: readonly (readonly [string, 'xml' | 'txt'])[] = [
  ['stub-meta-history', 'xml'], ['stub-meta-current', 'xml'], ['stub-articles', 'xml'], ['pages-meta-current', 'xml'], ['pages-articles', 'xml'],
  ['pages-articles-multistream', 'xml'], ['pages-articles-multistream-index', 'txt'], ['pages-meta-history', 'xml'],
];

/**
 * Per-file checksum files of files this run no longer has (an earlier run of the date split
 * differently), and any in the form earlier mwlake versions wrote.
 */
async function removeStaleChecksumFiles(directory: string, wikiId: string, date: string, files: readonly WrittenFile[]): Promise<void> {
  const current = new Set(files.map((file) => file.name));
  for (const name of await readdir(directory)) {
    const perFile = perFileChecksumTarget(name, wikiId, date);
    if (perFile !== undefined && (perFile.legacy || !current.has(perFile.target))) await rm(join(directory, name), { force: true });
  }
}
