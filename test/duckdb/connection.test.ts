// Where DuckDB spills: an owned folder in the system temp folder, never the working directory,
// removed on close; a caller's own temp_directory is left alone.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { duckDbError, openDuckDb, parseDuckDbSize, SPILL_PREFIX } from '../../src/duckdb/connection.js';
import { inTempDir } from '../helpers/temp-dir.js';

async function spillFolder(db: Awaited<ReturnType<typeof openDuckDb>>): Promise<string> {
  return (await db.all<{ t: string }>("SELECT current_setting('temp_directory') AS t"))[0]!.t;
}

test('by default DuckDB spills into an owned folder of the temp folder, removed on close', async () => {
  const db = await openDuckDb();
  const folder = await spillFolder(db);
  assert.equal(dirname(folder), tmpdir());
  assert.match(basename(folder), new RegExp(`^${SPILL_PREFIX}\\d+-${process.pid}-[A-Za-z0-9]{6}$`));
  // What DuckDB would leave there after spilling.
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'duckdb_temp_storage-0.tmp'), 'x');
  await db.close();
  assert.ok(!existsSync(folder));
});

test('a temp_directory the caller gives is used and kept', async () => {
  const mine = await mkdtemp(join(tmpdir(), 'mwlake-spill-test-'));
  try {
    const db = await openDuckDb({ tempDirectory: mine });
    assert.equal(await spillFolder(db), mine);
    await db.close();
    assert.ok(existsSync(mine));
  } finally {
    await rm(mine, { recursive: true, force: true });
  }
});

