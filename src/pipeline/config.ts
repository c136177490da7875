// The job file (YAML) and its overrides: flags beat environment (MWLAKE_*, KAFKA_BROKERS), which
// beats the file, which beats the defaults. Secrets (SASL password) come only from the environment.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, JobError } from '../core/errors.js';
import { errorStreamName } from '../events/error-stream.js';
import type { EventKind } from '../events/staged-row.js';
import type { SaslMechanism } from '../kafka/client.js';

export interface JobConfig {
  readonly jobName: string;
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly groupId: string;
    readonly topics: readonly string[];
    /**
     * Topics of the legacy `mediawiki.revision-visibility-change` stream, drained into
     * `events.visibilityTable` so that revision deletions of older revisions reach the dumps; none
     * by default.
     */
    readonly visibilityTopics: readonly string[];
    /**
     * The topic error events go to: the stream `<job_name>.error` behind `kafka.error_topic_prefix`
     * (the Event Platform's topics carry their datacenter's, `eqiad.`), none by default.
     */
    readonly errorTopic: string;
    readonly tls: boolean;
    readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  };
  /** Local directory of the Iceberg warehouse. */
  readonly warehouse: string;
  readonly events: { readonly namespace: string; readonly table: string; readonly visibilityTable: string };
  readonly drain: {
    readonly maxEvents?: number;
    readonly maxBytes?: number;
    readonly maxMessageBytes: number;
    /** A run whose invalid events pass this share of its events (from MIN_EVENTS_FOR_ERROR_RATIO on) fails 65 before committing. */
    readonly maxErrorRatio: number;
    readonly parquetEncoder: 'duckdb' | 'parquet-wasm';
    readonly workers: number;
  };
  readonly dumps: {
    readonly root: string;
    readonly wikis: readonly string[] | 'all';
    readonly namespaceMap?: string;
    readonly compression: 'bz2' | 'zstd';
    /** Hours the adds-changes cutoff lags the day's end, for admins to hide content first (legacy: 12). */
    readonly incrDelayHours: number;
    /** Uncompressed XML per part past which an output is written in parts (default: dumps' DEFAULT_MAX_PART_BYTES). */
    readonly partSizeMb?: number;
    /** Complete runs per wiki that maintenance keeps, removing older ones (default: all kept). */
    readonly keepRuns?: number;
  };
  /**
   * DuckDB's memory limit in merge, dump and maintain (default: DuckDB's 80% of RAM). Each works in
   * passes when its content exceeds a share of it (merge and compaction an eighth, dump a quarter).
   */
  readonly memoryLimitMb?: number;
  readonly maintenance: {
    readonly compact: boolean;
    readonly targetFileSizeBytes: number;
    readonly compactMinInputFiles: number;
    readonly expireSnapshots: boolean;
    readonly expireSnapshotsOlderThanDays: number;
    readonly retainLastSnapshots: number;
    readonly removeOrphans: boolean;
    readonly removeOrphansOlderThanHours: number;
  };
  readonly metricsFile?: string;
}

export const DEFAULT_TOPICS = ['eqiad.mediawiki.page_content_change.v1', 'codfw.mediawiki.page_content_change.v1'];

/** A stream the job drains: its kind, its table in the events namespace, its topics. */
export interface EventStream {
  readonly kind: EventKind;
  readonly table: string;
  readonly topics: readonly string[];
}

/** The table of a stream's events, in the events namespace. */
export function eventTableOf(config: JobConfig, kind: EventKind): string {
  return kind === 'page_change' ? config.events.table : config.events.visibilityTable;
}

/** The streams the job drains: page changes, then the legacy visibility changes when it lists their topics. */
export function eventStreams(config: JobConfig): EventStream[] {
  const stream = (kind: EventKind, topics: readonly string[]): EventStream => ({ kind, table: eventTableOf(config, kind), topics });
  return [stream('page_change', config.kafka.topics), ...(config.kafka.visibilityTopics.length === 0 ? [] : [stream('revision_visibility_change', config.kafka.visibilityTopics)])];
}

