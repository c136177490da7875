// commander, required: its ESM entry re-exports the CommonJS build, which Node then scans for
// named exports, 5 ms of every `mwlake` start (hyperfine: 80 → 75 ms for the load alone).

import { createRequire } from 'node:module';
import type * as commander from 'commander';

const loaded = createRequire(import.meta.url)('commander') as typeof commander;

export const { Command, CommanderError, Option } = loaded;
export type Command = commander.Command;
export type CommanderError = commander.CommanderError;
export type Option = commander.Option;
