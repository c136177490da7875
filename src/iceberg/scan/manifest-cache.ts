// Manifests and manifest lists are immutable once written, so decoded copies can be shared by
// every scan in the process. Bounded by entry count; the oldest decoded file goes first.

import { SpecViolationError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import { decodeManifest, type DecodedManifest } from '../avro/manifest.js';
import { decodeManifestList } from '../avro/manifest-list.js';
import type { ManifestFile } from '../spec/manifest-list.js';

const MAX_ENTRIES = 512;
const manifests = new Map<string, Promise<DecodedManifest>>();
const lists = new Map<string, Promise<ManifestFile[]>>();

function remember<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const loading = load();
  loading.catch(() => cache.delete(key));
  cache.set(key, loading);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  return loading;
}

/** A manifest, checked against the length its manifest list records (a cut one can still end on a whole block). */
export function readManifest(storage: Storage, location: string, expectedLength: number): Promise<DecodedManifest> {
  return remember(manifests, location, async () => {
    const bytes = await storage.read(location);
    if (bytes.byteLength !== expectedLength) {
      throw new SpecViolationError(`manifest ${location} has ${bytes.byteLength} bytes, but its manifest list records ${expectedLength}: it was cut short, changed or replaced`, { context: { location } });
    }
    return decodeManifest(bytes, `manifest ${location}`);
  });
}

export function readManifestList(storage: Storage, location: string): Promise<ManifestFile[]> {
  return remember(lists, location, async () => decodeManifestList(await storage.read(location), `manifest list ${location}`));
}
