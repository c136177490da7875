// The job lease: a live holder locks others out; the lease of a process that has exited on this
// machine is taken over at once; a holder whose pid cannot be checked here waits for the expiry.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { storageError } from '../../src/core/errors.js';
import { runInterruptCleanups } from '../../src/core/interrupt.js';
import { silentLogger } from '../../src/core/log.js';
import { hasExited, isKnownAlive, selfIdentity } from '../../src/core/process-identity.js';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { acquireLease, leaseLocation, runUnderLease, type LeaseHolder } from '../../src/pipeline/lease.js';

const storage = new LocalStorage();
let dir: string;
let warehouseLocation: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-lease-'));
  warehouseLocation = fileLocation(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Field 22 of /proc/<pid>/stat, read here independently of process-identity.ts. */
function startTimeOf(pid: number): string | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19];
}

function exitedPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid!;
}

/** Writes a lease as another run would have, heartbeat just now. */
async function plant(job: string, holder: Partial<LeaseHolder>): Promise<void> {
  const now = new Date().toISOString();
  const { pid, host, bootId, pidNamespace } = selfIdentity();
  const lease = { leaseId: `planted-${job}`, job, pid, host, bootId, pidNamespace, startedAt: now, heartbeatAt: now, command: 'drain', ...holder };
  await storage.writeIfAbsent(leaseLocation(warehouseLocation, job), JSON.stringify(lease));
}

const acquire = (job: string) => acquireLease({ storage, warehouseLocation, job, command: 'merge', logger: silentLogger() });

test('the lease of a process that has exited on this machine is taken over at once', async () => {
  const pid = exitedPid();
  await plant('killed', { pid });
  const lease = await acquire('killed');
  try {
    assert.equal(lease.tookOver?.pid, pid);
    assert.equal(lease.holder.pid, process.pid);
    assert.equal(lease.holder.pidNamespace, selfIdentity().pidNamespace);
  } finally {
    await lease.release();
  }
});

test('a live holder, one on another boot and one without an identity keep the lease until it expires', async () => {
  const dead = exitedPid();
  await plant('live', { pid: process.ppid });
  await plant('other-boot', { pid: dead, bootId: '00000000-0000-4000-8000-000000000000' });
  await plant('other-host', { pid: dead, host: 'elsewhere.example' });
  await plant('old-format', { pid: dead, bootId: undefined, pidNamespace: undefined });
  for (const job of ['live', 'other-boot', 'other-host', 'old-format']) {
    await assert.rejects(acquire(job), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'LOCKED', job);
      assert.match(error.message, new RegExp(`job ${job} is locked by pid`));
      return true;
    });
  }
});

test("a holder whose pid now belongs to another process (another start time) is taken over at once; with its own start time it keeps the lease", async () => {
  const parentStart = startTimeOf(process.ppid);
  assert.match(parentStart ?? '', /^\d+$/);
  assert.equal(selfIdentity().startTime, startTimeOf(process.pid), 'a lease records its holder process start time');
  await plant('reused-pid', { pid: process.ppid, startTime: String(Number(parentStart) + 1) });
  const lease = await acquire('reused-pid');
  assert.equal(lease.tookOver?.pid, process.ppid);
  assert.equal(lease.holder.startTime, startTimeOf(process.pid));
  await lease.release();
  await plant('same-process', { pid: process.ppid, startTime: parentStart });
  await assert.rejects(acquire('same-process'), { code: 'LOCKED' });
});

test('a process that had our pid before us (another start time) has exited; we are alive', () => {
  const me = selfIdentity();
  assert.ok(me.startTime !== undefined);
  const before = { ...me, startTime: String(Number(me.startTime) - 1) };
  assert.equal(hasExited(before), true);
  assert.equal(isKnownAlive(before), false);
  assert.equal(hasExited(me), false);
  assert.equal(isKnownAlive(me), true);
  const { startTime: _unknown, ...withoutStart } = me;
  assert.equal(isKnownAlive(withoutStart), true, 'without a start time our pid is taken as us');
});

