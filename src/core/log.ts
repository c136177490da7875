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

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** Force JSON even on a terminal (`--log-format json`). */
  readonly json?: boolean;
}

/** Creates the process logger on stderr (fd 2), so stdout stays free for reports and query output. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? ((process.env.MWLAKE_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info');
  const pretty = !options.json && process.stderr.isTTY === true;
  if (pretty) {
    return pino()({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  const create = pino();
  return create({ level, base: { pid: process.pid }, timestamp: create.stdTimeFunctions.isoTime }, create.destination({ fd: 2, sync: true }));
}

let silent: Logger | undefined;

/** A logger that discards everything, for library code called without one. */
export function silentLogger(): Logger {
  return (silent ??= pino()({ level: 'silent' }));
}
