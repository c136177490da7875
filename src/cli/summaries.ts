// Human-readable run summaries for a terminal (the JSON line stays the format for machines).

import type { DrainResult } from '../pipeline/drain.js';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function drainSummary(r: DrainResult): string {
  return streamSummary('drain', r) + (r.visibility === undefined ? '' : streamSummary('revision visibility changes', r.visibility));
}

function streamSummary(what: string, r: Omit<DrainResult, 'visibility'>): string {
  const lines = [
    `${what}: ${r.consumed} consumed = ${r.written} written + ${r.errored} errored + ${r.filtered} filtered (canaries) + ${r.deduplicated} deduplicated`,
    `  ${mb(r.bytes)} in ${(r.durationMs / 1000).toFixed(1)} s, ${r.files} data file(s)${r.snapshotId === undefined ? ', nothing committed' : `, snapshot ${r.snapshotId}`}${r.dryRun === true ? ' (dry run)' : ''}`,
  ];
  const partitions = Object.keys(r.lag).sort();
  if (partitions.length > 0) {
    const width = Math.max(...partitions.map((p) => p.length));
    lines.push(`  ${'partition'.padEnd(width)}  next offset  lag`);
    for (const p of partitions) {
      const [topic, partition] = [p.slice(0, p.lastIndexOf(':')), p.slice(p.lastIndexOf(':') + 1)];
      lines.push(`  ${p.padEnd(width)}  ${String(r.offsets[topic]?.[partition] ?? '-').padStart(11)}  ${r.lag[p]}`);
    }
  }
  if (r.withoutContent > 0) lines.push(`  ${r.withoutContent} written without content_body (dumped as hidden content): is the job reading mediawiki.page_change.v1?`);
  if (r.gaps !== undefined) lines.push(`  gaps accepted: ${Object.entries(r.gaps).map(([p, g]) => `${p} ${g}`).join(', ')}`);
  return lines.join('\n') + '\n';
}