test('a run taken over after stalling does not write its lease back: the new holder keeps it', async (t) => {
  const job = 'stalled';
  const errors: string[] = [];
  const logger = { ...silentLogger(), error: (_o: unknown, message?: string) => void errors.push(String(message)) } as unknown as ReturnType<typeof silentLogger>;
  // A's heartbeats run when the test ticks: A stalls until B has taken over.
  t.mock.timers.enable({ apis: ['setInterval'] });
  const a = await acquireLease({ storage, warehouseLocation, job, command: 'drain', logger, heartbeatEveryMs: 20 });
  // B finds the lease stale (an expiry of -1 ms: any heartbeat is too old) and takes it over.
  const b = await acquireLease({ storage, warehouseLocation, job, command: 'drain', logger: silentLogger(), expiryMs: -1 });
  assert.equal(b.tookOver?.leaseId, a.holder.leaseId);
  t.mock.timers.tick(20);
  const deadline = Date.now() + 10_000;
  while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  assert.match(errors[0] ?? '', /lost the lease/);
  const read = async () => (JSON.parse(Buffer.from(await storage.read(leaseLocation(warehouseLocation, job))).toString('utf8')) as LeaseHolder).leaseId;
  assert.equal(await read(), b.holder.leaseId, "A's heartbeat did not hand the lease back to itself");
  await a.release();
  assert.equal(await read(), b.holder.leaseId, "A's release leaves B's lease");
  await b.release();
});

test('a run whose lease was taken over while it ran fails with LOCKED (75) naming the new holder, not 0', async (t) => {
  const job = 'taken-mid-run';
  t.mock.timers.enable({ apis: ['setInterval'] });
  const a = await acquireLease({ storage, warehouseLocation, job, command: 'nightly', logger: silentLogger(), heartbeatEveryMs: 20 });
  a.assertHeld();
  let b: Awaited<ReturnType<typeof acquireLease>> | undefined;
  const run = runUnderLease(a, silentLogger(), async () => {
    // The step stalls; another run takes the lease over, and A's next beat finds it gone.
    b = await acquireLease({ storage, warehouseLocation, job, command: 'nightly', logger: silentLogger(), expiryMs: -1 });
    t.mock.timers.tick(20);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (() => { try { a.assertHeld(); return true; } catch { return false; } })()) await new Promise((resolve) => setImmediate(resolve));
    return 'step done';
  });
  await assert.rejects(run, (error: Error & { code?: string; exitCode?: number }) => {
    assert.equal(error.code, 'LOCKED');
    assert.equal(error.exitCode, 75);
    assert.match(error.message, new RegExp(`job ${job} lost its lease to pid ${process.pid} on .*\\(nightly, started`));
    return true;
  });
  assert.throws(() => a.assertHeld(), /lost its lease/);
  b!.assertHeld();
  await b!.release();
});

test('a takeover no heartbeat saw (the event loop was blocked past the expiry) is found at release: LOCKED, not 0', async (t) => {
  const job = 'taken-unseen';
  t.mock.timers.enable({ apis: ['setInterval'] });
  const a = await acquireLease({ storage, warehouseLocation, job, command: 'merge', logger: silentLogger() });
  let b: Awaited<ReturnType<typeof acquireLease>> | undefined;
  await assert.rejects(
    runUnderLease(a, silentLogger(), async () => {
      b = await acquireLease({ storage, warehouseLocation, job, command: 'merge', logger: silentLogger(), expiryMs: -1 });
    }),
    (error: Error & { code?: string }) => error.code === 'LOCKED' && /lost its lease to pid/.test(error.message),
  );
  b!.assertHeld();
  await b!.release();
});

