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

let self: ProcessIdentity | undefined;

/** This process. */
export function selfIdentity(): ProcessIdentity {
  if (self === undefined) {
    const boot = bootId();
    const namespace = pidNamespace();
    self = { host: hostname(), ...(boot === undefined ? {} : { bootId: boot }), ...(namespace === undefined ? {} : { pidNamespace: namespace }), pid: process.pid };
  }
  return self;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `other` ran on this boot of this machine in this pid namespace and no process has its
 * pid any more; false when it is alive, is this process, or ran where its pid cannot be checked.
 */
export function hasExited(other: ProcessIdentity): boolean {
  return checkablePid(other) && other.pid !== process.pid && !isAlive(other.pid);
}

/** True when `other` is this process, or ran on this boot of this machine in this pid namespace and its pid is alive. */
export function isKnownAlive(other: ProcessIdentity): boolean {
  return checkablePid(other) && (other.pid === process.pid || isAlive(other.pid));
}

/** Whether `other`'s pid means a process here: same host, boot and pid namespace as this one. */
function checkablePid(other: ProcessIdentity): boolean {
  const me = selfIdentity();
  if (me.bootId === undefined || me.pidNamespace === undefined) return false;
  if (other.host !== me.host || other.bootId !== me.bootId || other.pidNamespace !== me.pidNamespace) return false;
  return Number.isSafeInteger(other.pid) && other.pid > 0;
}
