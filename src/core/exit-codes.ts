// Process exit codes, following sysexits(3) so cron and Airflow can tell what to do next.
// Imports nothing.

export enum ExitCode {
  /** Done, including "nothing to do". */
  Ok = 0,
  /** Command-line usage error (EX_USAGE). */
  Usage = 64,
  /** Bad input data that stops the run (EX_DATAERR). */
  Data = 65,
  /** Kafka or storage unavailable (EX_UNAVAILABLE). */
  Unavailable = 69,
  /** Internal error: a bug (EX_SOFTWARE). */
  Internal = 70,
  /** The machine ran short: memory or disk (EX_OSERR); retrying as is fails the same way. */
  Resources = 71,
  /** Storage refused an operation no retry can fix: permission denied, read-only, a path through a file (EX_NOPERM). */
  Refused = 77,
  /** A commit's outcome is unknown; rerunning is safe because every run re-reads the table (EX_IOERR). */
  CommitStateUnknown = 74,
  /** Temporary failure: lock held, conflicts exhausted; retry later (EX_TEMPFAIL). */
  TempFail = 75,
  /** Bad configuration (EX_CONFIG). */
  Config = 78,
  /** Stopped by SIGTERM (128 + 15). */
  Terminated = 143,
}