test('two runs taking over one stale lease at the same time: exactly one gets it', async () => {
  const job = 'race';
  await plant(job, { pid: exitedPid() });
  const location = leaseLocation(warehouseLocation, job);
  let bHasRead!: () => void;
  const bRead = new Promise<void>((resolve) => (bHasRead = resolve));
  // The interleaving a write-then-read-back takeover loses: both read the stale lease, then A
  // writes and reads back, then B writes and reads back.
  class Gated extends LocalStorage {
    constructor(private readonly hooks: { afterRead?: () => void; beforeWrite?: () => Promise<unknown> }) {
      super();
    }
    override async read(at: string): Promise<Uint8Array> {
      const bytes = await super.read(at);
      if (at === location) this.hooks.afterRead?.();
      return bytes;
    }
    override async writeAtomic(at: string, bytes: Uint8Array | string): Promise<void> {
      if (at === location) await this.hooks.beforeWrite?.();
      return super.writeAtomic(at, bytes);
    }
  }
  const a = acquireLease({ storage: new Gated({ beforeWrite: () => bRead }), warehouseLocation, job, command: 'drain', logger: silentLogger() });
  const aSettled = a.then(
    () => undefined,
    () => undefined,
  );
  const b = acquireLease({ storage: new Gated({ afterRead: () => bHasRead(), beforeWrite: () => aSettled }), warehouseLocation, job, command: 'drain', logger: silentLogger() });
  const results = await Promise.allSettled([a, b]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1, `one run holds the lease, found ${won.length}`);
  assert.equal((lost[0]!.reason as { code?: string }).code, 'LOCKED');
  const holder = (won[0] as PromiseFulfilledResult<Awaited<typeof a>>).value;
  assert.equal((JSON.parse(Buffer.from(await storage.read(location)).toString('utf8')) as LeaseHolder).leaseId, holder.holder.leaseId);
  await holder.release();
  assert.deepEqual((await readdir(join(dir, '_leases'))).filter((name) => name.startsWith(`${job}.`)), [], 'no lease or claim file is left');
});

test('a claim left by a run that died mid-takeover is passed over; a live one locks the job', async () => {
  const job = 'half-taken';
  await plant(job, { pid: exitedPid() });
  const location = leaseLocation(warehouseLocation, job);
  const version = createHash('sha1').update(await storage.read(location)).digest('hex').slice(0, 16);
  const now = new Date().toISOString();
  const { host, bootId, pidNamespace } = selfIdentity();
  const claimant = (pid: number) => JSON.stringify({ leaseId: `claimant-${pid}`, job, pid, host, bootId, pidNamespace, startedAt: now, heartbeatAt: now, command: 'drain' });
  // A live claimant (this test's parent process) is taking it over: locked.
  await storage.writeIfAbsent(`${location}.claim-${version}-0`, claimant(process.ppid));
  await assert.rejects(acquire(job), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'LOCKED');
    assert.match(error.message, new RegExp(`another run \\(pid ${process.ppid} on .*\\) is taking over the stale lease`));
    return true;
  });
  // The claimant's own start time recorded, the parent still holds the claim: locked.
  const parentStart = startTimeOf(process.ppid);
  const withStart = (startTime: string) => JSON.stringify({ ...(JSON.parse(claimant(process.ppid)) as object), startTime });
  await storage.writeAtomic(`${location}.claim-${version}-0`, withStart(parentStart!));
  await assert.rejects(acquire(job), { code: 'LOCKED' });
  // The claimant died and its pid went to another process (another start time): passed over at once.
  await storage.writeAtomic(`${location}.claim-${version}-0`, withStart(String(Number(parentStart) + 1)));
  const afterReuse = await acquire(job);
  assert.equal(afterReuse.tookOver?.leaseId, `planted-${job}`);
  await afterReuse.release();
  assert.deepEqual((await readdir(join(dir, '_leases'))).filter((name) => name.startsWith(`${job}.`)), [], 'no lease or claim file is left');
  await plant(job, { pid: exitedPid() });
  const replanted = createHash('sha1').update(await storage.read(location)).digest('hex').slice(0, 16);
  // That claimant died (SIGKILL between its claim and its write): the next run passes over its claim.
  await storage.writeAtomic(`${location}.claim-${replanted}-0`, claimant(exitedPid()));
  const lease = await acquire(job);
  assert.equal(lease.tookOver?.leaseId, `planted-${job}`);
  await lease.release();
  assert.deepEqual((await readdir(join(dir, '_leases'))).filter((name) => name.startsWith(`${job}.`)), [], 'no lease or claim file is left');
});

/** LocalStorage that runs a hook once, when the armed reads or writes of `at` happen. */
class Hooked extends LocalStorage {
  onRead?: () => Promise<void>;
  onWrite?: () => Promise<void>;
  constructor(private readonly at: string) {
    super();
  }
  override async read(location: string): Promise<Uint8Array> {
    const bytes = await super.read(location);
    const hook = location === this.at ? this.onRead : undefined;
    this.onRead = undefined;
    await hook?.();
    return bytes;
  }
  override async writeAtomic(location: string, bytes: Uint8Array | string): Promise<void> {
    const hook = location === this.at ? this.onWrite : undefined;
    this.onWrite = undefined;
    await hook?.();
    return super.writeAtomic(location, bytes);
  }
}

