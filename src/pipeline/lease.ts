// One writer per job: a lease file in the warehouse (`_leases/<job>.json`) holding pid, host,
// start time and a heartbeat. Created with create-if-absent, so two runs cannot both acquire a
// free lease; a lease whose heartbeat is older than the expiry is taken over, and so is, at once,
// one whose process has exited on this machine (killed: nothing released it). A takeover is won by
// creating the stale lease's claim file (`_leases/<job>.json.claim-<hash of the stale lease>-<n>`),
// also create-if-absent, so two runs cannot both take over one stale lease; heartbeats renew
// through the same claim, so a beat cannot overwrite a takeover. Documented in the
// README. Table commits stay optimistic, so even a broken lease cannot corrupt a table.

import { createHash, randomUUID } from 'node:crypto';
import { JobError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { onInterrupt } from '../core/interrupt.js';
import { hasExited, isKnownAlive, selfIdentity } from '../core/process-identity.js';
import { joinLocation, type Storage } from '../core/storage.js';

export const DEFAULT_LEASE_EXPIRY_MS = 10 * 60_000;
const HEARTBEAT_EVERY_MS = 30_000;

export interface LeaseHolder {
  readonly leaseId: string;
  readonly job: string;
  readonly pid: number;
  readonly host: string;
  /** Boot id and pid namespace of the holder (Linux), so a later run can tell that it exited. */
  readonly bootId?: string;
  readonly pidNamespace?: string;
  /** The holder process's start time (Linux), so a reused pid is not taken for the holder. */
  readonly startTime?: string;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  readonly command: string;
}

export interface Lease {
  readonly holder: LeaseHolder;
  /** Whether a stale lease was taken over. */
  readonly tookOver?: LeaseHolder;
  /** Throws LOCKED (75) once another run has taken the lease over: the caller must stop writing. */
  assertHeld(): void;
  release(): Promise<void>;
}

export interface AcquireOptions {
  readonly storage: Storage;
  readonly warehouseLocation: string;
  readonly job: string;
  readonly command: string;
  readonly logger: Logger;
  readonly expiryMs?: number;
  readonly nowMs?: () => number;
  /** How often the holder renews its heartbeat (default 30 s). */
  readonly heartbeatEveryMs?: number;
}

export function leaseLocation(warehouseLocation: string, job: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(job)) throw new JobError('CONFIG', `job_name ${JSON.stringify(job)} may only contain letters, digits, '_', '.' and '-'`);
  return joinLocation(warehouseLocation, '_leases', `${job}.json`);
}

interface LeaseFile {
  /** Undefined when torn by a crash mid-write: treated as stale. */
  readonly holder: LeaseHolder | undefined;
  /** Hash of the file's bytes: names the claim file of a takeover of exactly this version. */
  readonly version: string;
}

async function readLeaseFile(storage: Storage, location: string): Promise<LeaseFile | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.read(location);
  } catch (error) {
    if (error instanceof JobError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
  const version = createHash('sha1').update(bytes).digest('hex').slice(0, 16);
  try {
    return { holder: JSON.parse(Buffer.from(bytes).toString('utf8')) as LeaseHolder, version };
  } catch (error) {
    if (error instanceof SyntaxError) return { holder: undefined, version };
    throw error;
  }
}

/** Tries to acquire after a lost first attempt; a run that meets only moving leases gives up after this many. */
const ACQUIRE_ATTEMPTS = 5;
/** Claims of one stale lease a run passes over (left by runs that died mid-takeover) before it gives up. */
const CLAIM_GENERATIONS = 8;

type Claim = { readonly at: string; readonly passed: readonly string[]; readonly held?: undefined } | { readonly held: LeaseHolder };

/**
 * Claims the takeover of lease version `version`: creates `<lease>.claim-<version>-<g>` for the
 * first generation g not yet taken. A claim whose run died mid-takeover (`isStale`) is passed over,
 * never removed, so two runs cannot both take one generation; a live claim means another run is
 * taking over (`held`). 'moved' when a claim vanished: its run finished, so the lease changed.
 */
async function claimTakeover(storage: Storage, location: string, version: string, self: LeaseHolder, isStale: (claimant: LeaseHolder | undefined) => boolean): Promise<Claim | 'moved'> {
  const passed: string[] = [];
  for (let generation = 0; generation < CLAIM_GENERATIONS; generation++) {
    const at = `${location}.claim-${version}-${generation}`;
    try {
      await storage.writeIfAbsent(at, JSON.stringify(self));
      return { at, passed };
    } catch (error) {
      if (!(error instanceof JobError && error.code === 'ALREADY_EXISTS')) throw error;
    }
    const claimant = await readLeaseFile(storage, at);
    if (claimant === undefined) return 'moved';
    if (!isStale(claimant.holder)) return { held: claimant.holder! };
    passed.push(at);
  }
  throw new JobError('LOCKED', `${CLAIM_GENERATIONS} runs died while taking over the lease ${location}; remove its .claim-${version}-* files once no run of the job is active`, {
    context: { lease: location },
  });
}

type ClaimOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'held'; readonly holder: LeaseHolder }
  | { readonly kind: 'changed'; readonly holder: LeaseHolder | undefined }
  | { readonly kind: 'moved' };

