// A worker thread of the drain's PreparePool: decodes, validates and serialises the messages of one
// Kafka batch at a time (events/staged-row.ts) and sends the outcomes back with every JSON line in
// one transferred buffer. Does nothing when loaded outside a worker.

import { isMainThread, parentPort } from 'node:worker_threads';
import { prepareText } from '../events/staged-row.js';
import type { PrepareRequest, PrepareResponse, PreparedOutcome } from './prepare-pool.js';

function prepareBatch(request: PrepareRequest): PrepareResponse {
  const { topic, partition, offsets, timestamps, data, ends, maxMessageBytes, kind } = request;
  const outcomes: PreparedOutcome[] = [];
  const lines: string[] = [];
  let start = 0;
  let total = 0;
  for (let i = 0; i < ends.length; i++) {
    const value = data.subarray(start, ends[i]);
    start = ends[i]!;
    const prepared = prepareText(value, { topic, partition, offset: offsets[i]!, timestampMs: timestamps[i]! }, maxMessageBytes, kind);
    if (prepared.kind === 'event') {
      const lineBytes = Buffer.byteLength(prepared.line, 'utf8');
      lines.push(prepared.line);
      total += lineBytes;
      outcomes.push({ kind: 'event', id: prepared.id, wikiId: prepared.wikiId, day: prepared.day, lineBytes, withoutContent: prepared.withoutContent });
    } else outcomes.push(prepared);
  }
  // One allocation per batch, outside Buffer's pool so that it can be transferred.
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const line of lines) at += out.write(line, at, 'utf8');
  return { id: request.id, outcomes, lines: out };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  port.on('message', (request: PrepareRequest) => {
    const response = prepareBatch(request);
    port.postMessage(response, [response.lines.buffer as ArrayBuffer]);
  });
}
