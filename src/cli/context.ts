// What every CLI command receives: the logger and the output streams. Commands never call
// process.exit; they return or throw, and main.ts maps errors to exit codes.

import type { Writable } from 'node:stream';
import type { Command } from './commander.js';
import type { Logger } from '../core/log.js';

export interface CliContext {
  /** Created lazily so `--log-level`/`--log-format` apply. */
  logger(): Logger;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  /** Where a progress line may be drawn: stderr, unless logs are JSON lines, which it would break. */
  progressStream(): Writable | { readonly isTTY: false; write(s: string): boolean };
}

/** A command module adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command, context: CliContext) => void;
