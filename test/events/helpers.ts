// Shared by the events and gen tests: where the repository and the vectors are, and the real events.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/…). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const vectorsDir = join(repoRoot, 'test', 'events', 'vectors');

/** The 13 real page_change events, as parsed objects (a fresh copy per call). */
export function realEvents(): Record<string, unknown>[] {
  return readFileSync(join(vectorsDir, 'wikidata-query-rdf.page_change.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A deep copy, for building variants of a vector. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
