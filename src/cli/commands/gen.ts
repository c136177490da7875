// `mwlake gen`: parses and checks the options, runs pipeline/gen, prints one JSON summary line.
// Reads argv and env (KAFKA_BROKERS) only here; imports pipeline and core.

import { Command, Option } from '../commander.js';
import { JobError } from '../../core/errors.js';
import type { GenTarget } from '../../pipeline/gen.js';
import type { CliContext, RegisterCommand } from '../context.js';
import { parseIsoTime } from '../iso-time.js';

interface GenFlags {
  seed: string;
  events?: string;
  days?: string;
  rate: string;
  start: string;
  wikis?: string;
  badFraction: string;
  duplicateFraction: string;
  lateFraction: string;
  out?: string;
  labels?: string;
  force?: boolean;
  to?: string;
  brokers?: string;
  partitions: string;
  stream?: string;
  visibilityFraction?: string;
  visibilityStream?: string;
}

function usage(message: string): JobError {
  return new JobError('USAGE', message);
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw usage(`${flag} must be an integer ≥ ${min}, found ${JSON.stringify(text)}`);
  }
  return value;
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw usage(`${flag} must be a positive number, found ${JSON.stringify(text)}`);
  return value;
}

function fraction(flag: string, text: string, max = 1): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) {
    throw usage(`${flag} must be a number between 0 and ${max}, found ${JSON.stringify(text)}`);
  }
  return value;
}

/** `2025-06-01` or an ISO 8601 time (UTC unless it gives an offset) → ms. */
function startMs(text: string): number {
  const ms = parseIsoTime(text);
  if (ms === undefined) throw usage(`--start must be a date (2025-06-01) or an ISO time (2025-06-01T12:00:00Z), found ${JSON.stringify(text)}`);
  return ms;
}

function target(flags: GenFlags, env: NodeJS.ProcessEnv): GenTarget {
  const to = flags.to ?? (flags.out !== undefined ? 'file' : undefined);
  if (to === undefined) throw usage('say where events go: --out FILE.jsonl, or --to kafka');
  if (to === 'file') {
    if (flags.out === undefined) throw usage('--to file needs --out FILE.jsonl');
    return { kind: 'file', path: flags.out, overwrite: flags.force === true };
  }
  if (flags.out !== undefined) throw usage('--out writes a file; it cannot be combined with --to kafka');
  const brokers = (flags.brokers ?? env['KAFKA_BROKERS'] ?? '').split(',').map((b) => b.trim()).filter((b) => b !== '');
  if (brokers.length === 0) throw usage('--to kafka needs --brokers host:port[,…] or KAFKA_BROKERS');
  return { kind: 'kafka', brokers, partitions: integer('--partitions', flags.partitions, 1) };
}

async function run(flags: GenFlags, context: CliContext): Promise<void> {
  if ((flags.events === undefined) === (flags.days === undefined)) throw usage('give exactly one of --events N or --days D');
  if (flags.visibilityStream !== undefined && flags.visibilityFraction === undefined) throw usage('--visibility-stream names the legacy stream that --visibility-fraction produces; give both');
  const wikis = flags.wikis?.split(',').map((w) => w.trim()).filter((w) => w !== '');
  const { runGen } = await import('../../pipeline/gen.js');
  const report = await runGen(
    {
      generator: {
        seed: flags.seed,
        startMs: startMs(flags.start),
        ...(wikis === undefined ? {} : { wikis }),
        ...(flags.events === undefined ? {} : { events: integer('--events', flags.events, 0) }),
        ...(flags.days === undefined ? {} : { days: positive('--days', flags.days) }),
        eventsPerDay: positive('--rate', flags.rate),
        badFraction: fraction('--bad-fraction', flags.badFraction),
        duplicateFraction: fraction('--duplicate-fraction', flags.duplicateFraction, 0.5),
        lateFraction: fraction('--late-fraction', flags.lateFraction, 0.5),
        ...(flags.stream === undefined ? {} : { stream: flags.stream }),
        ...(flags.visibilityFraction === undefined ? {} : { visibilityFraction: fraction('--visibility-fraction', flags.visibilityFraction, 0.5) }),
        ...(flags.visibilityStream === undefined ? {} : { visibilityStream: flags.visibilityStream }),
      },
      target: target(flags, context.env),
      ...(flags.labels === undefined ? {} : { labelsPath: flags.labels, overwriteLabels: flags.force === true }),
    },
    context.logger(),
  ).catch((error: unknown) => {
    if (error instanceof JobError && error.code === 'ALREADY_EXISTS') {
      throw new JobError('ALREADY_EXISTS', `${error.message}; pass --force to overwrite`, { cause: error, context: error.context });
    }
    throw error;
  });
  context.stdout.write(
    JSON.stringify({
      command: 'gen',
      target: report.target,
      records: report.records,
      byLabel: report.byLabel,
      byKind: report.byKind,
      ...(flags.visibilityFraction === undefined ? {} : { visibilityChanges: report.visibilityChanges }),
      byBadKind: report.byBadKind,
      byTopic: report.byTopic,
      outOfOrder: report.outOfOrder,
      valueBytes: report.valueBytes,
      contentBytes: report.contentBytes,
      seconds: Number(report.seconds.toFixed(3)),
      megabytesPerSecond: Number(report.megabytesPerSecond.toFixed(1)),
    }) + '\n',
  );
}

