// The one error type of mwlake and the table that maps each error code to retryability and exit code.
// Shape follows kafkajs (a data table plus a small hierarchy) and iceberg-rust's Error{kind, context}.
// Imports nothing from src/.

import { ExitCode } from './exit-codes.js';

interface CodeInfo {
  readonly retryable: boolean;
  readonly exitCode: ExitCode;
  readonly summary: string;
}

/** Every error code mwlake raises, with whether a retry can help and the process exit code. */
export const ERROR_CODES = {
  USAGE: { retryable: false, exitCode: ExitCode.Usage, summary: 'invalid command line' },
  CONFIG: { retryable: false, exitCode: ExitCode.Config, summary: 'invalid configuration' },
  DATA: { retryable: false, exitCode: ExitCode.Data, summary: 'bad input data' },
  SPEC_VIOLATION: { retryable: false, exitCode: ExitCode.Data, summary: 'input violates the Iceberg spec' },
  SCHEMA_VALIDATION: { retryable: false, exitCode: ExitCode.Data, summary: 'event failed schema validation' },
  OFFSET_OUT_OF_RANGE: { retryable: false, exitCode: ExitCode.Data, summary: 'stored offset below the log start: events were lost to retention' },
  UNAVAILABLE: { retryable: true, exitCode: ExitCode.Unavailable, summary: 'Kafka or storage unavailable' },
  STORAGE: { retryable: true, exitCode: ExitCode.Unavailable, summary: 'storage operation failed' },
  STORAGE_REFUSED: { retryable: false, exitCode: ExitCode.Refused, summary: 'storage refused the operation (permission, read-only, not a folder)' },
  NOT_FOUND: { retryable: false, exitCode: ExitCode.Data, summary: 'not found' },
  ALREADY_EXISTS: { retryable: false, exitCode: ExitCode.Data, summary: 'already exists' },
  COMMIT_CONFLICT: { retryable: true, exitCode: ExitCode.TempFail, summary: 'another writer committed first' },
  COMMIT_STATE_UNKNOWN: { retryable: false, exitCode: ExitCode.CommitStateUnknown, summary: 'commit outcome unknown' },
  LOCKED: { retryable: true, exitCode: ExitCode.TempFail, summary: 'another run holds the lock' },
  TEMPORARY: { retryable: true, exitCode: ExitCode.TempFail, summary: 'temporary failure' },
  INTERRUPTED: { retryable: true, exitCode: ExitCode.Terminated, summary: 'stopped by a signal' },
  RESOURCES: { retryable: false, exitCode: ExitCode.Resources, summary: 'out of memory or disk space' },
  INTERNAL: { retryable: false, exitCode: ExitCode.Internal, summary: 'internal error (a bug)' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorContext = Readonly<Record<string, unknown>>;

export interface JobErrorOptions {
  readonly context?: ErrorContext;
  readonly cause?: unknown;
  /** Overrides the table's default when one instance differs (e.g. a storage error that cannot be retried). */
  readonly retryable?: boolean;
}

/** Base error: a code from ERROR_CODES, a message saying what failed, expected and found, and context. */
export class JobError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: JobErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.context = options.context ?? {};
  }

  get exitCode(): ExitCode {
    return ERROR_CODES[this.code].exitCode;
  }
}

/** Another writer committed first and the operation cannot be rebased: re-plan and retry. */
export class CommitConflictError extends JobError {
  constructor(message: string, options: JobErrorOptions = {}) {
    super('COMMIT_CONFLICT', message, options);
  }
}

/** The commit may or may not have landed: re-read the table before doing anything else. */
export class CommitStateUnknownError extends JobError {
  constructor(message: string, options: JobErrorOptions = {}) {
    super('COMMIT_STATE_UNKNOWN', message, options);
  }
}

/** A stored Kafka position is below the log start offset: data loss, never reset automatically. */
export class OffsetOutOfRangeError extends JobError {
  constructor(message: string, options: JobErrorOptions = {}) {
    super('OFFSET_OUT_OF_RANGE', message, options);
  }
}

/** Input (metadata, manifests, arguments to the spec layer) breaks the Iceberg spec. */
export class SpecViolationError extends JobError {
  constructor(message: string, options: JobErrorOptions = {}) {
    super('SPEC_VIOLATION', message, options);
  }
}

/** A job file, environment variable or flag has an invalid value. */
export class ConfigError extends JobError {
  constructor(message: string, options: JobErrorOptions = {}) {
    super('CONFIG', message, options);
  }
}

/** True when retrying may help. Programming errors (TypeError, RangeError, ...) are never retried. */
export function isRetryable(error: unknown): boolean {
  return error instanceof JobError && error.retryable;
}

/** The process exit code for any thrown value: unknown errors are bugs (70). */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof JobError ? error.exitCode : ExitCode.Internal;
}

/** errnos of a machine that ran short: no retry helps until space or memory is added. */
const OUT_OF_RESOURCES = new Set(['ENOSPC', 'EDQUOT', 'ENOMEM']);
/** The strerror texts of ENOSPC and EDQUOT, for tools that report a full disk only in their messages. */
export const DISK_FULL_TEXT = /No space left on device|Disk quota exceeded/;
/** errnos of a path or permission a person must fix: a scheduler's retries would only delay the alert. */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP']);

/** Wraps a Node system error (ENOENT, EACCES, ...) from storage into a JobError naming the path. */
export function storageError(operation: string, location: string, cause: unknown): JobError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && OUT_OF_RESOURCES.has(code)) {
    return new JobError('RESOURCES', `${operation} failed for ${location}: ${(cause as Error).message}`, { cause, context: { location, errno: code } });
  }
  if (code === 'ENOENT') {
    return new JobError('NOT_FOUND', `${operation} failed: ${location} does not exist`, { cause, context: { location } });
  }
  if (code === 'EEXIST') {
    return new JobError('ALREADY_EXISTS', `${operation} failed: ${location} already exists`, { cause, context: { location } });
  }
  if (code !== undefined && REFUSED.has(code)) {
    return new JobError('STORAGE_REFUSED', `${operation} failed for ${location}: ${(cause as Error).message}`, { cause, context: { location, errno: code } });
  }
  const retryable = code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE' || code === 'ENFILE' || code === 'EIO';
  return new JobError('STORAGE', `${operation} failed for ${location}: ${(cause as Error)?.message ?? String(cause)}`, {
    cause,
    retryable,
    context: { location, errno: code },
  });
}

/**
 * A Node system error that reached the top without a layer wrapping it (a dump file, a temp
 * folder: `ENOTDIR: not a directory, mkdir '/x/y'`) as the JobError storageError makes, so it
 * exits as a storage or resource failure naming its path, not as a bug; anything else unchanged.
 */
export function fromSystemError(error: unknown): unknown {
  const e = error as NodeJS.ErrnoException;
  if (error instanceof JobError || !(error instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return error;
  return storageError(e.syscall, e.path ?? '(no path)', error);
}
