// A pool of long-lived shell workers that each turn one buffer into one complete bz2 stream, for
// multistream dumps. A bz2 compressor writes a single stream per input, so every 100-page stream
// needs a compressor process of its own; spawning those from Node costs milliseconds of main-thread
// time each (fork of a large process), so a small `sh` loop per worker starts them instead: Node
// writes the chunk to a temp file, sends its path on the worker's stdin, and reads `<path>.bz2` back
// when the worker answers. Imports core, dumps/compress and dumps/tool-process.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DISK_FULL_TEXT, JobError } from '../core/errors.js';
import { createOwnedTempDir } from '../core/owned-temp-dir.js';
import { bzip2Command, type CompressionTools } from './compress.js';
import { spawnTool, type ToolProcess } from './tool-process.js';

// "$@" is the compressor's command line, passed as arguments (never interpolated into the script).
const WORKER_SCRIPT = 'while IFS= read -r f; do if "$@" < "$f" > "$f.bz2"; then echo ok; else echo fail; fi; done';

interface Worker {
  readonly tool: ToolProcess;
  readonly chunkPath: string;
  readonly answers: ((line: string) => void)[];
  exited: boolean;
  /** Why the worker ended before it was closed: it never started (a fork refused under a process limit), or it died. */
  failure?: JobError;
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
      // A start refused at once (ENOMEM, no file descriptors): no worker or temp folder is left.
      await pool.close();
      throw cause;
    }
    return pool;
  }

  private startWorker(i: number, command: readonly [string, string[]]): void {
    const tool = spawnTool('sh', ['-c', WORKER_SCRIPT, 'mwlake-bz2-worker', command[0], ...command[1]], {
      stdin: true,
      purpose: 'for the bz2 stream workers',
      failed: (code, signal, stderr) => new JobError('STORAGE', `a bz2 stream worker (sh) in ${this.directory} ended with ${code ?? signal}, expected it to run until closed; stderr: ${stderr}`),
    });
    const worker: Worker = { tool, chunkPath: join(this.directory, `stream-${i}`), answers: [], exited: false };
    this.workers.push(worker);
    this.idle.push(worker);
    const ended = (failure?: JobError): void => {
      worker.exited = true;
      worker.failure ??= failure;
      for (const answer of worker.answers.splice(0)) answer('exited');
    };
    tool.exited.then(() => ended(), (cause: JobError) => ended(cause));
    createInterface({ input: tool.output }).on('line', (line) => worker.answers.shift()?.(line));
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
      worker.tool.input!.write(`${worker.chunkPath}\n`);
    });
  }

  private failure(worker: Worker, answer: string): JobError | undefined {
    if (answer === 'ok') return undefined;
    if (answer === 'exited' && worker.failure !== undefined) return worker.failure;
    // The compressor writes its chunk to the temp folder itself: a full one is a full disk (71), not 69.
    const full = DISK_FULL_TEXT.test(worker.tool.stderr());
    return new JobError(full ? 'RESOURCES' : 'STORAGE', `compressing a multistream chunk in ${this.directory} failed (${answer}), expected a bz2 stream; stderr: ${worker.tool.stderr()}`);
  }

  /** Ends the workers and removes their temp files; never throws. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (worker) => {
        if (!worker.exited) {
          worker.tool.input!.end();
          await worker.tool.exited.catch(() => undefined);
        }
      }),
    );
    // Calls still waiting for a worker get an exited one and fail, instead of waiting forever.
    for (const next of this.waiting.splice(0)) next(this.workers[0]!);
    await rm(this.directory, { recursive: true, force: true });
  }
}