/** The legacy revision visibility change stream's table, in the events namespace. */
export const DEFAULT_VISIBILITY_TABLE = 'revision_visibility_change';

export type ConfigOverrides = Partial<{
  brokers: string;
  warehouse: string;
  jobName: string;
  topics: string;
  dumpsRoot: string;
  maxEvents: number;
  maxBytes: number;
}>;

type Json = Record<string, unknown>;

/** A bad value is the command line's (64) when a flag gave it, else the configuration's (78). */
function badSetting(message: string, fromFlag: boolean): JobError {
  return fromFlag ? new JobError('USAGE', message) : new ConfigError(message);
}

/** Kafka's own rule for topic names (Topic.java): the broker's INVALID_TOPIC_EXCEPTION would exit 69, retried. */
const isKafkaTopicName = (topic: string): boolean => /^[A-Za-z0-9._-]{1,249}$/.test(topic) && topic !== '.' && topic !== '..';
const KAFKA_TOPIC_RULE = "letters, digits, '.', '_', '-', at most 249";

/**
 * A local path setting as a path. mwlake reads and writes local folders, so an absolute `file:`
 * location is its path, and another URI or a `~` (no shell expands it here) is refused: resolved
 * as a relative path, `s3://bucket/wh` became the folder `./s3:/bucket/wh`, and runs wrote there
 * with exit 0.
 */
function localPath(value: string, source: string): string {
  const fail = (why: string) => badSetting(`${source} is ${JSON.stringify(value)}: ${why}`, source.startsWith('--'));
  if (/^file:/i.test(value)) {
    // fileURLToPath reads file:wh as /wh, and drops a ? or # and what follows.
    if (!/^file:\//i.test(value)) throw fail('a file: location is absolute (file:///srv/wh); give a relative one as a path');
    if (/[?#]/.test(value)) throw fail('a file: location cannot hold ? or # (write them %3F and %23), nor a query');
    try {
      return fileURLToPath(value);
    } catch (cause) {
      throw fail(`not a local file location (${(cause as Error).message}); give a path or file:///abs`);
    }
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) throw fail('mwlake reads and writes local folders only; give a path or a file:/// location');
  if (value.startsWith('~')) throw fail('~ is not expanded here; give the full path');
  return value;
}

/** A path from a flag or the environment, checked as localPath; undefined when unset. */
function setting(value: string | undefined, source: string): string | undefined {
  return value === undefined ? undefined : localPath(value, source);
}

// `at` is where a key sits, as the messages name it: `jobs/x.yaml: ` or `jobs/x.yaml: drain.`.
function section(o: Json, key: string, at: string): Json {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${at}${key} must be a mapping, found ${JSON.stringify(v)}`);
  return v as Json;
}

function str(o: Json, key: string, at: string, fallback?: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}${key} must be a non-empty string, found ${JSON.stringify(v)}`);
  return v;
}

function num(o: Json, key: string, at: string, fallback?: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`${at}${key} must be a non-negative number, found ${JSON.stringify(v)}`);
  return v;
}

/** A count or a size: a whole number of at least `min`. */
function whole(o: Json, key: string, at: string, min: number, fallback?: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new ConfigError(`${at}${key} must be a whole number of at least ${min}, found ${JSON.stringify(v)}`);
  return v;
}

function bool(o: Json, key: string, at: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ConfigError(`${at}${key} must be true or false, found ${JSON.stringify(v)}`);
  return v;
}

/**
 * The wikis a list names: 'all' when `all` stands alone, else the wiki ids; undefined when `all`
 * comes with ids or in another case, which would otherwise be a wiki named "all" that passes
 * every night's drain and merge, then fails its dump for want of a namespace map line.
 * `items` are trimmed and without empty ones; the job file and `--wiki` both go through here,
 * and repeats are dropped (`all,all` is all; a wiki listed twice is dumped once).
 */
export function wikiSelection(items: readonly string[]): readonly string[] | 'all' | undefined {
  const unique = [...new Set(items)];
  if (unique.length === 1 && unique[0] === 'all') return 'all';
  return unique.some((w) => w.toLowerCase() === 'all') ? undefined : unique;
}

/** Trimmed, without empty items or repeats (a topic listed twice would be read twice). */
function list(v: unknown, where: string): string[] {
  const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  if (items === undefined) throw new ConfigError(`${where} must be a list of strings or a comma-separated string, found ${JSON.stringify(v)}`);
  return [...new Set(items.map((s) => s.trim()).filter((s) => s !== ''))];
}

/**
 * drain.max_message_bytes at most: the error topic's max.message.bytes is six times it plus 1 MiB
 * (drain.ts errorTopicMaxMessageBytes), and 6 × 16 MiB + 1 MiB leaves 3 MiB of a stock broker's
 * socket.request.max.bytes (100 MiB) for the request's framing.
 */
export const MAX_MESSAGE_BYTES_LIMIT = 16 * 1024 * 1024;

/**
 * drain.max_error_ratio's default: a run where most events are invalid (a producer on a new major
 * schema version, an enrichment that stopped adding content) is the producer's breakage, not bad
 * events, and committing it would advance the offsets past them and dump empty nights.
 */
export const DEFAULT_MAX_ERROR_RATIO = 0.5;
/** Below this many events (written and invalid) a run's error ratio says too little to fail it. */
export const MIN_EVENTS_FOR_ERROR_RATIO = 100;

const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];
const isSaslMechanism = (m: string): m is SaslMechanism => (SASL_MECHANISMS as readonly string[]).includes(m);

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_JOB_NAME_LENGTH = 249 - '.error'.length;

