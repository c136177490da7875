// Structured logging: JSON lines on stderr (for cron and Airflow), a readable format when stderr is
// a terminal. Imports nothing from src/.

import { createRequire } from 'node:module';
import type { Logger, LevelWithSilent } from 'pino';

// Loaded on first use: a command that never logs (a quick `mwlake query`) skips pino's start.
let loaded: typeof import('pino').pino | undefined;
function pino(): typeof import('pino').pino {
  return (loaded ??= (createRequire(import.meta.url)('pino') as typeof import('pino')).pino);
}

export type { Logger };

/** pino's levels, quietest last; `--log-level` and `MWLAKE_LOG_LEVEL` take one of them. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** true: JSON lines; false: pretty; unset: pretty on a terminal only. */
  readonly json?: boolean;
}

/** Creates the process logger on stderr (fd 2), so stdout stays free for reports and query output. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const terminal = process.stderr.isTTY === true;
  if (options.json === undefined ? terminal : !options.json) {
    return pino()({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: terminal, translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  const create = pino();
  const destination = create.destination({ fd: 2, sync: true });
  // Without a listener a failed write (stderr to a full disk: ENOSPC, EIO) throws from the log call,
  // failing the run at whatever it reports, e.g. a commit already made. The line is lost instead.
  destination.on('error', () => {});
  return create({ level, base: { pid: process.pid }, timestamp: create.stdTimeFunctions.isoTime }, destination);
}

let silent: Logger | undefined;

/** A logger that discards everything, for library code called without one. */
export function silentLogger(): Logger {
  return (silent ??= pino()({ level: 'silent' }));
}
