// The interop venv (.cache/venv and .cache/spark-jars, built by scripts/setup-python.sh) and how
// tests run its scripts (test/interop/py). A missing or stale venv fails the test with the command
// that fixes it: interop tests never skip. Imports nothing from src/.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SETUP_COMMAND = 'bash scripts/setup-python.sh';

/** Repository root: the nearest folder above this file holding scripts/setup-python.sh. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'scripts', 'setup-python.sh'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`python helper: no scripts/setup-python.sh above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const repoRoot = findRepoRoot();
export const venvDir = join(repoRoot, '.cache', 'venv');
export const interopDir = join(repoRoot, 'test', 'interop', 'py');

/** Files whose bytes, concatenated in this order, the setup script hashes into the venv's stamp. */
const PIN_FILES = ['tools/python/requirements.txt', 'tools/python/pom.xml', 'tools/python/spark-jars.sha256', 'tools/python/build-constraints.txt', 'scripts/setup-python.sh'];
const STAMP_FILE = '.mwlake-pins.sha256';

/**
 * `bin` of a venv the setup scripts build; throws with the command that fixes it when the venv is
 * missing or its stamp is not the hash of `pinFiles` (then it was built from other pins).
 */
function checkedVenvBin(venv: string, bin: string, pinFiles: readonly string[], setupCommand: string, what: string): string {
  const path = join(venv, 'bin', bin);
  if (!existsSync(path)) throw new Error(`the ${what} is missing (expected ${path}); run ${setupCommand}`);
  const stampPath = join(venv, STAMP_FILE);
  const found = existsSync(stampPath) ? readFileSync(stampPath, 'utf8').trim() : '(no stamp)';
  const hash = createHash('sha256');
  for (const file of pinFiles) hash.update(readFileSync(join(repoRoot, file)));
  const expected = hash.digest('hex');
  if (found !== expected) throw new Error(`the ${what} is stale: built from pins ${found}, the checkout pins ${expected}; run ${setupCommand}`);
  return path;
}

/** The venv's python; throws when the venv is missing or was built from other pins. */
export function pythonBin(): string {
  return checkedVenvBin(venvDir, 'python', PIN_FILES, SETUP_COMMAND, 'interop Python venv');
}

/** Airflow majors the DAG test runs under, each in its venv (.cache/airflow<major>, scripts/setup-airflow.sh). */
export const AIRFLOW_MAJORS = [2, 3] as const;

/** The python of the Airflow venv of `major`, checked against its lock like pythonBin. */
export function airflowPythonBin(major: (typeof AIRFLOW_MAJORS)[number]): string {
  const pins = [`tools/airflow/requirements-airflow${major}.txt`, 'tools/python/build-constraints.txt', 'scripts/setup-airflow.sh'];
  return checkedVenvBin(join(repoRoot, '.cache', `airflow${major}`), 'python', pins, 'bash scripts/setup-airflow.sh', `Airflow ${major} venv`);
}

/** Absolute path of a script in test/interop/py. */
export function interopScript(name: string): string {
  return join(interopDir, name);
}

export interface PythonResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the process was killed (then `signal` says by what). */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunPythonOptions {
  /** Kill the process group after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** The interpreter (default the interop venv's, pythonBin()), e.g. airflowPythonBin(3). */
  python?: string;
}

/**
 * Runs a Python script (absolute, or relative to the repository root) with the venv's python,
 * cwd at the repository root, optionally feeding `stdin`; resolves with its output and status.
 */
export function runPython(script: string, args: readonly string[] = [], stdin?: string, options: RunPythonOptions = {}): Promise<PythonResult> {
  const scriptPath = isAbsolute(script) ? script : resolve(repoRoot, script);
  return runPythonArgs([scriptPath, ...args], stdin, options);
}

/** Runs the interpreter with `args` as given (`['-m', 'airflow', ...]`), like runPython. */
export function runPythonArgs(args: readonly string[], stdin?: string, options: RunPythonOptions = {}): Promise<PythonResult> {
  const bin = options.python ?? pythonBin();
  const timeoutMs = options.timeoutMs ?? 600_000;
  return new Promise((resolvePromise, reject) => {
    // detached: the script gets its own process group, so a timeout also ends Spark's JVM.
    const child = spawn(bin, args, {
      cwd: repoRoot,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), code, signal });
    });
    child.stdin.on('error', () => {
      // The script may exit before reading all of stdin; its status tells what happened.
    });
    child.stdin.end(stdin ?? '');
  });
}

export type JsonObject = { [key: string]: unknown };

export interface JsonLinesResult {
  lines: JsonObject[];
  /** The raw stdout lines, in order, for checks on the exact text. */
  rawLines: string[];
  stderr: string;
  code: number | null;
}

export interface RunJsonLinesOptions extends RunPythonOptions {
  /** Exit statuses that count as success (default [0]); any other status throws. */
  okExitCodes?: readonly number[];
}

/** Runs a script whose stdout is JSON lines; throws with the stderr tail on an unexpected status. */
export async function runPythonJsonLines(script: string, args: readonly string[] = [], stdin?: string, options: RunJsonLinesOptions = {}): Promise<JsonLinesResult> {
  const result = await runPython(script, args, stdin, options);
  const okExitCodes = options.okExitCodes ?? [0];
  if (result.code === null || !okExitCodes.includes(result.code)) {
    throw new Error(
      `${script} ${args.join(' ')} exited with ${result.code ?? result.signal} (expected ${okExitCodes.join(' or ')}); stderr tail:\n${tail(result.stderr, 60)}`,
    );
  }
  const rawLines = result.stdout.split('\n').filter((line) => line.length > 0);
  const lines = rawLines.map((line, index) => {
    try {
      const value: unknown = JSON.parse(line);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
      return value as JsonObject;
    } catch (error) {
      throw new Error(`${script}: stdout line ${index + 1} is not a JSON object (${String(error)}): ${line.slice(0, 200)}`);
    }
  });
  return { lines, rawLines, stderr: result.stderr, code: result.code };
}

/** The last `count` lines of a text. */
export function tail(text: string, count: number): string {
  return text.split('\n').slice(-count).join('\n');
}
