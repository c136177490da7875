// The dumps' external tools as child processes (lbzip2, zstd, the multistream workers' sh): the one
// place that gets spawning right when the host runs short. Imports core only.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { JobError } from '../core/errors.js';

export interface ToolProcess {
  /** Null when spawned without stdin. */
  readonly input: Writable | null;
  readonly output: Readable;
  /** Settles once the tool has exited and its pipes are closed; rejects unless it exited 0. */
  readonly exited: Promise<void>;
  /** The last 8 KiB of its stderr, trimmed. */
  stderr(): string;
  /** Kills it and destroys its pipes: a wrapper's own child, or a process stuck on its disk, may hold them open, and a stop must not wait. */
  kill(): void;
}

export interface ToolOptions {
  readonly stdin: boolean;
  /** Ends "cannot start <command> …": what the tool was for. */
  readonly purpose: string;
  /** The error for an exit other than 0, given the tail of stderr. */
  readonly failed: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => JobError;
}

function cannotStart(command: string, purpose: string, reason: string, cause?: unknown): JobError {
  return new JobError('UNAVAILABLE', `cannot start ${command} ${purpose}: ${reason}`, { cause, retryable: false });
}

/**
 * Spawns a tool. A start the host refuses (no such command, a fork refused under a process limit,
 * no file descriptors left for its pipes) is UNAVAILABLE: thrown when Node throws or gives the
 * child no pipes, else the rejection of `exited`, never an uncaught 'error' event.
 */
export function spawnTool(command: string, args: readonly string[], o: ToolOptions): ToolProcess {
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (cause) {
    // Some errnos (ENOMEM) and invalid arguments throw rather than emit.
    throw cannotStart(command, o.purpose, (cause as Error).message, cause);
  }
  let started: (cause: Error) => void = () => {};
  // Before anything else: a failed start emits 'error' on the next tick, and unheard it ends the process.
  child.once('error', (cause) => started(cause));
  // Typed as null when absent, but undefined after EMFILE or ENFILE: Node returns before making the pipes.
  const { stdin, stdout, stderr: errors } = child as Partial<ChildProcess>;
  if (stdout == null || errors == null || (o.stdin && stdin == null)) {
    // Its 'error' follows, heard above.
    throw cannotStart(command, o.purpose, 'no file descriptors left for its pipes (EMFILE or ENFILE: too many open files)');
  }
  let tail = '';
  errors.setEncoding('utf8');
  errors.on('data', (text: string) => {
    tail = (tail + text).slice(-8192);
  });
  const stderr = (): string => tail.trim();
  const exited = new Promise<void>((resolve, reject) => {
    // 'close' may not follow a failed start.
    started = (cause) => reject(cannotStart(command, o.purpose, cause.message, cause));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(o.failed(code, signal, stderr().split('\n').slice(-20).join('\n')))));
  });
  // Failures surface through `exited`; these keep an EPIPE, or an unawaited rejection, from ending the process.
  stdin?.on('error', () => {});
  exited.catch(() => {});
  const kill = (): void => {
    child.kill('SIGKILL');
    stdout.destroy();
    errors.destroy();
  };
  return { input: stdin ?? null, output: stdout, exited, stderr, kill };
}
