// Flags given an empty value, as `--warehouse "$UNSET"` gives: refused naming the flag, since the
// error they cause further on ("no warehouse at : …") names nothing.

import { JobError } from '../core/errors.js';

/** Throws USAGE (64) for the first flag whose value is empty or blank. */
export function refuseEmptyFlags(flags: readonly (readonly [flag: string, value: string | undefined])[]): void {
  for (const [flag, value] of flags) {
    if (value !== undefined && value.trim() === '') throw new JobError('USAGE', `${flag} is empty: give a value or leave the flag out`);
  }
}