/**
 * Replaces lease version `version` under its claim (a takeover, a heartbeat, a release): of the
 * runs replacing one version only the claimant acts, and only while the lease is still that
 * version (a claim of an older replacement may have been removed since). The claims are removed
 * afterwards, ours first and each on its own, also when `act` throws.
 */
async function underClaim(storage: Storage, location: string, version: string, claimant: LeaseHolder, isStale: (claimant: LeaseHolder | undefined) => boolean, act: () => Promise<void>): Promise<ClaimOutcome> {
  const claim = await claimTakeover(storage, location, version, claimant, isStale);
  if (claim === 'moved') return { kind: 'moved' };
  if (claim.held !== undefined) return { kind: 'held', holder: claim.held };
  try {
    const now = await readLeaseFile(storage, location);
    if (now?.version !== version) return { kind: 'changed', holder: now?.holder };
    await act();
    return { kind: 'done' };
  } finally {
    // A claim left behind is passed over once its run is gone, or by its own run at once.
    for (const at of [claim.at, ...claim.passed]) await storage.delete(at).catch(() => undefined);
  }
}

export async function acquireLease(options: AcquireOptions): Promise<Lease> {
  const now = options.nowMs ?? Date.now;
  const expiryMs = options.expiryMs ?? DEFAULT_LEASE_EXPIRY_MS;
  const location = leaseLocation(options.warehouseLocation, options.job);
  const iso = (): string => new Date(now()).toISOString();
  const self = selfIdentity();
  const holder: LeaseHolder = {
    leaseId: randomUUID(),
    job: options.job,
    pid: process.pid,
    host: self.host,
    ...(self.bootId === undefined ? {} : { bootId: self.bootId }),
    ...(self.pidNamespace === undefined ? {} : { pidNamespace: self.pidNamespace }),
    ...(self.startTime === undefined ? {} : { startTime: self.startTime }),
    startedAt: iso(),
    heartbeatAt: iso(),
    command: options.command,
  };
  /** A holder (or a claimant) is stale once its heartbeat is older than the expiry, or its process has exited. */
  const staleness = (other: LeaseHolder | undefined): { ageMs: number; exited: boolean; stale: boolean } => {
    const ageMs = other === undefined ? Infinity : now() - Date.parse(other.heartbeatAt);
    const exited = other !== undefined && hasExited(other);
    return { ageMs, exited, stale: !(ageMs <= expiryMs) || exited };
  };
  // A claim is passed over only when its run is gone: a live claimant is mid-takeover or mid-beat,
  // and passing it over would let two runs write the lease. Where liveness cannot be checked
  // (another host), age decides, as for the lease.
  // Our own claim (a beat that failed before removing it) is passed over too.
  const claimIsStale = (claimant: LeaseHolder | undefined): boolean =>
    claimant === undefined || claimant.leaseId === holder.leaseId || (!isKnownAlive(claimant) && staleness(claimant).stale);
  let tookOver: LeaseHolder | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await options.storage.writeIfAbsent(location, JSON.stringify(holder));
      break;
    } catch (error) {
      if (!(error instanceof JobError && error.code === 'ALREADY_EXISTS')) throw error;
    }
    const moved = (): JobError =>
      new JobError('LOCKED', `job ${options.job}: the lease changed under ${ACQUIRE_ATTEMPTS} attempts to acquire it; another run is starting (${location})`, { context: { lease: location } });
    const found = await readLeaseFile(options.storage, location);
    if (found === undefined) {
      // Released since: try to create it again.
      if (attempt < ACQUIRE_ATTEMPTS) continue;
      throw moved();
    }
    const current = found.holder;
    const { ageMs, exited, stale } = staleness(current);
    if (!stale) {
      throw new JobError(
        'LOCKED',
        `job ${options.job} is locked by pid ${current!.pid} on ${current!.host} (${current!.command}, started ${current!.startedAt}, heartbeat ${Math.round(ageMs / 1000)} s ago); ` +
          `the lease expires ${Math.round(expiryMs / 1000)} s after the last heartbeat (${location})`,
        { context: { lease: location, holder: current } },
      );
    }
    // Of the runs that found this stale lease, only the one that creates its claim takes it over.
    const outcome = await underClaim(options.storage, location, found.version, holder, claimIsStale, async () => {
      options.logger.warn({ lease: location, stale: current, ageMs }, exited ? 'taking over the lease of a process that has exited' : 'taking over a stale lease');
      await options.storage.writeAtomic(location, JSON.stringify(holder));
    });
    if (outcome.kind === 'held') {
      throw new JobError('LOCKED', `job ${options.job}: another run (pid ${outcome.holder.pid} on ${outcome.holder.host}) is taking over the stale lease at the same time (${location})`, {
        context: { lease: location, holder: current },
      });
    }
    if (outcome.kind !== 'done') {
      if (attempt < ACQUIRE_ATTEMPTS) continue;
      throw moved();
    }
    tookOver = current;
    break;
  }
  let beat = holder;
  let lostTo: LeaseHolder | null | undefined;
  const lost = (current: LeaseHolder | undefined): void => {
    clearInterval(timer);
    lostTo = current ?? null;
    options.logger.error({ lease: location, holder: current }, 'lost the lease: another run took it over after this one stalled; heartbeats stopped, the tables stay safe (commits check their base)');
  };
  // A run that stalled past the expiry may be taken over; rewriting the file then would hand the
  // lease back to it while the new holder runs. So a beat replaces the version it read the way a
  // takeover does, through that version's claim file: of a beat and a takeover of one version,
  // only the one that creates the claim writes (checking, then writing, left a window for both).
  const heartbeat = async (): Promise<void> => {
    const found = await readLeaseFile(options.storage, location);
    if (found?.holder?.leaseId !== holder.leaseId) return lost(found?.holder);
    const renewed = { ...beat, heartbeatAt: iso() };
    const outcome = await underClaim(options.storage, location, found.version, renewed, claimIsStale, async () => {
      await options.storage.writeAtomic(location, JSON.stringify(renewed));
      beat = renewed;
    });
    // 'moved': a claimant finished; the next beat sees the lease it wrote.
    if (outcome.kind === 'held' || outcome.kind === 'changed') lost(outcome.holder);
  };
  // One beat at a time: a beat slower than the interval must not meet its successor's claim.
  let beating: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (beating !== undefined) return;
    beating = heartbeat()
      .catch((error: unknown) => options.logger.warn({ err: error }, 'lease heartbeat failed'))
      .finally(() => (beating = undefined));
  }, options.heartbeatEveryMs ?? HEARTBEAT_EVERY_MS);
  timer.unref();
  const releaseOnce = async (): Promise<void> => {
    clearInterval(timer);
    // A beat in flight writes before this reads: no beat can bring the lease back afterwards.
    await beating;
    const found = await readLeaseFile(options.storage, location);
    // Only remove our own lease, and under its claim: a takeover may be replacing it right now.
    // Another holder there took it over without a beat seeing it (the event loop was blocked).
    if (found?.holder?.leaseId !== holder.leaseId) {
      lostTo ??= found?.holder ?? null;
      return;
    }
    const outcome = await underClaim(options.storage, location, found.version, { ...beat, heartbeatAt: iso() }, claimIsStale, () => options.storage.delete(location));
    // A takeover of the version just read holds its claim or has written: this run was taken over
    // (no beat runs now to be the claimant), and must not exit as if it held the lease throughout.
    // 'moved': the takeover finished; the lease it wrote names the new holder.
    if (outcome.kind !== 'done') lostTo ??= ('holder' in outcome ? outcome.holder : (await readLeaseFile(options.storage, location).catch(() => undefined))?.holder) ?? null;
  };
  // One release at a time, however many callers: a signal while the failed run releases must wait
  // for that release (the process exits when the interrupt cleanups settle). A failed one (a full
  // disk) may be tried again.
  let releasing: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (releasing ??= releaseOnce().then(forgetInterrupt, (error: unknown) => {
      releasing = undefined;
      throw error;
    }));
  // Stopped by a signal, the run frees its lease once its other cleanups are done: the next run
  // may be on another host, and must not start while this one still removes its outputs.
  const forgetInterrupt = onInterrupt(release, { last: true });
  const assertHeld = (): void => {
    if (lostTo === undefined) return;
    const by = lostTo === null ? 'another run (its lease is gone now)' : `pid ${lostTo.pid} on ${lostTo.host} (${lostTo.command}, started ${lostTo.startedAt})`;
    throw new JobError(
      'LOCKED',
      `job ${options.job} lost its lease to ${by}: this run stalled past the ${Math.round(expiryMs / 1000)} s expiry and was taken over; ` +
        `its table commits are safe (each checks its base), but dump files it wrote may have raced the other run's: check them (${location})`,
      { context: { lease: location, holder: lostTo } },
    );
  };
  return {
    holder,
    ...(tookOver === undefined ? {} : { tookOver }),
    assertHeld,
    release,
  };
}

/**
 * Runs `run` under `lease`, then releases it. A release that fails after `run` failed (on a full
 * disk even the release's claim file cannot be created) is logged, not thrown: the run's own
 * error is the one to report. The lease left behind is taken over by the next run, its process
 * having exited. A run whose lease was taken over while it ran fails with LOCKED, not 0: its
 * outputs may have raced the new holder's.
 */
export async function runUnderLease<T>(lease: Pick<Lease, 'release' | 'assertHeld'>, logger: Logger, run: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (error) {
    await lease.release().catch((releaseError: unknown) => logger.error({ err: releaseError }, 'the lease could not be released after the run failed; the next run takes it over'));
    throw error;
  }
  await lease.release();
  lease.assertHeld();
  return result;
}