test('DuckDB running out of memory is a RESOURCES error (exit 71) naming the statement, not a bug', async () => {
  const db = await openDuckDb({ memoryLimit: '20MB' });
  try {
    const sql = "SELECT i % 1000 AS k, string_agg(repeat('x', 1000), ',') AS s FROM range(200000) t(i) GROUP BY k ORDER BY k";
    await assert.rejects(db.all(sql), (error: Error & { code?: string; exitCode?: number; retryable?: boolean }) => {
      assert.equal(error.code, 'RESOURCES', error.message);
      assert.equal(error.exitCode, 71);
      assert.equal(error.retryable, false);
      assert.match(error.message, /^DuckDB ran out of memory: Out of Memory Error: .*; give the step more memory /);
      assert.match(error.message, /\(in: SELECT i % 1000 AS k/);
      return true;
    });
    // Any other DuckDB failure stays INTERNAL.
    await assert.rejects(db.all('SELECT * FROM no_such_table'), (error: Error & { code?: string }) => error.code === 'INTERNAL');
  } finally {
    await db.close();
  }
});

test('a full disk under a file DuckDB writes is a RESOURCES error naming the file, not a memory problem', async () => {
  const db = await openDuckDb({});
  try {
    // /dev/full answers every write with ENOSPC.
    await assert.rejects(db.run("COPY (SELECT range AS i, repeat('x', 100) AS s FROM range(100000)) TO '/dev/full' (FORMAT parquet)"), (error: Error & { code?: string; exitCode?: number }) => {
      assert.equal(error.code, 'RESOURCES', error.message);
      assert.equal(error.exitCode, 71);
      assert.match(error.message, /^DuckDB ran out of disk space: IO Error: .*"\/dev\/full": No space left on device; free space on the disk of the file it names/);
      return true;
    });
  } finally {
    await db.close();
  }
});

/** Runs `body` with a DuckDB and a fresh temp folder, both closed and removed afterwards. */
async function withDbIn(prefix: string, body: (db: Awaited<ReturnType<typeof openDuckDb>>, dir: string) => Promise<void>): Promise<void> {
  await inTempDir(prefix, async (dir) => {
    const db = await openDuckDb({});
    try {
      await body(db, dir);
    } finally {
      await db.close();
    }
  });
}

test('a file DuckDB may not create (permission, a read-only or non-folder path) is a STORAGE_REFUSED error (77) naming it, not a bug', async () => {
  await withDbIn('mwlake-refused-', async (db, dir) => {
    await writeFile(join(dir, 'file'), 'x');
    // sysfs refuses to create files even for root; a path through a file is ENOTDIR.
    for (const [path, text] of [['/sys/mwlake-test.parquet', 'Permission denied'], [join(dir, 'file', 'x.parquet'), 'Not a directory']] as const) {
      await assert.rejects(db.run(`COPY (SELECT 1 AS i) TO '${path}' (FORMAT parquet)`), (error: Error & { code?: string; exitCode?: number }) => {
        assert.equal(error.code, 'STORAGE_REFUSED', error.message);
        assert.equal(error.exitCode, 77);
        assert.ok(error.message.includes(path) && error.message.includes(text), error.message);
        return true;
      });
    }
  });
});

test('an I/O error of the device under a file DuckDB reads is a retryable STORAGE error (69) naming it', () => {
  // DuckDB's message for EIO (a bad sector under a data file), which no test can cause for real.
  const error = duckDbError(new Error('IO Error: Could not read from file "/wh/state/revisions/data/x.parquet": Input/output error'), 'SELECT * FROM read_parquet(...)');
  assert.equal(error.code, 'STORAGE', error.message);
  assert.equal(error.exitCode, 69);
  assert.equal(error.retryable, true);
  assert.match(error.message, /x\.parquet": Input\/output error/);
});

test("DuckDB's own internal error is one line naming the failure (a bug, 70); its stack trace stays in the cause, for the error log", () => {
  const full = 'INTERNAL Error: Failed to bind column reference "wiki_id" [1.0]\n\nStack Trace:\n\n0        duckdb_adbc_init + 3145727\n1        duckdb_adbc_init + 2981023\n';
  const error = duckDbError(new Error(full), 'SELECT 1');
  assert.equal(error.code, 'INTERNAL');
  assert.equal(error.exitCode, 70);
  assert.equal(error.message, 'DuckDB failed: INTERNAL Error: Failed to bind column reference "wiki_id" [1.0] (in: SELECT 1)');
  assert.equal((error.cause as Error).message, full);
  // Other messages keep their further lines: a Binder error's LINE 1 and caret point into the SQL.
  assert.match(duckDbError(new Error('Some Error: x\nLINE 1: SELECT y\n               ^'), 'SELECT y').message, /LINE 1: SELECT y/);
});

test('a damaged Parquet file DuckDB reads (cut short, too small, overwritten) is a DATA error (65) naming it, not a bug', async () => {
  await withDbIn('mwlake-damaged-', async (db, dir) => {
    const good = join(dir, 'good.parquet');
    await db.run(`COPY (SELECT range AS id, md5(range::VARCHAR) AS s FROM range(100000)) TO '${good}' (FORMAT parquet, COMPRESSION snappy)`);
    const bytes = await readFile(good);
    const overwritten = Buffer.from(bytes);
    overwritten.fill(0x55, 20_000, 24_000);
    const footerLength = Buffer.from(bytes);
    footerLength.writeUInt32LE(bytes.length, bytes.length - 8);
    const footer = Buffer.from(bytes);
    footer.fill(0x13, bytes.length - 300, bytes.length - 8);
    const cases = [
      ['cut.parquet', bytes.subarray(0, bytes.length - 100), /No magic bytes found at end of file/],
      ['tiny.parquet', bytes.subarray(0, 5), /too small to be a Parquet file/],
      ['overwritten.parquet', overwritten, /Failed to read file .*Snappy decompression failure/],
      ['footer-length.parquet', footerLength, /Footer length error in file/],
      // DuckDB's Thrift message names no file: the statement does.
      ['footer.parquet', footer, /TProtocolException/],
    ] as const;
    for (const [name, content, text] of cases) {
      await writeFile(join(dir, name), content);
      await assert.rejects(db.all(`SELECT sum(id), max(s) FROM read_parquet('${join(dir, name)}')`), (error: Error & { code?: string; exitCode?: number }) => {
        assert.equal(error.code, 'DATA', error.message);
        assert.equal(error.exitCode, 65);
        assert.match(error.message, /^DuckDB found a damaged file: /);
        assert.match(error.message, text);
        assert.ok(error.message.includes(join(dir, name)), error.message);
        return true;
      });
    }
  });
});

test('a Parquet file shorter than its own metadata says, or with pages overwritten under an intact footer, is a DATA error (65)', () => {
  // DuckDB's message for another overwritten footer (seen, but not reproduced by a fixed edit).
  const error = duckDbError(new Error('IO Error: Could not read enough bytes from file "/wh/state/pages/data/x.parquet": attempted to read 1 bytes from location 401777'), 'SELECT * FROM read_parquet(...)');
  assert.equal(error.code, 'DATA', error.message);
  assert.match(error.message, /^DuckDB found a damaged file: .*x\.parquet"/);
  // Pages overwritten under an intact footer (seen in 300 random overwrites of a file: the rest
  // read wrong values, overflowed a sum, or failed as the cases above).
  for (const message of ['Invalid Error: Out of buffer', "Invalid Error: don't know what type: 7", 'Invalid Input Error: Invalid string encoding found in Parquet file "/wh/x.parquet": value "comment 1\\x9F" is not valid UTF8!']) {
    const damaged = duckDbError(new Error(message), 'SELECT * FROM read_parquet(...)');
    assert.equal(damaged.code, 'DATA', damaged.message);
    assert.ok(damaged.message.startsWith(`DuckDB found a damaged file: ${message}`), damaged.message);
  }
  // Any other C++ exception comes as "Invalid Error" too: a bug, or a thread that cannot start, not a damaged file.
  for (const message of ['Invalid Error: vector::_M_range_check: __n (which is 3) >= this->size() (which is 3)', 'Invalid Error: Resource temporarily unavailable']) {
    assert.equal(duckDbError(new Error(message), 'SELECT 1').code, 'INTERNAL', message);
  }
  // Files of different columns read together are not damaged: DuckDB's wording is close, the cause is not.
  const mismatch = duckDbError(new Error('Invalid Input Error: Failed to read file "/wh/b.parquet": schema mismatch in glob: column "x" was read from the original file "/wh/a.parquet", but could not be found in file "/wh/b.parquet"'), 'SELECT 1');
  assert.equal(mismatch.code, 'INTERNAL', mismatch.message);
  // A valid file in a codec or encoding DuckDB lacks (its own wording, from libduckdb): not damaged.
  for (const message of ['Invalid Input Error: Failed to read file "/wh/c.parquet": Unsupported compression codec "LZO". Supported options are uncompressed, brotli, gzip, lz4_raw, snappy or zstd', 'Invalid Input Error: Failed to read file "/wh/c.parquet": Unsupported page encoding']) {
    const unsupported = duckDbError(new Error(message), 'SELECT 1');
    assert.equal(unsupported.code, 'DATA', unsupported.message);
    assert.match(unsupported.message, /^DuckDB cannot read a file: .*c\.parquet.*the file is not damaged/);
  }
});

test("memoryLimitBytes reads DuckDB's memory_limit, as set or by default", async () => {
  const set = await openDuckDb({ memoryLimit: '300MiB' });
  try {
    assert.equal(await set.memoryLimitBytes(), 300 * 2 ** 20);
  } finally {
    await set.close();
  }
  const byDefault = await openDuckDb();
  try {
    const bytes = await byDefault.memoryLimitBytes();
    assert.ok(bytes > 2 ** 28, `default limit ${bytes}`);
  } finally {
    await byDefault.close();
  }
  assert.equal(parseDuckDbSize('381.4 MiB'), Math.floor(381.4 * 2 ** 20));
  assert.equal(parseDuckDbSize('2.0 GB'), 2e9);
  assert.equal(parseDuckDbSize('512 B'), 512);
  assert.throws(() => parseDuckDbSize('lots'), /cannot read DuckDB's size "lots"/);
});

test('query display keeps DECIMALs a double cannot hold, and shows TIME_NS as DuckDB prints it', async () => {
  const db = await openDuckDb();
  try {
    const { batches } = await db.streamForDisplay(`SELECT 2.50::DECIMAL(18,2) AS small, 12345678901234567.89::DECIMAL(38,2) AS frac,
      9007199254740993::DECIMAL(38,0) AS whole, -0.000000000000000001::DECIMAL(38,18) AS tiny, TIME_NS '12:34:56.123456789' AS t`);
    const rows = [];
    for await (const batch of batches) rows.push(...batch);
    assert.deepEqual(rows, [{ small: 2.5, frac: '12345678901234567.89', whole: 9007199254740993n, tiny: -1e-18, t: '12:34:56.123456789' }]);
  } finally {
    await db.close();
  }
});