export const registerGen: RegisterCommand = (program: Command, context: CliContext) => {
  program
    .command('gen')
    .description(
      'Generate a synthetic mediawiki.page_content_change.v1 stream (page_change 1.2.0 events with content bodies): ' +
        'consistent page histories over several wikis with all six page_change_kinds, plus the imperfections of the real ' +
        'stream (duplicates, eqiad/codfw switchovers, canaries, late events, and with --bad-fraction malformed messages). ' +
        'Deterministic: the same options give the same bytes.',
    )
    .option('--seed <seed>', 'PRNG seed (any string or number)', '1')
    .option('--events <n>', 'exactly n messages in total (all labels)')
    .option('--days <d>', 'generate d days of history instead (at --rate events/day), then deliver what is pending')
    .option('--rate <n>', 'history events per day across all wikis; with --events it sets the time span', '100000')
    .option('--start <date>', 'start of the period: 2025-06-01 or 2025-06-01T12:00:00Z', '2025-06-01')
    .option('--wikis <a,b,c>', 'wiki ids (default enwiki,dewiki,commonswiki,wikidatawiki; commonswiki adds mediainfo slots)')
    .option('--bad-fraction <f>', 'fraction of malformed messages (invalid JSON/UTF-8, empty, wrong types, missing fields, unknown $schema major, …)', '0')
    .option('--duplicate-fraction <f>', 'fraction of at-least-once replays', '0.01')
    .option('--late-fraction <f>', 'fraction of creates/edits delivered 1–7 days after their dt', '0.005')
    .option('--out <file.jsonl>', 'write one message value per line (no message contains a raw newline)')
    .option('--labels <file.jsonl>', 'also write one JSON line per message saying what it is (label, kind, bad kind, topic, key, …)')
    .option('--force', 'overwrite --out and --labels if they exist')
    .addOption(new Option('--to <target>', 'where messages go (default: file when --out is given)').choices(['file', 'kafka']))
    .option('--brokers <list>', 'Kafka bootstrap brokers host:port[,…] (default $KAFKA_BROKERS)')
    .option('--partitions <n>', 'partitions of topics created for --to kafka', '6')
    .option('--stream <name>', 'stream name: meta.stream and topics eqiad.<name>, codfw.<name> (default mediawiki.page_content_change.v1)')
    .option('--visibility-fraction <f>', 'also produce legacy visibility changes of older revisions, at about this chance per history event (default 0; needs --to kafka)')
    .option('--visibility-stream <name>', 'the legacy stream: meta.stream and topics eqiad.<name>, codfw.<name> (default mediawiki.revision-visibility-change)')
    .addHelpText(
      'after',
      `
Output: to a file, one message value per line; to Kafka, topics eqiad.mediawiki.page_content_change.v1 and
codfw.mediawiki.page_content_change.v1 (created if missing), key {"wiki_id":…,"page_id":…}, snappy compression.
Prints one JSON line with counts per label (good, duplicate, canary, late, bad), page_change_kind, bad kind and topic.
With --visibility-fraction, legacy mediawiki.revision-visibility-change events (schema 1.0.0) of older revisions go
to their own topics, and visibilityChanges counts them.

Examples:
  mwlake gen --seed 7 --events 5000 --out events.jsonl
  mwlake gen --seed 7 --days 2 --rate 50000 --bad-fraction 0.01 --out events.jsonl --labels labels.jsonl
  mwlake gen --seed 7 --events 100000 --to kafka --brokers 127.0.0.1:9092
  mwlake gen --seed 7 --days 1 --rate 20000 --visibility-fraction 0.01 --to kafka --brokers 127.0.0.1:9092`,
    )
    .action(async (flags: GenFlags) => run(flags, context));
};
