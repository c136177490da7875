// The people (and bots, system accounts, IPs and temporary accounts) who edit a generated wiki,
// and their user entities as EventBus writes them: booleans for the user types, no user_id for IP
// editors, `~YYYY-NNNNN-NN` names for temporary accounts. Imports gen/prng and events types.

import type { UserEntity } from '../events/page-change.js';
import type { Prng } from './prng.js';

export interface UserState {
  readonly userText: string;
  /** Absent for IP editors. */
  readonly userId?: number;
  readonly groups: readonly string[];
  readonly isBot: boolean;
  readonly isSystem: boolean;
  readonly isTemp: boolean;
  readonly registrationDt?: string;
  editCount?: number;
}

const SYSTEM_USERS = ['MediaWiki default', 'Maintenance script', 'MediaWiki message delivery', 'Abuse filter'];
const NAME_PARTS = ['Alder', 'Birch', 'Cedar', 'Dune', 'Ember', 'Fjord', 'Grove', 'Heath', 'Iris', 'Juniper', 'Kestrel', 'Linden', 'Moss', 'Nimbus', 'Oriel', 'Pike', 'Quill', 'Rowan', 'Sable', 'Thistle', 'Umber', 'Vale', 'Wren', 'Yarrow', 'Zéphyr', 'Łukasz', 'Ömer', 'Søren', 'Андрей', '太郎'];
const REGISTERED_POOL = 4000;
/** Temporary accounts replaced IP editing from late 2024 [inferred date]; older edits are by IPs. */
const TEMP_ACCOUNTS_SINCE_MS = Date.UTC(2024, 9, 1);
const BOT_POOL = 16;
const ADMIN_POOL = 60;

function isoSeconds(ms: number): string {
  return new Date(ms - (ms % 1000)).toISOString().replace('.000Z', 'Z');
}

export class UserPool {
  private readonly registered: UserState[] = [];
  private readonly bots: UserState[] = [];
  private readonly admins: UserState[] = [];
  private readonly system: UserState[];
  private readonly temps: UserState[] = [];
  private nextTempUserId: number;
  private nextTempSerial: number;

  constructor(
    private readonly prng: Prng,
    private readonly startMs: number,
    private readonly botShare: number,
  ) {
    this.system = SYSTEM_USERS.map((name, i) => ({
      userText: name,
      userId: 100 + i,
      groups: ['*', 'user'],
      isBot: false,
      isSystem: true,
      isTemp: false,
      registrationDt: isoSeconds(startMs - 4000 * 86_400_000),
      editCount: prng.range(100, 500_000),
    }));
    this.nextTempUserId = 60_000_000 + prng.int(1_000_000);
    this.nextTempSerial = prng.int(50_000);
  }

  private registeredUser(poolIndex: number, kind: 'user' | 'bot' | 'admin'): UserState {
    // Disjoint index ranges per kind keep names (and ids) unique within the wiki.
    const index = poolIndex + (kind === 'bot' ? 20_000 : kind === 'admin' ? 10_000 : 0);
    const name = `${NAME_PARTS[index % NAME_PARTS.length]} ${NAME_PARTS[Math.floor(index / NAME_PARTS.length) % NAME_PARTS.length]}${index}`;
    const groups =
      kind === 'bot'
        ? ['bot', '*', 'user', 'autoconfirmed']
        : kind === 'admin'
          ? ['sysop', 'rollbacker', '*', 'user', 'autoconfirmed']
          : this.prng.chance(0.8)
            ? ['*', 'user', 'autoconfirmed']
            : ['*', 'user'];
    return {
      userText: kind === 'bot' ? `${name.replace(/ /g, '')}Bot` : name,
      userId: 1_000 + index * 97,
      groups,
      isBot: kind === 'bot',
      isSystem: false,
      isTemp: false,
      registrationDt: isoSeconds(this.startMs - this.prng.range(1, 7000) * 86_400_000 - this.prng.int(86_400_000)),
      editCount: Math.round(this.prng.logNormal(kind === 'user' ? 300 : 60_000, 1.5)),
    };
  }

  private fromPool(pool: UserState[], size: number, kind: 'user' | 'bot' | 'admin'): UserState {
    // Skewed: a few accounts make most edits.
    const index = Math.floor(size * this.prng.float() ** 2.5);
    while (pool.length <= index) pool.push(this.registeredUser(pool.length, kind));
    return pool[index]!;
  }

  private ipUser(): UserState {
    const userText = this.prng.chance(0.7)
      ? `${this.prng.range(1, 223)}.${this.prng.int(256)}.${this.prng.int(256)}.${this.prng.range(1, 254)}`
      : `2001:DB8:${this.prng.int(65536).toString(16).toUpperCase()}:${this.prng.int(65536).toString(16).toUpperCase()}:0:0:0:${this.prng.range(1, 65535).toString(16).toUpperCase()}`;
    return { userText, groups: ['*'], isBot: false, isSystem: false, isTemp: false };
  }

  private tempUser(timeMs: number): UserState {
    if (this.temps.length > 0 && this.prng.chance(0.6)) return this.temps[this.prng.int(this.temps.length)]!;
    const year = new Date(timeMs).getUTCFullYear();
    const user: UserState = {
      userText: `~${year}-${String(this.nextTempSerial++).padStart(5, '0')}-${String(this.prng.int(100)).padStart(2, '0')}`,
      userId: this.nextTempUserId++,
      groups: ['*', 'temp'],
      isBot: false,
      isSystem: false,
      isTemp: true,
      registrationDt: isoSeconds(timeMs),
      editCount: 0,
    };
    this.temps.push(user);
    if (this.temps.length > 300) this.temps.shift();
    return user;
  }

  /** Who makes an edit or creates a page at `timeMs`: registered users, bots, temporary accounts, IPs, system accounts. */
  editor(timeMs: number): UserState {
    const x = this.prng.float();
    if (x < this.botShare) return this.fromPool(this.bots, BOT_POOL, 'bot');
    if (x < this.botShare + 0.005) return this.prng.pick(this.system);
    if (x < this.botShare + 0.045) return this.ipUser();
    if (x < this.botShare + 0.125) return timeMs >= TEMP_ACCOUNTS_SINCE_MS ? this.tempUser(timeMs) : this.ipUser();
    if (x < this.botShare + 0.145) return this.fromPool(this.admins, ADMIN_POOL, 'admin');
    return this.fromPool(this.registered, REGISTERED_POOL, 'user');
  }

  /** An administrator: deletes, undeletes, hides revisions. */
  admin(): UserState {
    return this.fromPool(this.admins, ADMIN_POOL, 'admin');
  }

  /** Who moves a page: mostly experienced users, sometimes admins. */
  mover(): UserState {
    return this.prng.chance(0.4) ? this.admin() : this.fromPool(this.registered, 200, 'user');
  }
}

/** Counts an edit by the user (registered users and temporary accounts have edit counts). */
export function countEdit(user: UserState): void {
  if (user.editCount !== undefined) user.editCount++;
}

/** The user entity at this moment, in EventBus's field order (a fresh object: edit_count changes). */
export function userEntity(user: UserState): UserEntity {
  const entity: UserEntity = {
    user_text: user.userText,
    groups: [...user.groups],
    is_bot: user.isBot,
    is_system: user.isSystem,
    is_temp: user.isTemp,
  };
  if (user.userId !== undefined) entity.user_id = user.userId;
  if (user.registrationDt !== undefined) entity.registration_dt = user.registrationDt;
  if (user.editCount !== undefined) entity.edit_count = user.editCount;
  return entity;
}
