// Structured logging: JSON lines on stderr (for cron and Airflow), a readable format when stderr is
// a terminal. Imports nothing from src/.

import { pino, type Logger, type LevelWithSilent } from 'pino';

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
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that discards everything, for library code called without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
