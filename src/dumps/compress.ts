// Compressed output files for dumps: bz2, gz, zstd or none, written with backpressure, with md5,
// sha1 and size computed from the bytes as they reach the file (no second read), and reading
// them back uncompressed (to recombine parts).
// bz2 goes through `lbzip2 -n<threads>` (Debian lbzip2; falls back to bzip2), zstd through the
// Debian `zstd` tool (`-T<threads> -3`: Node 20 has no zstd), gz through node:zlib, so compression
// runs beside the XML generation on other cores. Imports core and dumps/tool-process.

import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants, createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { JobError, storageError } from '../core/errors.js';
import { syncPath } from '../core/sync-path.js';
import { spawnTool } from './tool-process.js';

export type Codec = 'bz2' | 'gz' | 'zst' | 'none';

export const CODECS: readonly Codec[] = ['bz2', 'gz', 'zst', 'none'];

/** File name suffix of each codec ('' for none). */
export const CODEC_SUFFIX: Readonly<Record<Codec, string>> = { bz2: '.bz2', gz: '.gz', zst: '.zst', none: '' };

/** Regex source of any compressed codec's suffix, from CODEC_SUFFIX so file-name checks follow a new codec. */
export const COMPRESSED_SUFFIX_SOURCE = `(?:${CODECS.map((c) => CODEC_SUFFIX[c]).filter((s) => s !== '').map((s) => s.replace('.', '\\.')).join('|')})`;

const compressedName = new RegExp(`${COMPRESSED_SUFFIX_SOURCE}$`);

/** Whether `name` ends in a compressed codec's suffix. */
export function isCompressedName(name: string): boolean {
  return compressedName.test(name);
}

export interface FileDigest {
  readonly sizeBytes: number;
  readonly md5: string;
  readonly sha1: string;
}

/** External compressors, found on PATH once (`findCompressionTools`) or given by the caller. */
export interface CompressionTools {
  /** `lbzip2` (preferred: parallel) or `bzip2`; undefined when neither is installed. */
  readonly bzip2?: { readonly command: string; readonly parallel: boolean };
  readonly zstd?: string;
  /** Threads for one single-stream compressor, and processes in the multistream pool. */
  readonly threads: number;
}

