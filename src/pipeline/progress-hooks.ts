// The progress callbacks of each step, rendered as terminal progress lines (core/progress).

import type { Progress } from '../core/progress.js';

export interface StepProgress {
  readonly drain: (p: { events: number; bytes: number; total: number; lag: Readonly<Record<string, bigint>> }) => void;
  readonly merge: (p: { done: number; total: number; table: string }) => void;
  readonly dumps: (p: { done: number; total: number; bytes: number; wiki: string; date: string }) => void;
  /** Ends the current line (between steps). */
  readonly end: () => void;
}

export function stepProgress(progress: Progress | undefined): StepProgress {
  const p = progress;
  return {
    drain: (x) => {
      const lagging = Object.entries(x.lag).filter(([, n]) => n > 0n);
      const detail = lagging.length === 0 ? undefined : `lag ${lagging.slice(0, 4).map(([k, n]) => `${k}=${n}`).join(' ')}${lagging.length > 4 ? ` +${lagging.length - 4}` : ''}`;
      p?.update('drain', { done: x.events, total: x.total, bytes: x.bytes, ...(detail === undefined ? {} : { detail }) });
    },
    merge: (x) => p?.update('merge', { done: x.done, total: x.total, detail: x.table }),
    dumps: (x) => p?.update('dumps', { done: x.done, total: x.total, bytes: x.bytes, detail: `${x.wiki} ${x.date}` }),
    end: () => p?.done(),
  };
}
