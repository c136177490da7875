// dumpstatus.json (StatusAPI 0.8): what a run writes reads back, and when a run counts as complete
// (nightly writes every date again whose status does not say so).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCompleteRunStatus, parseDumpStatus, renderDumpStatus, renderRunInfo, type JobState } from '../../src/dumps/dump-status.js';

const FILE = { name: 'enwiki-20261130-pages-meta-history.xml.bz2', sizeBytes: 12, md5: 'a'.repeat(32), sha1: 'b'.repeat(40) };
const done: JobState = { status: 'done', updated: '2026-12-01 03:04:05', files: [FILE] };
const failed: JobState = { status: 'failed', updated: '2026-12-01 03:04:05', files: [] };

test('a rendered status parses back to the same jobs in the same order', () => {
  const text = renderDumpStatus('enwiki', '20261130', [['xmlstubsdump', failed], ['metahistorybz2dump', done]]);
  assert.deepEqual([...parseDumpStatus(text)!], [['xmlstubsdump', failed], ['metahistorybz2dump', done]]);
  assert.equal(JSON.parse(text).jobs.metahistorybz2dump.files[FILE.name].url, `/enwiki/20261130/${FILE.name}`);
});

test('a run is complete only when it has jobs and every one is done', () => {
  assert.equal(isCompleteRunStatus(renderDumpStatus('enwiki', '20261130', [['a', done], ['b', done]])), true);
  assert.equal(isCompleteRunStatus(renderDumpStatus('enwiki', '20261130', [['a', done], ['b', failed]])), false);
  assert.equal(isCompleteRunStatus(renderDumpStatus('enwiki', '20261130', [])), false);
  assert.equal(isCompleteRunStatus('{"jobs": {"a": {"status": "done"'), false, 'cut short');
  assert.equal(isCompleteRunStatus('null'), false);
});

test('a status whose jobs say done but whose entries are malformed is not complete', () => {
  const status = JSON.parse(renderDumpStatus('enwiki', '20261130', [['a', done]])) as { jobs: { a: { files: Record<string, { md5?: string }> } } };
  delete status.jobs.a.files[FILE.name]!.md5;
  assert.equal(parseDumpStatus(JSON.stringify(status)), undefined);
  assert.equal(isCompleteRunStatus(JSON.stringify(status)), false);
  assert.equal(isCompleteRunStatus('{"jobs": {"a": {"status": "done"}}}'), false, 'no files or updated time');
  assert.equal(isCompleteRunStatus('{"jobs": {"a": {"status": "finished", "updated": "x", "files": {}}}}'), false, 'unknown status');
});

test('the run info files are legacy runnerutils.py RunInfo\'s: one line or entry per job, last job first', () => {
  const { txt, json } = renderRunInfo([['xmlstubsdump', failed], ['articlesdump', done]]);
  // The line form is the one operations-dumps' own tests write.
  assert.equal(txt, 'name:articlesdump; status:done; updated:2026-12-01 03:04:05\nname:xmlstubsdump; status:failed; updated:2026-12-01 03:04:05\n');
  assert.equal(json, '{"jobs":{"articlesdump":{"status":"done","updated":"2026-12-01 03:04:05"},"xmlstubsdump":{"status":"failed","updated":"2026-12-01 03:04:05"}}}\n');
});
