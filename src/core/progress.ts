// Progress lines for people watching a terminal: one line on stderr, redrawn at most 5 times a
// second, with counts, bytes, rate and an ETA when the total is known. When stderr is not a
// terminal (cron, Airflow) every method is a no-op, so logs stay clean.

export interface ProgressUpdate {
  readonly done: number;
  readonly total?: number;
  readonly bytes?: number;
  /** Extra text, e.g. per-partition lag. */
  readonly detail?: string;
}

export interface Progress {
  update(label: string, u: ProgressUpdate): void;
  done(message?: string): void;
}

const SILENT: Progress = { update() {}, done() {} };

function bytesText(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function durationText(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** The text of one progress line (exported for tests). */
export function progressLine(label: string, u: ProgressUpdate, elapsedS: number, width = 24): string {
  const parts = [label];
  if (u.total !== undefined && u.total > 0) {
    const f = Math.min(1, u.done / u.total);
    parts.push(`[${'#'.repeat(Math.round(f * width)).padEnd(width, '.')}] ${(f * 100).toFixed(0)}%`, `${u.done}/${u.total}`);
  } else parts.push(String(u.done));
  if (u.bytes !== undefined) parts.push(bytesText(u.bytes), `${bytesText(u.bytes / Math.max(elapsedS, 0.001))}/s`);
  if (u.total !== undefined && u.done > 0 && u.done < u.total) parts.push(`ETA ${durationText(((u.total - u.done) * elapsedS) / u.done)}`);
  if (u.detail !== undefined) parts.push(u.detail);
  return parts.join('  ');
}

export function createProgress(stream: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown; columns?: number } = process.stderr): Progress {
  if (stream.isTTY !== true) return SILENT;
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(label, u) {
      const now = Date.now();
      if (now - last < 200 && (u.total === undefined || u.done < u.total)) return;
      last = now;
      const line = progressLine(label, u, (now - started) / 1000).slice(0, Math.max(20, (stream.columns ?? 120) - 1));
      stream.write(`\r\x1b[2K${line}`);
      shown = true;
    },
    done(message) {
      if (shown) stream.write(`\r\x1b[2K${message === undefined ? '' : message + '\n'}`);
      shown = false;
    },
  };
}
