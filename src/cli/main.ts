#!/usr/bin/env node
// Entry point of the `mwlake` CLI: builds the commander program, runs it, and maps errors to
// sysexits-style exit codes, and turns SIGTERM/SIGINT into cleanups and exit 143/130. The only
// module that calls process.exit.

import { Command, CommanderError, Option } from './commander.js';
import { realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { JobError, exitCodeOf, fromSystemError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { runInterruptCleanups } from '../core/interrupt.js';
import { LOG_LEVELS, createLogger, isLogLevel, type LogLevel, type Logger } from '../core/log.js';
import { VERSION } from '../core/version.js';
import type { CliContext } from './context.js';
import { COMMANDS } from './commands/index.js';

export function buildProgram(context: CliContext): Command {
  const program = new Command('mwlake')
    .description('Batch dump builder: Kafka page_content_change events → Iceberg tables → MediaWiki XML dumps')
    .version(VERSION, '--version', 'print the mwlake version')
    .addOption(new Option('--log-level <level>', 'how much to log on stderr (default: $MWLAKE_LOG_LEVEL, else info)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines as json or pretty (default: pretty on a terminal, else json)').choices(['json', 'pretty']))
    // Help and commander's own errors go where the caller says (tests capture them), not to the process.
    .configureOutput({ writeOut: (s) => context.stdout.write(s), writeErr: (s) => context.stderr.write(s) })
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program, context);
  return program;
}

/** Runs the CLI with the given arguments (without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: Pick<CliContext, 'stdout' | 'stderr' | 'env'>): Promise<number> {
  let logger: Logger | undefined;
  let program: Command | undefined;
  const envLevel = readEnvLogLevel(io.env);
  const context: CliContext = {
    ...io,
    logger() {
      if (logger === undefined) {
        const opts = program?.opts<{ logLevel?: LogLevel; logFormat?: string }>() ?? {};
        logger = createLogger({
          level: opts.logLevel ?? envLevel.level ?? 'info',
          json: opts.logFormat === undefined ? undefined : opts.logFormat === 'json',
        });
      }
      return logger;
    },
    progressStream() {
      return program?.opts<{ logFormat?: string }>().logFormat === 'json' ? { isTTY: false, write: () => true } : io.stderr;
    },
  };
  program = buildProgram(context);
  // Checked before a command runs (not for --help), and only when the flag does not override it.
  program.hook('preAction', (root) => {
    if (root.opts<{ logLevel?: string }>().logLevel === undefined && envLevel.invalid !== undefined) {
      throw new JobError('CONFIG', `MWLAKE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, found ${JSON.stringify(envLevel.invalid)}`);
    }
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through exitOverride with exit code 0.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    error = fromSystemError(error);
    const code = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof JobError && error.code !== 'INTERNAL') {
      // An expected failure: its message says what to fix. The cause's stack (a kafkajs or fs
      // error) is for --log-level debug, not twenty lines under it at 3 a.m.
      const cause = error.cause instanceof Error ? { message: error.cause.message, ...((error.cause as NodeJS.ErrnoException).code === undefined ? {} : { code: (error.cause as NodeJS.ErrnoException).code }) } : error.cause;
      context.logger().error({ code: error.code, context: error.context, ...(cause === undefined ? {} : { cause }) }, message);
      if (error.cause !== undefined) context.logger().debug({ err: error.cause }, `the cause of: ${message}`);
    } else if (error instanceof JobError) {
      context.logger().error({ code: error.code, context: error.context, err: error.cause ?? error }, message);
    } else {
      context.logger().error({ err: error }, `internal error: ${message}`);
    }
    io.stderr.write(`mwlake: ${message}\n`);
    return code;
  }
}

/**
 * `MWLAKE_LOG_LEVEL`, read once: its level (any case), or the bad value it holds, which runCli
 * refuses (exit 78) before a command runs. Unset or empty means neither.
 */
function readEnvLogLevel(env: NodeJS.ProcessEnv): { level?: LogLevel; invalid?: string } {
  const value = env.MWLAKE_LOG_LEVEL;
  if (value === undefined || value === '') return {};
  const lower = value.toLowerCase();
  return isLogLevel(lower) ? { level: lower } : { invalid: value };
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * SIGTERM and SIGINT run the registered cleanups (core/interrupt.ts: in-progress dump files,
 * leases, temp folders), for at most 20 s, then exit 128 + the signal's number (143 for SIGTERM).
 */
function exitOnSignals(): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      const code = 128 + constants.signals[signal];
      if (stopping) process.exit(code);
      stopping = true;
      process.stderr.write(`mwlake: stopped by ${signal}; cleaning up (a second signal exits at once)\n`);
      void runInterruptCleanups(signal, 20_000, (error) => process.stderr.write(`mwlake: a cleanup after ${signal} failed: ${error instanceof Error ? error.message : String(error)}\n`)).then(
        (inTime) => {
          if (!inTime) process.stderr.write(`mwlake: cleanups after ${signal} did not finish within 20 s\n`);
          process.exit(code);
        },
      );
    });
  }
}

if (isMain()) {
  exitOnSignals();
  // A reader that stops early (`mwlake query ... | head`) closes the pipe. Unhandled, EPIPE would
  // crash with a stack trace. `mwlake query` stops on it; any other command's last lines are dropped.
  // Any other failure (a full disk under cron's `>> log`) fails the run with its own code (71 for
  // ENOSPC), after the work, which is committed by then.
  // stderr is the same full file under `>> log 2>&1`: what cannot be said there is dropped, and
  // the exit code still says what happened (the logger drops its own lines the same way).
  process.stderr.on('error', () => {});
  let stdoutFailed: ExitCode | undefined;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || stdoutFailed !== undefined) return;
    stdoutFailed = exitCodeOf(fromSystemError(error));
    process.stderr.write(`mwlake: cannot write to standard output: ${error.message}\n`);
    if (process.exitCode === undefined || process.exitCode === ExitCode.Ok) process.exitCode = stdoutFailed;
  });
  const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exitCode = code === ExitCode.Ok ? (stdoutFailed ?? code) : code;
}
