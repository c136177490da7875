// `mwlake gen` through the built CLI (dist/src/cli/main.js), as a user runs it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PAGE_CHANGE_KINDS } from '../../src/events/page-change.js';
import { validatePageChangeMessage } from '../../src/events/validate.js';
import { repoRoot } from '../events/helpers.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'mwlake-gen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function mwlake(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { KAFKA_BROKERS: _ignored, ...base } = process.env;
  return spawnSync(process.execPath, [cli, '--log-format', 'json', ...args], { cwd: dir, encoding: 'utf8', env: { ...base, ...env } });
}

/** The lines of a JSONL file: exactly one per message, an empty message being an empty line. */
function lines(path: string): Buffer[] {
  const bytes = readFileSync(path);
  assert.equal(bytes[bytes.length - 1], 0x0a, 'the file ends with a newline');
  const out: Buffer[] = [];
  let start = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) {
    out.push(bytes.subarray(start, i));
    start = i + 1;
  }
  return out;
}

test('mwlake gen --seed 7 --events 5000 --out x.jsonl writes 5,000 valid 1.2.0 events of all six kinds', () => {
  const result = mwlake(['gen', '--seed', '7', '--events', '5000', '--out', 'x.jsonl']);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout.trim());
  assert.equal(summary.command, 'gen');
  assert.equal(summary.records, 5000);
  assert.equal(summary.byLabel.bad, 0);
  const messages = lines(join(dir, 'x.jsonl'));
  assert.equal(messages.length, 5000);
  const kinds = new Set<string>();
  for (const [i, message] of messages.entries()) {
    const validation = validatePageChangeMessage(message);
    assert.ok(validation.ok, `line ${i + 1}: ${validation.ok ? '' : validation.message}`);
    assert.equal(validation.resolvedVersion, '1.2.0');
    assert.equal(validation.mode, 'strict');
    kinds.add(validation.event.page_change_kind);
  }
  assert.deepEqual([...kinds].sort(), [...PAGE_CHANGE_KINDS].sort());
  for (const kind of PAGE_CHANGE_KINDS) assert.ok(summary.byKind[kind] > 0, kind);
  assert.equal(summary.valueBytes + 5000, readFileSync(join(dir, 'x.jsonl')).length);
});

test('--labels says what each line is, and bad lines really fail the way their label says', () => {
  const result = mwlake(['gen', '--seed', '9', '--events', '2000', '--bad-fraction', '0.1', '--wikis', 'commonswiki,frwiki', '--out', 'bad.jsonl', '--labels', 'labels.jsonl']);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout.trim());
  const messages = lines(join(dir, 'bad.jsonl'));
  const labels = readFileSync(join(dir, 'labels.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(messages.length, 2000);
  assert.equal(labels.length, 2000);
  let bad = 0;
  for (const [i, label] of labels.entries()) {
    assert.equal(label.seq, i);
    assert.equal(label.valueBytes, messages[i]!.length);
    const validation = validatePageChangeMessage(messages[i]!);
    if (label.label === 'bad') {
      bad++;
      assert.equal(validation.ok, false, `line ${i + 1} (${label.badKind}) validated`);
      if (!validation.ok) assert.equal(validation.errorType, label.expectedErrorType, `line ${i + 1} (${label.badKind})`);
    } else {
      assert.ok(validation.ok, `line ${i + 1} (${label.label})`);
      if (label.label !== 'canary') assert.ok(['commonswiki', 'frwiki'].includes(validation.event.wiki_id));
    }
  }
  assert.equal(bad, summary.byLabel.bad);
  assert.ok(bad > 150 && bad < 250, `bad ${bad}`);
});

test('the same command writes the same bytes', () => {
  for (const name of ['a.jsonl', 'b.jsonl']) assert.equal(mwlake(['gen', '--seed', 'x', '--events', '300', '--bad-fraction', '0.2', '--out', name]).status, 0);
  assert.deepEqual(readFileSync(join(dir, 'a.jsonl')), readFileSync(join(dir, 'b.jsonl')));
});

test('usage errors exit 64 with a message; an existing --out needs --force', () => {
  const cases: Array<[string[], RegExp]> = [
    [['gen', '--out', 'u.jsonl'], /exactly one of --events N or --days D/],
    [['gen', '--events', '10'], /--out FILE\.jsonl, or --to kafka/],
    [['gen', '--events', 'ten', '--out', 'u.jsonl'], /--events must be an integer/],
    [['gen', '--events', '10', '--bad-fraction', '1.5', '--out', 'u.jsonl'], /--bad-fraction must be a number between 0 and 1/],
    [['gen', '--events', '10', '--start', 'June', '--out', 'u.jsonl'], /--start/],
    [['gen', '--events', '10', '--start', '2025-02-30', '--out', 'u.jsonl'], /--start must be a date .*found "2025-02-30"/],
    [['gen', '--events', '10', '--start', '2025-02-30T12:00:00Z', '--out', 'u.jsonl'], /--start must be a date/],
    [['gen', '--events', '10', '--to', 'kafka'], /--brokers/],
    [['gen', '--events', '10', '--wikis', 'EN', '--out', 'u.jsonl'], /not a database name/],
    [['gen', '--events', '10', '--visibility-fraction', '0.1', '--out', 'u.jsonl'], /second stream: they need Kafka as the target \(--to kafka\), not a file/],
    [['gen', '--events', '10', '--visibility-fraction', '0.7', '--out', 'u.jsonl'], /--visibility-fraction must be a number between 0 and 0.5, found "0.7"/],
    [['gen', '--events', '10', '--visibility-stream', 'x.y', '--out', 'u.jsonl'], /--visibility-stream names the legacy stream that --visibility-fraction produces; give both/],
    // Options are checked before the sink opens: no broker answers on port 1, and none is asked.
    [['gen', '--events', '10', '--visibility-fraction', '0.1', '--visibility-stream', 'Bad Stream', '--to', 'kafka', '--brokers', '127.0.0.1:1'], /visibilityStream "Bad Stream" is not a stream name/],
  ];
  for (const [args, message] of cases) {
    const result = mwlake(args);
    assert.equal(result.status, 64, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  assert.equal(mwlake(['gen', '--events', '10', '--out', 'once.jsonl']).status, 0);
  const again = mwlake(['gen', '--events', '10', '--out', 'once.jsonl']);
  assert.equal(again.status, 65);
  assert.match(again.stderr, /already exists; pass --force/);
  assert.equal(mwlake(['gen', '--events', '10', '--out', 'once.jsonl', '--force']).status, 0);
});

test('--help explains the options', () => {
  const result = mwlake(['gen', '--help']);
  assert.equal(result.status, 0);
  for (const option of ['--seed', '--events', '--days', '--rate', '--start', '--wikis', '--bad-fraction', '--out', '--to', '--brokers', 'snappy']) {
    assert.ok(result.stdout.includes(option), option);
  }
});
