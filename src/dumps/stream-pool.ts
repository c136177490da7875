// A pool of long-lived shell workers that each turn one buffer into one complete bz2 stream, for
// multistream dumps. A bz2 compressor writes a single stream per input, so every 100-page stream
// needs a compressor process of its own; spawning those from Node costs milliseconds of main-thread
// time each (fork of a large process), so a small `sh` loop per worker starts them instead: Node
// writes the chunk to a temp file, sends its path on the worker's stdin, and reads `<path>.bz2` back
// when the worker answers. Imports core and dumps/compress.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { JobError } from '../core/errors.js';
import { createOwnedTempDir } from '../core/owned-temp-dir.js';
import { bzip2Command, type CompressionTools } from './compress.js';

// "$@" is the compressor's command line, passed as arguments (never interpolated into the script).
const WORKER_SCRIPT = 'while IFS= read -r f; do if "$@" < "$f" > "$f.bz2"; then echo ok; else echo fail; fi; done';

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly chunkPath: string;
  readonly answers: ((line: string) => void)[];
  stderr: string;
  exited: boolean;
  /** Why the worker never started (a fork refused: EAGAIN under a process limit, ENOMEM). */
  spawnError?: Error;
}

export class Bzip2StreamPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: ((worker: Worker) => void)[] = [];
  private readonly workers: Worker[] = [];

  private constructor(private readonly directory: string) {}

  /** Starts `tools.threads` workers running single-threaded lbzip2 (or bzip2). */
  static async start(tools: CompressionTools): Promise<Bzip2StreamPool> {
    const command = bzip2Command(tools, 1);
    const pool = new Bzip2StreamPool(await createOwnedTempDir('mwlake-streams-'));
    try {
      for (let i = 0; i < tools.threads; i++) pool.startWorker(i, command);
    } catch (cause) {
      // spawn throws for some errnos (ENOMEM) instead of emitting 'error': no worker or temp folder is left.
      await pool.close();
      throw new JobError('UNAVAILABLE', `cannot start the bz2 stream workers (sh): ${(cause as Error).message}`, { cause, retryable: false });
    }
    return pool;
  }

  private startWorker(i: number, command: readonly [string, string[]]): void {
    const child = spawn('sh', ['-c', WORKER_SCRIPT, 'mwlake-bz2-worker', command[0], ...command[1]], { stdio: ['pipe', 'pipe', 'pipe'] });
    const worker: Worker = { child, chunkPath: join(this.directory, `stream-${i}`), answers: [], stderr: '', exited: false };
    this.workers.push(worker);
    this.idle.push(worker);
    const exited = () => {
      worker.exited = true;
      for (const answer of worker.answers.splice(0)) answer('exited');
    };
    // First: without a listener a failed spawn is an uncaught 'error' event, exit 1 with nothing cleaned up.
    child.once('error', (cause) => {
      worker.spawnError = cause;
      exited();
    });
    child.once('close', exited);
    // EMFILE and ENFILE leave the child without pipes (its 'error' follows).
    if ((child.stdout as Readable | null | undefined) == null || (child.stderr as Readable | null | undefined) == null || (child.stdin as Writable | null | undefined) == null) {
      worker.spawnError ??= new Error('spawn sh: its pipes could not be created (too many open files?)');
      exited();
      return;
    }
    createInterface({ input: child.stdout }).on('line', (line) => worker.answers.shift()?.(line));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      worker.stderr = (worker.stderr + text).slice(-4096);
    });
    child.stdin.on('error', () => {});
  }

  /** One complete bz2 stream of `input`; at most `threads` compress at once. */
  async compress(input: Uint8Array): Promise<Buffer> {
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)));
    try {
      const failure = this.failure(worker, worker.exited ? 'exited' : await this.send(worker, input));
      if (failure !== undefined) throw failure;
      return await readFile(`${worker.chunkPath}.bz2`);
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(worker);
      else this.idle.push(worker);
    }
  }

  /** Writes the chunk, hands its path to the worker, and waits for its answer. */
  private async send(worker: Worker, input: Uint8Array): Promise<string> {
    await writeFile(worker.chunkPath, input);
    return new Promise<string>((resolve) => {
      // A worker that ended while the chunk was written answers no more.
      if (worker.exited) return resolve('exited');
      worker.answers.push(resolve);
      worker.child.stdin.write(`${worker.chunkPath}\n`);
    });
  }

  private failure(worker: Worker, answer: string): JobError | undefined {
    if (worker.spawnError !== undefined) return new JobError('UNAVAILABLE', `cannot start the bz2 stream workers (sh): ${worker.spawnError.message}`, { cause: worker.spawnError, retryable: false });
    if (answer === 'ok') return undefined;
    // The compressor writes its chunk to the temp folder itself: a full one is a full disk (71), not 69.
    const full = /No space left on device|Disk quota exceeded/.test(worker.stderr);
    return new JobError(full ? 'RESOURCES' : 'STORAGE', `compressing a multistream chunk in ${this.directory} failed (${answer}), expected a bz2 stream; stderr: ${worker.stderr.trim()}`);
  }

  /** Ends the workers and removes their temp files; never throws. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (worker) => {
        if (!worker.exited) {
          const closed = new Promise<void>((resolve) => worker.child.once('close', () => resolve()));
          worker.child.stdin.end();
          await closed;
        }
      }),
    );
    // Calls still waiting for a worker get an exited one and fail, instead of waiting forever.
    for (const next of this.waiting.splice(0)) next(this.workers[0]!);
    await rm(this.directory, { recursive: true, force: true });
  }
}
