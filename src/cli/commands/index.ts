// The list of CLI commands, in the order `mwlake --help` shows them.

import type { RegisterCommand } from '../context.js';

export const COMMANDS: readonly RegisterCommand[] = [];