function errorLogger(errors: string[]): ReturnType<typeof silentLogger> {
  return { ...silentLogger(), error: (_o: unknown, message?: string) => void errors.push(String(message)) } as unknown as ReturnType<typeof silentLogger>;
}

async function waitForError(errors: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
}

/** A holder whose storage is hooked on its lease and whose heartbeats run when the test ticks. */
async function hookedHolder(t: TestContext, job: string) {
  const location = leaseLocation(warehouseLocation, job);
  const hooked = new Hooked(location);
  const errors: string[] = [];
  t.mock.timers.enable({ apis: ['setInterval'] });
  const a = await acquireLease({ storage: hooked, warehouseLocation, job, command: 'drain', logger: errorLogger(errors), heartbeatEveryMs: 20 });
  return { location, hooked, errors, a };
}

test('a takeover between a heartbeat reading the lease and writing it: the beat does not write, the new holder keeps the lease', async (t) => {
  const job = 'beat-race-1';
  const { location, hooked, errors, a } = await hookedHolder(t, job);
  let b: Awaited<ReturnType<typeof acquireLease>> | undefined;
  // A's beat has read its own lease; B takes it over before A goes on.
  hooked.onRead = async () => {
    b = await acquireLease({ storage, warehouseLocation, job, command: 'drain', logger: silentLogger(), expiryMs: -1 });
  };
  t.mock.timers.tick(20);
  await waitForError(errors);
  assert.match(errors[0] ?? '', /lost the lease/);
  const read = async () => (JSON.parse(Buffer.from(await storage.read(location)).toString('utf8')) as LeaseHolder).leaseId;
  assert.equal(await read(), b!.holder.leaseId, "A's beat did not overwrite B's lease");
  await a.release();
  await b!.release();
  assert.deepEqual((await readdir(join(dir, '_leases'))).filter((name) => name.startsWith(`${job}.json`)), [], 'no lease or claim left');
});

test('a takeover between the release reading the lease and removing it: the release leaves the new lease, and the run is LOCKED, not 0', async (t) => {
  const job = 'release-race';
  const { location, hooked, a } = await hookedHolder(t, job);
  let b: Awaited<ReturnType<typeof acquireLease>> | undefined;
  // A's release has read its own lease; B takes it over before A goes on.
  hooked.onRead = async () => {
    b = await acquireLease({ storage, warehouseLocation, job, command: 'drain', logger: silentLogger(), expiryMs: -1 });
  };
  await assert.rejects(
    runUnderLease(a, silentLogger(), async () => {}),
    (error: Error & { code?: string }) => error.code === 'LOCKED' && new RegExp(`lost its lease to pid ${process.pid} on `).test(error.message),
  );
  const read = async () => (JSON.parse(Buffer.from(await storage.read(location)).toString('utf8')) as LeaseHolder).leaseId;
  assert.equal(await read(), b!.holder.leaseId, "A's release did not remove B's lease");
  b!.assertHeld();
  await b!.release();
  assert.deepEqual(await leftovers(job), [], 'no lease or claim left');
});

test('a takeover while a heartbeat is writing: the takeover gives way to the live holder', async (t) => {
  const job = 'beat-race-2';
  const { hooked, a } = await hookedHolder(t, job);
  let takeover: Promise<unknown> | undefined;
  // A's beat holds its claim and is about to write; B, judging the lease stale, tries to take over.
  let wrote!: () => void;
  const beatWritten = new Promise<void>((resolve) => (wrote = resolve));
  hooked.onWrite = async () => {
    takeover = acquireLease({ storage, warehouseLocation, job, command: 'drain', logger: silentLogger(), expiryMs: -1 }).then(
      () => assert.fail('B took over a lease whose holder was writing its heartbeat'),
      (error: Error & { code?: string }) => error,
    );
    await takeover;
    wrote();
  };
  t.mock.timers.tick(20);
  await beatWritten;
  const error = (await takeover) as Error & { code?: string };
  assert.equal(error.code, 'LOCKED');
  assert.match(error.message, new RegExp(`another run \\(pid ${process.pid} on .*\\) is taking over the stale lease at the same time`));
  await a.release();
  assert.deepEqual(await leftovers(job), [], 'the release waited for the beat: no lease or claim left');
});

