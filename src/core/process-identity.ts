// Who a process is, precisely enough to tell later whether it has exited: host name, boot id and
// pid namespace (Linux) and pid. A pid means something only on the same boot of the same machine,
// in the same pid namespace; anywhere else nobody can tell, and `hasExited` says false.

import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  readonly host: string;
  /** /proc/sys/kernel/random/boot_id; absent off Linux. */
  readonly bootId?: string;
  /** The inode of /proc/self/ns/pid (`pid:[4026531836]`); absent off Linux. */
  readonly pidNamespace?: string;
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot): tells a reused pid from its first process. */
  readonly startTime?: string;
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

/** The start time of `pid` as /proc/<pid>/stat gives it; undefined off Linux or when hidden. */
function startTimeOf(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name, which may hold spaces and parentheses, fields 3 onwards.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] || undefined;
  } catch {
    return undefined;
  }
}

let self: ProcessIdentity | undefined;

/** This process. */
export function selfIdentity(): ProcessIdentity {
  if (self === undefined) {
    const boot = bootId();
    const namespace = pidNamespace();
    const started = startTimeOf('self');
    self = {
      host: hostname(),
      ...(boot === undefined ? {} : { bootId: boot }),
      ...(namespace === undefined ? {} : { pidNamespace: namespace }),
      pid: process.pid,
      ...(started === undefined ? {} : { startTime: started }),
    };
  }
  return self;
}

/** Whether `other`'s process is alive: its pid is, and (when recorded) not reused by another process. */
function isAlive(other: ProcessIdentity): boolean {
  try {
    process.kill(other.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (other.startTime === undefined) return true;
  const now = startTimeOf(other.pid);
  return now === undefined || now === other.startTime;
}

/**
 * True when `other` ran on this boot of this machine in this pid namespace and no process has its
 * pid any more; false when it is alive, is this process, or ran where its pid cannot be checked.
 */
export function hasExited(other: ProcessIdentity): boolean {
  return checkablePid(other) && !isThisProcess(other) && !isAlive(other);
}

/** True when `other` is this process, or ran on this boot of this machine in this pid namespace and its pid is alive. */
export function isKnownAlive(other: ProcessIdentity): boolean {
  return checkablePid(other) && (isThisProcess(other) || isAlive(other));
}

/** Our pid, and (when both are known) our start time: a process that had our pid before us has exited. */
function isThisProcess(other: ProcessIdentity): boolean {
  const mine = selfIdentity().startTime;
  return other.pid === process.pid && (other.startTime === undefined || mine === undefined || other.startTime === mine);
}

/** Whether `other`'s pid means a process here: same host, boot and pid namespace as this one. */
function checkablePid(other: ProcessIdentity): boolean {
  const me = selfIdentity();
  if (me.bootId === undefined || me.pidNamespace === undefined) return false;
  if (other.host !== me.host || other.bootId !== me.bootId || other.pidNamespace !== me.pidNamespace) return false;
  return Number.isSafeInteger(other.pid) && other.pid > 0;
}
