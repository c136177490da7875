import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { SCHEMA_BUNDLE } from '../../src/events/schema-bundle.js';
import { repoRoot } from './helpers.js';

const jsonschemaRoot = join(repoRoot, 'schemas', 'jsonschema');

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return files(full, ext);
    return entry.name.endsWith(ext) ? [full] : [];
  });
}

function refs(node: unknown): number {
  if (Array.isArray(node)) return node.reduce((n: number, item) => n + refs(item), 0);
  if (node === null || typeof node !== 'object') return 0;
  return Object.entries(node).reduce((n, [key, value]) => n + (key === '$ref' ? 1 : refs(value)), 0);
}

test('the stored schemas are the expected versions, each JSON equal to its upstream YAML', () => {
  const ids = files(jsonschemaRoot, '.json').map((file) => '/' + relative(jsonschemaRoot, file).replace(/\.json$/, '')).sort();
  assert.deepEqual(ids, [
    '/error/2.1.0',
    '/mediawiki/page/change/1.0.0',
    '/mediawiki/page/change/1.1.0',
    '/mediawiki/page/change/1.2.0',
    '/mediawiki/revision/visibility-change/1.0.0',
  ]);
  for (const file of files(jsonschemaRoot, '.json')) {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const yaml = parse(readFileSync(file.replace(/\.json$/, '.yaml'), 'utf8'), { version: '1.2', schema: 'core' });
    assert.deepEqual(json, yaml, file);
    assert.equal(json.$id, '/' + relative(jsonschemaRoot, file).replace(/\.json$/, ''), `${file}: $id is its path`);
    assert.equal(refs(json), 0, `${file} is fully materialized`);
    assert.deepEqual(SCHEMA_BUNDLE[json.$id], json, `${file}: the bundle is up to date (node schemas/build.mjs)`);
  }
  assert.equal(Object.keys(SCHEMA_BUNDLE).length, 5);
});

test('schemas/build.mjs --check passes on the committed files', () => {
  const result = spawnSync(process.execPath, [join(repoRoot, 'schemas', 'build.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
});

test('page change 1.2.0 made performer optional; 1.1.0 requires it', () => {
  const required = (id: string) => (SCHEMA_BUNDLE[id] as { required: string[] }).required;
  assert.ok(required('/mediawiki/page/change/1.1.0').includes('performer'));
  assert.ok(!required('/mediawiki/page/change/1.2.0').includes('performer'));
});
