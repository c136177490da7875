#!/usr/bin/env node
// Readiness probe for scripts/kafka.sh: sends real requests (ApiVersions, then Metadata) with
// kafkajs until the broker lists itself, the deadline passes, or the broker process dies.
// Plain JS so it runs before the TypeScript build. Exit 0 ready, 1 process died, 2 not ready.
//   node tools/kafka/probe.mjs <host:port> [--wait-ms N] [--pid PID]

import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const args = process.argv.slice(2);
const broker = args[0];
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const waitMs = option('--wait-ms', 0);
const pid = option('--pid', 0);
const pollMs = 250;

if (!broker) {
  console.error('usage: probe.mjs <host:port> [--wait-ms N] [--pid PID]');
  process.exit(64);
}

function alive(processId) {
  try {
    process.kill(processId, 0);
    return true;
  } catch {
    return false;
  }
}

async function probeOnce() {
  const kafka = new Kafka({
    clientId: 'mwlake-kafka-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { ok: cluster.brokers.length > 0, detail: `cluster ${cluster.clusterId}, brokers ${cluster.brokers.map((b) => b.nodeId).join(',')}` };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

const deadline = Date.now() + waitMs;
let last = '';
for (;;) {
  const result = await probeOnce();
  if (result.ok) {
    console.log(result.detail);
    process.exit(0);
  }
  last = result.detail;
  if (pid > 0 && !alive(pid)) {
    console.error(`broker process ${pid} exited before ${broker} answered (last probe: ${last})`);
    process.exit(1);
  }
  if (Date.now() + pollMs > deadline) break;
  // Poll interval between real requests, not a readiness guess: the loop ends on an answer.
  await new Promise((resolve) => setTimeout(resolve, pollMs));
}
console.error(`no answer from ${broker} within ${waitMs} ms (last probe: ${last})`);
process.exit(2);