function onPath(name: string, pathVariable: string): string | undefined {
  for (const dir of pathVariable.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Looks up lbzip2/bzip2 and zstd on PATH; threads default to the machine's parallelism. */
export function findCompressionTools(pathVariable: string = process.env.PATH ?? '', threads: number = availableParallelism()): CompressionTools {
  const lbzip2 = onPath('lbzip2', pathVariable);
  const bzip2 = lbzip2 ?? onPath('bzip2', pathVariable);
  const zstd = onPath('zstd', pathVariable);
  return {
    ...(bzip2 === undefined ? {} : { bzip2: { command: bzip2, parallel: lbzip2 !== undefined } }),
    ...(zstd === undefined ? {} : { zstd }),
    threads: Math.max(1, threads),
  };
}

// A host without the tool: a retry cannot help, so 78 (the environment's configuration), not 69.
function missingTool(what: string, debianPackages: string): JobError {
  return new JobError('CONFIG', `${what} compression needs ${debianPackages} on PATH, found none; install the Debian package ${debianPackages}`);
}

/**
 * Refuses, before any work, a host that lacks a compressor the dumps will need: bz2 always (the
 * multistream files are bz2 whatever the compression), zstd for `compression: zstd`.
 */
export function requireCompressionTools(compression: 'bz2' | 'zstd', tools: CompressionTools = findCompressionTools()): void {
  if (tools.bzip2 === undefined) throw missingTool('bz2', 'lbzip2 (or bzip2)');
  if (compression === 'zstd' && tools.zstd === undefined) throw missingTool('zstd', 'zstd');
}

/** The command line of a bz2 compressor writing one stream to stdout. */
export function bzip2Command(tools: CompressionTools, threads: number): [string, string[]] {
  const tool = tools.bzip2;
  if (tool === undefined) throw missingTool('bz2', 'lbzip2 (or bzip2)');
  return tool.parallel ? [tool.command, [`-n${Math.max(1, threads)}`, '-9', '-c']] : [tool.command, ['-9', '-c']];
}

/** The command line of a decompressor writing `path`'s bytes to stdout (bz2 or zstd). */
function decompressCommand(codec: 'bz2' | 'zst', tools: CompressionTools, path: string): [string, string[]] {
  if (codec === 'zst') {
    if (tools.zstd === undefined) throw missingTool('zstd', 'zstd');
    return [tools.zstd, ['-d', '-c', '-q', path]];
  }
  const tool = tools.bzip2;
  if (tool === undefined) throw missingTool('bz2', 'lbzip2 (or bzip2)');
  return tool.parallel ? [tool.command, [`-n${tools.threads}`, '-d', '-c', path]] : [tool.command, ['-d', '-c', path]];
}

/**
 * The uncompressed bytes of a dump file, as chunks. A decompressor that fails (a corrupt file)
 * rejects the iteration naming the file; leaving the loop early, or `signal`, stops it (the
 * iteration then rejects with the signal's reason, even while the decompressor is stalled).
 */
export async function* readDecompressed(path: string, codec: Codec, tools: CompressionTools, signal?: AbortSignal): AsyncGenerator<Buffer> {
  signal?.throwIfAborted();
  if (codec === 'none' || codec === 'gz') {
    const file = createReadStream(path, signal === undefined ? {} : { signal });
    const gunzip = codec === 'gz' ? createGunzip() : undefined;
    file.once('error', (cause) => gunzip?.destroy(cause));
    try {
      yield* gunzip === undefined ? file : file.pipe(gunzip);
    } catch (cause) {
      signal?.throwIfAborted();
      const code = (cause as NodeJS.ErrnoException).code;
      if (code?.startsWith('Z_') === true) throw new JobError('DATA', `${path} is not a readable gz file: ${(cause as Error).message}`, { cause, context: { path } });
      throw storageError('reading', path, cause);
    } finally {
      file.destroy();
    }
    return;
  }
  const [command, args] = decompressCommand(codec, tools, path);
  const child = spawnTool(command, args, {
    stdin: false,
    purpose: `to read ${path}`,
    failed: (code, exitSignal, stderr) =>
      new JobError('DATA', `${command} ${args.join(' ')} ended with ${code ?? exitSignal}, expected exit 0: ${path} is not a readable ${codec} file; stderr: ${stderr}`, { context: { path, code, signal: exitSignal } }),
  });
  const { exited } = child;
  const stop = child.kill;
  signal?.addEventListener('abort', stop, { once: true });
  let ended = false;
  try {
    try {
      yield* child.output;
    } catch (cause) {
      signal?.throwIfAborted();
      throw cause;
    }
    signal?.throwIfAborted();
    ended = true;
    await exited;
  } finally {
    signal?.removeEventListener('abort', stop);
    if (!ended) {
      stop();
      await exited.catch(() => undefined);
    }
  }
}

function zstdCommand(tools: CompressionTools): [string, string[]] {
  if (tools.zstd === undefined) throw missingTool('zstd', 'zstd');
  return [tools.zstd, [`-T${tools.threads}`, '-3', '-c', '-q']];
}

/** Counts and hashes bytes on their way to the file. */
class DigestStream extends Transform {
  private readonly md5: Hash = createHash('md5');
  private readonly sha1: Hash = createHash('sha1');
  private size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.md5.update(chunk);
    this.sha1.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  digest(): FileDigest {
    return { sizeBytes: this.size, md5: this.md5.digest('hex'), sha1: this.sha1.digest('hex') };
  }
}

interface Encoder {
  readonly input: Writable;
  readonly output: Readable;
  /** Settles when the encoder itself is done (a child process exited); rejects on failure. */
  readonly exited: Promise<void>;
  kill(): void;
}

/** Spawns a compressor reading stdin and writing stdout. */
function childEncoder(command: string, args: readonly string[], what: string): Encoder {
  const tool = spawnTool(command, args, {
    stdin: true,
    purpose: `for ${what}`,
    failed: (code, signal, stderr) =>
      new JobError('STORAGE', `${command} ${args.join(' ')} for ${what} ended with ${code ?? signal}, expected exit 0; stderr: ${stderr}`, { context: { command, code, signal } }),
  });
  return { ...tool, input: tool.input! };
}

function streamEncoder(stream: Transform): Encoder {
  return { input: stream, output: stream, exited: Promise.resolve(), kill: () => stream.destroy() };
}

function encoderFor(codec: Codec, tools: CompressionTools, what: string): Encoder {
  switch (codec) {
    case 'bz2': {
      const [command, args] = bzip2Command(tools, tools.threads);
      return childEncoder(command, args, what);
    }
    case 'zst': {
      const [command, args] = zstdCommand(tools);
      return childEncoder(command, args, what);
    }
    case 'gz':
      // Node's gzip header has mtime 0 and no file name: byte-identical output on reruns.
      return streamEncoder(createGzip({ level: 6 }));
    case 'none':
      return streamEncoder(new PassThrough());
  }
}

/**
 * One output file being written through a compressor. `write` resolves when the compressor can
 * take more (backpressure); `finish` ends the input and resolves with the file's digest once the
 * compressor has exited and every byte is in the file.
 */
export class CompressedFileWriter {
  /** Uncompressed bytes written so far. */
  bytesIn = 0;
  private readonly digestStream = new DigestStream();
  private readonly done: Promise<void>;
  private readonly file: WriteStream;
  private failure: unknown;
  /** The file's own write error (a full disk), which also kills the compressor with SIGPIPE. */
  private fileFailure: unknown;

  private constructor(
    readonly path: string,
    private readonly encoder: Encoder,
  ) {
    const file = createWriteStream(path, { flags: 'w', mode: 0o644 });
    file.on('error', (cause) => {
      this.fileFailure ??= cause;
    });
    this.file = file;
    this.done = Promise.all([pipeline(encoder.output, this.digestStream, file), encoder.exited]).then(() => undefined);
    this.done.catch((cause: unknown) => {
      this.failure ??= cause;
    });
    encoder.input.on('error', (cause) => {
      this.failure ??= cause;
    });
  }

  /** Creates (or truncates) `path` and starts the compressor. */
  static open(path: string, codec: Codec, tools: CompressionTools): CompressedFileWriter {
    return new CompressedFileWriter(path, encoderFor(codec, tools, path));
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw await this.reason(this.failure);
    this.bytesIn += chunk.length;
    if (this.encoder.input.write(chunk)) return;
    try {
      await Promise.race([once(this.encoder.input, 'drain'), this.done.then(() => Promise.reject(new Error('the compressor ended before its input did')))]);
    } catch (cause) {
      throw await this.reason(this.failure ?? cause);
    }
  }

  async finish(): Promise<FileDigest> {
    if (this.failure !== undefined) throw await this.reason(this.failure);
    this.encoder.input.end();
    try {
      await this.done;
    } catch (cause) {
      throw await this.reason(cause);
    }
    try {
      // Durable before it is renamed into place and listed as done.
      await syncPath(this.path);
    } catch (cause) {
      throw storageError('sync', this.path, cause);
    }
    return this.digestStream.digest();
  }

  /** Stops the compressor and removes the file; never throws. */
  async abort(): Promise<void> {
    this.encoder.kill();
    this.encoder.input.destroy();
    await this.done.catch(() => undefined);
    // A write stream destroyed before its open(2) finished still creates the file, so remove the
    // file only once the stream is closed.
    if (!this.file.closed) {
      const closed = once(this.file, 'close').catch(() => undefined);
      this.file.destroy();
      await closed;
    }
    await rm(this.path, { force: true });
  }

  /**
   * The error to report for a failure: the file's own error when writing the file failed (the
   * compressor then dies of SIGPIPE, which says nothing of the full disk); otherwise, when the
   * compressor died, its exit status and stderr, which say more than an EPIPE on its input.
   */
  private async reason(cause: unknown): Promise<JobError> {
    // Closing its input lets a compressor that is still alive (the file side failed) end too.
    this.encoder.input.destroy();
    const exit = await this.encoder.exited.then(
      () => undefined,
      (exitError: unknown) => exitError,
    );
    return this.asError(this.fileFailure ?? exit ?? cause);
  }

  private asError(cause: unknown): JobError {
    if (cause instanceof JobError) return cause;
    // A system error (ENOSPC, EACCES, ...) gets its code's meaning: a full disk exits 71, not 69.
    const e = cause as NodeJS.ErrnoException | undefined;
    if (typeof e?.code === 'string' && typeof e.syscall === 'string') return storageError('writing', this.path, cause);
    return new JobError('STORAGE', `writing ${this.path} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
