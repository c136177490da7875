// Child process of dump-crash.test.ts: writes the dump of a generated wiki under the dumps root
// argv[2] and SIGKILLs itself at the point argv[3] names, as a power cut or an OOM kill would:
//   rows:N               after the source gave N rows (every output mid-file)
//   finish:N             the N-th compressed file is complete under its in-progress name
//   rename:PATTERN:N     right after the N-th rename onto a name matching PATTERN (a published
//                        part, dumpstatus.json, a checksum file, a latest/ link)
//   symlink:PATTERN:N    right after the N-th link made under a name matching PATTERN (a
//                        latest/ link under its temporary name, before its rename)
// argv[4] is the JSON of the generated wiki's options, argv[5] that of the jobs to run (default all). Without an argument (node --test runs
// every file under test/) it does nothing.

import fs from 'node:fs/promises';
import { basename } from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { CompressedFileWriter } from '../../src/dumps/compress.js';
import { runDump } from '../../src/dumps/dump-run.js';
import type { DumpQuery, DumpRevisionRow } from '../../src/dumps/records.js';
import { GeneratedDumpSource, type GeneratedWikiOptions } from './generated-source.js';
import { crashRunOptions } from './dump-crash-fixture.js';

const [root, point, wiki, jobs] = process.argv.slice(2);
if (root !== undefined && point !== undefined && wiki !== undefined) {
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL');
    throw new Error('not killed');
  };
  const parts = point.split(':');
  const n = Number(parts.at(-1));
  let count = 0;
  const source = new GeneratedDumpSource(JSON.parse(wiki) as GeneratedWikiOptions);
  if (parts[0] === 'rows') {
    const history = source.history.bind(source);
    source.history = async function* (query: DumpQuery): AsyncIterable<DumpRevisionRow> {
      for await (const row of history(query)) {
        if (++count > n) die();
        yield row;
      }
    };
  } else if (parts[0] === 'finish') {
    const finish = CompressedFileWriter.prototype.finish;
    CompressedFileWriter.prototype.finish = async function (this: CompressedFileWriter) {
      const digest = await finish.call(this);
      if (++count === n) die();
      return digest;
    };
  } else if (parts[0] === 'rename') {
    const pattern = new RegExp(parts.slice(1, -1).join(':'));
    const rename = fs.rename;
    fs.rename = async (from, to) => {
      await rename(from, to);
      if (pattern.test(basename(String(to))) && ++count === n) die();
    };
    syncBuiltinESMExports();
  } else if (parts[0] === 'symlink') {
    const pattern = new RegExp(parts.slice(1, -1).join(':'));
    const symlink = fs.symlink;
    fs.symlink = async (target, path) => {
      await symlink(target, path);
      if (pattern.test(basename(String(path))) && ++count === n) die();
    };
    syncBuiltinESMExports();
  }
  await runDump(crashRunOptions(root, source, jobs === undefined ? undefined : (JSON.parse(jobs) as string[])));
  console.error(`dump-child: not killed at ${point} (${count})`);
  process.exit(3);
}