/** Every key a job file may hold, per section: a misspelt key (`maintenence:`) fails, never silently leaves the defaults in force. */
const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': ['job_name', 'warehouse', 'metrics_file', 'memory_limit_mb', 'kafka', 'events', 'drain', 'dumps', 'maintenance'],
  kafka: ['brokers', 'topics', 'visibility_topics', 'error_topic_prefix', 'client_id', 'group_id', 'tls', 'sasl'],
  'kafka.sasl': ['mechanism', 'username', 'password'],
  events: ['namespace', 'table', 'visibility_table'],
  drain: ['max_events', 'max_bytes', 'max_message_bytes', 'max_error_ratio', 'parquet_encoder', 'workers'],
  dumps: ['root', 'wikis', 'compression', 'namespace_map', 'incr_delay_hours', 'part_size_mb', 'keep_runs'],
  maintenance: [
    'target_file_size_mb',
    'compact',
    'compact_min_input_files',
    'expire_snapshots',
    'expire_snapshots_older_than_days',
    'retain_last_snapshots',
    'remove_orphans',
    'remove_orphans_older_than_hours',
  ],
};

/** Letters two keys differ by (Levenshtein), for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

function checkKeys(raw: Json, file: string): void {
  for (const [path, known] of Object.entries(KNOWN_KEYS)) {
    let value: unknown = raw;
    for (const part of path === '' ? [] : path.split('.')) value = value !== null && typeof value === 'object' ? (value as Json)[part] : undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const closest = known.find((name) => name.startsWith(key)) ?? [...known].sort((a, b) => distance(key, a) - distance(key, b))[0]!;
      const hint = distance(key, closest) <= 3 || closest.startsWith(key) ? `; did you mean ${closest}?` : '';
      throw new ConfigError(`${file}: unknown key ${path === '' ? key : `${path}.${key}`}${hint} (known${path === '' ? '' : ` in ${path}`}: ${known.join(', ')})`);
    }
  }
}

/** memory_limit_mb at most: 16 TiB. */
const MAX_MEMORY_LIMIT_MB = 16 * 1024 * 1024;

/** A week: a longer adds-changes delay is more likely a value in minutes or seconds. */
const MAX_INCR_DELAY_HOURS = 168;
const MAX_PART_SIZE_MB = 1024 * 1024;

