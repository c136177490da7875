// Snapshot summary metrics (spec Appendix F), all strings. Totals carry forward from the parent's
// summary so a commit never has to read the whole table; they are omitted if the parent lacks them.

import { DataFileContent, type DataFile } from '../spec/manifest.js';
import type { Snapshot } from '../spec/snapshot.js';

export interface SummaryDelta {
  readonly addedData: readonly DataFile[];
  readonly removedData: readonly DataFile[];
  readonly addedDeletes: readonly DataFile[];
  readonly removedDeletes: readonly DataFile[];
}

const sum = (files: readonly DataFile[], f: (d: DataFile) => number) => files.reduce((n, d) => n + f(d), 0);

export function summaryMetrics(delta: SummaryDelta, parent: Snapshot | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: number) => {
    if (value !== 0) out[key] = String(value);
  };
  const positionDeletes = (files: readonly DataFile[]) => files.filter((f) => f.content === DataFileContent.PositionDeletes);
  put('added-data-files', delta.addedData.length);
  put('deleted-data-files', delta.removedData.length);
  put('added-records', sum(delta.addedData, (f) => f.recordCount));
  put('deleted-records', sum(delta.removedData, (f) => f.recordCount));
  put('added-files-size', sum(delta.addedData, (f) => f.fileSizeInBytes) + sum(delta.addedDeletes, (f) => f.fileSizeInBytes));
  put('removed-files-size', sum(delta.removedData, (f) => f.fileSizeInBytes) + sum(delta.removedDeletes, (f) => f.fileSizeInBytes));
  put('added-delete-files', delta.addedDeletes.length);
  put('removed-delete-files', delta.removedDeletes.length);
  put('added-position-delete-files', positionDeletes(delta.addedDeletes).length);
  put('removed-position-delete-files', positionDeletes(delta.removedDeletes).length);
  put('added-position-deletes', sum(positionDeletes(delta.addedDeletes), (f) => f.recordCount));
  put('removed-position-deletes', sum(positionDeletes(delta.removedDeletes), (f) => f.recordCount));

  const totals: [string, number][] = [
    ['total-data-files', delta.addedData.length - delta.removedData.length],
    ['total-delete-files', delta.addedDeletes.length - delta.removedDeletes.length],
    ['total-records', sum(delta.addedData, (f) => f.recordCount) - sum(delta.removedData, (f) => f.recordCount)],
    ['total-files-size', Number(out['added-files-size'] ?? 0) - Number(out['removed-files-size'] ?? 0)],
    ['total-position-deletes', sum(positionDeletes(delta.addedDeletes), (f) => f.recordCount) - sum(positionDeletes(delta.removedDeletes), (f) => f.recordCount)],
    ['total-equality-deletes', 0],
  ];
  for (const [key, change] of totals) {
    const before = parent === undefined ? 0 : Number(parent.summary.properties[key]);
    if (Number.isFinite(before)) out[key] = String(before + change);
  }
  return out;
}
