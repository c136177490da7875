// Manifests and manifest lists are immutable once written, so decoded copies can be shared by
// every scan in the process. Bounded by entry count; the oldest decoded file goes first.

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

export function readManifest(storage: Storage, location: string): Promise<DecodedManifest> {
  return remember(manifests, location, async () => decodeManifest(await storage.read(location), `manifest ${location}`));
}

export function readManifestList(storage: Storage, location: string): Promise<ManifestFile[]> {
  return remember(lists, location, async () => decodeManifestList(await storage.read(location), `manifest list ${location}`));
}