/** DuckDB's options for a step that honours the job's memory_limit_mb (merge, dump, maintain). */
export function duckDbMemory(config: JobConfig): { memoryLimit?: string } {
  return config.memoryLimitMb === undefined ? {} : { memoryLimit: `${config.memoryLimitMb}MiB` };
}

/** The job name of read-only commands run without one: they neither consume nor produce. */
export const READ_ONLY_JOB_NAME = 'mwlake';

/**
 * `jobNameRequired: false` is for read-only commands (query, table): they use no consumer group,
 * no error stream and no Kafka, so a missing job name or Kafka password is not an error there.
 * `usesKafka: false` (default: as jobNameRequired) is for the steps that hold the job's lease but
 * never connect (merge, dump, maintain): they need no Kafka password either.
 */
export async function loadConfig(
  file: string | undefined,
  givenEnv: NodeJS.ProcessEnv,
  flags: ConfigOverrides = {},
  o: { readonly jobNameRequired?: boolean; readonly usesKafka?: boolean } = {},
): Promise<JobConfig> {
  // An empty variable is unset, as `${VAR:-default}` reads it: `MWLAKE_TOPICS=` must not mean no topics.
  const env = Object.fromEntries(Object.entries(givenEnv).filter(([, v]) => v !== '')) as NodeJS.ProcessEnv;
  let raw: Json = {};
  let base = process.cwd();
  const where = file ?? '(no job file)';
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new ConfigError(`cannot read job file ${file}: ${(cause as Error).message}`, { cause });
    }
    try {
      // Loaded only when there is a job file: most of `mwlake query`'s start is module loading.
      const { parse } = await import('yaml');
      raw = (parse(text) ?? {}) as Json;
    } catch (cause) {
      throw new ConfigError(`job file ${file} is not valid YAML: ${(cause as Error).message}`, { cause });
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`job file ${file} must be a YAML mapping`);
    checkKeys(raw, file);
    base = dirname(resolve(file));
  }
  const kafka = section(raw, 'kafka', `${where}: `);
  const events = section(raw, 'events', `${where}: `);
  const drain = section(raw, 'drain', `${where}: `);
  const dumps = section(raw, 'dumps', `${where}: `);
  const maintenance = section(raw, 'maintenance', `${where}: `);

  const jobName = flags.jobName ?? env['MWLAKE_JOB_NAME'] ?? str(raw, 'job_name', `${where}: `) ?? (o.jobNameRequired === false ? READ_ONLY_JOB_NAME : undefined);
  if (jobName === undefined) {
    // Without a job file the likely mistake is a forgotten --config: say so, not "(no job file): job_name".
    const give = file === undefined ? 'no job file given: pass --config FILE, or set --job-name or MWLAKE_JOB_NAME; ' : `${where}: `;
    throw new ConfigError(`${give}job_name is required (it names the error stream <job_name>.error and the consumer group)`);
  }
  // Errors name where a value came from (flag, variable or file): that is what needs fixing.
  const jobNameFrom = flags.jobName !== undefined ? '--job-name' : env['MWLAKE_JOB_NAME'] !== undefined ? 'MWLAKE_JOB_NAME' : `${where}: job_name`;
  // A flag is the command line's mistake (64); the environment or job file, the configuration's (78).
  if (!JOB_NAME.test(jobName)) throw badSetting(`${jobNameFrom} ${JSON.stringify(jobName)} must be letters, digits, '_', '.', '-'`, flags.jobName !== undefined);
  // Kafka names are at most 249 characters, and the error stream adds ".error".
  if (jobName.length > MAX_JOB_NAME_LENGTH) throw badSetting(`${jobNameFrom} is ${jobName.length} characters; at most ${MAX_JOB_NAME_LENGTH} fit the error stream <job_name>.error in a Kafka topic name`, flags.jobName !== undefined);

  const brokersText = flags.brokers ?? env['KAFKA_BROKERS'] ?? env['MWLAKE_KAFKA_BROKERS'];
  const brokers = brokersText !== undefined ? list(brokersText, 'brokers') : kafka['brokers'] !== undefined ? list(kafka['brokers'], `${where}: kafka.brokers`) : ['127.0.0.1:9092'];
  const brokersFrom = flags.brokers !== undefined ? '--brokers' : env['KAFKA_BROKERS'] !== undefined ? 'KAFKA_BROKERS' : env['MWLAKE_KAFKA_BROKERS'] !== undefined ? 'MWLAKE_KAFKA_BROKERS' : `${where}: kafka.brokers`;
  const usesKafka = o.usesKafka ?? o.jobNameRequired !== false;
  // The Kafka client's own check names no source; the commands that never connect (merge, dump, query...) do not check.
  if (usesKafka && (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d+$/.test(b)))) {
    throw badSetting(`${brokersFrom} must be a non-empty list of host:port, found ${JSON.stringify(brokersText ?? kafka['brokers'])}`, flags.brokers !== undefined);
  }
  const topicsText = flags.topics ?? env['MWLAKE_TOPICS'];
  const topics = topicsText !== undefined ? list(topicsText, 'topics') : kafka['topics'] !== undefined ? list(kafka['topics'], `${where}: kafka.topics`) : DEFAULT_TOPICS;
  if (topics.length === 0) throw new ConfigError(`${topicsText !== undefined ? 'MWLAKE_TOPICS' : `${where}: kafka.topics`} is empty; name the page change topics (e.g. eqiad.mediawiki.page_content_change.v1)`);
  const visibilityText = env['MWLAKE_VISIBILITY_TOPICS'];
  const visibilityTopics =
    visibilityText !== undefined ? list(visibilityText, 'MWLAKE_VISIBILITY_TOPICS') : kafka['visibility_topics'] !== undefined ? list(kafka['visibility_topics'], `${where}: kafka.visibility_topics`) : [];
  // As for MWLAKE_TOPICS: `${A},${B}` with both unset must not turn suppressions off. The job
  // file's `visibility_topics: []` is the way to say "none".
  if (visibilityText !== undefined && visibilityTopics.length === 0) {
    throw new ConfigError(`MWLAKE_VISIBILITY_TOPICS is empty (${JSON.stringify(visibilityText)}); name the revision visibility change topics, or unset it and set kafka.visibility_topics: [] in the job file for none`);
  }
  for (const [topic, from] of [...topics.map((t) => [t, topicsText !== undefined ? 'MWLAKE_TOPICS' : `${where}: kafka.topics`]), ...visibilityTopics.map((t) => [t, visibilityText !== undefined ? 'MWLAKE_VISIBILITY_TOPICS' : `${where}: kafka.visibility_topics`])]) {
    if (!isKafkaTopicName(topic!)) throw new ConfigError(`${from} holds ${JSON.stringify(topic)}, not a Kafka topic name (${KAFKA_TOPIC_RULE})`);
  }
  const errorTopicPrefix = kafka['error_topic_prefix'] === undefined ? '' : str(kafka, 'error_topic_prefix', `${where}: kafka.`)!;
  const errorTopic = errorTopicPrefix + errorStreamName(jobName);
  if (!isKafkaTopicName(errorTopic)) {
    throw new ConfigError(`${where}: kafka.error_topic_prefix ${JSON.stringify(errorTopicPrefix)} makes the error topic ${JSON.stringify(errorTopic)}, not a Kafka topic name (${KAFKA_TOPIC_RULE})`);
  }
  if ([...topics, ...visibilityTopics].includes(errorTopic)) throw new ConfigError(`${where}: the error topic ${errorTopic} is also a topic the job reads`);
  const both = visibilityTopics.filter((t) => topics.includes(t));
  if (both.length > 0) throw new ConfigError(`${where}: topic ${both.join(', ')} is in both kafka.topics and kafka.visibility_topics; each stream has its own topics and table`);
  const saslSection = section(kafka, 'sasl', `${where}: kafka.`);
  let sasl: JobConfig['kafka']['sasl'];
  // The key turns SASL on even when empty (`sasl:` uncommented, the username from the environment):
  // ignored, the run would connect without SASL and fail as Kafka unavailable (69), retried.
  if ('sasl' in kafka) {
    const mechanism = str(saslSection, 'mechanism', `${where}: kafka.sasl.`, 'scram-sha-512')!.toLowerCase();
    // Unchecked, a misspelt mechanism fails the connection as "Kafka unavailable" (69), retried.
    if (!isSaslMechanism(mechanism)) throw new ConfigError(`${where}: kafka.sasl.mechanism must be one of ${SASL_MECHANISMS.join(', ')}, found ${JSON.stringify(saslSection['mechanism'])}`);
    const username = env['MWLAKE_KAFKA_SASL_USERNAME'] ?? str(saslSection, 'username', `${where}: kafka.sasl.`);
    const password = env['MWLAKE_KAFKA_SASL_PASSWORD'];
    if (saslSection['password'] !== undefined) throw new ConfigError(`${where}: kafka.sasl.password must not be in the job file; set MWLAKE_KAFKA_SASL_PASSWORD`);
    if (username !== undefined && password !== undefined) sasl = { mechanism, username, password };
    // Commands that never connect to Kafka (query, table, merge, dump, maintain) need no Kafka secret.
    else if (usesKafka) throw new ConfigError(`${where}: kafka.sasl needs a username and MWLAKE_KAFKA_SASL_PASSWORD in the environment`);
  }
  const rel = (p: string, key: string) => resolve(base, localPath(p, `${where}: ${key}`));
  const warehouseFile = str(raw, 'warehouse', `${where}: `);
  const warehouse = setting(flags.warehouse, '--warehouse') ?? setting(env['MWLAKE_WAREHOUSE'], 'MWLAKE_WAREHOUSE') ?? (warehouseFile !== undefined ? rel(warehouseFile, 'warehouse') : resolve('warehouse'));
  const dumpsRootFile = str(dumps, 'root', `${where}: dumps.`);
  const dumpsRoot = setting(flags.dumpsRoot, '--dumps-root') ?? setting(env['MWLAKE_DUMPS_ROOT'], 'MWLAKE_DUMPS_ROOT') ?? (dumpsRootFile !== undefined ? rel(dumpsRootFile, 'dumps.root') : resolve(warehouse, '..', 'dumps'));
  const wikis = wikiSelection(dumps['wikis'] === undefined ? ['all'] : list(dumps['wikis'], `${where}: dumps.wikis`));
  if (wikis === undefined) throw new ConfigError(`${where}: dumps.wikis is ${JSON.stringify(dumps['wikis'])}; write all alone and in lower case (dumps.wikis: all), or give wiki ids (e.g. [enwiki, dewiki])`);
  // An empty list would make every dump and nightly a success that writes no dump.
  if (wikis.length === 0) throw new ConfigError(`${where}: dumps.wikis is empty; give all, or a list of wiki ids (e.g. [enwiki, dewiki])`);
  const compression = str(dumps, 'compression', `${where}: dumps.`, 'bz2');
  if (compression !== 'bz2' && compression !== 'zstd') throw new ConfigError(`${where}: dumps.compression must be bz2 or zstd, found ${compression}`);
  const namespaceMap = str(dumps, 'namespace_map', `${where}: dumps.`);
  const incrDelayHours = whole(dumps, 'incr_delay_hours', `${where}: dumps.`, 0, 0)!;
  if (incrDelayHours > MAX_INCR_DELAY_HOURS) throw new ConfigError(`${where}: dumps.incr_delay_hours must be at most ${MAX_INCR_DELAY_HOURS} (a week), found ${incrDelayHours}`);
  const partSizeMb = whole(dumps, 'part_size_mb', `${where}: dumps.`, 1);
  // Bytes by mistake (2147483648 for 2 GiB) would make parts of petabytes: no dump would ever split.
  if (partSizeMb !== undefined && partSizeMb > MAX_PART_SIZE_MB) throw new ConfigError(`${where}: dumps.part_size_mb is in MiB and must be at most ${MAX_PART_SIZE_MB} (1 TiB), found ${partSizeMb}`);
  const keepRuns = whole(dumps, 'keep_runs', `${where}: dumps.`, 1);
  const memoryLimitMb = num(raw, 'memory_limit_mb', `${where}: `);
  if (memoryLimitMb !== undefined && memoryLimitMb < 256) throw new ConfigError(`${where}: memory_limit_mb must be at least 256 (DuckDB scans of the revisions table need about that), found ${memoryLimitMb}`);
  // A size in bytes by mistake (8589934592 for 8 GiB) made DuckDB's limit petabytes, which merge
  // and dump then failed on as a bug (70).
  if (memoryLimitMb !== undefined && memoryLimitMb > MAX_MEMORY_LIMIT_MB) {
    throw new ConfigError(`${where}: memory_limit_mb is in MiB and must be at most ${MAX_MEMORY_LIMIT_MB} (16 TiB), found ${memoryLimitMb} (a size in bytes?)`);
  }
  // Paths in the job file are relative to it; paths from flags and the environment, to the working directory.
  const metricsFileText = str(raw, 'metrics_file', `${where}: `);
  const metricsFile = env['MWLAKE_METRICS_FILE'] !== undefined ? resolve(setting(env['MWLAKE_METRICS_FILE'], 'MWLAKE_METRICS_FILE')!) : metricsFileText !== undefined ? rel(metricsFileText, 'metrics_file') : undefined;
  const encoder = env['MWLAKE_PARQUET_ENCODER'] ?? str(drain, 'parquet_encoder', `${where}: drain.`, 'duckdb')!;
  if (encoder !== 'duckdb' && encoder !== 'parquet-wasm') {
    throw new ConfigError(`${env['MWLAKE_PARQUET_ENCODER'] !== undefined ? 'MWLAKE_PARQUET_ENCODER' : `${where}: drain.parquet_encoder`} must be duckdb or parquet-wasm, found ${JSON.stringify(encoder)}`);
  }
  const maxMessageBytes = whole(drain, 'max_message_bytes', `${where}: drain.`, 1, 10 * 1024 * 1024)!;
  if (maxMessageBytes > MAX_MESSAGE_BYTES_LIMIT) {
    throw new ConfigError(
      `${where}: drain.max_message_bytes must be at most ${MAX_MESSAGE_BYTES_LIMIT} (16 MiB), found ${maxMessageBytes}: the error topic takes six times it plus 1 MiB, ` +
        `and a produce request above a stock broker's socket.request.max.bytes (100 MiB) is dropped with the connection, failing every drain as Kafka unavailable`,
    );
  }
  const maxErrorRatio = num(drain, 'max_error_ratio', `${where}: drain.`, DEFAULT_MAX_ERROR_RATIO)!;
  if (maxErrorRatio > 1) throw new ConfigError(`${where}: drain.max_error_ratio is a share of a run's events, from 0 to 1 (1 turns the check off), found ${maxErrorRatio}`);
  const targetFileSizeMb = num(maintenance, 'target_file_size_mb', `${where}: maintenance.`, 256)!;
  // Below 1 MiB every drain and compaction writes a file per row group, and compaction never ends.
  if (targetFileSizeMb < 1) throw new ConfigError(`${where}: maintenance.target_file_size_mb must be at least 1 (default 256), found ${targetFileSizeMb}`);
  // A size in bytes by mistake: files would never roll, and every night would compact whole partitions.
  if (targetFileSizeMb > MAX_PART_SIZE_MB) throw new ConfigError(`${where}: maintenance.target_file_size_mb is in MiB and must be at most ${MAX_PART_SIZE_MB} (1 TiB), found ${targetFileSizeMb} (a size in bytes?)`);
  const maxEvents = flags.maxEvents ?? whole(drain, 'max_events', `${where}: drain.`, 1);
  const maxBytes = flags.maxBytes ?? whole(drain, 'max_bytes', `${where}: drain.`, 1);
  const workersText = env['MWLAKE_DRAIN_WORKERS'];
  const workers = workersText !== undefined ? (/^\d+$/.test(workersText.trim()) ? Number(workersText) : NaN) : num(drain, 'workers', `${where}: drain.`, 0)!;
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new ConfigError(`${workersText !== undefined ? 'MWLAKE_DRAIN_WORKERS' : `${where}: drain.workers`} must be a whole number from 0 to 64, found ${JSON.stringify(workersText ?? workers)}`);
  }

  const eventsNamespace = str(events, 'namespace', `${where}: events.`, 'events')!;
  // The merge's namespace (STATE_NAMESPACE, not imported: it would load the merge at every start):
  // events drained into state.pages made every merge fail as a bug (70).
  if (eventsNamespace === 'state') throw new ConfigError(`${where}: events.namespace must not be "state", the namespace of the merged state tables`);
  const eventsTable = str(events, 'table', `${where}: events.`, 'page_content_change')!;
  const visibilityTable = str(events, 'visibility_table', `${where}: events.`, DEFAULT_VISIBILITY_TABLE)!;
  // One table for both streams would mix two schemas: the drain failed as a bug (70), the merge
  // would read page changes as visibility changes.
  if (eventsTable === visibilityTable) throw new ConfigError(`${where}: events.table and events.visibility_table are both ${JSON.stringify(eventsTable)}; each stream needs its own table`);

  return {
    jobName,
    kafka: {
      brokers,
      clientId: str(kafka, 'client_id', `${where}: kafka.`, `mwlake-${jobName}`)!,
      groupId: str(kafka, 'group_id', `${where}: kafka.`, `mwlake-${jobName}`)!,
      topics,
      visibilityTopics,
      errorTopic,
      tls: bool(kafka, 'tls', `${where}: kafka.`, false),
      ...(sasl === undefined ? {} : { sasl }),
    },
    warehouse,
    events: {
      namespace: eventsNamespace,
      table: eventsTable,
      visibilityTable,
    },
    drain: {
      ...(maxEvents === undefined ? {} : { maxEvents }),
      ...(maxBytes === undefined ? {} : { maxBytes }),
      maxMessageBytes,
      maxErrorRatio,
      parquetEncoder: encoder,
      workers,
    },
    dumps: { root: dumpsRoot, wikis, compression, incrDelayHours, ...(partSizeMb === undefined ? {} : { partSizeMb }), ...(keepRuns === undefined ? {} : { keepRuns }), ...(namespaceMap === undefined ? {} : { namespaceMap: rel(namespaceMap, 'dumps.namespace_map') }) },
    ...(memoryLimitMb === undefined ? {} : { memoryLimitMb }),
    maintenance: {
      compact: bool(maintenance, 'compact', `${where}: maintenance.`, true),
      targetFileSizeBytes: targetFileSizeMb * 1024 * 1024,
      compactMinInputFiles: whole(maintenance, 'compact_min_input_files', `${where}: maintenance.`, 2, 5)!,
      expireSnapshots: bool(maintenance, 'expire_snapshots', `${where}: maintenance.`, true),
      removeOrphans: bool(maintenance, 'remove_orphans', `${where}: maintenance.`, true),
      expireSnapshotsOlderThanDays: num(maintenance, 'expire_snapshots_older_than_days', `${where}: maintenance.`, 7)!,
      retainLastSnapshots: whole(maintenance, 'retain_last_snapshots', `${where}: maintenance.`, 1, 10)!,
      removeOrphansOlderThanHours: num(maintenance, 'remove_orphans_older_than_hours', `${where}: maintenance.`, 72)!,
    },
    ...(metricsFile === undefined ? {} : { metricsFile }),
  };
}
