// What a run does when SIGTERM or SIGINT arrives (an Airflow task timeout, systemd, Ctrl-C):
// the parts of the run that hold something register a cleanup; the CLI runs them all, bounded by
// a deadline, and exits 143. A run stopped this way leaves what a crash would (every table at its
// last commit, nothing published half-written), and also no lease, no in-progress files and no
// temp folders. A second signal exits at once.

import { JobError } from './errors.js';

export type Cleanup = (reason: JobError) => Promise<void> | void;

const cleanups = new Set<Cleanup>();
/** Run after the others: the lease, so no next run starts while this one is still cleaning up. */
const lastCleanups = new Set<Cleanup>();

/** Registers `cleanup` for an interrupt (`last`: after every other); call the returned function once it is no longer needed. */
export function onInterrupt(cleanup: Cleanup, o: { last?: boolean } = {}): () => void {
  const set = o.last === true ? lastCleanups : cleanups;
  set.add(cleanup);
  return () => {
    set.delete(cleanup);
  };
}

async function runAll(set: Set<Cleanup>, reason: JobError, onError: (error: unknown) => void): Promise<void> {
  const pending = [...set].map(async (cleanup) => {
    try {
      await cleanup(reason);
    } catch (error) {
      onError(error);
    }
  });
  set.clear();
  await Promise.all(pending);
}

/** Both sets, the `last` one after the other, until neither has any: the run goes on meanwhile, and a step it starts (the next wiki's dump, a DuckDB connection) registers its cleanup late. */
async function runAllUntilNone(reason: JobError, onError: (error: unknown) => void): Promise<void> {
  while (cleanups.size + lastCleanups.size > 0) {
    await runAll(cleanups, reason, onError);
    if (cleanups.size === 0) await runAll(lastCleanups, reason, onError);
  }
}

/**
 * Runs every registered cleanup at once, then the `last` ones, and settles when all have, or
 * after `deadlineMs`, whichever is first; returns whether they all finished in time. Cleanup
 * failures go to `onError`, never thrown: the process is on its way out.
 */
export async function runInterruptCleanups(signal: string, deadlineMs: number, onError: (error: unknown) => void = () => {}): Promise<boolean> {
  const reason = new JobError('INTERRUPTED', `stopped by ${signal}`);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    // Not unref'd: with every cleanup stuck on a promise, this timer is what ends the wait.
    timer = setTimeout(() => resolve(false), deadlineMs);
  });
  const all = (async () => {
    await runAllUntilNone(reason, onError);
    return true as const;
  })();
  const done = await Promise.race([all, timedOut]);
  clearTimeout(timer);
  return done;
}
