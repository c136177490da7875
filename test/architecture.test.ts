// Enforces the layer rules of docs/CONTRIBUTING.md on the import specifiers of src/: imports only
// go down the layers, and engine packages stay in the one layer that owns them.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const srcRoot = join(root, 'src');

/** Layer of a source file, by its folder under src/. */
function layerOf(file: string): string {
  const parts = relative(srcRoot, file).split(sep);
  if (parts[0] === 'iceberg' && parts.length > 2) return `iceberg/${parts[1]}`;
  if (parts[0] === 'iceberg') return 'iceberg';
  return parts[0] ?? '';
}

/** Which layers each layer may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  'iceberg/spec': ['core'],
  'iceberg/avro': ['core', 'iceberg/spec'],
  iceberg: ['core', 'iceberg/spec', 'iceberg/avro', 'iceberg/commit', 'iceberg/scan', 'iceberg/maintenance', 'iceberg'],
  'iceberg/commit': ['core', 'iceberg/spec', 'iceberg/avro', 'iceberg/scan', 'iceberg'],
  'iceberg/scan': ['core', 'iceberg/spec', 'iceberg/avro', 'iceberg/commit', 'iceberg'],
  'iceberg/maintenance': ['core', 'iceberg/spec', 'iceberg/avro', 'iceberg/commit', 'iceberg/scan', 'iceberg'],
  parquet: ['core', 'iceberg/spec'],
  duckdb: ['core', 'iceberg/spec', 'iceberg', 'iceberg/scan', 'parquet'],
  kafka: ['core'],
  events: ['core', 'iceberg/spec'],
  gen: ['core', 'events'],
  dumps: ['core'],
  merge: ['core', 'iceberg/spec', 'iceberg', 'iceberg/commit', 'iceberg/scan', 'parquet', 'duckdb', 'events'],
  pipeline: ['core', 'iceberg/spec', 'iceberg/avro', 'iceberg', 'iceberg/commit', 'iceberg/scan', 'iceberg/maintenance', 'parquet', 'duckdb', 'kafka', 'events', 'gen', 'merge', 'dumps'],
  cli: ['core', 'pipeline', 'iceberg/spec', 'iceberg', 'iceberg/commit', 'iceberg/scan', 'iceberg/maintenance', 'duckdb', 'events'],
};

/** Packages (and node built-ins) that only some layers may use. */
const PACKAGE_OWNERS: Record<string, readonly string[]> = {
  kafkajs: ['kafka'],
  'kafkajs-snappy': ['kafka'],
  '@duckdb/node-api': ['duckdb', 'merge'],
  'parquet-wasm': ['parquet'],
  'apache-arrow': ['parquet'],
  hyparquet: ['parquet'],
  avsc: ['iceberg/avro'],
  ajv: ['events'],
  'ajv-formats': ['events'],
  commander: ['cli'],
  pino: ['core'],
};

/** Layers that must not touch the filesystem directly (they go through core/storage). */
const NO_FS = new Set(['iceberg/spec', 'iceberg/avro', 'iceberg', 'iceberg/commit', 'iceberg/scan', 'iceberg/maintenance', 'events', 'gen']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

// Static and dynamic imports, and CommonJS loads through createRequire: `require('x')` and
// `createRequire(import.meta.url)('x')` (packages loaded that way to skip Node's ESM scan).
const IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]|(?:\brequire|\))\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((match) => match[1] ?? match[2] ?? match[3] ?? match[4] ?? '');
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? specifier);
}

test('imports in src/ only go down the layers', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(srcRoot)) {
    const from = layerOf(file);
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      violations.push(`${relative(root, file)}: folder src/${from} is not a known layer (add it to docs/CONTRIBUTING.md and this test)`);
      continue;
    }
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith('.')) {
        const target = layerOf(resolve(dirname(file), specifier));
        if (target !== from && !allowed.includes(target)) {
          violations.push(`${relative(root, file)}: layer ${from} imports ${specifier} (layer ${target})`);
        }
      } else if (specifier.startsWith('node:')) {
        if (NO_FS.has(from) && /^node:fs/.test(specifier)) {
          violations.push(`${relative(root, file)}: layer ${from} uses ${specifier}; go through core/storage`);
        }
      } else {
        const owners = PACKAGE_OWNERS[packageName(specifier)];
        if (owners !== undefined && !owners.includes(from)) {
          violations.push(`${relative(root, file)}: layer ${from} imports ${specifier}, which only ${owners.join(', ')} may use`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the import scanner sees the imports it has to check', () => {
  const found = importsOf(join(srcRoot, 'cli', 'main.ts'));
  assert.ok(found.includes('./commander.js'), `expected ./commander.js among ${found.join(', ')}`);
  assert.ok(found.includes('../core/errors.js'));
  // Required, not imported: the scanner must see these too, or package ownership goes unchecked.
  assert.ok(importsOf(join(srcRoot, 'cli', 'commander.ts')).includes('commander'));
  assert.ok(importsOf(join(srcRoot, 'duckdb', 'connection.ts')).includes('@duckdb/node-api'));
  assert.ok(importsOf(join(srcRoot, 'iceberg', 'avro', 'container.ts')).includes('avsc/lib/containers'));
});