test('a signal while a failed run releases its lease waits for that release: no lease or claim file is left', async () => {
  const job = 'signal-during-release';
  const lease = await acquire(job);
  let fail!: (error: Error) => void;
  const run = runUnderLease(lease, silentLogger(), () => new Promise<never>((_, reject) => (fail = reject))).catch((error: unknown) => error);
  // The CLI exits once the cleanups settle: the release the failed run started must be among them.
  const cleanups = runInterruptCleanups('SIGTERM', 10_000);
  fail(new Error('stopped'));
  assert.equal(await cleanups, true);
  assert.deepEqual((await readdir(join(dir, '_leases'))).filter((name) => name.includes(job)), []);
  assert.match(String(await run), /stopped/);
});

async function leftovers(job: string): Promise<string[]> {
  return (await readdir(join(dir, '_leases'))).filter((name) => name.startsWith(`${job}.json`));
}

async function versionOf(location: string): Promise<string> {
  return createHash('sha1').update(await storage.read(location)).digest('hex').slice(0, 16);
}

test('a heartbeat meeting a takeover that holds the claim and has not written yet: the beat gives up, the takeover writes', async (t) => {
  const job = 'beat-race-3';
  const location = leaseLocation(warehouseLocation, job);
  const errors: string[] = [];
  t.mock.timers.enable({ apis: ['setInterval'] });
  const a = await acquireLease({ storage, warehouseLocation, job, command: 'drain', logger: errorLogger(errors), heartbeatEveryMs: 20 });
  const hookedB = new Hooked(location);
  // B has claimed the stale version; before B writes, A's beat runs to its end.
  hookedB.onWrite = async () => {
    t.mock.timers.tick(20);
    await waitForError(errors);
  };
  const b = await acquireLease({ storage: hookedB, warehouseLocation, job, command: 'drain', logger: silentLogger(), expiryMs: -1 });
  assert.match(errors[0] ?? '', /lost the lease/);
  assert.equal((JSON.parse(Buffer.from(await storage.read(location)).toString('utf8')) as LeaseHolder).leaseId, b.holder.leaseId);
  await a.release();
  await b.release();
  assert.deepEqual(await leftovers(job), []);
});

test('a beat slower than the interval is not overlapped by the next, and a claim of our own left behind does not stop the beats', async (t) => {
  const job = 'slow-beat';
  const { location, hooked, errors, a } = await hookedHolder(t, job);
  // A claim of the current version with our own identity, as a beat that failed before removing it leaves.
  await storage.writeIfAbsent(`${location}.claim-${await versionOf(location)}-0`, JSON.stringify(a.holder));
  let written!: () => void;
  const beatWritten = new Promise<void>((resolve) => (written = resolve));
  hooked.onWrite = async () => {
    t.mock.timers.tick(20); // the next interval comes while this beat is still writing
    written();
  };
  t.mock.timers.tick(20);
  await beatWritten;
  await a.release();
  assert.deepEqual(errors, [], 'no beat gave the lease up');
  assert.deepEqual(await leftovers(job), [], 'the own claim was removed and the lease released');
});

test('a run that fails on a full disk reports its own error, not the release that could not create its claim file', async () => {
  let full = false;
  class FillingUp extends LocalStorage {
    override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
      if (full) throw storageError('create', location, Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      return super.writeIfAbsent(location, bytes);
    }
  }
  const lease = await acquireLease({ storage: new FillingUp(), warehouseLocation, job: 'full-disk', command: 'merge', logger: silentLogger() });
  const own = storageError('write', 'file:///wh/state/revisions/data/x.parquet', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  await assert.rejects(
    runUnderLease(lease, silentLogger(), async () => {
      full = true;
      throw own;
    }),
    (e: unknown) => e === own,
  );
  // The lease stayed (no claim could be made); with space back, a release removes it.
  full = false;
  await lease.release();
  assert.deepEqual((await readdir(join(dir, '_leases'))).filter((f) => f.startsWith('full-disk')), []);
});
