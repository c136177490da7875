// How a commit that lost a race waits before re-reading, with Java's table properties and
// defaults (TableProperties.COMMIT_*): exponential backoff with up to 10 % jitter, so writers that
// collided do not collide again on the next attempt.

import { intProperty, type TableMetadata } from '../spec/table-metadata.js';

export const COMMIT_NUM_RETRIES = 'commit.retry.num-retries';
export const COMMIT_MIN_RETRY_WAIT_MS = 'commit.retry.min-wait-ms';
export const COMMIT_MAX_RETRY_WAIT_MS = 'commit.retry.max-wait-ms';
export const COMMIT_TOTAL_RETRY_TIME_MS = 'commit.retry.total-timeout-ms';

export interface RetryPolicy {
  /** Attempts after the first. */
  readonly retries: number;
  readonly minWaitMs: number;
  readonly maxWaitMs: number;
  /** No retry starts once this much time has passed since the first attempt. */
  readonly totalTimeoutMs: number;
}

export function retryPolicy(m: Pick<TableMetadata, 'properties'>): RetryPolicy {
  const minWaitMs = intProperty(m, COMMIT_MIN_RETRY_WAIT_MS, 100, 0);
  return {
    retries: intProperty(m, COMMIT_NUM_RETRIES, 4, 0),
    minWaitMs,
    maxWaitMs: Math.max(minWaitMs, intProperty(m, COMMIT_MAX_RETRY_WAIT_MS, 60_000, 0)),
    totalTimeoutMs: intProperty(m, COMMIT_TOTAL_RETRY_TIME_MS, 30 * 60_000, 0),
  };
}

/** The wait before retry `retry` (1 = the first retry): min × 2^(retry−1), capped at max, plus jitter. */
export function retryWaitMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.minWaitMs * 2 ** (retry - 1), policy.maxWaitMs);
  return base + Math.floor(random() * base * 0.1);
}
